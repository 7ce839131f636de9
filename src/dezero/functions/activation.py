"""Activations: sigmoid, relu, leaky_relu, softmax, log_softmax (and the book's simple forms).

The stable forms never overflow: sigmoid goes through tanh, softmax and log_softmax
subtract the row maximum first. Every backward is written with dezero Functions,
so it can be differentiated again.
"""
import numpy as np

from dezero import utils_array
from dezero.core import Function, as_variable
from dezero.cuda import get_array_module
from dezero.functions.math import exp
from dezero.functions.reduce import sum as _sum


def _check_axis(name, x, axis):
    ndim = x.ndim
    axes = axis if isinstance(axis, tuple) else (axis,)
    for a in axes:
        if not isinstance(a, int) or not -ndim <= a < ndim:
            raise ValueError(f"{name}: axis {axis!r} is out of range for an input of shape "
                             f"{x.shape} (ndim {ndim}); pass an axis in [-{ndim}, {ndim}).")


class Sigmoid(Function):
    """1 / (1 + exp(-x)) computed as 0.5 tanh(0.5 x) + 0.5."""

    def forward(self, x):
        # 0.5 * tanh(0.5 x) + 0.5 equals 1 / (1 + exp(-x)) and cannot overflow.
        y = get_array_module(x).tanh(x * 0.5)
        y *= 0.5
        y += 0.5
        return y

    def backward(self, gy):
        y = self.outputs[0]()
        return gy * y * (1 - y)

    def backward_arrays(self, gy):
        y = self.outputs[0]().data
        return gy * y * (1 - y)


def sigmoid(x):
    """Logistic sigmoid 1 / (1 + exp(-x)), elementwise, computed without overflow."""
    return Sigmoid()(x)


def sigmoid_simple(x):
    """The book's sigmoid 1 / (1 + exp(-x)), composed of dezero Functions (overflows for x << 0)."""
    x = as_variable(x)
    return 1 / (1 + exp(-x))


class ReLU(Function):
    """max(x, 0)."""

    def forward(self, x):
        return get_array_module(x).maximum(x, 0)

    def backward(self, gy):
        # The mask comes from the output (y > 0 exactly where x > 0): no copy of x is kept.
        y = self.outputs[0]()
        return gy * (y.data > 0)

    def backward_arrays(self, gy):
        return gy * (self.outputs[0]().data > 0)


def relu(x):
    """max(x, 0), elementwise."""
    return ReLU()(x)


class LeakyReLU(Function):
    """x where x > 0, slope * x elsewhere."""

    def __init__(self, slope):
        self.slope = slope

    def forward(self, x):
        # max(x, slope x) for slope <= 1, min for slope > 1: both branch-free, unlike where().
        xp = get_array_module(x)
        pick = xp.maximum if self.slope <= 1 else xp.minimum
        return pick(x, x * self.slope)

    def backward(self, gy):
        return gy * self._scale()

    def backward_arrays(self, gy):
        return gy * self._scale()

    def _scale(self):
        x = self.inputs[0].data
        slope = self.slope
        # 1 where x > 0, slope elsewhere; float even for integer x (gradients are floats)
        scale = (x > 0).astype(x.dtype if x.dtype.kind == 'f' else np.float64)
        scale *= 1 - slope
        scale += slope
        return scale


def leaky_relu(x, slope=0.2):
    """x where x > 0, slope * x elsewhere, elementwise."""
    # A Python float keeps float32 inputs float32 (a NumPy float64 scalar would promote them).
    return LeakyReLU(float(slope))(x)


class Softmax(Function):
    """exp(x) / sum(exp(x)) along an axis, computed stably."""

    def __init__(self, axis=1):
        self.axis = axis

    def forward(self, x):
        _check_axis('softmax', x, self.axis)
        x = utils_array.as_float(x)  # integer and bool logits compute in floating point
        if x.size == 0:
            return x.copy()  # nothing to normalise (NumPy's max refuses an empty axis)
        xp = get_array_module(x)
        y = x - x.max(axis=self.axis, keepdims=True)
        xp.exp(y, out=y)
        y /= y.sum(axis=self.axis, keepdims=True)
        return y

    def backward(self, gy):
        y = self.outputs[0]()
        gx = y * gy
        return gx - y * _sum(gx, axis=self.axis, keepdims=True)


def softmax(x, axis=1):
    """exp(x) / sum(exp(x), axis), computed without overflow (the row maximum is subtracted)."""
    return Softmax(axis)(x)


def softmax_simple(x, axis=1):
    """The book's softmax composed of exp, sum and div.

    The row maximum is subtracted as a constant first; softmax does not change under
    such a shift, so the gradient is exact and large logits no longer overflow.
    """
    x = as_variable(x)
    _check_axis('softmax_simple', x, axis)
    shift = x.data.max(axis=axis, keepdims=True)
    y = exp(x - shift)
    return y / _sum(y, axis=axis, keepdims=True)


class LogSoftmax(Function):
    """log(softmax(x)) along an axis, computed stably."""

    def __init__(self, axis=1):
        self.axis = axis

    def forward(self, x):
        _check_axis('log_softmax', x, self.axis)
        x = utils_array.as_float(x)
        return x - utils_array.logsumexp(x, self.axis)

    def backward(self, gy):
        y = self.outputs[0]()
        return gy - exp(y) * _sum(gy, axis=self.axis, keepdims=True)


def log_softmax(x, axis=1):
    """log(softmax(x, axis)), computed as x - logsumexp(x, axis) without overflow."""
    return LogSoftmax(axis)(x)
