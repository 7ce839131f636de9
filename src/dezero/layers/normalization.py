"""BatchNorm layer."""
from dezero import cuda
from dezero.core import Parameter
from dezero.layers.base import Layer
import dezero.functions as F


class BatchNorm(Layer):
    """Batch normalization over axis 1 of (N, C) or (N, C, H, W) inputs.

    gamma (ones) and beta (zeros) are trainable Parameters; the running
    statistics avg_mean (zeros) and avg_var (ones) are persistent buffers, plain
    Variables (read them as bn.avg_mean.data, as in the book): they are not in
    params() (so optimizers, weight decay and gradient clipping never see them)
    but save_weights/load_weights store them under "<path>/avg_mean" and
    "<path>/avg_var", and to_cpu/to_gpu move them. All four are created on
    the first call, with the input's size of axis 1, dtype and array module.

    Args:
        decay: running-average decay passed to F.batch_norm.
        eps: added to the variance.
    """

    def __init__(self, decay=0.9, eps=2e-5):
        super().__init__()
        self.decay = decay
        self.eps = eps
        self.size = None
        self.dtype = None
        self.gamma = Parameter(None, name='gamma')
        self.beta = Parameter(None, name='beta')
        self.register_buffer('avg_mean', None)
        self.register_buffer('avg_var', None)

    def _init_params(self, x):
        xp = cuda.get_array_module(x)
        if x.ndim < 2:
            raise ValueError(f"BatchNorm: expected an input of shape (N, C) or (N, C, H, W), "
                             f"got shape {x.shape}.")
        D = x.shape[1]
        dtype = x.dtype
        self.size, self.dtype = D, dtype
        if self.gamma.data is None:
            self.gamma.data = xp.ones(D, dtype=dtype)
        if self.beta.data is None:
            self.beta.data = xp.zeros(D, dtype=dtype)
        if self.avg_mean.data is None:
            self.avg_mean.data = xp.zeros(D, dtype=dtype)
        if self.avg_var.data is None:
            self.avg_var.data = xp.ones(D, dtype=dtype)

    def forward(self, x):
        if self.avg_mean.data is None or self.gamma.data is None:
            self._init_params(x)
        return F.batch_norm(x, self.gamma, self.beta, self.avg_mean.data, self.avg_var.data,
                            decay=self.decay, eps=self.eps)

    def lazy_spec(self, name, known=None):
        """All four arrays have shape (C,) and one dtype, fixed by the first one accepted."""
        if self.size is None and known:
            first = next(iter(known.values()))
            return (first.shape[0],), first.dtype
        return (self.size,), self.dtype

    def _built_from_checkpoint(self, name, value):
        self.size, self.dtype = value.shape[0], value.dtype
