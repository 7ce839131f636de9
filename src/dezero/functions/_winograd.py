"""3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3) (array kernels, NumPy).

Each 2x2 block of outputs is computed from the 4x4 input tile under it as
    Y = A^T [(G g G^T) * (B^T d B)] A
with the elementwise product summed over input channels: 16 products of (OC, C) by
(C, tiles) instead of one of (OC, 9C) by (9C, positions), 2.25x fewer multiply-adds,
and transforms that are only additions. The weight gradient is the transpose of the
same algorithm: G^T [sum over tiles (A dY A^T) * (B^T d B)] G.

Both run a few images at a time (transformed tiles of a block stay in cache) and split
the batch over threads like the column kernels in dezero.functions.conv. Results agree
with the column path to float rounding (the transforms add at most a few terms).
"""
import numpy as np

from dezero import _parallel
from dezero.functions._im2col import _MIN_CHUNK, _image_blocks

# G maps a 3-tap filter row to the 4 transformed taps; _G_SIGNED is G with its last row
# negated, which lets the gradient transform of dY skip a negation (A's last row is -1).
_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
_G_SIGNED = _G * np.array([[1.0], [1.0], [1.0], [-1.0]])

# With fewer input or output channels the transforms cost more than the multiply-adds
# they save: for C or OC = 8 and below the column path was faster, for 16 and up slower
# (forward plus backward, 7x7 to 28x28 images; benchmarks/bench_conv.py).
MIN_CHANNELS = 16

# Split over threads, the transforms' passes over memory share the machine's bandwidth
# while the column path's products scale with the cores: there Winograd paid only from
# 32 input channels (2 threads, one pass at a time, 7x7 to 28x28 images, time against the
# column path's: C=16 OC=32 1.28-1.8x, C=16 OC=64 0.95-1.39x), for the forward from
# C * OC * tiles = 16384 (C=32 OC=16: 1.19x at 7x7, 0.96x at 14x14 and 28x28; C=64 OC=16
# 0.70-0.90x; C=32 OC=32 0.87-0.98x), for the weight gradient from C * OC = 1024 (C=32
# OC=16 1.18-1.43x, C=32 OC=32 0.93-1.05x, C=64 OC=16 0.82-1.12x).
MIN_SPLIT_CHANNELS = 32
MIN_SPLIT_FORWARD_WORK = 16384
MIN_SPLIT_CHANNEL_PRODUCT = 1024


def applies(xp, x, other, out_channels, kernel, stride, pad, weight_gradient=False):
    """True when the stride-1 3x3 convolution of x (N, C, H, W) into out_channels (or,
    with weight_gradient, its weight gradient) runs here: NumPy float32/float64 (other, the
    filter or gy, of x's dtype), C and out_channels >= MIN_CHANNELS, pad < 3, at least one
    full tile of padded input, no inf or NaN in x or other, and, when the batch is split
    over threads, C >= MIN_SPLIT_CHANNELS with C * out_channels * tiles >=
    MIN_SPLIT_FORWARD_WORK (forward) or C * out_channels >= MIN_SPLIT_CHANNEL_PRODUCT
    (weight gradient)."""
    C = x.shape[1]
    if not (xp is np and kernel == (3, 3) and stride == (1, 1) and
            pad[0] < 3 and pad[1] < 3 and min(C, out_channels) >= MIN_CHANNELS and
            x.dtype == other.dtype and x.dtype in (np.float32, np.float64) and
            x.shape[2] + 2 * pad[0] >= 4 and x.shape[3] + 2 * pad[1] >= 4):
        return False
    tiles = _tiles((x.shape[2] + 2 * pad[0] - 2, x.shape[3] + 2 * pad[1] - 2))
    if weight_gradient:
        pays_split = C * out_channels >= MIN_SPLIT_CHANNEL_PRODUCT
    else:
        pays_split = C * out_channels * tiles[0] * tiles[1] >= MIN_SPLIT_FORWARD_WORK
    if not (C >= MIN_SPLIT_CHANNELS and pays_split) and \
            len(_chunks(x.shape[0], _work(C, out_channels, tiles))) > 1:
        return False
    # The transforms subtract: an inf would turn into NaN where the column path keeps inf.
    return _all_finite(x) and _all_finite(other)


def _all_finite(a):
    return bool(np.isfinite(a).all())


def _work(C, OC, tiles):
    """Multiply-adds an image: 16 products of (tiles, C) by (C, OC)."""
    return 16 * C * OC * tiles[0] * tiles[1]


def _chunks(N, work_per_image):
    return _parallel.chunks(np, N, _MIN_CHUNK, work_per_image, _parallel.MIN_PRODUCT_WORK)


