"""Convolution and pooling on NCHW arrays: conv2d, deconv2d, pooling, average_pooling,
im2col and col2im (plus the book's composed forms conv2d_simple and pooling_simple).

Shapes: x is (N, C, H, W); conv2d's W is (OC, C, KH, KW), deconv2d's W is (C, OC, KH, KW).
kernel_size, stride and pad take an int or an (h, w) pair.

How the arrays are handled (no Python loop over the batch, channels or output positions):
- Patches are strided views of the (padded) input; one copy turns them into a column
  array (N, C*KH*KW, L) and one batched matmul contracts it with W.
- For stride 1, L runs over the padded width ("flat" layout): the patch of kernel offset
  (i, j) is then one contiguous run of the flattened padded image, so building columns and
  scattering them back (col2im) copy long contiguous runs instead of short rows. The Wp-OW
  junk columns per output row are cropped from the result and kept zero in gradients.
- col2im loops only over the KH*KW kernel offsets, adding strided slices.
- Nothing is saved between forward and backward but the inputs (which the graph holds
  anyway) and, for max pooling, the arg-max of each window in uint8.
Every backward is written with the Functions of this module, so conv2d, deconv2d, im2col,
col2im, pooling and average_pooling are twice differentiable.
"""
import numpy as np

from dezero.core import Function, Variable, as_variable
from dezero.cuda import get_array_module
from dezero.utils_array import get_conv_outsize, get_deconv_outsize, pair


# ---------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------
def _int_pair(name, what, value, minimum):
    try:
        p = pair(value)
    except ValueError:
        p = None
    if p is None or not all(isinstance(v, (int, np.integer)) for v in p):
        raise ValueError(f"{name}: {what} must be an int or a pair of ints, got {value!r}.")
    p = (int(p[0]), int(p[1]))
    if p[0] < minimum or p[1] < minimum:
        raise ValueError(f"{name}: {what} must be >= {minimum}, got {value!r}.")
    return p


def _args(name, kernel_size, stride, pad):
    k = None if kernel_size is None else _int_pair(name, 'kernel_size', kernel_size, 1)
    return k, _int_pair(name, 'stride', stride, 1), _int_pair(name, 'pad', pad, 0)


def _check_4d(name, what, a):
    if a.ndim != 4:
        raise ValueError(f"{name}: {what} must be 4-D, got shape {a.shape}; the layout is "
                         "NCHW for inputs and (OC, C, KH, KW) / (C, OC, KH, KW) for weights.")


def _outsize(name, shape, k, s, p):
    """(OH, OW) of a window scan over an (N, C, H, W) input; ValueError if the kernel does
    not fit in the padded input."""
    H, W = shape[2], shape[3]
    if k[0] > H + 2 * p[0] or k[1] > W + 2 * p[1]:
        raise ValueError(f"{name}: kernel {k} is larger than the padded input "
                         f"{(H + 2 * p[0], W + 2 * p[1])} (input shape {tuple(shape)}, pad "
                         f"{p}); use a smaller kernel or more padding.")
    return get_conv_outsize(H, k[0], s[0], p[0]), get_conv_outsize(W, k[1], s[1], p[1])


def _check_bias(name, b, channels):
    if b is not None and b.shape != (channels,):
        raise ValueError(f"{name}: b must have shape ({channels},) (one value per output "
                         f"channel), got {b.shape}.")


# ---------------------------------------------------------------------------
# raw-array helpers
# ---------------------------------------------------------------------------
def _as_strided(xp, a, shape, strides):
    return xp.lib.stride_tricks.as_strided(a, shape=shape, strides=strides)


def _pad(xp, x, p, value=0):
    """x padded by p = (ph, pw) on both sides of H and W (x itself when p is zero)."""
    ph, pw = p
    if ph == 0 and pw == 0:
        return x
    N, C, H, W = x.shape
    if value == 0:
        out = xp.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
    else:
        out = xp.full((N, C, H + 2 * ph, W + 2 * pw), value, dtype=x.dtype)
    out[:, :, ph:ph + H, pw:pw + W] = x
    return out


