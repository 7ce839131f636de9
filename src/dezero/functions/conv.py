"""Convolution on NCHW arrays: conv2d, deconv2d, im2col and col2im as Functions (plus the
book's composed form conv2d_simple).

Shapes: x is (N, C, H, W); conv2d's W is (OC, C, KH, KW), deconv2d's W is (C, OC, KH, KW).
kernel_size, stride and pad take an int or an (h, w) pair. The array kernels live in
dezero.functions._im2col (patch columns) and dezero.functions._winograd (3x3 stride 1 with
16+ channels on NumPy); pooling in dezero.functions.pooling.

Nothing is saved between forward and backward but the inputs (which the graph holds
anyway). Every backward is written with Functions, so conv2d, deconv2d, im2col and col2im
are twice differentiable.
"""
import numpy as np

from dezero import _parallel
from dezero.core import Function, Variable, as_variable
from dezero.cuda import get_array_module
from dezero.functions import _winograd
from dezero.functions._im2col import (
    _MIN_CHUNK,
    _args,
    _check_4d,
    _check_bias,
    _col2im,
    _col2im_planes,
    _cols,
    _from_cols,
    _image_blocks,
    _int_pair,
    _outsize,
    _patches,
    _to_cols,
    col2im_array,
    im2col_array,
)
from dezero.utils_array import get_conv_outsize, get_deconv_outsize

# ---------------------------------------------------------------------------
# conv2d / deconv2d
# ---------------------------------------------------------------------------


# On NumPy, the patches are copied and multiplied a few images at a time, so that each
# column block (about this many bytes) is still in cache for its product: conv2's
# forward in benchmarks/bench_cnn.py took 9.0 ms as one block, 7.7 ms in 1 MB blocks
# (the 1-thread step: 54 -> 45 ms), and a step's peak memory halved.
_COL_BLOCK_BYTES = 1 << 20


def _blocks(xp, lo, hi, per_image):
    """_image_blocks whose columns (per_image bytes an image) take about _COL_BLOCK_BYTES."""
    return _image_blocks(xp, lo, hi, per_image, _COL_BLOCK_BYTES)


def _col_bytes(x, patch_size, rows, p):
    """Bytes of one image's columns: patch_size rows of about rows * (W + 2 pw) positions."""
    return patch_size * rows * (x.shape[3] + 2 * p[1]) * x.dtype.itemsize


def _conv_forward(xp, x, W, s, p, out, b=None):
    """conv2d of x with W, plus b (OC,) when given (added block by block, while in cache)."""
    if _winograd.applies(xp, x, W, W.shape[0], W.shape[2:], s, p):
        return _winograd.conv3x3(x, W, p, out, b)
    OC = W.shape[0]
    Wm = W.reshape(OC, -1)
    y = xp.empty((x.shape[0], OC) + tuple(out), dtype=xp.result_type(x, W))
    # The product of the plain layout goes straight into y: its patch copy is slower than
    # the flat layout's, but cropping the flat product costs more (benchmarks/bench_cnn.py:
    # conv1 2.0 -> 1.4 ms, conv2 at 2 threads 4.4 -> 3.9 ms; other shapes 0.84-1.02x, deep
    # patches included, which an (L, K) @ (K, OC) product on transposed views once served).
    # Mixed dtypes take the flat layout, the product's dtype then cast in the crop.
    direct = y.dtype == Wm.dtype == x.dtype
    # With a bias, the patches get a row of ones and W a column holding b: the product adds
    # the bias, one pass over the output fewer (conv1 of benchmarks/bench_cnn.py 1.92 ->
    # 1.75 ms). Not for 1x1 kernels, whose patch columns are a view of x, not a copy.
    K = Wm.shape[1]
    bias_row = direct and b is not None and xp is np and tuple(W.shape[2:]) != (1, 1)
    if bias_row:
        Wm = xp.concatenate([Wm, b.reshape(-1, 1).astype(Wm.dtype)], axis=1)

    def block(lo, hi, buffers):
        if bias_row:
            n = hi - lo
            col = buffers.get(n)
            if col is None:  # one buffer a block size and thread, its ones row set once
                col = buffers[n] = xp.empty((n, K + 1, out[0] * out[1]), dtype=x.dtype)
                col[:, K] = 1
            patches = _patches(xp, x[lo:hi], W.shape[2:], s, p, out, flat=False)
            xp.copyto(col[:, :K].reshape(patches.shape), patches)
            xp.matmul(Wm, col, out=y[lo:hi].reshape(n, OC, -1))
        elif direct:
            col = _cols(xp, x[lo:hi], W.shape[2:], s, p, out, flat=False)
            dest = y[lo:hi].reshape(hi - lo, OC, -1)
            xp.matmul(Wm, col, out=dest)
            if b is not None:
                dest += b.reshape(-1, 1)
        else:
            col = _cols(xp, x[lo:hi], W.shape[2:], s, p, out)
            _from_cols(xp, xp.matmul(Wm, col), x.shape[3], p, s, out, y[lo:hi], b)

    def part(lo, hi):
        buffers = {}
        for a, c in _blocks(xp, lo, hi, _col_bytes(x, K, out[0], p)):
            block(a, c, buffers)

    _parallel.run_products(xp, part, _parallel.chunks(xp, x.shape[0], _MIN_CHUNK,
                                                      OC * K * out[0] * out[1],
                                                      _parallel.MIN_PRODUCT_WORK))
    return y


