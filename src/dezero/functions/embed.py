"""Embedding lookup: embed_id(x, W) = W[x], with the gradient scatter-added into W."""
from dezero.core import Function, Variable
from dezero.cuda import get_array_module
from dezero.utils_array import add_rows_at


class EmbedID(Function):
    """Rows of W picked by the integer ids; the ids are constants."""

    def __init__(self, ids):
        self.ids = ids

    def forward(self, W):
        ids = self.ids
        if W.ndim < 1:
            raise ValueError(f"embed_id: W must have shape (vocab_size, dim), got shape {W.shape}.")
        if ids.dtype.kind not in 'iu':
            raise TypeError(f"embed_id: ids must be integers, got dtype {ids.dtype}; convert them "
                            "with x.astype(np.int64).")
        if ids.size:
            lo, hi = int(ids.min()), int(ids.max())
            if lo < 0 or hi >= W.shape[0]:
                raise IndexError(f"embed_id: ids must lie in [0, {W.shape[0]}) for W of shape "
                                 f"{W.shape}, got ids in [{lo}, {hi}] (shape {ids.shape}).")
        return W[ids]

    def backward(self, gy):
        W, = self.inputs
        return EmbedIDGrad(self.ids, W.shape)(gy)

    def backward_arrays(self, gy):
        return EmbedIDGrad(self.ids, self.inputs[0].data.shape).forward(gy)


class EmbedIDGrad(Function):
    """The gradient of embed_id with respect to W: gy scatter-added into zeros of W's shape."""

    def __init__(self, ids, w_shape):
        self.ids = ids
        self.w_shape = w_shape

    def forward(self, gy):
        xp = get_array_module(gy)
        gW = xp.zeros(self.w_shape, dtype=gy.dtype)
        add_rows_at(gW, self.ids, gy)
        return gW

    def backward(self, ggW):
        return EmbedID(self.ids)(ggW)


def embed_id(x, W):
    """W[x]: the rows of W (vocab_size, dim) for integer ids x of any shape -> x.shape + (dim,)."""
    ids = x.data if isinstance(x, Variable) else x
    xp = get_array_module(W)
    ids = xp.asarray(ids)
    return EmbedID(ids)(W)