def _tiles(out):
    """Tiles (th, tw) of 2x2 outputs covering out = (OH, OW)."""
    return -(-out[0] // 2), -(-out[1] // 2)


# Layout: tiles are read from a copy of the (padded) input split by row and column parity,
# (2, rows, 2, cols, n, C) with element (h, w) at [h % 2, h // 2, w % 2, w // 2]. Every
# operand of the transforms below is then a plain block of it whose rows hold whole
# (tile column, image, channel) runs, so NumPy's passes stream long contiguous loops
# instead of the 7-element rows of a 14x14 image.
#
# A workspace holds the buffers of one block size and every view the passes use, built
# once per call and thread: a block then costs its NumPy passes and little Python (the
# buffers, views and per-call Python took about 80 us a block before), and the padding
# of the split copy stays zero from the allocation on.
class _SplitCopy:
    """a (n, C, H, W) padded by p on top/left into a zeroed (2, rows, 2, cols, n, C)."""

    def __init__(self, shape, p, rows, cols, dtype):
        n, C, H, W = shape
        self.buf = np.zeros((2, rows, 2, cols, n, C), dtype=dtype)
        self.parts = []
        for i in range(2):
            h0 = (i - p[0]) % 2          # first row of a that lands on parity i
            r0 = (h0 + p[0]) // 2
            nh = len(range(h0, H, 2))
            for j in range(2):
                w0 = (j - p[1]) % 2
                c0 = (w0 + p[1]) // 2
                nw = len(range(w0, W, 2))
                dest = self.buf[i, r0:r0 + nh, j, c0:c0 + nw]
                self.parts.append((dest, slice(h0, None, 2), slice(w0, None, 2)))

    def __call__(self, a):
        for dest, rows, cols in self.parts:
            np.copyto(dest, a[:, :, rows, cols].transpose(2, 3, 0, 1))
        return self.buf


def _bt_combine(d, out):
    """out[0..3] = B^T applied along one axis: d0-d2, d1+d2, d2-d1, d1-d3."""
    np.subtract(d[0], d[2], out=out[0])
    np.add(d[1], d[2], out=out[1])
    np.subtract(d[2], d[1], out=out[2])
    np.subtract(d[1], d[3], out=out[3])


class _InputTiles:
    """B^T d B of every 4x4 tile (stride 2) of n images padded by p: (16, th*tw*n, C)."""

    def __init__(self, shape, p, tiles, dtype):
        n, C = shape[:2]
        th, tw = tiles
        self.split = _SplitCopy(shape, p, th + 1, tw + 1, dtype)
        xs = self.split.buf
        r = np.empty((4, th, 2, tw + 1, n, C), dtype=dtype)
        v = np.empty((4, 4, th, tw, n, C), dtype=dtype)
        self.row_in, self.row_out = [xs[0, :th], xs[1, :th], xs[0, 1:], xs[1, 1:]], r
        self.col_in = [r[:, :, 0, :tw], r[:, :, 1, :tw], r[:, :, 0, 1:], r[:, :, 1, 1:]]
        self.col_out = v.transpose(1, 0, 2, 3, 4, 5)
        self.v = v.reshape(16, th * tw * n, C)

    def __call__(self, x):
        self.split(x)
        _bt_combine(self.row_in, self.row_out)
        _bt_combine(self.col_in, self.col_out)
        return self.v


def _filter_transform(W):
    """G g G^T of every (oc, c) filter: (16, C, OC)."""
    G = _G.astype(W.dtype)
    t = np.tensordot(W, G, axes=([3], [1]))          # (OC, C, 3, l)
    u = np.tensordot(G, t, axes=([1], [2]))          # (k, OC, C, l)
    return np.ascontiguousarray(u.transpose(0, 3, 2, 1)).reshape(16, W.shape[1], W.shape[0])


# A^T (.) A of a tile as one (4, 16) matrix over its 16 transformed values: the output
# transform is then one product, cheaper than eight passes of adds.
_AT = np.array([[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, -1.0, -1.0]])
_AT_TILE = np.einsum('ak,bl->abkl', _AT, _AT).reshape(4, 16)


class _ForwardBlock:
    """conv3x3 of a block of n images into y's (n, OC, OH, OW) slice."""

    def __init__(self, shape, u, p, out, dtype):
        n, C = shape[:2]
        OC = u.shape[2]
        th, tw = _tiles(out)
        self.inputs = _InputTiles(shape, p, (th, tw), dtype)
        self.u = u
        self.at = _AT_TILE.astype(dtype)
        self.m = np.empty((16, th * tw * n, OC), dtype=dtype)
        self.y4 = np.empty((4, th * tw * n * OC), dtype=dtype)
        full = np.empty((th, 2, tw, 2, n, OC), dtype=dtype)
        self.interleave = (full, self.y4.reshape(2, 2, th, tw, n, OC).transpose(2, 0, 3, 1, 4, 5))
        self.result = full.reshape(2 * th, 2 * tw, n, OC)[:out[0], :out[1]].transpose(2, 3, 0, 1)

    def __call__(self, x, dest, bias):
        np.matmul(self.inputs(x), self.u, out=self.m)
        np.matmul(self.at, self.m.reshape(16, -1), out=self.y4)
        np.copyto(*self.interleave)
        if bias is None:
            np.copyto(dest, self.result)
        else:
            np.add(self.result, bias, out=dest)


# Images a block: the transformed tiles of a block take about this many bytes.
BLOCK_BYTES = 1 << 20


def _block_bytes(C, OC, tiles, dtype):
    """Bytes an image takes in a block: its transformed inputs and products."""
    return 16 * (C + OC) * tiles[0] * tiles[1] * dtype.itemsize


def _run_blocks(N, per_image, work_per_image, make, run):
    """run(workspace, lo, hi) over blocks of images, the batch split over threads; each
    thread builds its workspaces with make(n) (one per block size it meets). Returns the
    workspaces each thread used, for results they accumulate."""
    def part(lo, hi):
        spaces = {}
        for a, b in _image_blocks(np, lo, hi, per_image, BLOCK_BYTES):
            if b - a not in spaces:
                spaces[b - a] = make(b - a)
            run(spaces[b - a], a, b)
        return list(spaces.values())

    return _parallel.run_products(np, part, _chunks(N, work_per_image))


def conv3x3(x, W, pad, out, b=None):
    """conv2d of x (N, C, H, W) with W (OC, C, 3, 3), stride 1, pad -> (N, OC, *out)."""
    N, C, H, Wd = x.shape
    OC = W.shape[0]
    th, tw = _tiles(out)
    u = _filter_transform(W)
    y = np.empty((N, OC) + tuple(out), dtype=x.dtype)
    bias = None if b is None else b.reshape(-1, 1, 1)
    _run_blocks(N, _block_bytes(C, OC, (th, tw), x.dtype), _work(C, OC, (th, tw)),
                lambda n: _ForwardBlock((n, C, H, Wd), u, pad, out, x.dtype),
                lambda block, lo, hi: block(x[lo:hi], y[lo:hi], bias))
    return y


def _a_combine(e0, e1, out):
    """out[0..3] = A (last row taken as +1) along one axis: e0, e0+e1, e0-e1, e1."""
    np.copyto(out[0], e0)
    np.add(e0, e1, out=out[1])
    np.subtract(e0, e1, out=out[2])
    np.copyto(out[3], e1)


class _GradWBlock:
    """Accumulates sum over tiles of (A dY A^T) * (B^T d B) for blocks of n images."""

    def __init__(self, shape, gy_shape, p, dtype):
        n, C = shape[:2]
        OC = gy_shape[1]
        th, tw = tiles = _tiles(gy_shape[2:])
        self.inputs = _InputTiles(shape, p, tiles, dtype)
        self.gy_split = _SplitCopy((n,) + tuple(gy_shape[1:]), (0, 0), th, tw, dtype)
        g = self.gy_split.buf
        r = np.empty((4, th, 2, tw, n, OC), dtype=dtype)
        q = np.empty((4, 4, th, tw, n, OC), dtype=dtype)
        self.row = (g[0], g[1], r)
        self.col = (r[:, :, 0], r[:, :, 1], q.transpose(1, 0, 2, 3, 4, 5))
        self.q_t = q.reshape(16, th * tw * n, OC).transpose(0, 2, 1)
        # (A dY A^T)[1, 1] of a 2x2 tile is the sum of its four values (padding is zero).
        self.tile_sums = q[1, 1].reshape(-1, OC)
        self.ones = np.ones(self.tile_sums.shape[0], dtype=dtype)  # sums as a product: 4x faster
        self.part = np.empty((16, OC, C), dtype=dtype)
        self.acc = np.zeros((16, OC, C), dtype=dtype)
        self.bias_acc = np.zeros(OC, dtype=dtype)

    def __call__(self, x, gy, with_bias):
        self.gy_split(gy)
        _a_combine(*self.row)
        _a_combine(*self.col)
        np.matmul(self.q_t, self.inputs(x), out=self.part)
        self.acc += self.part
        if with_bias:
            self.bias_acc += np.matmul(self.ones, self.tile_sums)


def conv3x3_grad_w(x, gy, pad, with_bias=False):
    """Weight gradient (OC, C, 3, 3) of conv3x3(x, W, pad) given gy (N, OC, OH, OW), and
    with_bias the bias gradient (OC,) (else None)."""
    N, C, H, W = x.shape
    OC = gy.shape[1]
    tiles = _tiles(gy.shape[2:])
    spaces = _run_blocks(N, _block_bytes(C, OC, tiles, x.dtype), _work(C, OC, tiles),
                         lambda n: _GradWBlock((n, C, H, W), gy.shape, pad, x.dtype),
                         lambda block, lo, hi: block(x[lo:hi], gy[lo:hi], with_bias))
    acc = np.zeros((16, OC, C), dtype=x.dtype)
    gb = np.zeros(OC, dtype=x.dtype) if with_bias else None
    for thread_spaces in spaces:
        for block in thread_spaces:
            acc += block.acc
            if with_bias:
                gb += block.bias_acc
    G = _G_SIGNED.astype(x.dtype)
    t = np.tensordot(acc.reshape(4, 4, OC, C), G, axes=([1], [0]))   # (k, OC, C, j)
    gW = np.ascontiguousarray(np.tensordot(G, t, axes=([0], [0])).transpose(1, 2, 0, 3))
    return gW, gb
