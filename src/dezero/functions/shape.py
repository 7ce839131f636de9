"""Shape operations: reshape, transpose, expand_dims, flatten, squeeze, get_item,
broadcast_to, sum_to, concat, stack, split and where.

Every backward is written with dezero Functions (reshape undoes reshape, sum_to undoes
broadcast_to, a scatter-add undoes get_item, ...), so create_graph=True works through them.
"""
import numpy as np

from dezero import utils_array
from dezero.core import Function, Variable, _constant_like, _wrap_constant, as_variable, needs_grad
from dezero.cuda import get_array_module
from dezero.utils_array import normalize_axis


def _shape_of(x):
    return x.shape if isinstance(x, Variable) else np.shape(x)


# ---------------------------------------------------------------------------
# reshape, expand_dims, flatten, squeeze
# ---------------------------------------------------------------------------
class Reshape(Function):
    """y = x.reshape(shape); the gradient is reshaped back."""

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

    def backward_arrays(self, gy):
        return gy.reshape(self.x_shape)


def reshape(x, shape):
    """Return x with a new shape (one dimension may be -1); no copy when possible."""
    if not isinstance(shape, tuple):
        shape = tuple(shape) if isinstance(shape, (list, np.ndarray)) else (shape,)
    if _shape_of(x) == shape:
        return as_variable(x)
    return Reshape(shape)(x)


def expand_dims(x, axis):
    """Insert axes of length 1 at axis (an int or a tuple; negatives count from the end of
    the result, as in np.expand_dims)."""
    shape = _shape_of(x)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out_ndim = len(shape) + len(axes)
    axes = normalize_axis(axes, out_ndim, 'expand_dims', shape)
    it = iter(shape)
    new_shape = tuple(1 if i in axes else next(it) for i in range(out_ndim))
    return reshape(x, new_shape)


def flatten(x):
    """Reshape x to (N, -1), keeping the first (batch) axis."""
    shape = _shape_of(x)
    if len(shape) == 0:
        raise ValueError("flatten: the input is 0-d (shape ()); flatten keeps the first "
                         "(batch) axis, so it needs at least 1 dimension. Use reshape(x, (1, 1)).")
    rest = 1
    for n in shape[1:]:
        rest *= n
    return reshape(x, (shape[0], rest))  # not -1: an empty batch (0, C) has no inferable -1


def squeeze(x, axis=None):
    """Remove axes of length 1 (all of them when axis is None)."""
    shape = _shape_of(x)
    if axis is None:
        axes = tuple(i for i, s in enumerate(shape) if s == 1)
    else:
        axes = normalize_axis(axis, len(shape), 'squeeze', shape)
        for a in axes:
            if shape[a] != 1:
                raise ValueError(f"squeeze: cannot squeeze axis {a} of shape {shape}: its "
                                 f"length is {shape[a]}, not 1.")
    return reshape(x, tuple(s for i, s in enumerate(shape) if i not in axes))


# ---------------------------------------------------------------------------
# transpose
# ---------------------------------------------------------------------------
class Transpose(Function):
    """Permute axes (reverse them when axes is None); the gradient gets the inverse one."""

    def __init__(self, axes=None):
        self.axes = axes

    def forward(self, x):
        axes = self.axes
        if axes is None:
            return x.transpose()
        ndim = x.ndim
        if len(axes) != ndim:
            raise ValueError(f"transpose: axes {axes} do not match an array of {ndim} "
                             f"dimension(s) (shape {x.shape}); give a permutation of "
                             f"range({ndim}).")
        normalize_axis(axes, ndim, 'transpose', x.shape)  # raises on out-of-range/repeats
        self.axes = axes = tuple(int(a) % ndim for a in axes)
        return x.transpose(axes)

    def backward(self, gy):
        if self.axes is None:
            return transpose(gy)
        return transpose(gy, tuple(np.argsort(self.axes).tolist()))

    def backward_arrays(self, gy):
        if self.axes is None:
            return gy.transpose()
        return gy.transpose(tuple(np.argsort(self.axes).tolist()))


def transpose(x, axes=None):
    """Permute the axes of x (reverse them when axes is None); negative axes allowed."""
    if axes is not None:
        axes = tuple(axes)
    return Transpose(axes)(x)


def _swap_last(x):
    """x with its last two axes swapped (transpose for 2-D)."""
    ndim = x.ndim
    if ndim == 2:
        return transpose(x)
    return transpose(x, tuple(range(ndim - 2)) + (ndim - 1, ndim - 2))


