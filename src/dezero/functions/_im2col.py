"""Array kernels of convolution and pooling on NCHW arrays (no Functions here).

Argument checks shared by conv and pooling, strided window views of padded inputs,
the column layout (im2col) and its scatter-add inverse (col2im), and the window
scatter that col2im and the pooling backwards share.

How the arrays are handled (no Python loop over the batch, channels or output positions):
- Patches are strided views of the (padded) input; one copy turns them into a column
  array (N, C*KH*KW, L) and one batched matmul contracts it with W.
- For stride 1, L runs over the padded width ("flat" layout): the patch of kernel offset
  (i, j) is then one contiguous run of the flattened padded image, so building columns and
  scattering them back (col2im) copy long contiguous runs instead of short rows. The Wp-OW
  junk columns per output row are cropped from the result and kept zero in gradients.
- col2im loops only over the KH*KW kernel offsets, adding strided slices.
"""
import numpy as np

from dezero.cuda import get_array_module
from dezero.utils_array import get_conv_outsize, pair


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
# Batches of at least 2 * _MIN_CHUNK images are split over threads (dezero._parallel), a
# chunk carrying at least _parallel.MIN_*_WORK of work.
_MIN_CHUNK = 8


def _image_blocks(xp, lo, hi, per_image, block_bytes):
    """[(a, b)] cutting images lo..hi into blocks of about block_bytes at per_image bytes
    an image (at least one image a block); one block on CuPy."""
    if xp is not np:
        return [(lo, hi)]
    step = max(1, block_bytes // max(per_image, 1))
    return [(a, min(a + step, hi)) for a in range(lo, hi, step)]


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


def _patches(xp, x, k, s, p, out, flat=True):
    """Strided view of x's patches: (N, C, KH, KW, L) in the flat layout (where the stride
    allows it, unless flat is False), else (N, C, KH, KW, OH, OW)."""
    N, C, H, W = x.shape
    xpad = xp.ascontiguousarray(_pad(xp, x, p))
    if flat and _flat(s):
        Wp = W + 2 * p[1]
        L = (out[0] - 1) * Wp + out[1]
        s0, s1, _, s3 = xpad.strides
        return _as_strided(xp, xpad, (N, C, k[0], k[1], L), (s0, s1, Wp * s3, s3, s3))
    return _windows(xp, xpad, k, s, out)


def _cols(xp, x, k, s, p, out, flat=True):
    """Column array (N, C*KH*KW, L) of x's patches (a copy; a view for 1x1 kernels); in the
    flat layout where the stride allows it, unless flat is False."""
    v = _patches(xp, x, k, s, p, out, flat)
    return v.reshape(v.shape[0], v.shape[1] * k[0] * k[1], int(np.prod(v.shape[4:])))


def _from_cols(xp, y, in_w, p, s, out, dest=None, bias=None):
    """(N, M, L) matmul result -> contiguous (N, M, OH, OW), dropping flat-layout junk;
    written into dest (N, M, OH, OW) when given, plus bias (M,) in the same pass."""
    N, M = y.shape[:2]
    if not _flat(s) or out[1] == in_w + 2 * p[1]:
        v = y.reshape(N, M, out[0], out[1])
    else:
        Wp = in_w + 2 * p[1]
        st = y.strides
        v = _as_strided(xp, y, (N, M, out[0], out[1]), (st[0], st[1], Wp * st[2], st[2]))
    if dest is None:
        dest = xp.empty(v.shape, dtype=v.dtype)
    if bias is None:
        dest[...] = v
    else:
        xp.add(v, bias.reshape(1, -1, 1, 1), out=dest)
    return dest


def _to_cols(xp, gy, in_w, p, s, flat=True):
    """(N, M, OH, OW) -> (N, M, L) in the column layout (flat unless flat is False), junk
    columns zero."""
    N, M, OH, OW = gy.shape
    if not (flat and _flat(s)) or OW == in_w + 2 * p[1]:
        return xp.ascontiguousarray(gy).reshape(N, M, OH * OW)
    Wp = in_w + 2 * p[1]
    buf = xp.zeros((N, M, OH, Wp), dtype=gy.dtype)
    buf[:, :, :, :OW] = gy
    return buf.reshape(N, M, OH * Wp)[:, :, :(OH - 1) * Wp + OW]


def _axis_span(n_x, n_plane, parity, stride, pad):
    """(plane slice, x slice) along one axis: plane index r holds padded index
    r * stride + parity, which is x index r * stride + parity - pad; None if none is in x."""
    r0 = max(0, -(-(pad - parity) // stride))
    x0 = r0 * stride + parity - pad
    if x0 >= n_x or r0 >= n_plane:
        return None
    count = min(n_plane - r0, -(-(n_x - x0) // stride))
    return slice(r0, r0 + count), slice(x0, x0 + (count - 1) * stride + 1, stride)


def _plane_spans(hw, plane_hw, s, p):
    """[(a, b, plane rows, plane cols, rows, cols)]: where each stride-parity plane (a, b) of
    plane_hw positions meets an image of hw positions padded by p (see _axis_span)."""
    spans = []
    for a in range(s[0]):
        rows = _axis_span(hw[0], plane_hw[0], a, s[0], p[0])
        for b in range(s[1]):
            cols = _axis_span(hw[1], plane_hw[1], b, s[1], p[1])
            if rows is not None and cols is not None:
                spans.append((a, b, rows[0], cols[0], rows[1], cols[1]))
    return spans


def _col2im_planes(xp, gcol, dest, k, s, p, in_hw, row_w):
    """col2im for strides above 1 (NumPy): scatter-add gcol (n, M, KH, KW, L), columns over
    the input grid in_hw laid on rows of row_w = W + (KW - 1) // s[1] positions (the extra
    ones zero, L = (H - 1) * row_w + W), into dest (n, M, OH, OW). Window offset (i, j) of
    input position (h, w) lands at padded (h s0 + i, w s1 + j): in stride-parity plane
    (i % s0, j % s1) at (h + i // s0, w + j // s1), so each offset adds one contiguous run
    (a 4x4 stride-2 transposed convolution of 64 to 32 channels from 7x7: 14 -> 4.7 ms
    against strided slices); the planes are then copied into dest."""
    n, M = gcol.shape[:2]
    KH, KW = k
    Hs = in_hw[0] + (KH - 1) // s[0]
    L = gcol.shape[-1]
    planes = xp.zeros((s[0], s[1], n, M, Hs * row_w), dtype=gcol.dtype)
    for i in range(KH):
        for j in range(KW):
            start = (i // s[0]) * row_w + j // s[1]
            run = planes[i % s[0], j % s[1], :, :, start:start + L]
            run += gcol[:, :, i, j]
    OH, OW = dest.shape[2:]
    if Hs * s[0] - p[0] < OH or row_w * s[1] - p[1] < OW:
        dest[...] = 0   # an outsize past the last window: rows no window reaches
    for a, b, prow, pcol, rows, cols in _plane_spans((OH, OW), (Hs, row_w), s, p):
        dest[:, :, rows, cols] = planes[a, b].reshape(n, M, Hs, row_w)[:, :, prow, pcol]
    return dest


def _col2im(xp, col, shape, k, s, p, out):
    """Scatter-add columns (N, C*KH*KW, L) back to an image of shape (N, C, H, W)."""
    N, C, H, W = shape
    Wp = W + 2 * p[1]
    KH, KW = k
    if _flat(s):
        L = col.shape[2]
        col = col.reshape(N, C, KH, KW, L)
        Hp = H + 2 * p[0]
        img = xp.zeros((N, C, Hp * Wp), dtype=col.dtype)
        for i in range(KH):
            for j in range(KW):
                o = i * Wp + j
                img[:, :, o:o + L] += col[:, :, i, j]
        img = img.reshape(N, C, Hp, Wp)
    else:
        col = col.reshape(N, C, KH, KW, out[0], out[1])
        img = _scatter_windows(xp, shape, k, s, p, out, col.dtype, lambda i, j: col[:, :, i, j])
    return _crop(xp, img, p, H, W)


def _scatter_windows(xp, shape, k, s, p, out, dtype, value_of, assign_if_disjoint=False):
    """The window scatter shared by col2im and the pooling backwards.

    Returns the padded image (N, C, H+2ph, W+2pw) of `dtype` whose window element at kernel
    offset (i, j) of every output position receives value_of(i, j), an (N, C, OH, OW) array;
    overlapping windows add up. With assign_if_disjoint, windows that cannot overlap
    (stride >= kernel) are written instead of added (cheaper, same values).
    """
    N, C, H, W = shape
    img = xp.zeros((N, C, H + 2 * p[0], W + 2 * p[1]), dtype=dtype)
    v = _windows(xp, img, k, s, out)
    assign = assign_if_disjoint and s[0] >= k[0] and s[1] >= k[1]
    for i in range(k[0]):
        for j in range(k[1]):
            if assign:
                v[:, :, i, j] = value_of(i, j)
            else:
                v[:, :, i, j] += value_of(i, j)
    return img


def _crop(xp, img, p, H, W):
    """The (contiguous) H x W interior of an image padded by p; img itself when p is zero."""
    if p[0] or p[1]:
        return xp.ascontiguousarray(img[:, :, p[0]:p[0] + H, p[1]:p[1] + W])
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
    img = _scatter_windows(xp, img_shape, k, s, p, (OH, OW), col.dtype,
                           lambda i, j: col[:, :, i, j])
    return img[:, :, p[0]:p[0] + H, p[1]:p[1] + W]