def _windows(xp, xpad, k, s, out):
    """Strided view (N, C, KH, KW, OH, OW) of the windows of a padded NCHW array."""
    N, C = xpad.shape[:2]
    s0, s1, s2, s3 = xpad.strides
    return _as_strided(xp, xpad, (N, C, k[0], k[1], out[0], out[1]),
                       (s0, s1, s2, s3, s2 * s[0], s3 * s[1]))


def _flat(s):
    # The flat layout needs a step of one element along W and one padded row along H.
    return s[0] == 1 and s[1] == 1


def _cols(xp, x, k, s, p, out):
    """Column array (N, C*KH*KW, L) of x's patches (a copy; a view for 1x1 kernels)."""
    N, C, H, W = x.shape
    xpad = xp.ascontiguousarray(_pad(xp, x, p))
    if _flat(s):
        Wp = W + 2 * p[1]
        L = (out[0] - 1) * Wp + out[1]
        s0, s1, _, s3 = xpad.strides
        v = _as_strided(xp, xpad, (N, C, k[0], k[1], L), (s0, s1, Wp * s3, s3, s3))
        return v.reshape(N, C * k[0] * k[1], L)
    return _windows(xp, xpad, k, s, out).reshape(N, C * k[0] * k[1], out[0] * out[1])


def _from_cols(xp, y, in_w, p, s, out):
    """(N, M, L) matmul result -> contiguous (N, M, OH, OW), dropping flat-layout junk."""
    N, M = y.shape[:2]
    if not _flat(s) or out[1] == in_w + 2 * p[1]:
        return y.reshape(N, M, out[0], out[1])
    Wp = in_w + 2 * p[1]
    st = y.strides
    v = _as_strided(xp, y, (N, M, out[0], out[1]), (st[0], st[1], Wp * st[2], st[2]))
    return xp.ascontiguousarray(v)


def _to_cols(xp, gy, in_w, p, s):
    """(N, M, OH, OW) -> (N, M, L) in the column layout, junk columns zero."""
    N, M, OH, OW = gy.shape
    if not _flat(s) or OW == in_w + 2 * p[1]:
        return xp.ascontiguousarray(gy).reshape(N, M, OH * OW)
    Wp = in_w + 2 * p[1]
    buf = xp.zeros((N, M, OH, Wp), dtype=gy.dtype)
    buf[:, :, :, :OW] = gy
    return buf.reshape(N, M, OH * Wp)[:, :, :(OH - 1) * Wp + OW]


def _col2im(xp, col, shape, k, s, p, out):
    """Scatter-add columns (N, C*KH*KW, L) back to an image of shape (N, C, H, W)."""
    N, C, H, W = shape
    Hp, Wp = H + 2 * p[0], W + 2 * p[1]
    KH, KW = k
    if _flat(s):
        L = col.shape[2]
        col = col.reshape(N, C, KH, KW, L)
        img = xp.zeros((N, C, Hp * Wp), dtype=col.dtype)
        for i in range(KH):
            for j in range(KW):
                o = i * Wp + j
                img[:, :, o:o + L] += col[:, :, i, j]
        img = img.reshape(N, C, Hp, Wp)
    else:
        OH, OW = out
        col = col.reshape(N, C, KH, KW, OH, OW)
        img = xp.zeros((N, C, Hp, Wp), dtype=col.dtype)
        for i in range(KH):
            for j in range(KW):
                img[:, :, i:i + s[0] * OH:s[0], j:j + s[1] * OW:s[1]] += col[:, :, i, j]
    if p[0] or p[1]:
        img = xp.ascontiguousarray(img[:, :, p[0]:p[0] + H, p[1]:p[1] + W])
    return img


def im2col_array(img, kernel_size, stride, pad, to_matrix=True):
    """Patches of an NCHW array: (N, C, KH, KW, OH, OW), or (N*OH*OW, C*KH*KW) when
    to_matrix (rows are output positions, columns run over C, KH, KW)."""
    k, s, p = _args('im2col_array', kernel_size, stride, pad)
    _check_4d('im2col_array', 'img', img)
    xp = get_array_module(img)
    out = _outsize('im2col_array', img.shape, k, s, p)
    v = _windows(xp, xp.ascontiguousarray(_pad(xp, img, p)), k, s, out)
    if to_matrix:
        N, C = img.shape[:2]
        return v.transpose(0, 4, 5, 1, 2, 3).reshape(N * out[0] * out[1], C * k[0] * k[1])
    return xp.ascontiguousarray(v)