# ---------------------------------------------------------------------------
# get_item
# ---------------------------------------------------------------------------
def _normalize_slices(slices):
    """Turn Variables and lists inside an index into arrays (NumPy's rules otherwise)."""
    if isinstance(slices, Variable):
        return slices.data
    if isinstance(slices, list):
        return np.asarray(slices)
    if isinstance(slices, tuple):
        if any(isinstance(s, (Variable, list)) for s in slices):
            return tuple(s.data if isinstance(s, Variable) else
                         np.asarray(s) if isinstance(s, list) else s for s in slices)
    return slices


def _has_int_array(slices):
    """True when the index holds an integer array (not a scalar), which may repeat positions."""
    items = slices if isinstance(slices, tuple) else (slices,)
    for s in items:
        if getattr(s, 'ndim', 0) > 0 and s.dtype.kind in 'iu':
            return True
    return False


class GetItem(Function):
    """y = x[slices] (NumPy indexing rules); the gradient is scattered back by GetItemGrad."""

    def __init__(self, slices):
        self.slices = slices

    def forward(self, x):
        try:
            return x[self.slices]
        except IndexError as e:
            raise IndexError(f"get_item: index {self.slices!r} does not fit an array of "
                             f"shape {x.shape}: {e}") from None

    def backward(self, gy):
        x, = self.inputs
        return GetItemGrad(self.slices, x.shape)(gy)

    def backward_arrays(self, gy):
        return _scatter_add(gy, self.slices, self.inputs[0].data.shape)


def _scatter_add(gy, slices, in_shape):
    """Zeros of in_shape with gy added at slices (repeated indices accumulate)."""
    xp = get_array_module(gy)
    gx = xp.zeros(in_shape, dtype=gy.dtype)
    if not _has_int_array(slices):
        gx[slices] = gy  # basic or boolean indexing: every position at most once
    elif getattr(slices, 'ndim', 0):   # x[ids]: whole rows, summed by runs of equal ids
        utils_array.add_rows_at(gx, slices, gy)
    elif xp is np:
        np.add.at(gx, slices, gy)
    else:
        import cupyx
        cupyx.scatter_add(gx, slices, gy)
    return gx


class GetItemGrad(Function):
    """Scatter-add gy into zeros of in_shape at slices (repeated indices accumulate);
    its own backward is get_item."""

    def __init__(self, slices, in_shape):
        self.slices = slices
        self.in_shape = in_shape

    def forward(self, gy):
        return _scatter_add(gy, self.slices, self.in_shape)

    def backward(self, ggx):
        return get_item(ggx, self.slices)


def get_item(x, slices):
    """x[slices] with NumPy's rules: ints, slices (with steps), Ellipsis, None, integer
    arrays (repeats accumulate in the gradient) and boolean masks."""
    return GetItem(_normalize_slices(slices))(x)


# ---------------------------------------------------------------------------
# broadcast_to, sum_to
# ---------------------------------------------------------------------------
class BroadcastTo(Function):
    """y = broadcast_to(x, shape) (a read-only view); the gradient is summed back."""

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        xp = get_array_module(x)
        try:
            return xp.broadcast_to(x, self.shape)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to "
                             f"{self.shape}; each dimension must match or be 1, and the "
                             "target needs at least as many dimensions.") from None

    def backward(self, gy):
        return sum_to(gy, self.x_shape)

    def backward_arrays(self, gy):
        return utils_array.sum_to(gy, self.x_shape)


def broadcast_to(x, shape):
    """Broadcast x to shape (a read-only view in forward; gradients are summed back)."""
    shape = tuple(shape) if not isinstance(shape, (int, np.integer)) else (int(shape),)
    if _shape_of(x) == shape:
        return as_variable(x)
    return BroadcastTo(shape)(x)


class SumTo(Function):
    """Sum x down to shape (undoing broadcasting); the gradient is broadcast back."""

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        return utils_array.sum_to(x, self.shape)

    def backward(self, gy):
        return broadcast_to(gy, self.x_shape)

    def backward_arrays(self, gy):
        return get_array_module(gy).broadcast_to(gy, self.x_shape)


def sum_to(x, shape):
    """Sum x down to shape, the inverse of broadcast_to."""
    shape = tuple(shape) if not isinstance(shape, (int, np.integer)) else (int(shape),)
    if _shape_of(x) == shape:
        return as_variable(x)
    return SumTo(shape)(x)


