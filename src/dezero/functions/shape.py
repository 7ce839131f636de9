"""Shape operations: reshape, transpose, broadcast_to, sum_to, ..."""
from dezero import utils_array
from dezero.core import Function, Variable, as_variable
from dezero.cuda import get_array_module


class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape an array of shape {x.shape} "
                             f"(size {x.size}) into shape {self.shape}; the sizes must match "
                             "(one dimension may be -1).") from None

    def backward(self, gy):
        return reshape(gy, self.x_shape)


def reshape(x, shape):
    """Return x with a new shape (one dimension may be -1); no copy when possible."""
    if not isinstance(shape, tuple):
        shape = tuple(shape) if isinstance(shape, list) else (shape,)
    if x.shape == shape:
        return as_variable(x)
    return Reshape(shape)(x)


class Transpose(Function):
    def __init__(self, axes=None):
        self.axes = axes

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):
        if self.axes is None:
            return transpose(gy)
        ndim = len(self.axes)
        inverse = tuple(sorted(range(ndim), key=lambda i: self.axes[i] % ndim))
        return transpose(gy, inverse)


def transpose(x, axes=None):
    """Permute the axes of x (reverse them when axes is None)."""
    return Transpose(None if axes is None else tuple(axes))(x)


class BroadcastTo(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        xp = get_array_module(x)
        try:
            return xp.broadcast_to(x, self.shape)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to "
                             f"{self.shape}.") from None

    def backward(self, gy):
        return sum_to(gy, self.x_shape)


def broadcast_to(x, shape):
    """Broadcast x to shape (a read-only view in forward; gradients are summed back)."""
    shape = tuple(shape)
    if x.shape == shape:
        return as_variable(x)
    return BroadcastTo(shape)(x)


class SumTo(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        return utils_array.sum_to(x, self.shape)

    def backward(self, gy):
        return broadcast_to(gy, self.x_shape)


def sum_to(x, shape):
    """Sum x down to shape, the inverse of broadcast_to."""
    shape = tuple(shape)
    if x.shape == shape:
        return as_variable(x)
    return SumTo(shape)(x)
