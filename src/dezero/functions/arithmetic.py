"""The arithmetic Functions behind Variable's operators: + - * / ** and unary -.

Constants (Python or NumPy scalars) get dedicated Functions (AddConstant, ...)
that keep float32 data float32 and compute no gradient for the constant.
"""
import numpy as np

from dezero import cuda
from dezero.core import (
    Function,
    Variable,
    _Constant,
    _constant_like,
    _is_array,
    _ndarray,
    _wrap_constant,
    as_array,
    as_variable,
)
from dezero.functions.math import log
from dezero.functions.shape import sum_to
from dezero.utils_array import sum_to as _sum_to_array


def _as_input(value, like):
    if isinstance(value, Variable):
        return value
    like_data = like.data if isinstance(like, Variable) else like
    if not _is_array(like_data):
        return value  # neither side is an array yet: Function.__call__ sorts it out
    value = _constant_like(value, like_data)
    if not _is_array(value):
        raise TypeError(f"dezero: cannot combine a Variable with {type(value).__name__}; "
                        "use a number, an ndarray or a Variable.")
    return _wrap_constant(value)


def _broadcast_error(name, x0, x1):
    return ValueError(f"{name}: shapes {x0.shape} and {x1.shape} do not broadcast (each "
                      "dimension, aligned from the right, must match or be 1); reshape one "
                      "operand, e.g. with F.reshape or F.expand_dims.")


def _reduce_to(g, shape, x=None):
    """Raw-array gradient g summed down to shape; None when x is a constant."""
    if x is not None and x.__class__ is _Constant:
        return None
    if g.shape == shape:
        return g
    return _sum_to_array(g, shape)


def _sum_to_shape(gx, shape):
    if gx.shape == shape:
        return gx
    return sum_to(gx, shape)


class Add(Function):
    """x0 + x1 with broadcasting; each gradient is summed back to its input's shape."""

    def forward(self, x0, x1):
        try:
            return x0 + x1
        except ValueError:
            raise _broadcast_error('add', x0, x1) from None

    def backward(self, gy):
        x0, x1 = self.inputs
        s0, s1 = x0.data.shape, x1.data.shape
        if s0 == s1:
            return gy, gy
        return _sum_to_shape(gy, s0), _sum_to_shape(gy, s1)

    def backward_arrays(self, gy):
        x0, x1 = self.inputs
        s0, s1 = x0.data.shape, x1.data.shape
        if s0 == s1:
            return gy, gy
        return _reduce_to(gy, s0, x0), _reduce_to(gy, s1, x1)


class Mul(Function):
    """x0 * x1 with broadcasting."""

    def forward(self, x0, x1):
        try:
            return x0 * x1
        except ValueError:
            raise _broadcast_error('mul', x0, x1) from None

    def backward(self, gy):
        x0, x1 = self.inputs
        gx0 = gy * x1
        gx1 = gy * x0
        s0, s1 = x0.data.shape, x1.data.shape
        if s0 == s1:
            return gx0, gx1
        return _sum_to_shape(gx0, s0), _sum_to_shape(gx1, s1)

    def backward_arrays(self, gy):
        x0, x1 = self.inputs
        gx0 = None if x0.__class__ is _Constant else _reduce_to(gy * x1.data, x0.data.shape)
        gx1 = None if x1.__class__ is _Constant else _reduce_to(gy * x0.data, x1.data.shape)
        return gx0, gx1


class Neg(Function):
    """-x."""

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy

    def backward_arrays(self, gy):
        return -gy


class Sub(Function):
    """x0 - x1 with broadcasting."""

    def forward(self, x0, x1):
        try:
            return x0 - x1
        except ValueError:
            raise _broadcast_error('sub', x0, x1) from None

    def backward(self, gy):
        x0, x1 = self.inputs
        s0, s1 = x0.data.shape, x1.data.shape
        gx1 = -gy
        if s0 == s1:
            return gy, gx1
        return _sum_to_shape(gy, s0), _sum_to_shape(gx1, s1)

    def backward_arrays(self, gy):
        x0, x1 = self.inputs
        return _reduce_to(gy, x0.data.shape, x0), _reduce_to(-gy, x1.data.shape, x1)


class Div(Function):
    """x0 / x1 with broadcasting."""

    def forward(self, x0, x1):
        try:
            return x0 / x1
        except ValueError:
            raise _broadcast_error('div', x0, x1) from None

    def backward(self, gy):
        x0, x1 = self.inputs
        gx0 = gy / x1
        gx1 = -(gx0 * x0 / x1)  # gy * -x0 / x1^2, negated last: bool x0 has no negative
        s0, s1 = x0.data.shape, x1.data.shape
        if s0 == s1:
            return gx0, gx1
        return _sum_to_shape(gx0, s0), _sum_to_shape(gx1, s1)

    def backward_arrays(self, gy):
        x0, x1 = self.inputs
        a, b = x0.data, x1.data
        g = gy / b
        gx0 = _reduce_to(g, a.shape, x0)
        gx1 = None if x1.__class__ is _Constant else _reduce_to(-(g * a / b), b.shape)
        return gx0, gx1


