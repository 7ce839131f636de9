"""Array helpers shared by Functions (raw arrays in, raw arrays out)."""
import math

import numpy as np

from dezero import _parallel

try:
    AxisError = np.exceptions.AxisError
except AttributeError:  # NumPy < 1.25
    AxisError = np.AxisError


def normalize_axis(axis, ndim, op='dezero', shape=None):
    """Return axis (None, int or sequence of ints, negatives allowed) as a sorted tuple of
    non-negative ints; None means every axis.

    Raises AxisError (a ValueError and an IndexError) naming op, the axis and ndim when an
    axis is out of range, and ValueError for repeated axes.
    """
    if axis is None:
        return tuple(range(ndim))
    # anything that is not a tuple/list is one axis; non-integers are rejected below
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise TypeError(f"{op}: axis must be an int, a tuple of ints or None, got "
                            f"{type(a).__name__} {a!r}.")
        if not -ndim <= a < ndim:
            where = f" of shape {shape}" if shape is not None else ""
            raise AxisError(f"{op}: axis {int(a)} is out of bounds for an array of {ndim} "
                            f"dimension(s){where}; use an axis in [{-ndim}, {ndim - 1}].")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r} (for {ndim} dimension(s)).")
    return tuple(sorted(out))


def float_dtype(dtype):
    """The floating dtype NumPy's float-valued ufuncs (exp, tanh...) give for dtype: float and
    complex dtypes are kept; bool, int8 and uint8 give float16, 16-bit ints float32, wider
    ints float64."""
    dtype = np.dtype(dtype)
    if dtype.kind in 'fc':
        return dtype
    return np.result_type(dtype, np.float16)


def as_float(x):
    """x itself when it holds floats; otherwise x cast to float_dtype(x.dtype) (a new array,
    so nothing is ever computed in place into an integer input)."""
    if x.dtype.kind in 'fc':
        return x
    return x.astype(float_dtype(x.dtype))


def sum_to(x, shape):
    """Sum array x down to shape, undoing NumPy broadcasting (x itself when already shaped).

    Raises ValueError when x's shape cannot have been broadcast from shape.
    """
    shape = tuple(shape)
    x_shape = x.shape
    if x_shape == shape:
        return x
    ndim = len(shape)
    lead = x.ndim - ndim
    if lead < 0 or any(s != 1 and s != xs for s, xs in zip(shape, x_shape[lead:])):
        raise ValueError(f"sum_to: cannot sum an array of shape {x_shape} to shape {shape}; "
                         "the target must be a shape that broadcasts to it.")
    lead_axes = tuple(range(lead))
    axes = tuple(i + lead for i, s in enumerate(shape) if s == 1 and x_shape[i + lead] != 1)
    if not axes:
        # only leading axes to drop: a plain sum gives the right shape directly
        y = x.sum(lead_axes)
        return y.reshape(shape) if y.shape != shape else y
    y = x.sum(lead_axes + axes, keepdims=True)
    if lead > 0:
        y = y.reshape(shape)
    return y


def reshape_sum_backward(gy, x_shape, axis, keepdims):
    """Reshape gy (the gradient of a sum over axis) so that it broadcasts to x_shape.

    gy may be an array or a Variable (both have reshape); axis may be None, an int or a
    tuple, negatives allowed.
    """
    ndim = len(x_shape)
    if ndim == 0 or keepdims:
        return gy  # already has the keepdims shape (or is 0-d)
    if axis is None:
        shape = (1,) * ndim
    else:
        axes = normalize_axis(axis, ndim, 'sum', x_shape)
        shape = list(gy.shape)
        for a in axes:
            shape.insert(a, 1)
    return gy.reshape(tuple(shape))


def max_backward_shape(x, axis):
    """The keepdims shape of a max/min over axis of x (a list, as in the book)."""
    axes = normalize_axis(axis, x.ndim, 'max')
    return [s if i not in axes else 1 for i, s in enumerate(x.shape)]