def col2im_array(col, img_shape, kernel_size, stride, pad, to_matrix=True):
    """Inverse layout of im2col_array: sum the patches back into an (N, C, H, W) array
    (overlapping patches add up)."""
    k, s, p = _args('col2im_array', kernel_size, stride, pad)
    img_shape = tuple(int(v) for v in img_shape)
    if len(img_shape) != 4:
        raise ValueError(f"col2im_array: img_shape must be (N, C, H, W), got {img_shape}.")
    N, C, H, W = img_shape
    OH, OW = _outsize('col2im_array', img_shape, k, s, p)
    KH, KW = k
    expected = (N * OH * OW, C * KH * KW) if to_matrix else (N, C, KH, KW, OH, OW)
    if tuple(col.shape) != expected:
        raise ValueError(f"col2im_array: col has shape {col.shape} but img_shape {img_shape} "
                         f"with kernel {k}, stride {s}, pad {p} needs {expected}.")
    xp = get_array_module(col)
    if to_matrix:
        col = col.reshape(N, OH, OW, C, KH, KW).transpose(0, 3, 4, 5, 1, 2)
    Hp, Wp = H + 2 * p[0], W + 2 * p[1]
    img = xp.zeros((N, C, Hp, Wp), dtype=col.dtype)
    for i in range(KH):
        for j in range(KW):
            img[:, :, i:i + s[0] * OH:s[0], j:j + s[1] * OW:s[1]] += col[:, :, i, j]
    return img[:, :, p[0]:p[0] + H, p[1]:p[1] + W]


# ---------------------------------------------------------------------------
# conv2d / deconv2d
# ---------------------------------------------------------------------------
def _conv_forward(xp, x, W, s, p, out):
    OC = W.shape[0]
    col = _cols(xp, x, W.shape[2:], s, p, out)
    y = xp.matmul(W.reshape(OC, -1), col)
    return _from_cols(xp, y, x.shape[3], p, s, out)


