"""Reductions: sum, average (mean), var, std, norm, max, min, logsumexp, and clip.

Axis arguments take None (every axis), an int or a tuple of ints, negatives allowed; an
out-of-range axis raises AxisError (a ValueError) naming the axis and the number of
dimensions. Backward passes are written with dezero Functions (create_graph works).
"""
import math

import numpy as np

from dezero import utils_array
from dezero.core import Function, Variable, as_variable
from dezero.cuda import get_array_module
from dezero.functions.math import sqrt
from dezero.functions.shape import broadcast_to, reshape
from dezero.utils_array import normalize_axis


def _axis_arg(axis, ndim, op, shape):
    """Validate axis; return it as None or a tuple of non-negative ints (NumPy accepts both)."""
    if axis is None:
        return None
    return normalize_axis(axis, ndim, op, shape)


def _grad_to_input(gy, x_shape, axis, keepdims):
    """Broadcast the gradient of a reduction back to the input's shape."""
    if not keepdims and axis is not None and gy.ndim:
        gy = reshape(gy, utils_array.reshape_sum_backward(gy.data, x_shape, axis, False).shape)
    return broadcast_to(gy, x_shape)


def _grad_array_to_input(gy, x_shape, axis, keepdims):
    """Raw-array twin of _grad_to_input."""
    if not keepdims and axis is not None and gy.ndim:
        gy = utils_array.reshape_sum_backward(gy, x_shape, axis, False)
    return get_array_module(gy).broadcast_to(gy, x_shape)


