"""Normalization and regularization layers: BatchNorm, LayerNorm, Dropout."""
import numpy as np

import dezero.functions as F
from dezero import cuda
from dezero.core import Parameter, using_config
from dezero.layers import _validate
from dezero.layers.base import Layer


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


class LayerNorm(Layer):
    """Layer normalization over the last axis (F.layer_norm), PyTorch's nn.LayerNorm(D).

    gamma (ones) and beta (zeros) have shape (D,); with normalized_size None they are
    created on the first call from x.shape[-1] (on x's array module), like Linear.

    Args:
        normalized_size: D, the size of the last axis, or None to infer it.
        eps: added to the variance.
        dtype: dtype of gamma and beta (float32 by default).
    """

    def __init__(self, normalized_size=None, eps=1e-5, dtype=np.float32):
        super().__init__()
        _validate.check_size('LayerNorm', 'normalized_size', normalized_size, allow_none=True)
        _validate.check_float_dtype('LayerNorm', dtype)
        self.normalized_size = normalized_size
        self.eps = eps
        self.dtype = dtype
        self.gamma = Parameter(None, name='gamma')
        self.beta = Parameter(None, name='beta')
        if normalized_size is not None:
            self._init_params(np, normalized_size)

    def _init_params(self, xp, size):
        self.normalized_size = size
        self.gamma.data = xp.ones(size, dtype=self.dtype)
        self.beta.data = xp.zeros(size, dtype=self.dtype)

    def forward(self, x):
        if self.gamma.data is None:
            if x.ndim < 1:
                raise ValueError("LayerNorm.forward: expected an input of shape (..., D), got "
                                 "a 0-d input.")
            self._init_params(cuda.get_array_module(x), x.shape[-1])
        elif x.shape[-1:] != self.gamma.shape:
            raise ValueError(f"LayerNorm.forward: the last axis of the input (shape {x.shape}) "
                             f"must have size {self.gamma.shape[0]}; check normalized_size.")
        return F.layer_norm(x, self.gamma, self.beta, eps=self.eps)

    def lazy_spec(self, name, known=None):
        """gamma and beta have shape (D,), fixed by the first one accepted from a checkpoint."""
        size = self.normalized_size
        if size is None and known:
            size = next(iter(known.values())).shape[0]
        return (size,), self.dtype

    def _built_from_checkpoint(self, name, value):
        self.normalized_size = value.shape[0]


class Dropout(Layer):
    """Inverted dropout (F.dropout): zeroes each element with probability p while training
    and scales the rest by 1 / (1 - p); the identity when Config.train is False
    (inside dezero.test_mode(), a per-thread setting).

    Args:
        p: the drop probability in [0, 1) (PyTorch's name; F.dropout calls it dropout_ratio).
    """

    def __init__(self, p=0.5):
        super().__init__()
        with using_config('train', False):
            F.dropout(np.zeros(0), p)  # reject a bad ratio now, not on the first call
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p)