# ---------------------------------------------------------------------------
# concat, stack, split
# ---------------------------------------------------------------------------
class Concat(Function):
    """Join inputs along axis; the gradient is split back at the input boundaries."""

    def __init__(self, axis=0):
        self.axis = axis

    def forward(self, *xs):
        shapes = [x.shape for x in xs]
        ndim = xs[0].ndim
        if ndim == 0:
            raise ValueError("concat: 0-d arrays cannot be concatenated; use stack.")
        axis = normalize_axis(self.axis, ndim, 'concat', shapes[0])[0]
        for s in shapes[1:]:
            if len(s) != ndim or any(a != b for i, (a, b) in enumerate(zip(s, shapes[0]))
                                     if i != axis):
                raise ValueError(f"concat: shapes {shapes[0]} and {s} do not match outside "
                                 f"the concatenation axis {self.axis}; all inputs need the "
                                 "same number of dimensions and equal lengths on the others.")
        self.axis = axis
        self.sizes = [s[axis] for s in shapes]
        xp = get_array_module(xs[0])
        return xp.concatenate(xs, axis=axis)

    def backward(self, gy):
        if len(self.sizes) == 1:
            return gy
        return tuple(split(gy, np.cumsum(self.sizes[:-1]).tolist(), self.axis))


def concat(xs, axis=0):
    """Concatenate a sequence of Variables/arrays along an existing axis (default 0)."""
    xs = list(xs)
    if not xs:
        raise ValueError("concat: needs at least one input, got an empty sequence.")
    return Concat(axis)(*xs)


def stack(xs, axis=0):
    """Stack equally shaped Variables/arrays along a new axis (default 0)."""
    xs = list(xs)
    if not xs:
        raise ValueError("stack: needs at least one input, got an empty sequence.")
    shape0 = _shape_of(xs[0])
    for x in xs[1:]:
        if _shape_of(x) != shape0:
            raise ValueError(f"stack: all inputs need the same shape, got {shape0} and "
                             f"{_shape_of(x)}.")
    return concat([expand_dims(x, axis) for x in xs], axis)


class Split(Function):
    """Split x along axis like np.split (sections or indices); the gradient is the concat
    of the output gradients (zeros for unused outputs)."""

    def __init__(self, indices_or_sections, axis=0):
        self.indices_or_sections = indices_or_sections
        self.axis = axis

    def forward(self, x):
        axis = normalize_axis(self.axis, x.ndim, 'split', x.shape)[0]
        self.axis = axis
        xp = get_array_module(x)
        try:
            ys = xp.split(x, self.indices_or_sections, axis)
        except ValueError:
            raise ValueError(f"split: cannot split length {x.shape[axis]} of axis {axis} "
                             f"(shape {x.shape}) into {self.indices_or_sections} equal "
                             "sections; give indices instead.") from None
        return tuple(ys)

    def backward(self, *gys):
        return concat(gys, self.axis)


def split(x, indices_or_sections, axis=0):
    """Split x along axis into a list of Variables (np.split's rules)."""
    if isinstance(indices_or_sections, np.ndarray):
        indices_or_sections = indices_or_sections.tolist()
    ys = Split(indices_or_sections, axis)(x)
    return ys if isinstance(ys, list) else [ys]


# ---------------------------------------------------------------------------
# where
# ---------------------------------------------------------------------------
class Where(Function):
    """y = where(condition, x0, x1) with NumPy broadcasting; condition is a constant."""

    def __init__(self, condition):
        self.condition = condition

    def forward(self, x0, x1):
        xp = get_array_module(x0)
        return xp.where(self.condition, x0, x1)

    def backward(self, gy):
        x0, x1 = self.inputs
        zero = _wrap_constant(get_array_module(gy.data).zeros((), dtype=gy.dtype))
        gx0 = gx1 = None
        if needs_grad(x0):
            gx0 = sum_to(Where(self.condition)(gy, zero), x0.shape)
        if needs_grad(x1):
            gx1 = sum_to(Where(self.condition)(zero, gy), x1.shape)
        return gx0, gx1


def where(condition, x, y):
    """Elementwise x where condition is true, else y (NumPy broadcasting); differentiable in
    x and y. Scalars are cast to the other operand's float dtype."""
    if isinstance(condition, Variable):
        condition = condition.data
    like = x if isinstance(x, Variable) or hasattr(x, 'dtype') else y
    like = like.data if isinstance(like, Variable) else like
    if not isinstance(x, Variable):
        x = _wrap_constant(_constant_like(x, like)) if hasattr(like, 'dtype') else x
    if not isinstance(y, Variable):
        y = _wrap_constant(_constant_like(y, like)) if hasattr(like, 'dtype') else y
    try:
        np.broadcast_shapes(np.shape(condition), _shape_of(x), _shape_of(y))
    except ValueError:
        raise ValueError(f"where: shapes of condition {np.shape(condition)}, x "
                         f"{_shape_of(x)} and y {_shape_of(y)} do not broadcast together."
                         ) from None
    return Where(condition)(x, y)
