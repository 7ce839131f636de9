"""Pooling on NCHW arrays: max pooling (pooling) and average pooling (average_pooling), plus
the book's composed form pooling_simple.

kernel_size, stride and pad take an int or an (h, w) pair. Max pooling keeps only the
arg-max of each window (uint8) for backward. Every backward is written with Functions, so
both poolings are twice differentiable. The window views and the scatter they share with
col2im live in dezero.functions._im2col.
"""
import numpy as np

from dezero import _parallel
from dezero.core import Function, as_variable, backward_on_arrays
from dezero.cuda import get_array_module
from dezero.functions import _pool_planes
from dezero.functions._im2col import (
    _MIN_CHUNK,
    _args,
    _check_4d,
    _crop,
    _image_blocks,
    _outsize,
    _pad,
    _scatter_windows,
    _windows,
)
from dezero.functions.activation import ReLU
from dezero.functions.conv import im2col


# ---------------------------------------------------------------------------
# max pooling
# ---------------------------------------------------------------------------
def _pool_geometry(name, shape, k, s, p):
    if len(shape) != 4:
        raise ValueError(f"{name}: x must be 4-D (N, C, H, W), got shape {tuple(shape)}.")
    if p[0] >= k[0] or p[1] >= k[1]:
        raise ValueError(f"{name}: pad {p} must be smaller than kernel_size {k}, or a window "
                         "could hold only padding.")
    return _outsize(name, shape, k, s, p)


def _tiled(k, s, p):
    """Non-overlapping windows without padding: handled by reshapes instead of strides."""
    return k == s and p == (0, 0)


def _argmax_scan(xp, slices, idx_dtype):
    """Elementwise max over equally shaped arrays and the index of the first maximum."""
    y = slices[0]
    idx = None
    for n, a in enumerate(slices[1:], 1):
        m = a > y
        y = xp.maximum(y, a)
        idx = m.astype(idx_dtype) if idx is None else xp.where(m, idx_dtype(n), idx)
    if idx is None:
        return y.copy(), xp.zeros(y.shape, dtype=idx_dtype)
    return y, idx


def _select(xp, options, which):
    """options[which] elementwise for uint8 arrays, by bit masks (faster than where on
    strided views)."""
    sel = options[0]
    for i in range(1, len(options)):
        mask = -(which == i).view(np.uint8) if xp is np else \
            (which == i).astype(np.uint8) * np.uint8(255)
        sel = sel ^ ((sel ^ options[i]) & mask)
    return sel


def _window_offsets(xp, k, Wp, dtype):
    """Flat offset of each window element (row-major k) from the window's top-left."""
    # Built with arange on the array's own device: no host-to-device copy on a GPU.
    rows = xp.arange(k[0], dtype=dtype) * dtype(Wp)
    return (rows[:, None] + xp.arange(k[1], dtype=dtype)[None, :]).reshape(-1)


def _linear_index(xp, pool, padded_shape, indexes=None):
    """Flat index into the padded input of each window's arg-max: (N*C*OH*OW,).

    indexes: the arg-maxes of a batch slice (default: all of pool.indexes); N is its length.
    """
    indexes = pool.indexes if indexes is None else indexes
    N, C, Hp, Wp = padded_shape
    OH, OW = indexes.shape[2:]
    s = pool.stride
    itype = np.int32 if N * C * Hp * Wp < 2 ** 31 else np.int64
    base = (xp.arange(N * C, dtype=itype) * (Hp * Wp)).reshape(-1, 1, 1) + \
        (xp.arange(OH, dtype=itype) * (s[0] * Wp)).reshape(1, -1, 1) + \
        (xp.arange(OW, dtype=itype) * s[1]).reshape(1, 1, -1)
    offsets = _window_offsets(xp, pool.kernel_size, Wp, itype)
    return (base + offsets[indexes.reshape(N * C, OH, OW)]).reshape(-1)


# 2x2 pooling reads the four corners of its windows from a planar copy (2, 2, n, C, OH, OW)
# of a few images at a time: NumPy's passes over strided views (every other element) cost
# several times a contiguous pass, the one transposing copy less (benchmarks/bench_cnn.py
# pooling forward at one thread: 5.1 -> 4.1 ms). Bytes of x a block:
_PLANAR_BLOCK_BYTES = 1 << 20


