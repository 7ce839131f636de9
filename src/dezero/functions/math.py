"""Elementwise math: square, exp, log, sin, cos, tanh, sqrt, abs, erf (pow: see arithmetic).

Every backward is written with dezero Functions, so it can be differentiated again.
"""
import math

import numpy as np

from dezero import _parallel
from dezero.core import Function
from dezero.cuda import get_array_module

# exp, log, sin, cos and tanh split over threads from this many elements (the size test
# comes first and inline: these Functions' per-call overhead is what small graphs pay).
_SPLIT = _parallel.TRANSCENDENTAL_MIN


class Square(Function):
    """x * x."""

    def forward(self, x):
        return x * x

    def backward(self, gy):
        x, = self.inputs
        return gy * (x * 2.0)

    def backward_arrays(self, gy):
        return gy * (self.inputs[0].data * 2.0)


class Exp(Function):
    """exp(x)."""

    def forward(self, x):
        xp = get_array_module(x)
        return xp.exp(x) if x.size < _SPLIT else _parallel.transcendental(xp, xp.exp, x)

    def backward(self, gy):
        return gy * self.outputs[0]()

    def backward_arrays(self, gy):
        return gy * self.outputs[0]().data


class Log(Function):
    """Natural log of x."""

    def forward(self, x):
        xp = get_array_module(x)
        return xp.log(x) if x.size < _SPLIT else _parallel.transcendental(xp, xp.log, x)

    def backward(self, gy):
        x, = self.inputs
        return gy / x

    def backward_arrays(self, gy):
        return gy / self.inputs[0].data


class Sin(Function):
    """sin(x)."""

    def forward(self, x):
        xp = get_array_module(x)
        return xp.sin(x) if x.size < _SPLIT else _parallel.transcendental(xp, xp.sin, x)

    def backward(self, gy):
        x, = self.inputs
        return gy * cos(x)

    def backward_arrays(self, gy):
        x = self.inputs[0].data
        return gy * get_array_module(x).cos(x)


class Cos(Function):
    """cos(x)."""

    def forward(self, x):
        xp = get_array_module(x)
        return xp.cos(x) if x.size < _SPLIT else _parallel.transcendental(xp, xp.cos, x)

    def backward(self, gy):
        x, = self.inputs
        return gy * -sin(x)

    def backward_arrays(self, gy):
        x = self.inputs[0].data
        return gy * -get_array_module(x).sin(x)


class Tanh(Function):
    """tanh(x)."""

    def forward(self, x):
        xp = get_array_module(x)
        return xp.tanh(x) if x.size < _SPLIT else _parallel.transcendental(xp, xp.tanh, x)

    def backward(self, gy):
        return TanhGrad()(self.outputs[0](), gy)

    def backward_arrays(self, gy):
        y = self.outputs[0]().data
        return gy * (1 - y * y)


class TanhGrad(Function):
    """gy * (1 - y^2) fused into one Function (tanh's backward is on hot paths)."""

    def forward(self, y, gy):
        return gy * (1 - y * y)

    def backward(self, ggx):
        y, gy = self.inputs
        return ggx * gy * y * -2.0, ggx * (1 - y * y)


class Sqrt(Function):
    """sqrt(x)."""

    def forward(self, x):
        return get_array_module(x).sqrt(x)

    def backward(self, gy):
        y = self.outputs[0]()
        return gy / (y * 2.0)

    def backward_arrays(self, gy):
        return gy / (self.outputs[0]().data * 2.0)


class Abs(Function):
    """|x|; the gradient at 0 is taken as 0 (the subgradient NumPy's sign gives)."""

    def forward(self, x):
        return get_array_module(x).abs(x)

    def backward(self, gy):
        return gy * self._sign()

    def backward_arrays(self, gy):
        return gy * self._sign()

    def _sign(self):
        x = self.inputs[0].data
        if x.dtype.kind == 'b':
            return x.astype(np.float64)  # sign(True) = 1, sign(False) = 0 (no bool sign loop)
        return get_array_module(x).sign(x)


_exact_erf = np.frompyfunc(math.erf, 1, 1)
# erfc(|x|) ~ t exp(-x^2 + P(t)), t = 1 / (1 + |x| / 2): a Chebyshev fit (Numerical Recipes'
# erfcc) whose absolute error in erf is below 1e-7, as good as float32 can hold.
_ERFC_COEFFS = (0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806,
                0.09678418, 0.37409196, 1.00002368, -1.26551223)


def _erf_array(x):
    """erf of an array: exact (math.erf) for float64, a < 1e-7 approximation for float32/16,
    cupyx.scipy.special.erf on a GPU."""
    xp = get_array_module(x)
    if xp is not np:
        from cupyx.scipy.special import erf as cupy_erf
        return cupy_erf(x)
    if x.dtype == np.float64:
        return np.asarray(_exact_erf(x), dtype=np.float64)
    # In float64, over chunks that stay in cache (the fit's dozen passes would otherwise
    # stream 8-byte arrays from memory: 1M float32 values 51 -> 16 ms).
    out = np.empty(x.shape, dtype=x.dtype)
    flat, dest = x.reshape(-1), out.reshape(-1)
    for start in range(0, flat.size, _ERF_CHUNK):
        dest[start:start + _ERF_CHUNK] = _erf_fit(flat[start:start + _ERF_CHUNK])
    return out


_ERF_CHUNK = 1 << 15


def _erf_fit(x):
    """The Chebyshev fit of erf on a small float array, computed in float64."""
    z = np.abs(x).astype(np.float64)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = np.full_like(t, _ERFC_COEFFS[0])
    for c in _ERFC_COEFFS[1:]:
        poly *= t
        poly += c
    z *= z
    poly -= z
    erfc = t * np.exp(poly, out=poly)
    np.subtract(1.0, erfc, out=erfc)
    erfc *= np.sign(x)            # erf(x) = sign(x) (1 - erfc(|x|))
    return erfc


class Erf(Function):
    """The error function erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt."""

    def forward(self, x):
        if x.dtype.kind != 'f':
            x = x.astype(np.float64)
        return _erf_array(x)

    def backward(self, gy):
        x, = self.inputs
        return gy * (exp((x * x) * -1.0) * (2.0 / math.sqrt(math.pi)))  # no -bool in NumPy


def square(x):
    """x * x, elementwise."""
    return Square()(x)


def exp(x):
    """e ** x, elementwise."""
    return Exp()(x)


def log(x):
    """Natural logarithm, elementwise."""
    return Log()(x)


def sin(x):
    """Sine, elementwise."""
    return Sin()(x)


def cos(x):
    """Cosine, elementwise."""
    return Cos()(x)


def tanh(x):
    """Hyperbolic tangent, elementwise."""
    return Tanh()(x)


def sqrt(x):
    """Square root, elementwise."""
    return Sqrt()(x)


def abs(x):
    """Absolute value, elementwise."""
    return Abs()(x)


def erf(x):
    """The error function, elementwise: exact in float64, within 1e-7 in float32."""
    return Erf()(x)