def logsumexp(x, axis=1):
    """log(sum(exp(x), axis, keepdims=True)), computed without overflow.

    The max is subtracted first; a non-finite max (all -inf, or +inf) is replaced by 0 so
    that the result is -inf / +inf instead of NaN.
    """
    from dezero.cuda import get_array_module
    xp = get_array_module(x)
    x = as_float(x)
    if x.ndim == 0:
        return xp.array(x)  # log(exp(x)) == x; NumPy's 0-d arithmetic gives scalars
    if x.size == 0:
        # log of an empty sum is -inf (NumPy's max would refuse the empty axis)
        s = x.sum(axis=axis, keepdims=True)
        with np.errstate(divide='ignore'):
            return xp.log(s)
    m = x.max(axis=axis, keepdims=True)
    if m.dtype.kind == 'f':
        xp.copyto(m, 0, where=~xp.isfinite(m))
    y = x - m
    _parallel.transcendental(xp, xp.exp, y, out=y)
    s = y.sum(axis=axis, keepdims=True)
    xp.log(s, out=s)
    m += s
    return m


def softmax(x, axis):
    """exp(x - max) / sum(exp(x - max)) along axis (an int, a tuple or None) as a new float
    array: the stable softmax of a non-empty x (integer and bool x in floating point)."""
    from dezero.cuda import get_array_module
    xp = get_array_module(x)
    x = as_float(x)
    y = xp.asarray(x - x.max(axis=axis, keepdims=True))   # a 0-d x gives a NumPy scalar
    _parallel.transcendental(xp, xp.exp, y, out=y)
    y /= y.sum(axis=axis, keepdims=True)
    return y


_ADD_ROWS_MIN = 1 << 14
_ADD_ROWS_PER_LEVEL = 4096


def add_rows_at(target, ids, values):
    """target[ids] += values for integer ids indexing target's first axis (any shape, NumPy's
    negative ids allowed), repeated ids accumulating, in the order np.add.at adds them.

    On NumPy, the ids' first occurrences are added at once by fancy indexing, then their
    second occurrences, and so on: np.add.at handles one element at a time (and reduceat
    over rows is no faster): 512 rows of 1000 floats, a third of them repeated, 10.4 ->
    0.9 ms. cupyx.scatter_add on CuPy."""
    from dezero.cuda import get_array_module
    if get_array_module(target) is not np:
        import cupyx
        cupyx.scatter_add(target, ids, values)
        return
    if ids.size * math.prod(target.shape[1:]) < _ADD_ROWS_MIN:
        np.add.at(target, ids, values)
        return
    flat = ids.reshape(-1)
    flat = np.where(flat < 0, flat + target.shape[0], flat)   # -1 and n - 1: one row
    rows = np.broadcast_to(values, ids.shape + target.shape[1:]).reshape(
        (flat.size,) + target.shape[1:])
    # Ids repeated so often that each add would move few values (a small vocabulary):
    # add.at is cheaper than the passes below.
    levels = int(np.bincount(flat).max())   # the most occurrences of one id
    if levels * _ADD_ROWS_PER_LEVEL > rows.size:
        np.add.at(target, flat, rows)
        return
    order = np.argsort(flat, kind='stable')
    ordered = flat[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    # each id's k-th occurrence (k = 0, 1, ...) in one fancy-indexed add: ids unique there
    rank = np.arange(flat.size) - np.repeat(starts, np.diff(np.append(starts, flat.size)))
    for k in range(levels):
        picked = order[rank == k]
        target[flat[picked]] += rows[picked]


def pair(x):
    """(x, x) for an int, x itself for a pair; anything else is a ValueError."""
    if isinstance(x, (int, np.integer)):
        return (int(x), int(x))
    if isinstance(x, tuple) and len(x) == 2:
        return x
    if isinstance(x, list) and len(x) == 2:
        return tuple(x)
    raise ValueError(f"pair: expected an int or a pair of ints, got {x!r}.")


def get_conv_outsize(input_size, kernel_size, stride, pad):
    """Output length of a convolution along one axis."""
    return (input_size + pad * 2 - kernel_size) // stride + 1


def get_deconv_outsize(size, k, s, p):
    """Output length of a transposed convolution along one axis."""
    return s * (size - 1) + k - 2 * p