def _max_2x2(xp, x, out):
    """_tiled_max for 2x2 windows: three maxima and three comparisons of the four corners;
    the arg-max is built from the comparison bits with in-place uint8 arithmetic (fewer
    passes than selecting between the rows' arg-maxes)."""
    N, C = x.shape[:2]
    OH, OW = out
    y = xp.empty((N, C, OH, OW), dtype=x.dtype)
    idx = xp.empty((N, C, OH, OW), dtype=np.uint8)
    windows = x[:, :, :2 * OH, :2 * OW].reshape(N, C, OH, 2, OW, 2)
    per_image = 4 * C * OH * OW * x.dtype.itemsize
    for lo, hi in _image_blocks(xp, 0, N, per_image, _PLANAR_BLOCK_BYTES):
        v = xp.ascontiguousarray(windows[lo:hi].transpose(3, 5, 0, 1, 2, 4))
        a, b, c, d = v[0, 0], v[0, 1], v[1, 0], v[1, 1]
        top, bottom = xp.maximum(a, b), xp.maximum(c, d)
        first_col = (b > a).view(np.uint8)      # column of each row's first maximum: 0 or 1
        second_col = (d > c).view(np.uint8)
        row = (bottom > top).view(np.uint8)     # the bottom row wins: 1
        # column of the winning row: first_col, or second_col where row is 1
        xp.bitwise_xor(first_col, second_col, out=second_col)
        xp.bitwise_and(second_col, row, out=second_col)
        xp.bitwise_xor(first_col, second_col, out=first_col)
        xp.add(row, row, out=row)
        xp.bitwise_or(first_col, row, out=idx[lo:hi])   # 2 * row + column
        xp.maximum(top, bottom, out=y[lo:hi])
    return y, idx


def _tiled_max(xp, x, k, out):
    """Max and uint8 arg-max (row-major in the window) of non-overlapping k windows."""
    if k == (2, 2) and xp is np:
        return _max_2x2(xp, x, out)
    N, C, H, W = x.shape
    (KH, KW), (OH, OW) = k, out
    # Columns of each window first (1-D strided views of the flat array: one long loop
    # each), then rows. Scanning columns, then rows, in order keeps the first maximum in
    # row-major window order, like argmax.
    xc = x[:, :, :OH * KH, :OW * KW] if (OH * KH, OW * KW) != (H, W) else x
    f = xp.ascontiguousarray(xc).reshape(-1, KW)
    cm, ci = _argmax_scan(xp, [f[:, j] for j in range(KW)], np.uint8)
    r = cm.reshape(N * C * OH, KH, OW)
    y, ri = _argmax_scan(xp, [r[:, i] for i in range(KH)], np.uint8)
    ci = ci.reshape(N * C * OH, KH, OW)
    sel = _select(xp, [ci[:, i] for i in range(KH)], ri)
    idx = ri * np.uint8(KW) + sel if KH > 1 else sel
    return y.reshape(N, C, OH, OW), idx.reshape(N, C, OH, OW)


