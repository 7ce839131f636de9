"""Linear (fully connected) and EmbedID (alias Embedding) layers."""
import numpy as np

import dezero.functions as F
from dezero import cuda
from dezero.core import Parameter
from dezero.layers import _validate
from dezero.layers.base import Layer

_LINEAR_HINT = (" The book's signature is Linear(out_size, nobias=False, dtype=np.float32, "
                "in_size=None): the output size comes first and the input size is the "
                "keyword in_size (or inferred on the first call), so PyTorch's "
                "nn.Linear(784, 10) is L.Linear(10, in_size=784).")


class Linear(Layer):
    """Fully connected layer y = x @ W + b.

    Args:
        out_size: number of output features.
        nobias: leave out b.
        dtype: dtype of W and b (float32 by default).
        in_size: number of input features; when None, W is created on the first
            call from x.shape[1] (on x's array module).

    W ~ N(0, 1/in_size), drawn as the book does: np.random.randn(in_size, out_size)
    cast to dtype, then multiplied by sqrt(1/in_size) in that dtype. b starts at zero.
    """

    def __init__(self, out_size, nobias=False, dtype=np.float32, in_size=None):
        super().__init__()
        _validate.check_size('Linear', 'out_size', out_size, _LINEAR_HINT)
        _validate.check_bool('Linear', 'nobias', nobias, _LINEAR_HINT)
        _validate.check_float_dtype('Linear', dtype, _LINEAR_HINT)
        _validate.check_size('Linear', 'in_size', in_size, _LINEAR_HINT, allow_none=True)
        self.in_size = in_size
        self.out_size = out_size
        self.dtype = dtype
        self.W = Parameter(None, name='W')
        if in_size is not None:
            self._init_W()
        self.b = None if nobias else Parameter(np.zeros(out_size, dtype=dtype), name='b')

    def _init_W(self, xp=np):
        I, O = self.in_size, self.out_size
        dtype = np.dtype(self.dtype)
        # Scale with a scalar of the layer's dtype: NumPy 2 would promote a
        # float32 array times np.float64 to float64.
        self.W.data = xp.random.randn(I, O).astype(dtype) * dtype.type(np.sqrt(1 / I))

    def forward(self, x):
        W = self.W
        if W.data is None:
            if x.ndim != 2:
                raise ValueError(f"Linear.forward: expected a 2-D input (N, in_size), got shape "
                                 f"{x.shape}; flatten it first (F.reshape(x, (len(x), -1))).")
            self.in_size = x.shape[1]
            xp = cuda.get_array_module(x)
            self._init_W(xp)
            self._follow_array_module(xp)
        elif x.shape[-1] != W.data.shape[0]:
            raise ValueError(f"Linear.forward: input has {x.shape[-1]} features (shape "
                             f"{x.shape}) but W expects {W.data.shape[0]} (W shape "
                             f"{W.data.shape}); check in_size.")
        b = self.b
        if b is None:
            return F.linear(x, W)
        return F.linear(x, W, b)

    def lazy_spec(self, name, known=None):
        """W may be built from a checkpoint: its shape is (in_size?, out_size)."""
        if name == 'W':
            return (self.in_size, self.out_size), self.dtype
        return None

    def _built_from_checkpoint(self, name, value):
        if name == 'W':
            self.in_size = value.shape[0]


class EmbedID(Layer):
    """Embedding lookup: integer ids of any shape -> vectors of out_size.

    Args:
        in_size: vocabulary size (number of rows of W).
        out_size: embedding size.
        dtype: dtype of W (float32 by default); W = np.random.randn(in_size, out_size).
    """

    def __init__(self, in_size, out_size, dtype=np.float32):
        super().__init__()
        self.in_size = in_size
        self.out_size = out_size
        self.W = Parameter(np.random.randn(in_size, out_size).astype(dtype), name='W')

    def forward(self, x):
        return F.embed_id(x, self.W)


Embedding = EmbedID  # PyTorch's name: Embedding(num_embeddings, embedding_dim), same order