def _deconv_forward(xp, x, W, s, p, out_hw):
    """Transposed convolution of x (N, C, H, W) with W (C, OC, KH, KW) to (N, OC, *out_hw)."""
    N, C = x.shape[:2]
    _, OC, KH, KW = W.shape
    if s == (1, 1) and p[0] < KH and p[1] < KW:
        # With stride 1 this is a convolution with the flipped, channel-swapped kernel:
        # one patch copy and one product, cheaper than the product plus KH*KW scatter-adds.
        flipped = xp.ascontiguousarray(W.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
        full = (KH - 1 - p[0], KW - 1 - p[1])
        return _conv_forward(xp, x, flipped, s, full, tuple(out_hw))
    shape = (N, OC) + tuple(out_hw)
    gcol = xp.matmul(W.reshape(C, -1).T, _to_cols(xp, x, out_hw[1], p, s))
    return _col2im(xp, gcol, shape, (KH, KW), s, p, x.shape[2:])


class Conv2d(Function):
    """y = conv2d(x, W, b); see conv2d."""

    def __init__(self, stride=1, pad=0, need_gx=True):
        _, self.stride, self.pad = _args('conv2d', None, stride, pad)
        self.need_gx = need_gx

    def forward(self, x, W, b=None):
        _check_4d('conv2d', 'x', x)
        _check_4d('conv2d', 'W', W)
        if x.shape[1] != W.shape[1]:
            raise ValueError(
                f"conv2d: x has {x.shape[1]} channels (shape {x.shape}) but W expects "
                f"{W.shape[1]} input channels (shape {W.shape}, laid out (OC, C, KH, KW)); "
                "make W.shape[1] equal x.shape[1].")
        _check_bias('conv2d', b, W.shape[0])
        xp = get_array_module(x)
        out = _outsize('conv2d', x.shape, W.shape[2:], self.stride, self.pad)
        y = _conv_forward(xp, x, W, self.stride, self.pad, out)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        return y

    def backward(self, gy):
        x, W = self.inputs[:2]
        s, p = self.stride, self.pad
        gx = None
        if self.need_gx:
            gx = deconv2d(gy, W, stride=s, pad=p, outsize=x.shape[2:])
        gW = Conv2DGradW(W.shape[2:], s, p)(x, gy)
        if len(self.inputs) == 3:
            from dezero.functions.reduce import sum as _sum
            return gx, gW, _sum(gy, axis=(0, 2, 3))
        return gx, gW


class Deconv2d(Function):
    """y = deconv2d(x, W, b); see deconv2d."""

    def __init__(self, stride=1, pad=0, outsize=None, need_gx=True):
        _, self.stride, self.pad = _args('deconv2d', None, stride, pad)
        self.outsize = None if outsize is None else _int_pair('deconv2d', 'outsize', outsize, 1)
        self.need_gx = need_gx

    def forward(self, x, W, b=None):
        _check_4d('deconv2d', 'x', x)
        _check_4d('deconv2d', 'W', W)
        if x.shape[1] != W.shape[0]:
            raise ValueError(
                f"deconv2d: x has {x.shape[1]} channels (shape {x.shape}) but W expects "
                f"{W.shape[0]} input channels (shape {W.shape}, laid out (C, OC, KH, KW)); "
                "make W.shape[0] equal x.shape[1].")
        _check_bias('deconv2d', b, W.shape[1])
        s, p = self.stride, self.pad
        KH, KW = W.shape[2:]
        H, Wd = x.shape[2:]
        natural = (get_deconv_outsize(H, KH, s[0], p[0]), get_deconv_outsize(Wd, KW, s[1], p[1]))
        out = natural if self.outsize is None else self.outsize
        if min(out) < 1:
            raise ValueError(f"deconv2d: the output size {out} of input shape {x.shape} with "
                             f"kernel {(KH, KW)}, stride {s}, pad {p} is not positive; use "
                             "less padding.")
        if (KH > out[0] + 2 * p[0] or KW > out[1] + 2 * p[1] or
                (get_conv_outsize(out[0], KH, s[0], p[0]),
                 get_conv_outsize(out[1], KW, s[1], p[1])) != (H, Wd)):
            raise ValueError(
                f"deconv2d: outsize {out} does not match input shape {x.shape} with kernel "
                f"{(KH, KW)}, stride {s}, pad {p}: a conv2d of that size must give {(H, Wd)}; "
                f"use outsize between {natural} and "
                f"{(natural[0] + s[0] - 1, natural[1] + s[1] - 1)}.")
        self.out = out
        xp = get_array_module(x)
        y = _deconv_forward(xp, x, W, s, p, out)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        return y

    def backward(self, gy):
        x, W = self.inputs[:2]
        s, p = self.stride, self.pad
        gx = conv2d(gy, W, stride=s, pad=p) if self.need_gx else None
        gW = Conv2DGradW(W.shape[2:], s, p)(gy, x)
        if len(self.inputs) == 3:
            from dezero.functions.reduce import sum as _sum
            return gx, gW, _sum(gy, axis=(0, 2, 3))
        return gx, gW


class Conv2DGradW(Function):
    """gW of conv2d: contracts the patches of x with gy over the batch and positions."""

    def __init__(self, kernel_size, stride, pad):
        self.kernel_size, self.stride, self.pad = _args('conv2d', kernel_size, stride, pad)

    def forward(self, x, gy):
        xp = get_array_module(x)
        N, C, H, W = x.shape
        OC = gy.shape[1]
        k, s, p = self.kernel_size, self.stride, self.pad
        col = _cols(xp, x, k, s, p, gy.shape[2:])
        g = _to_cols(xp, gy, W, p, s)
        # (N, CKK, L) @ (N, L, OC) summed over N: the cheaper orientation for BLAS here.
        gW = xp.matmul(col, g.transpose(0, 2, 1)).sum(axis=0)
        return xp.ascontiguousarray(gW.T).reshape(OC, C, k[0], k[1])

    def backward(self, ggW):
        x, gy = self.inputs
        s, p = self.stride, self.pad
        gx = deconv2d(gy, ggW, stride=s, pad=p, outsize=x.shape[2:])
        ggy = conv2d(x, ggW, stride=s, pad=p)
        return gx, ggy


def conv2d(x, W, b=None, stride=1, pad=0):
    """2-D convolution (cross-correlation) of x (N, C, H, W) with W (OC, C, KH, KW), plus b
    (OC,); returns (N, OC, OH, OW) with OH = (H + 2*pad - KH) // stride + 1."""
    # The gradient of a raw array input can never be read: skip computing it.
    f = Conv2d(stride, pad, need_gx=isinstance(x, Variable))
    if b is None:
        return f(x, W)
    return f(x, W, b)


def deconv2d(x, W, b=None, stride=1, pad=0, outsize=None):
    """Transposed convolution of x (N, C, H, W) with W (C, OC, KH, KW), plus b (OC,);
    returns (N, OC, OH, OW), OH = stride*(H-1) + KH - 2*pad unless outsize=(OH, OW) is given."""
    f = Deconv2d(stride, pad, outsize, need_gx=isinstance(x, Variable))
    if b is None:
        return f(x, W)
    return f(x, W, b)


def conv2d_simple(x, W, b=None, stride=1, pad=0):
    """The book's conv2d: im2col, then one linear, composed of dezero Functions."""
    from dezero.functions.linalg import linear
    from dezero.functions.shape import reshape, transpose
    x, W = as_variable(x), as_variable(W)
    N, C, H, Wd = x.shape
    OC, C_, KH, KW = W.shape
    k, s, p = _args('conv2d_simple', (KH, KW), stride, pad)
    if C != C_:
        raise ValueError(f"conv2d_simple: x has {C} channels (shape {x.shape}) but W expects "
                         f"{C_} input channels (shape {W.shape}); make W.shape[1] equal "
                         "x.shape[1].")
    OH, OW = _outsize('conv2d_simple', x.shape, k, s, p)
    col = im2col(x, k, s, p, to_matrix=True)
    Wm = transpose(reshape(W, (OC, -1)))
    t = linear(col, Wm, b)
    return transpose(reshape(t, (N, OH, OW, OC)), (0, 3, 1, 2))


# ---------------------------------------------------------------------------
# im2col / col2im as Functions
# ---------------------------------------------------------------------------
class Im2col(Function):
    """im2col_array as a Function; its backward is col2im."""

    def __init__(self, kernel_size, stride, pad, to_matrix):
        self.kernel_size, self.stride, self.pad = _args('im2col', kernel_size, stride, pad)
        self.to_matrix = to_matrix

    def forward(self, x):
        self.input_shape = x.shape
        return im2col_array(x, self.kernel_size, self.stride, self.pad, self.to_matrix)

    def backward(self, gy):
        return col2im(gy, self.input_shape, self.kernel_size, self.stride, self.pad,
                      self.to_matrix)


class Col2im(Function):
    """col2im_array as a Function; its backward is im2col."""

    def __init__(self, input_shape, kernel_size, stride, pad, to_matrix):
        self.input_shape = tuple(input_shape)
        self.kernel_size, self.stride, self.pad = _args('col2im', kernel_size, stride, pad)
        self.to_matrix = to_matrix

    def forward(self, x):
        return col2im_array(x, self.input_shape, self.kernel_size, self.stride, self.pad,
                            self.to_matrix)

    def backward(self, gy):
        return im2col(gy, self.kernel_size, self.stride, self.pad, self.to_matrix)


def im2col(x, kernel_size, stride=1, pad=0, to_matrix=True):
    """Patches of x (N, C, H, W) as (N*OH*OW, C*KH*KW) (to_matrix) or (N, C, KH, KW, OH, OW);
    differentiable (its gradient is col2im)."""
    return Im2col(kernel_size, stride, pad, to_matrix)(x)


def col2im(x, input_shape, kernel_size, stride=1, pad=0, to_matrix=True):
    """Sum patches (the layout im2col makes) back into an array of input_shape (N, C, H, W);
    differentiable (its gradient is im2col)."""
    return Col2im(input_shape, kernel_size, stride, pad, to_matrix)(x)


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


def _linear_index(xp, pool, padded_shape):
    """Flat index into the padded input of each window's arg-max: (N*C*OH*OW,)."""
    N, C, Hp, Wp = padded_shape
    OH, OW = pool.indexes.shape[2:]
    s = pool.stride
    itype = np.int32 if N * C * Hp * Wp < 2 ** 31 else np.int64
    base = (xp.arange(N * C, dtype=itype) * (Hp * Wp)).reshape(-1, 1, 1) + \
        (xp.arange(OH, dtype=itype) * (s[0] * Wp)).reshape(1, -1, 1) + \
        (xp.arange(OW, dtype=itype) * s[1]).reshape(1, 1, -1)
    offsets = _window_offsets(xp, pool.kernel_size, Wp, itype)
    return (base + offsets[pool.indexes.reshape(N * C, OH, OW)]).reshape(-1)


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
            # Columns of each window first (1-D strided views of the flat array: one long
            # loop each), then rows. Scanning columns, then rows, in order keeps the first
            # maximum in row-major window order, like argmax.
            xc = x[:, :, :OH * KH, :OW * KW] if (OH * KH, OW * KW) != (H, W) else x
            f = xp.ascontiguousarray(xc).reshape(-1, KW)
            cm, ci = _argmax_scan(xp, [f[:, j] for j in range(KW)], idx_dtype)
            r = cm.reshape(N * C * OH, KH, OW)
            y, ri = _argmax_scan(xp, [r[:, i] for i in range(KH)], idx_dtype)
            ci = ci.reshape(N * C * OH, KH, OW)
            sel = _select(xp, [ci[:, i] for i in range(KH)], ri)
            idx = ri * np.uint8(KW) + sel if KH > 1 else sel
            self.indexes = idx.reshape(N, C, OH, OW)
            return y.reshape(N, C, OH, OW)
        fill = -np.inf if x.dtype.kind == 'f' else np.iinfo(x.dtype).min
        v = _windows(xp, _pad(xp, x, p, fill), k, s, (OH, OW))
        y, self.indexes = _argmax_scan(
            xp, [v[:, :, i, j] for i in range(KH) for j in range(KW)], idx_dtype)
        return y

    def backward(self, gy):
        return Pooling2DGrad(self)(gy)


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
        if s[0] >= k[0] and s[1] >= k[1]:
            # Windows do not overlap: one scatter of gy to the arg-max positions.
            gx = xp.zeros(N * C * Hp * Wp, dtype=gy.dtype)
            gx[_linear_index(xp, pool, (N, C, Hp, Wp))] = gy.reshape(-1)
            gx = gx.reshape(N, C, Hp, Wp)
        else:
            idx = pool.indexes
            zero = xp.zeros((), dtype=gy.dtype)
            gx = xp.zeros((N, C, Hp, Wp), dtype=gy.dtype)
            v = _windows(xp, gx, k, s, gy.shape[2:])
            n = 0
            for i in range(k[0]):
                for j in range(k[1]):
                    v[:, :, i, j] += xp.where(idx == n, gy, zero)
                    n += 1
        if p[0] or p[1]:
            return xp.ascontiguousarray(gx[:, :, p[0]:p[0] + H, p[1]:p[1] + W])
        return gx

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
        scale = x.dtype.type(1.0 / (k[0] * k[1]))
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
        g = gy * gy.dtype.type(1.0 / (k[0] * k[1]))
        gpad = xp.zeros((N, C, H + 2 * p[0], W + 2 * p[1]), dtype=gy.dtype)
        v = _windows(xp, gpad, k, s, gy.shape[2:])
        overlap = s[0] < k[0] or s[1] < k[1]
        for i in range(k[0]):
            for j in range(k[1]):
                if overlap:
                    v[:, :, i, j] += g
                else:
                    v[:, :, i, j] = g
        if p[0] or p[1]:
            return xp.ascontiguousarray(gpad[:, :, p[0]:p[0] + H, p[1]:p[1] + W])
        return gpad

    def backward(self, ggx):
        pool = self.pool
        return average_pooling(ggx, pool.kernel_size, pool.stride, pool.pad)


def average_pooling(x, kernel_size, stride=1, pad=0):
    """Average pooling of x (N, C, H, W) over kernel_size windows (zero padding included in
    the mean)."""
    return AveragePooling2D(kernel_size, stride, pad)(x)
