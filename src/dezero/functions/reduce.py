"""Reductions: sum, average (mean), ..."""
from dezero import utils_array
from dezero.core import Function
from dezero.functions.shape import broadcast_to, reshape


class Sum(Function):
    def __init__(self, axis, keepdims):
        self.axis = axis
        self.keepdims = keepdims

    def forward(self, x):
        self.x_shape = x.shape
        return x.sum(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        shape = utils_array.reshape_sum_backward(gy, self.x_shape, self.axis, self.keepdims).shape
        return broadcast_to(reshape(gy, shape), self.x_shape)


def sum(x, axis=None, keepdims=False):
    """Sum of x over axis (int, tuple or None for all), optionally keeping the reduced dims."""
    if isinstance(axis, list):
        axis = tuple(axis)
    return Sum(axis, keepdims)(x)