class Pow(Function):
    """x ** c for a constant exponent c (a number or an array that broadcasts with x).

    d/dx = c x^(c-1), taken as 0 where c == 0 (x ** 0 is constant, even at x = 0); the
    gradient is summed back to x's shape when c broadcasts x to a larger one.
    """

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        c = self.c
        if not isinstance(c, (int, float)):
            xp = cuda.get_array_module(x)
            # a float x keeps its dtype (float32 ** float64 array stays float32)
            c = self.c = xp.asarray(c, dtype=x.dtype) if x.dtype.kind == 'f' else xp.asarray(c)
        try:
            return x ** c
        except ValueError as e:
            if 'broadcast' in str(e):
                raise _broadcast_error('pow', x, c) from None
            raise ValueError(f"pow: {e} (x of dtype {x.dtype}); use a float exponent such as "
                             f"{float(c) if isinstance(c, int) else 'c.astype(float)'}.") from None

    def _exponent(self):
        """(c, c - 1) with c - 1 replaced by 1 where c == 0, so that c x^(c-1) is 0 there."""
        c = self.c
        if isinstance(c, (int, float)):
            return c, (c - 1 if c != 0 else 1)
        xp = cuda.get_array_module(c)
        return c, xp.where(c == 0, xp.ones_like(c), c - 1)

    def backward(self, gy):
        x, = self.inputs
        c, c1 = self._exponent()
        return _sum_to_shape(gy * (c * x ** c1), x.shape)

    def backward_arrays(self, gy):
        c, c1 = self._exponent()
        x = self.inputs[0].data
        return _reduce_to(gy * (c * x ** c1), x.shape)


class PowVariable(Function):
    """x ** y where both are Variables: d/dx = y x^(y-1), d/dy = x^y log x."""

    def forward(self, x, y):
        try:
            return x ** y
        except ValueError:
            raise _broadcast_error('pow', x, y) from None

    def backward(self, gy):
        x, y = self.inputs
        z = self.outputs[0]()
        if z is None:
            z = x ** y
        gx = gy * y * x ** (y - 1)
        gyy = gy * z * log(x)
        return _sum_to_shape(gx, x.shape), _sum_to_shape(gyy, y.shape)


class AddConstant(Function):
    """x + c for a constant scalar c (no gradient is computed for c)."""

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x + self.c

    def backward(self, gy):
        return gy

    def backward_arrays(self, gy):
        return gy


class MulConstant(Function):
    """x * c for a constant scalar c."""

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x * self.c

    def backward(self, gy):
        return MulConstant(self.c)(gy)

    def backward_arrays(self, gy):
        return gy * self.c


class RSubConstant(Function):
    """c - x for a constant scalar c."""

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return self.c - x

    def backward(self, gy):
        return -gy

    def backward_arrays(self, gy):
        return -gy


class DivConstant(Function):
    """x / c for a constant scalar c."""

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x / self.c

    def backward(self, gy):
        return DivConstant(self.c)(gy)

    def backward_arrays(self, gy):
        return gy / self.c


class RDivConstant(Function):
    """c / x for a constant scalar c: d/dx = -c / x^2."""

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return self.c / x

    def backward(self, gy):
        x, = self.inputs
        # a float exponent: integer x has no negative integer powers in NumPy
        return gy * MulConstant(-self.c)(x ** -2.0)

    def backward_arrays(self, gy):
        x = self.inputs[0].data
        return gy * (-self.c * x ** -2.0)


_python_scalars = (int, float)


def _scalar(value, x):
    """value as a Python scalar when it is a real scalar constant for Variable x, else None.

    Python scalars are 'weak' in NumPy 2's promotion rules, so float32 stays float32.
    """
    if value.__class__ is float or value.__class__ is int:
        return value
    if isinstance(value, (np.generic, _ndarray)) and value.ndim == 0 and \
            value.dtype.kind in 'biuf':
        if isinstance(x, Variable) and x.data is not None and x.data.dtype.kind == 'f':
            return value.item()
        return None
    if isinstance(value, _python_scalars) and not isinstance(value, bool):
        return value
    return None


def _binary(x0, x1, function, constant_function, swap=False):
    """function()(x0, x1) (or (x1, x0) when swap), or constant_function(c)(x0) when x1 is a
    scalar constant c for the Variable x0."""
    if x1.__class__ is not Variable:
        c = _scalar(x1, x0)
        if c is not None and isinstance(x0, Variable):
            return constant_function(c)(x0)
        x1 = _as_input(x1, x0)
    return function()(x1, x0) if swap else function()(x0, x1)


def _add_negated(c):
    return AddConstant(-c)


def add(x0, x1):
    """x0 + x1 with broadcasting."""
    return _binary(x0, x1, Add, AddConstant)


def mul(x0, x1):
    """x0 * x1 with broadcasting."""
    return _binary(x0, x1, Mul, MulConstant)


def sub(x0, x1):
    """x0 - x1 with broadcasting."""
    return _binary(x0, x1, Sub, _add_negated)


def rsub(x0, x1):
    """x1 - x0 (the reflected form of `-`)."""
    return _binary(x0, x1, Sub, RSubConstant, swap=True)


def div(x0, x1):
    """x0 / x1 with broadcasting."""
    return _binary(x0, x1, Div, DivConstant)


def rdiv(x0, x1):
    """x1 / x0 (the reflected form of `/`)."""
    return _binary(x0, x1, Div, RDivConstant, swap=True)


def neg(x):
    """-x."""
    return Neg()(x)


def pow(x, c):
    """x ** c; c is a constant (number or array) or a Variable (then differentiable in both)."""
    if isinstance(c, Variable):
        if not isinstance(x, Variable):
            x = _as_input(x, c)
        return PowVariable()(x, c)
    if not isinstance(x, Variable):
        x = as_variable(as_array(x))
    scalar = _scalar(c, x)
    return Pow(c if scalar is None else scalar)(x)


def rpow(x, c):
    """c ** x (the reflected form of `**`): c constant, x a Variable."""
    return PowVariable()(_as_input(c, x), x)