class Sum(Function):
    """y = x.sum(axis, keepdims); the gradient is broadcast back."""

    def __init__(self, axis, keepdims):
        self.axis = axis
        self.keepdims = keepdims

    def forward(self, x):
        self.x_shape = x.shape
        if self.axis is not None:
            self.axis = normalize_axis(self.axis, x.ndim, 'sum', x.shape)
        return x.sum(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        return _grad_to_input(gy, self.x_shape, self.axis, self.keepdims)

    def backward_arrays(self, gy):
        return _grad_array_to_input(gy, self.x_shape, self.axis, self.keepdims)


def sum(x, axis=None, keepdims=False):
    """Sum of x over axis (int, tuple or None for all), optionally keeping the reduced dims."""
    if isinstance(axis, list):
        axis = tuple(axis)
    return Sum(axis, keepdims)(x)


class Average(Function):
    """y = x.mean(axis, keepdims); the gradient is gy / n broadcast back."""

    def __init__(self, axis, keepdims):
        self.axis = axis
        self.keepdims = keepdims

    def forward(self, x):
        self.x_shape = x.shape
        self.axis = _axis_arg(self.axis, x.ndim, 'average', x.shape)
        y = x.mean(axis=self.axis, keepdims=self.keepdims)
        self.scale = y.size / x.size if x.size else 0.0
        return y

    def backward(self, gy):
        return _grad_to_input(gy * self.scale, self.x_shape, self.axis, self.keepdims)

    def backward_arrays(self, gy):
        return _grad_array_to_input(gy * self.scale, self.x_shape, self.axis, self.keepdims)


def average(x, axis=None, keepdims=False):
    """Mean of x over axis (int, tuple or None for all), optionally keeping the reduced dims."""
    if isinstance(axis, list):
        axis = tuple(axis)
    return Average(axis, keepdims)(x)


mean = average


def var(x, axis=None, keepdims=False, ddof=0):
    """Variance of x over axis (int, tuple or None for all): sum((x - mean)^2) / (n - ddof),
    n the number of elements reduced. ddof=0 as NumPy's var; PyTorch's x.var() is ddof=1
    (unbiased). Built of differentiable Functions (any order); with n - ddof <= 0 the result
    is inf or NaN, as in NumPy."""
    if isinstance(ddof, bool) or not isinstance(ddof, (int, np.integer)):
        raise TypeError(f"var: ddof must be an int, got {ddof!r}.")
    x = as_variable(x)
    if isinstance(axis, list):
        axis = tuple(axis)
    axes = _axis_arg(axis, x.ndim, 'var', x.shape)
    n = x.size if axes is None else math.prod(x.shape[a] for a in axes)
    centered = x - average(x, axis=axes, keepdims=True)
    return sum(centered * centered, axis=axes, keepdims=keepdims) / (n - int(ddof))


def std(x, axis=None, keepdims=False, ddof=0):
    """Standard deviation: sqrt(var(x, axis, keepdims, ddof)) (see var; PyTorch's x.std() is
    ddof=1). Its gradient is NaN where the variance is 0, as in PyTorch."""
    return sqrt(var(x, axis, keepdims, ddof))


class Norm(Function):
    """y = sqrt(sum(x^2, axis, keepdims)), the Euclidean norm; the gradient x gy / y is 0
    where y is 0 (all of that slice of x is 0), as in PyTorch, not NaN."""

    def __init__(self, axis, keepdims):
        self.axis = axis
        self.keepdims = keepdims

    def forward(self, x):
        xp = get_array_module(x)
        self.axis = _axis_arg(self.axis, x.ndim, 'norm', x.shape)
        return xp.sqrt((x * x).sum(axis=self.axis, keepdims=self.keepdims))

    def backward(self, gy):
        x, y = self.inputs[0], self.outputs[0]()
        shape, axis, keepdims = x.shape, self.axis, self.keepdims
        y = _grad_to_input(y, shape, axis, keepdims)
        # Where y is 0, so is every x it covers: dividing by 1 there gives x gy / 1 = 0.
        at_zero = (y.data == 0).astype(y.dtype)
        return x * (_grad_to_input(gy, shape, axis, keepdims) / (y + at_zero))


def norm(x, axis=None, keepdims=False):
    """Euclidean (2-)norm of x over axis (int, tuple or None for all elements), PyTorch's
    x.norm(); its gradient is 0, not NaN, where the norm is 0."""
    if isinstance(axis, list):
        axis = tuple(axis)
    return Norm(axis, keepdims)(x)


class _MaxMin(Function):
    """Shared body of Max and Min.

    Ties: the gradient is split evenly among the tied extrema (each of k tied elements gets
    gy / k), like torch.amax; it is a valid subgradient and keeps the total equal to gy.
    """
    _reduce = 'max'

    def __init__(self, axis, keepdims):
        self.axis = axis
        self.keepdims = keepdims

    def forward(self, x):
        name = self._reduce
        self.axis = _axis_arg(self.axis, x.ndim, name, x.shape)
        if x.size == 0 and any(x.shape[a] == 0 for a in (self.axis or range(x.ndim))):
            raise ValueError(f"{name}: an axis to reduce has no elements (shape {x.shape}, "
                             f"axis {self.axis}); {name} of nothing is undefined.")
        return getattr(x, name)(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        x, = self.inputs
        xd = x.data
        # recompute the keepdims extremum from x: the output may have been freed
        m = getattr(xd, self._reduce)(axis=self.axis, keepdims=True)
        mask = (xd == m).astype(gy.dtype if gy.dtype.kind == 'f' else np.float64)
        mask /= mask.sum(axis=self.axis, keepdims=True)
        return _grad_to_input(gy, xd.shape, self.axis, self.keepdims) * mask


class Max(_MaxMin):
    """y = x.max(axis, keepdims); ties split the gradient evenly."""
    _reduce = 'max'


class Min(_MaxMin):
    """y = x.min(axis, keepdims); ties split the gradient evenly."""
    _reduce = 'min'


def max(x, axis=None, keepdims=False):
    """Maximum of x over axis; the gradient goes to the arg-max (split evenly among ties)."""
    if isinstance(axis, list):
        axis = tuple(axis)
    return Max(axis, keepdims)(x)


def min(x, axis=None, keepdims=False):
    """Minimum of x over axis; the gradient goes to the arg-min (split evenly among ties)."""
    if isinstance(axis, list):
        axis = tuple(axis)
    return Min(axis, keepdims)(x)


class Clip(Function):
    """y = clip(x, x_min, x_max); the gradient passes where x_min <= x <= x_max."""

    def __init__(self, x_min, x_max):
        self.x_min = x_min
        self.x_max = x_max

    def forward(self, x):
        xp = get_array_module(x)
        lo, hi = self.x_min, self.x_max
        # Float x: the bounds take x's dtype (NumPy 2 would promote float32 with np.float64
        # bounds). Integer or bool x: NumPy's promotion decides (clip([1, 2, 3], 0.5, 2.5)
        # is [1., 2., 2.5]); Python numbers stay weakly typed.
        def bound(b):
            if b is None:
                return None
            if x.dtype.kind == 'f':
                return xp.asarray(b, dtype=x.dtype)
            if isinstance(b, (int, float)) and not isinstance(b, bool):
                return b
            return xp.asarray(b)
        lo = self.x_min = bound(lo)
        hi = self.x_max = bound(hi)
        for name, b in (('x_min', lo), ('x_max', hi)):
            if b is not None and getattr(b, 'ndim', 0):
                try:
                    ok = np.broadcast_shapes(b.shape, x.shape) == x.shape
                except ValueError:
                    ok = False
                if not ok:
                    raise ValueError(f"clip: {name} of shape {b.shape} does not broadcast to "
                                     f"x's shape {x.shape} without changing it.")
        return xp.clip(x, lo, hi)

    def backward(self, gy):
        x, = self.inputs
        xd = x.data
        mask = None
        if self.x_min is not None:
            mask = xd >= self.x_min
        if self.x_max is not None:
            upper = xd <= self.x_max
            mask = upper if mask is None else mask & upper
        if mask is None:
            return gy
        return gy * mask.astype(gy.dtype)


def clip(x, x_min, x_max):
    """Clip x into [x_min, x_max] (either bound may be None); the gradient is 1 inside the
    range (bounds included) and 0 outside."""
    if x_min is None and x_max is None:
        raise ValueError("clip: at least one of x_min and x_max must be given, got both None.")
    if isinstance(x_min, Variable):
        x_min = x_min.data
    if isinstance(x_max, Variable):
        x_max = x_max.data
    return Clip(x_min, x_max)(x)


class LogSumExp(Function):
    """y = log(sum(exp(x), axis, keepdims)), stable for large inputs; the gradient is
    softmax(x) along axis times gy."""

    def __init__(self, axis, keepdims):
        self.axis = axis
        self.keepdims = keepdims

    def forward(self, x):
        axis = _axis_arg(self.axis, x.ndim, 'logsumexp', x.shape)
        self.axis = axis
        y = utils_array.logsumexp(x, axis)
        if not self.keepdims:
            y = y.reshape(tuple(s for i, s in enumerate(y.shape)
                                if axis is not None and i not in axis))
        return y

    def backward(self, gy):
        from dezero.functions.math import exp
        x, = self.inputs
        axis = self.axis
        # softmax(x) along axis, from exp(x - max) / sum: exp(x - y) would lose precision for
        # large float32 inputs; the max is a constant shift, so the graph stays exact.
        if x.size == 0:
            return _grad_to_input(gy, x.shape, axis, self.keepdims) * 0.0
        m = x.data.max(axis=axis, keepdims=True)
        if x.dtype.kind != 'f':  # integer or bool x: a float constant (no bool subtract)
            x = Variable(utils_array.as_float(x.data))
        e = exp(x - m)
        s = e / broadcast_to(Sum(axis, True)(e), x.shape)
        return _grad_to_input(gy, x.shape, axis, self.keepdims) * s

    def backward_arrays(self, gy):
        x = self.inputs[0].data
        xp = get_array_module(x)
        if x.size == 0:
            return _grad_array_to_input(gy, x.shape, self.axis, self.keepdims) * 0.0
        s = utils_array.softmax(x, self.axis)   # a new array: the product may go into it
        g = _grad_array_to_input(gy, x.shape, self.axis, self.keepdims)
        if xp.result_type(s, g) != s.dtype:   # float64 gy on float32 x: as backward gives
            return s * g
        s *= g
        return s


def logsumexp(x, axis=1, keepdims=False):
    """log(sum(exp(x), axis)) without overflow, differentiable (the array helper
    dezero.utils.logsumexp keeps the reduced dims; this one does when keepdims=True)."""
    if isinstance(axis, list):
        axis = tuple(axis)
    return LogSumExp(axis, keepdims)(x)