class Pooling2D(Function):
    """Max pooling; keeps the arg-max of each window (uint8) for backward."""

    def __init__(self, kernel_size, stride=1, pad=0):
        self.kernel_size, self.stride, self.pad = _args('pooling', kernel_size, stride, pad)

    def forward(self, x):
        k, s, p = self.kernel_size, self.stride, self.pad
        OH, OW = _pool_geometry('pooling', x.shape, k, s, p)
        xp = get_array_module(x)
        N, C, H, W = x.shape
        KH, KW = k
        self.x_shape = x.shape
        idx_dtype = np.uint8 if KH * KW <= 256 else np.int32
        if _tiled(k, s, p) and idx_dtype is np.uint8:
            parts = _parallel.chunks(xp, N, _MIN_CHUNK, C * H * W, _parallel.MIN_ELEMENT_WORK)
            if len(parts) == 1:
                y, self.indexes = _tiled_max(xp, x, k, (OH, OW))
                return y
            y = xp.empty((N, C, OH, OW), dtype=x.dtype)
            self.indexes = xp.empty((N, C, OH, OW), dtype=idx_dtype)

            def chunk(a, b):
                y[a:b], self.indexes[a:b] = _tiled_max(xp, x[a:b], k, (OH, OW))
            _parallel.run(chunk, parts)
            return y
        if xp is np and x.dtype.kind in 'fiu':
            y, self.indexes = _pool_planes.max_windows(x, k, s, p, (OH, OW), idx_dtype)
            return y
        fill = -np.inf if x.dtype.kind == 'f' else np.iinfo(x.dtype).min
        v = _windows(xp, _pad(xp, x, p, fill), k, s, (OH, OW))
        y, self.indexes = _argmax_scan(
            xp, [v[:, :, i, j] for i in range(KH) for j in range(KW)], idx_dtype)
        return y

    def backward(self, gy):
        relu = self._relu_below()
        if relu is None:
            return Pooling2DGrad(self)(gy)
        # pooling(relu(h)): ReLU's mask (y > 0) is 1 at a window's arg-max exactly where the
        # window's max is > 0, so it is applied here to gy, 4x smaller for 2x2 windows, and
        # the ReLU passes the gradient on untouched. When other gradients are added to it,
        # the ReLU masks the sum as usual (the mask is idempotent). The values are the
        # unfolded ones; only a zero's sign may differ where gradients meet at a dead
        # window's arg-max (g1*0 + g2*0 against (g1 + g2) * 0).
        gx = Pooling2DGrad(self)(gy.data * (self.outputs[0]().data > 0))
        relu.folded_grad = gx.data
        return gx

    def _relu_below(self):
        """The ReLU whose output this pooling reads, when its backward may be folded in: a
        backward on arrays (no graph, no kept gradients), the pooled output alive, float,
        and without NaN (a NaN max need not sit at the arg-max, which comparisons pick)."""
        if not backward_on_arrays():
            return None
        creator = self.inputs[0].creator
        out = self.outputs[0]()
        if creator.__class__ is not ReLU or out is None or out.data.dtype.kind != 'f' or \
                get_array_module(out.data).isnan(out.data).any():
            return None
        return creator


class Pooling2DGrad(Function):
    """Routes gy to the arg-max position of each pooling window (the backward of pooling)."""

    def __init__(self, pool):
        self.pool = pool

    def forward(self, gy):
        pool = self.pool
        k, s, p = pool.kernel_size, pool.stride, pool.pad
        xp = get_array_module(gy)
        N, C, H, W = pool.x_shape
        Hp, Wp = H + 2 * p[0], W + 2 * p[1]
        OH, OW = gy.shape[2:]
        if _tiled(k, s, p) and (OH * k[0], OW * k[1]) == (H, W) and xp is np and \
                pool.indexes.dtype == np.uint8 and gy.dtype.kind == 'f' and \
                xp.isfinite(gy).all():
            # Windows tile the input exactly: each window offset's plane of gx is gy where
            # the arg-max sits there and 0 elsewhere, written through a strided view
            # (faster than computing flat indices and scattering). A NaN or inf in gy
            # would also reach the other offsets (inf * 0), hence the check above.
            gx = xp.empty((N, C, H, W), dtype=gy.dtype)
            tiles = gx.reshape(N, C, OH, k[0], OW, k[1])

            def chunk(a, b):
                idx = pool.indexes[a:b]
                for i in range(k[0]):
                    for j in range(k[1]):
                        xp.multiply(gy[a:b], idx == i * k[1] + j, out=tiles[a:b, :, :, i, :, j])
        elif xp is np:
            return _pool_planes.max_windows_grad(gy, pool.indexes, pool.x_shape, k, s, p)
        elif s[0] >= k[0] and s[1] >= k[1]:
            # Windows do not overlap: one scatter of gy to the arg-max positions.
            gx = xp.zeros((N, C, Hp, Wp), dtype=gy.dtype)

            def chunk(a, b):
                index = _linear_index(xp, pool, (b - a, C, Hp, Wp), pool.indexes[a:b])
                gx[a:b].reshape(-1)[index] = gy[a:b].reshape(-1)
        else:  # overlapping windows: scatter-add each window offset's share
            idx = pool.indexes
            zero = xp.zeros((), dtype=gy.dtype)
            gx = _scatter_windows(xp, pool.x_shape, k, s, p, gy.shape[2:], gy.dtype,
                                  lambda i, j: xp.where(idx == i * k[1] + j, gy, zero))
            return _crop(xp, gx, p, H, W)
        _parallel.run(chunk, _parallel.chunks(xp, N, _MIN_CHUNK, C * Hp * Wp,
                                              _parallel.MIN_ELEMENT_WORK))
        return _crop(xp, gx, p, H, W)

    def backward(self, ggx):
        return Pooling2DWithIndexes(self.pool)(ggx)


