"""Activations: sigmoid, relu, leaky_relu, softmax, log_softmax (and the book's simple forms),
gelu, elu, silu, softplus, hardtanh; argmax/argmin (not differentiable).

The stable forms never overflow: sigmoid's exp(-x) may reach inf (then 1 / (1 + inf) is the
right 0, no warning), softmax and log_softmax subtract the row maximum first. Every
backward is written with dezero Functions, so it can be differentiated again.
"""
import numpy as np

from dezero import _parallel, utils_array
from dezero.core import Config, Function, Variable, as_variable
from dezero.cuda import get_array_module
from dezero.functions.math import _erf_array, erf, exp, tanh
from dezero.functions.reduce import clip, sum as _sum


def _check_axis(name, x, axis):
    ndim = x.ndim
    axes = axis if isinstance(axis, tuple) else (axis,)
    for a in axes:
        if not isinstance(a, int) or not -ndim <= a < ndim:
            raise ValueError(f"{name}: axis {axis!r} is out of range for an input of shape "
                             f"{x.shape} (ndim {ndim}); pass an axis in [-{ndim}, {ndim}).")


def _sigmoid_kernel(x, out=None):
    """1 / (1 + exp(-x)), into out when given (else a new array). exp(-x) overflows to inf
    for x below about -88 (float32), and 1 / inf is the 0 that the sigmoid rounds to there;
    it underflows to 0 above about 104, where the sigmoid is 1."""
    with np.errstate(over='ignore', under='ignore'):
        return _sigmoid_exp(x, out)


def _sigmoid_exp(x, out=None):
    """_sigmoid_kernel without the errstate, which the caller holds."""
    xp = get_array_module(x)
    out = xp.negative(x, out=out)
    if not out.ndim:   # a 0-d x gives a NumPy scalar, which cannot be written into
        out = xp.array(out)
    xp.exp(out, out=out)
    if xp is np:   # a 0-d one: NumPy converts a Python 1 anew on every call (+1.4 us)
        np.add(out, _one(out.dtype), out=out)
    else:
        out += 1
    return xp.reciprocal(out, out=out)


def sigmoid_arrays(*arrays):
    """Sigmoid().forward of each array; small float32/float64 ones under one errstate (an
    LSTM step's three gates: one errstate's 2.5 us instead of three)."""
    if all(a.dtype.kind == 'f' and a.itemsize >= 4 and a.size < _parallel.TRANSCENDENTAL_MIN
           for a in arrays):
        with np.errstate(over='ignore', under='ignore'):
            return [_sigmoid_exp(a) for a in arrays]
    return [Sigmoid().forward(a) for a in arrays]


_ONES = {}


def _one(dtype):
    one = _ONES.get(dtype)
    if one is None:
        one = _ONES[dtype] = np.ones((), dtype=dtype)
    return one


class Sigmoid(Function):
    """1 / (1 + exp(-x)); float16 is computed in float32."""

    def forward(self, x):
        # Through exp, not 0.5 tanh(0.5 x) + 0.5: NumPy's exp is twice as fast as its tanh
        # here, and the tanh form rounds every sigmoid below 3e-8 to 0 (float32).
        if x.dtype.kind in 'biu':
            x = x.astype(np.float64)   # NumPy's promotion for a Python float
        elif x.itemsize == 2:          # float16
            return self.forward(x.astype(np.float32)).astype(np.float16)
        if x.size < _parallel.TRANSCENDENTAL_MIN:   # the common case first: per-op overhead
            return _sigmoid_kernel(x)
        return _parallel.transcendental(get_array_module(x), _sigmoid_kernel, x)

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
        xp = get_array_module(x)
        if xp is np and x.dtype.kind == 'f' and x.flags.c_contiguous:
            y = np.empty(x.shape, dtype=x.dtype)
            if x.size >= _parallel.ELEMENTWISE_MIN and \
                    _parallel.elementwise(xp, _relu_kernel, y, x) is not None:
                return y  # large: split over threads
            return _relu_kernel(x, y)
        return xp.maximum(x, 0)

    def backward(self, gy):
        # The mask comes from the output (y > 0 exactly where x > 0): no copy of x is kept.
        y = self.outputs[0]()
        return gy * (y.data > 0)

    # Set by a max pooling of this ReLU's output that has already masked its gradient
    # (Pooling2D.backward): when that gradient arrives alone, it passes as it is.
    folded_grad = None

    def backward_arrays(self, gy):
        folded, self.folded_grad = self.folded_grad, None
        if gy is folded:
            return gy
        y = self.outputs[0]().data
        if gy.size >= _parallel.ELEMENTWISE_MIN and gy.dtype == y.dtype and \
                gy.dtype.kind == 'f':
            gx = _parallel.elementwise(get_array_module(y), _relu_grad_kernel,
                                       np.empty_like(gy), gy, y)
            if gx is not None:
                return gx
        return gy * (y > 0)


