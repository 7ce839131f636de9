"""Variable's operators and array-like methods, in one table: VARIABLE_METHODS.

dezero.core cannot import the functions (they are built on it), so `import dezero` binds
this table onto Variable with dezero.core.setup_variable once the functions exist. To give
Variable a new operator or method, add one entry here.
"""
import operator

import numpy as np

from dezero.core import Variable
from dezero.functions.activation import relu as _relu, sigmoid as _sigmoid
from dezero.functions.arithmetic import add, div, mul, neg, pow, rdiv, rpow, rsub, sub
from dezero.functions.linalg import matmul
from dezero.functions.math import (
    abs as _abs,
    cos as _cos,
    exp as _exp,
    log as _log,
    sin as _sin,
    sqrt as _sqrt,
    tanh as _tanh,
)
from dezero.functions.reduce import (
    average as _mean,
    clip as _clip,
    max as _max,
    min as _min,
    norm as _norm,
    std as _std,
    sum as _sum,
    var as _var,
)
from dezero.functions.shape import get_item, reshape as _reshape, transpose as _transpose


def _numpy_reduction(v, name, axis, keepdims, numpy_kwargs):
    """np.sum(v), np.mean(v)...: NumPy forwards these to v's methods with `out=` and friends;
    answer as NumPy would on v.data (consistent with np.asarray(v) being v.data)."""
    return getattr(np.asarray(v), name)(axis=axis, keepdims=keepdims, **numpy_kwargs)


def reshape(self, *shape):
    """Return a Variable of the same data in a new shape (`-1` allowed)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return _reshape(self, tuple(shape))


def transpose(self, *axes):
    """Permute the axes (reversed when none are given)."""
    if len(axes) == 0:
        axes = None
    elif len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        axes = axes[0]
    return _transpose(self, axes)


def sum(self, axis=None, keepdims=False, **numpy_kwargs):
    """Sum over axis (all axes by default).

    np.sum(v) also lands here (NumPy forwards to a `sum` method, passing `out=`):
    that call gets NumPy's result on v.data, an array without graph.
    """
    if numpy_kwargs:
        return _numpy_reduction(self, 'sum', axis, keepdims, numpy_kwargs)
    return _sum(self, axis, keepdims)


def _reduction(name, function, keywords=()):
    """The method `name`: function(self, axis, keepdims, **the keywords it takes)."""
    def method(self, axis=None, keepdims=False, **kwargs):
        own = {k: kwargs.pop(k) for k in keywords if k in kwargs}
        if kwargs:  # np.mean(v), np.var(v)...: NumPy's result on the data
            return _numpy_reduction(self, name, axis, keepdims, dict(kwargs, **own))
        return function(self, axis, keepdims, **own)
    method.__name__ = name
    method.__doc__ = (f"F.{function.__name__}(self, axis, keepdims): the {name} over axis "
                      f"(all axes by default), differentiable; np.{name}(v) gives NumPy's "
                      "result on v.data instead.")
    return method


def _elementwise(function):
    def method(self):
        return function(self)
    method.__name__ = function.__name__
    method.__doc__ = f"F.{function.__name__}(self), differentiable."
    return method


def _comparison(name):
    compare = getattr(operator, name)

    def method(self, other):
        if isinstance(other, Variable):
            other = other.data
        result = compare(self.data, other)
        if isinstance(result, np.generic):  # 0-d operands: still an array
            result = np.asarray(result)
        return result
    method.__name__ = f'__{name}__'
    method.__doc__ = (f"v {name} other on the data: a plain boolean array (no graph); "
                      "other may be a Variable, an array or a number.")
    return method


def norm(self, axis=None, keepdims=False):
    """F.norm(self, axis, keepdims): the Euclidean norm, PyTorch's x.norm(), differentiable."""
    return _norm(self, axis, keepdims)


def clamp(self, min=None, max=None):
    """F.clip(self, min, max): PyTorch's clamp (either bound may be None), differentiable."""
    return _clip(self, min, max)


def T(self):
    """The transpose (axes reversed)."""
    return _transpose(self)


def __pos__(self):
    return self


def __rmatmul__(self, other):
    return matmul(other, self)


VARIABLE_METHODS = {
    '__add__': add,
    '__radd__': add,
    '__mul__': mul,
    '__rmul__': mul,
    '__sub__': sub,
    '__rsub__': rsub,
    '__truediv__': div,
    '__rtruediv__': rdiv,
    '__neg__': neg,
    '__pos__': __pos__,
    '__pow__': pow,
    '__rpow__': rpow,
    '__matmul__': matmul,
    '__rmatmul__': __rmatmul__,
    '__getitem__': get_item,
    'reshape': reshape,
    'transpose': transpose,
    'sum': sum,
    'T': property(T),
    # PyTorch-style methods: differentiable, the same as the functions
    'mean': _reduction('mean', _mean),
    'max': _reduction('max', _max),
    'min': _reduction('min', _min),
    'var': _reduction('var', _var, ('ddof',)),
    'std': _reduction('std', _std, ('ddof',)),
    'norm': norm,
    'abs': _elementwise(_abs),
    'exp': _elementwise(_exp),
    'log': _elementwise(_log),
    'sqrt': _elementwise(_sqrt),
    'sin': _elementwise(_sin),
    'cos': _elementwise(_cos),
    'tanh': _elementwise(_tanh),
    'sigmoid': _elementwise(_sigmoid),
    'relu': _elementwise(_relu),
    'clamp': clamp,
    # comparisons: plain boolean arrays, not differentiable (Variables stay hashable by
    # identity: core.Variable sets __hash__ = object.__hash__)
    '__lt__': _comparison('lt'),
    '__le__': _comparison('le'),
    '__gt__': _comparison('gt'),
    '__ge__': _comparison('ge'),
    '__eq__': _comparison('eq'),
    '__ne__': _comparison('ne'),
}