class Pooling2DWithIndexes(Function):
    """Picks, from each window of x, the element at the pooling's saved arg-max."""

    def __init__(self, pool):
        self.pool = pool

    def forward(self, x):
        pool = self.pool
        xp = get_array_module(x)
        xpad = xp.ascontiguousarray(_pad(xp, x, pool.pad))
        y = xpad.reshape(-1)[_linear_index(xp, pool, xpad.shape)]
        return y.reshape(pool.indexes.shape)

    def backward(self, gy):
        return Pooling2DGrad(self.pool)(gy)


def pooling(x, kernel_size, stride=1, pad=0):
    """Max pooling of x (N, C, H, W) over kernel_size windows; padding never wins the max.
    The gradient goes to the first maximum of each window."""
    return Pooling2D(kernel_size, stride, pad)(x)


def pooling_simple(x, kernel_size, stride=1, pad=0):
    """The book's max pooling: im2col, then max over each row (zero padding), composed of
    dezero Functions."""
    from dezero.functions.reduce import max as _max
    from dezero.functions.shape import reshape, transpose
    x = as_variable(x)
    k, s, p = _args('pooling_simple', kernel_size, stride, pad)
    N, C = x.shape[:2]
    OH, OW = _pool_geometry('pooling_simple', x.shape, k, s, p)
    col = reshape(im2col(x, k, s, p, to_matrix=True), (-1, k[0] * k[1]))
    y = _max(col, axis=1)
    return transpose(reshape(y, (N, OH, OW, C)), (0, 3, 1, 2))


# ---------------------------------------------------------------------------
# average pooling
# ---------------------------------------------------------------------------
class AveragePooling2D(Function):
    """Mean over each window (padding counts as zeros, as in the book)."""

    def __init__(self, kernel_size, stride=1, pad=0):
        self.kernel_size, self.stride, self.pad = _args('average_pooling', kernel_size,
                                                        stride, pad)

    def forward(self, x):
        k, s, p = self.kernel_size, self.stride, self.pad
        _check_4d('average_pooling', 'x', x)
        OH, OW = _outsize('average_pooling', x.shape, k, s, p)
        xp = get_array_module(x)
        self.x_shape = x.shape
        if x.dtype.kind not in 'fc':
            x = x.astype(np.float64)  # a mean of integers (uint8 images) is float64, as in NumPy
        scale = x.dtype.type(1.0 / (k[0] * k[1]))
        if xp is np:
            y = _pool_planes.sum_windows(x, k, s, p, (OH, OW))
            y *= scale
            return y
        v = _windows(xp, _pad(xp, x, p), k, s, (OH, OW))
        y = v[:, :, 0, 0].copy()
        for i in range(k[0]):
            for j in range(k[1]):
                if i or j:
                    y += v[:, :, i, j]
        y *= scale
        return y

    def backward(self, gy):
        return AveragePooling2DGrad(self)(gy)


class AveragePooling2DGrad(Function):
    """Spreads gy / (KH*KW) over each window (the backward of average_pooling)."""

    def __init__(self, pool):
        self.pool = pool

    def forward(self, gy):
        pool = self.pool
        k, s, p = pool.kernel_size, pool.stride, pool.pad
        xp = get_array_module(gy)
        N, C, H, W = pool.x_shape
        if gy.dtype.kind not in 'fc':
            gy = gy.astype(np.float64)
        g = gy * gy.dtype.type(1.0 / (k[0] * k[1]))
        if xp is np:
            return _pool_planes.sum_windows_grad(g, pool.x_shape, k, s, p)
        gpad = _scatter_windows(xp, pool.x_shape, k, s, p, gy.shape[2:], gy.dtype,
                                lambda i, j: g, assign_if_disjoint=True)
        return _crop(xp, gpad, p, H, W)

    def backward(self, ggx):
        pool = self.pool
        return average_pooling(ggx, pool.kernel_size, pool.stride, pool.pad)


def average_pooling(x, kernel_size, stride=1, pad=0):
    """Average pooling of x (N, C, H, W) over kernel_size windows (zero padding included in
    the mean)."""
    return AveragePooling2D(kernel_size, stride, pad)(x)