# NumPy's maximum of an array and a scalar runs an unvectorized loop (1.2 ns an element
# here), array against array a vectorized one (0.2 ns): ReLU compares x row by row with
# a row of zeros (same bits as maximum(x, 0), -0.0 and NaN included).
_ROW = 1024
_ZERO_ROWS = {}


def _zero_row(dtype):
    row = _ZERO_ROWS.get(dtype)
    if row is None:
        row = np.zeros(_ROW, dtype=dtype)
        row.flags.writeable = False
        _ZERO_ROWS[dtype] = row
    return row


def _relu_kernel(x, out):
    """max(x, 0) into out: C-contiguous NumPy float arrays of one shape."""
    flat, dest = x.reshape(-1), out.reshape(-1)
    zeros = _zero_row(x.dtype)
    n = flat.size - flat.size % _ROW
    if n:
        np.maximum(flat[:n].reshape(-1, _ROW), zeros, out=dest[:n].reshape(-1, _ROW))
    if n < flat.size:
        np.maximum(flat[n:], zeros[:flat.size - n], out=dest[n:])
    return out


def _relu_grad_kernel(gy, y, out):
    return np.multiply(gy, y > 0, out=out)


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
        y = x * self.slope
        if y.ndim:   # into the product: one array fewer (a 0-d x gives a NumPy scalar)
            return pick(x, y, out=y)
        return pick(x, y)

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
        if x.size == 0:
            # nothing to normalise (NumPy's max refuses an empty axis)
            return utils_array.as_float(x).copy()
        return utils_array.softmax(x, self.axis)

    def backward(self, gy):
        y = self.outputs[0]()
        gx = y * gy
        return gx - y * _sum(gx, axis=self.axis, keepdims=True)

    def backward_arrays(self, gy):
        # y (gy - sum(y gy)): four passes, one new array
        y = self.outputs[0]().data
        gx = y * gy
        total = gx.sum(axis=self.axis, keepdims=True)
        get_array_module(y).subtract(gy, total, out=gx)
        gx *= y
        return gx


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

    def backward_arrays(self, gy):
        y = self.outputs[0]().data
        xp = get_array_module(y)
        gx = _parallel.transcendental(xp, xp.exp, y)
        total = gy.sum(axis=self.axis, keepdims=True)
        if xp.result_type(gx, total) != gx.dtype:   # float64 gy on float32 y
            return gy - gx * total
        gx *= total
        return xp.subtract(gy, gx, out=gx) if gx.dtype == gy.dtype else gy - gx


def log_softmax(x, axis=1):
    """log(softmax(x, axis)), computed as x - logsumexp(x, axis) without overflow."""
    return LogSoftmax(axis)(x)


# ---------------------------------------------------------------------------
# The activations PyTorch users reach for: gelu, elu, silu, softplus, hardtanh
# ---------------------------------------------------------------------------
_SQRT_HALF = 0.7071067811865476  # 1 / sqrt(2)
_INV_SQRT_2PI = 0.3989422804014327  # 1 / sqrt(2 pi)
_SQRT_2_OVER_PI = 0.7978845608028654  # sqrt(2 / pi)


def _check_float_param(name, label, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: {label} must be a real number, got {value!r} "
                        f"({type(value).__name__}).")
    return float(value)


class GELU(Function):
    """x * Phi(x) with Phi the standard normal CDF, computed with the exact erf."""

    def forward(self, x):
        if x.dtype.kind != 'f':
            x = x.astype(np.float64)
        cdf = _erf_array(x * x.dtype.type(_SQRT_HALF))
        cdf += 1
        cdf *= 0.5
        if Config.enable_backprop:
            self.cdf = cdf   # backward_arrays needs Phi(x) again: erf costs 20 ns an element
        return x * cdf

    def backward_arrays(self, gy):
        x = self.inputs[0].data
        xp = get_array_module(x)
        if x.dtype.kind != 'f':
            x = x.astype(np.float64)
        pdf = xp.multiply(x, x, out=xp.empty(x.shape, dtype=x.dtype))   # 0-d: still an array
        pdf *= -0.5
        xp.exp(pdf, out=pdf)
        pdf *= x
        pdf *= _INV_SQRT_2PI
        pdf += self.cdf            # Phi(x) + x phi(x)
        return gy * pdf

    def backward(self, gy):
        # d/dx x Phi(x) = Phi(x) + x phi(x), written with Functions (twice differentiable).
        x, = self.inputs
        cdf = (erf(x * _SQRT_HALF) + 1.0) * 0.5
        pdf = exp(x * x * -0.5) * _INV_SQRT_2PI
        return gy * (cdf + x * pdf)