def _flipped_is_cheaper(C, OC, in_hw, out_hw):
    """Whether a stride-1 transposed convolution of C to OC channels, in_hw to out_hw, runs
    faster as a convolution with the flipped kernel (patches: C*KH*KW rows an output
    position, and the product) than as a product and scatter-adds (OC*KH*KW rows an input
    position, each added once). Costs in passes over an element, a multiply-add taken as
    1/16 of one, a scatter-add as 4 (read, add, write, strided); fitted to 10 layer shapes
    at 1 and 2 threads: the scatter took 0.24-0.56x the time for thin outputs (50 -> 20
    channels 5x5 from 8x8, 16 -> 1 channel 3x3 on 28x28), the flipped kernel 0.6-0.8x for
    wide ones (32 -> 32 channels 3x3 on 28x28)."""
    in_area, out_area = in_hw[0] * in_hw[1], out_hw[0] * out_hw[1]
    return C * out_area * (16 + OC) <= OC * in_area * (64 + C)


def _deconv_forward(xp, x, W, s, p, out_hw):
    """Transposed convolution of x (N, C, H, W) with W (C, OC, KH, KW) to (N, OC, *out_hw)."""
    N, C = x.shape[:2]
    _, OC, KH, KW = W.shape
    if s == (1, 1) and p[0] < KH and p[1] < KW and _flipped_is_cheaper(C, OC, x.shape[2:],
                                                                       out_hw):
        # With stride 1 this is a convolution with the flipped, channel-swapped kernel:
        # one patch copy and one product instead of the product plus KH*KW scatter-adds.
        flipped = xp.ascontiguousarray(W.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
        full = (KH - 1 - p[0], KW - 1 - p[1])
        return _conv_forward(xp, x, flipped, s, full, tuple(out_hw))
    Wt = W.reshape(C, -1).T
    y = xp.empty((N, OC) + tuple(out_hw), dtype=xp.result_type(x, W))
    per_image = OC * KH * KW * x.shape[2] * x.shape[3] * x.dtype.itemsize

    planes = xp is np and s != (1, 1)
    row_w = x.shape[3] + (KW - 1) // s[1]   # the planes' row width (see _col2im_planes)

    def part(lo, hi):
        for a, b in _blocks(xp, lo, hi, per_image):
            if planes:
                gcol = xp.matmul(Wt, _to_cols(xp, x[a:b], row_w, (0, 0), (1, 1)))
                _col2im_planes(xp, gcol.reshape(b - a, OC, KH, KW, -1), y[a:b], (KH, KW),
                               s, p, x.shape[2:], row_w)
                continue
            gcol = xp.matmul(Wt, _to_cols(xp, x[a:b], out_hw[1], p, s))
            y[a:b] = _col2im(xp, gcol, (b - a, OC) + tuple(out_hw), (KH, KW), s, p,
                             x.shape[2:])

    work = OC * KH * KW * C * x.shape[2] * x.shape[3]
    _parallel.run_products(xp, part, _parallel.chunks(xp, N, _MIN_CHUNK, work,
                                                      _parallel.MIN_PRODUCT_WORK))
    return y


def _weight_and_input_grads(xp, weight_grad, input_grad):
    """(weight_grad(), input_grad() or None when input_grad is None). A convolution's two
    gradients need nothing of each other: with threads to spare they run at once, each on
    one thread (_parallel.run_tasks), rather than one after the other with each one's batch
    split (the CNN step of benchmarks/bench_cnn.py at two threads: 21.6 -> 21.2 ms, medians
    of 11 rounds)."""
    if input_grad is None:
        return weight_grad(), None
    return tuple(_parallel.run_tasks(xp, [weight_grad, input_grad]))


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
        return _conv_forward(xp, x, W, self.stride, self.pad, out, b)

    def backward(self, gy):
        x, W = self.inputs[:2]
        s, p = self.stride, self.pad
        gx = None
        if self.need_gx:
            gx = deconv2d(gy, W, stride=s, pad=p, outsize=x.shape[2:])
        if len(self.inputs) == 3:
            # The bias gradient (gy summed over batch and positions) is read off the blocks
            # of gy that the weight gradient has in cache anyway.
            gW, gb = Conv2DGradW(W.shape[2:], s, p, with_bias=True)(x, gy)
            return gx, gW, gb
        return gx, Conv2DGradW(W.shape[2:], s, p)(x, gy)

    def backward_arrays(self, gy):
        x, W = self.inputs[0].data, self.inputs[1].data
        s, p = self.stride, self.pad
        with_bias = len(self.inputs) == 3
        grad_w = Conv2DGradW(W.shape[2:], s, p, with_bias)
        gW, gx = _weight_and_input_grads(
            get_array_module(gy), lambda: grad_w.forward(x, gy),
            (lambda: Deconv2d(s, p, x.shape[2:]).forward(gy, W)) if self.need_gx else None)
        return (gx,) + tuple(gW) if with_bias else (gx, gW)


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

    def backward_arrays(self, gy):
        x, W = self.inputs[0].data, self.inputs[1].data
        s, p = self.stride, self.pad
        xp = get_array_module(gy)
        grad_w = Conv2DGradW(W.shape[2:], s, p)
        # gx = conv2d(gy, W), of x's size (forward checked that outsize gives it)
        gW, gx = _weight_and_input_grads(
            xp, lambda: grad_w.forward(gy, x),
            (lambda: _conv_forward(xp, gy, W, s, p, x.shape[2:])) if self.need_gx else None)
        if len(self.inputs) == 3:
            return gx, gW, gy.sum(axis=(0, 2, 3))
        return gx, gW


def _flat_grad_w(K, OC, out, padded_w):
    """Whether the weight gradient uses the flat layout (K patch rows, OC channels of gy
    of size out). It copies patches in long runs, but also gy into padded rows, and
    multiplies the junk columns; the plain layout copies patches in short runs. Measured
    with the column path forced (1 thread): plain won where gy has at least 1/8 as many
    rows as the patches (conv1 of benchmarks/bench_cnn.py 2.8 -> 1.8 ms, conv2 0.95x,
    64 -> 128 channels 0.89x) or the junk columns add 20% (5x5 on 14x14: 0.88x), flat
    where gy is thinner (32 -> 16 channels: plain 1.17x)."""
    OH, OW = out
    junk = (OH - 1) * (padded_w - OW) / (OH * OW)
    return 8 * OC < K and junk < 0.2


# The weight gradient contracts over output positions. With few of them an image (a 4x4
# output: (576, 16) @ (16, 128) products), per-image products run at half speed: up to this
# many positions, the images of a block sit side by side in one product over all their
# positions ((576, 1024) @ (1024, 128): 64 images of 4x4 8.9 -> 4.2 ms; at 7x7 1.33x, 8x8
# 1.25x, 10x10 1.16x faster; the book CNN's 14x14 and 28x28 keep the per-image layouts).
BATCH_MAJOR_MAX_POSITIONS = 100


def _batch_major_cols(xp, x, gy, k, s, p):
    """x's patch columns (C*KH*KW, n*L) and gy as (OC, n*L), the n images side by side."""
    n, C = x.shape[:2]
    out = gy.shape[2:]
    col = xp.empty((C, k[0], k[1], n) + tuple(out), dtype=x.dtype)
    xp.copyto(col, _patches(xp, x, k, s, p, out, flat=False).transpose(1, 2, 3, 0, 4, 5))
    g = xp.ascontiguousarray(gy.transpose(1, 0, 2, 3))
    return col.reshape(C * k[0] * k[1], -1), g.reshape(gy.shape[1], -1)


class Conv2DGradW(Function):
    """gW of conv2d: contracts the patches of x with gy over the batch and positions.
    With with_bias, the outputs are (gW, gb), gb being gy summed over all but channels."""

    def __init__(self, kernel_size, stride, pad, with_bias=False):
        self.kernel_size, self.stride, self.pad = _args('conv2d', kernel_size, stride, pad)
        self.with_bias = with_bias

    def forward(self, x, gy):
        xp = get_array_module(x)
        N, C, H, W = x.shape
        OC = gy.shape[1]
        k, s, p = self.kernel_size, self.stride, self.pad
        if _winograd.applies(xp, x, gy, OC, k, s, p, weight_gradient=True) and \
                gy.shape[2:] == (H + 2 * p[0] - 2, W + 2 * p[1] - 2):
            gW, gb = _winograd.conv3x3_grad_w(x, gy, p, self.with_bias)
            return (gW, gb) if self.with_bias else gW
        K = C * k[0] * k[1]
        flat = _flat_grad_w(K, OC, gy.shape[2:], W + 2 * p[1])
        with_bias = self.with_bias
        # Summed over n: (n, K, L) @ (n, L, OC), or (n, OC, L) @ (n, L, K) when the patches
        # have fewer rows than gy has channels (1 -> 16 channels, 3x3: 0.89x the time; at
        # K >= OC the first was 2-18% faster).
        by_channel = K < OC
        batch_major = xp is np and gy.shape[2] * gy.shape[3] <= BATCH_MAJOR_MAX_POSITIONS

        def chunk(lo, hi):
            gW = xp.zeros((OC, K) if by_channel else (K, OC), dtype=xp.result_type(x, gy))
            gb = ones = None
            if with_bias:
                gb = xp.zeros(OC, dtype=gy.dtype)
            for a, b in _blocks(xp, lo, hi, _col_bytes(x, K, gy.shape[2], p)):
                if batch_major:
                    col, g = _batch_major_cols(xp, x[a:b], gy[a:b], k, s, p)
                    gW += xp.matmul(g, col.T) if by_channel else xp.matmul(col, g.T)
                    if with_bias:
                        gb += g.sum(axis=1)
                    continue
                col = _cols(xp, x[a:b], k, s, p, gy.shape[2:], flat)
                g = _to_cols(xp, gy[a:b], W, p, s, flat)
                if by_channel:
                    gW += xp.matmul(g, col.transpose(0, 2, 1)).sum(axis=0)
                else:
                    gW += xp.matmul(col, g.transpose(0, 2, 1)).sum(axis=0)
                if with_bias:
                    # A product with ones: twice as fast as sum(axis=(0, 2)). The flat
                    # layout's junk columns are zero.
                    if ones is None:
                        ones = xp.ones(g.shape[2], dtype=g.dtype)
                    gb += xp.matmul(g, ones).sum(axis=0)
            return gW, gb
        work = K * gy.shape[2] * gy.shape[3] * OC
        partial = _parallel.run_products(xp, chunk, _parallel.chunks(
            xp, N, _MIN_CHUNK, work, _parallel.MIN_PRODUCT_WORK))
        gW, gb = partial[0]
        for other_gW, other_gb in partial[1:]:
            gW += other_gW
            if with_bias:
                gb += other_gb
        gW = (gW if by_channel else xp.ascontiguousarray(gW.T)).reshape(OC, C, k[0], k[1])
        return (gW, gb) if with_bias else gW

    def backward(self, ggW, ggb=None):
        x, gy = self.inputs
        s, p = self.stride, self.pad
        gx = deconv2d(gy, ggW, stride=s, pad=p, outsize=x.shape[2:])
        ggy = conv2d(x, ggW, ggb, stride=s, pad=p)
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
