"""Linear algebra: matmul and linear."""
from dezero.core import Function, as_variable
from dezero.functions.shape import sum_to


class MatMul(Function):
    def forward(self, x, W):
        return x.dot(W)

    def backward(self, gy):
        x, W = self.inputs
        gx = matmul(gy, W.T)
        gW = matmul(x.T, gy)
        return gx, gW


def matmul(x, W):
    """Matrix product x @ W of 2-D operands."""
    return MatMul()(x, W)


class Linear(Function):
    def forward(self, x, W, b=None):
        y = x.dot(W)
        if b is not None:
            y += b
        return y

    def backward(self, gy):
        x, W = self.inputs[:2]
        gx = matmul(gy, W.T)
        gW = matmul(x.T, gy)
        if len(self.inputs) == 3:
            gb = sum_to(gy, self.inputs[2].shape)
            return gx, gW, gb
        return gx, gW


def linear(x, W, b=None):
    """x @ W + b for x of shape (N, in) and W of shape (in, out)."""
    if b is None:
        return Linear()(x, W)
    return Linear()(x, W, b)