def gelu(x, approximate='none'):
    """Gaussian error linear unit x * Phi(x), elementwise (PyTorch's F.gelu).

    approximate='none' (the default, as in PyTorch) uses the exact normal CDF through
    erf (exact in float64, within 1e-7 in float32); approximate='tanh' uses
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the BERT/GPT-2 form.
    Differentiable twice.
    """
    if approximate == 'none':
        return GELU()(x)
    if approximate == 'tanh':
        x = as_variable(x)
        inner = (x + x * x * x * 0.044715) * _SQRT_2_OVER_PI
        return x * (tanh(inner) + 1.0) * 0.5
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}.")


class ELU(Function):
    """x where x > 0, alpha * (exp(x) - 1) elsewhere."""

    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, x):
        xp = get_array_module(x)
        neg = xp.expm1(xp.minimum(x, 0))  # no overflow for large positive x
        neg *= self.alpha
        neg += xp.maximum(x, 0)           # x + 0 where x > 0, 0 + neg elsewhere (no where():
        return neg                        # its random mask costs 3x a plain pass)

    def backward(self, gy):
        # 1 where x > 0, alpha exp(x) = y + alpha elsewhere: built from y, twice differentiable.
        x = self.inputs[0]
        y = self.outputs[0]()
        pos = (x.data > 0).astype(gy.dtype)
        return gy * (pos + (y + self.alpha) * (1 - pos))

    def backward_arrays(self, gy):
        xp = get_array_module(gy)
        x, y = self.inputs[0].data, self.outputs[0]().data
        # alpha e^x = min(y, 0) + alpha where x <= 0, plus 1 - alpha where x > 0
        slope = xp.minimum(y, 0, out=xp.empty(y.shape, dtype=y.dtype))   # 0-d: an array
        slope += self.alpha
        step = (x > 0).astype(slope.dtype)
        step *= 1 - self.alpha
        slope += step
        return gy * slope


def elu(x, alpha=1.0):
    """Exponential linear unit: x where x > 0, alpha * (exp(x) - 1) elsewhere (PyTorch's F.elu)."""
    return ELU(_check_float_param('elu', 'alpha', alpha))(x)


def silu(x):
    """x * sigmoid(x), elementwise (also called swish); differentiable twice."""
    x = as_variable(x)
    return x * sigmoid(x)


class Softplus(Function):
    """log(1 + exp(beta x)) / beta, computed without overflow."""

    def __init__(self, beta):
        self.beta = beta

    def forward(self, x):
        xp = get_array_module(x)
        z = x * self.beta
        y = xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))
        if self.beta != 1.0:
            y /= self.beta
        return y

    def backward(self, gy):
        x, = self.inputs
        return gy * sigmoid(x * self.beta)

    def backward_arrays(self, gy):
        x = self.inputs[0].data
        return gy * Sigmoid().forward(x * self.beta if self.beta != 1.0 else x)


def softplus(x, beta=1.0):
    """Smooth ReLU log(1 + exp(beta x)) / beta, elementwise, without overflow (PyTorch's
    F.softplus without its threshold: the stable form needs none). Its derivative is
    sigmoid(beta x)."""
    beta = _check_float_param('softplus', 'beta', beta)
    if beta <= 0:
        raise ValueError(f"softplus: beta must be positive, got {beta}.")
    return Softplus(beta)(x)


def hardtanh(x, min_val=-1.0, max_val=1.0):
    """x clipped into [min_val, max_val] (PyTorch's F.hardtanh); the gradient is 1 inside,
    0 outside."""
    lo = _check_float_param('hardtanh', 'min_val', min_val)
    hi = _check_float_param('hardtanh', 'max_val', max_val)
    if not lo < hi:
        raise ValueError(f"hardtanh: min_val must be below max_val, got {lo} and {hi}.")
    return clip(x, lo, hi)


# ---------------------------------------------------------------------------
# argmax / argmin (not differentiable)
# ---------------------------------------------------------------------------
def _arg_reduce(name, x, axis, keepdims):
    data = x.data if isinstance(x, Variable) else x
    xp = get_array_module(data)
    data = xp.asarray(data)
    if data.size == 0:
        raise ValueError(f"{name}: the input has no elements (shape {data.shape}).")
    if axis is not None:
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) \
                or not -data.ndim <= axis < max(data.ndim, 1):
            raise ValueError(f"{name}: axis must be None or an int in [-{data.ndim}, "
                             f"{data.ndim}) for an input of shape {data.shape}, got {axis!r}.")
    out = getattr(data, name)(axis=axis, keepdims=keepdims)
    return xp.asarray(out, dtype=np.int64)


def argmax(x, axis=None, keepdims=False):
    """Indices of the maxima of x along axis (over the flattened array when None).

    Not differentiable: like PyTorch's argmax it returns integers (an int64 array of
    x's array module, not a Variable), e.g. predicted labels F.argmax(logits, axis=1).
    """
    return _arg_reduce('argmax', x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    """Indices of the minima of x along axis (over the flattened array when None); an int64
    array, not a Variable (not differentiable)."""
    return _arg_reduce('argmin', x, axis, keepdims)
