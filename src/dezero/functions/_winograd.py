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

# G maps a 3-tap filter row to the 4 transformed taps; _G_SIGNED is G with its last row
# negated, which lets the gradient transform of dY skip a negation (A's last row is -1).
_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
_G_SIGNED = _G * np.array([[1.0], [1.0], [1.0], [-1.0]])

# With fewer input channels the transforms cost more than the multiply-adds they save:
# the column path was faster for C = 8 and below, slower for C = 16 and up (forward and
# weight gradient, 7x7 to 28x28 images, 16 to 64 output channels).
MIN_CHANNELS = 16


def applies(xp, x, W, kernel, stride, pad):
    """True when the stride-1 3x3 convolution of x (N, C, H, W) with W (an array of x's
    dtype: the filter, or gy for the weight gradient) runs here: NumPy float32/float64,
    C >= MIN_CHANNELS, pad < 3 and at least one full tile of padded input."""
    return (xp is np and kernel == (3, 3) and stride == (1, 1) and
            pad[0] < 3 and pad[1] < 3 and x.shape[1] >= MIN_CHANNELS and
            x.dtype == W.dtype and x.dtype in (np.float32, np.float64) and
            x.shape[2] + 2 * pad[0] >= 4 and x.shape[3] + 2 * pad[1] >= 4)


def _tiles(out):
    """Tiles (th, tw) of 2x2 outputs covering out = (OH, OW)."""
    return -(-out[0] // 2), -(-out[1] // 2)


# Layout: tiles are read from a copy of the (padded) input split by row and column parity,
# (2, rows, 2, cols, n, C) with element (h, w) at [h % 2, h // 2, w % 2, w // 2]. Every
# operand of the transforms below is then a plain block of it whose rows hold whole
# (tile column, image, channel) runs, so NumPy's passes stream long contiguous loops
# instead of the 7-element rows of a 14x14 image.
def _split(a, p, rows, cols):
    """a (n, C, H, W) padded by p on top/left, split by parity, zeros elsewhere."""
    n, C, H, W = a.shape
    out = np.zeros((2, rows, 2, cols, n, C), dtype=a.dtype)
    for i in range(2):
        h0 = (i - p[0]) % 2          # first row of a that lands on parity i
        r0 = (h0 + p[0]) // 2
        src_rows = a[:, :, h0::2]
        for j in range(2):
            w0 = (j - p[1]) % 2
            c0 = (w0 + p[1]) // 2
            src = src_rows[:, :, :, w0::2]
            out[i, r0:r0 + src.shape[2], j, c0:c0 + src.shape[3]] = src.transpose(2, 3, 0, 1)
    return out


def _bt_combine(d, out):
    """out[0..3] = B^T applied along one axis: d0-d2, d1+d2, d2-d1, d1-d3."""
    np.subtract(d[0], d[2], out=out[0])
    np.add(d[1], d[2], out=out[1])
    np.subtract(d[2], d[1], out=out[2])
    np.subtract(d[1], d[3], out=out[3])


def _input_transform(x, p, tiles):
    """B^T d B of every 4x4 tile (stride 2) of x padded by p: (16, th*tw*n, C)."""
    n, C = x.shape[:2]
    th, tw = tiles
    xs = _split(x, p, th + 1, tw + 1)
    r = np.empty((4, th, 2, tw + 1, n, C), dtype=x.dtype)
    _bt_combine([xs[0, :th], xs[1, :th], xs[0, 1:], xs[1, 1:]], r)
    v = np.empty((4, 4, th, tw, n, C), dtype=x.dtype)
    _bt_combine([r[:, :, 0, :tw], r[:, :, 1, :tw], r[:, :, 0, 1:], r[:, :, 1, 1:]],
                v.transpose(1, 0, 2, 3, 4, 5))
    return v.reshape(16, th * tw * n, C)


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


def _output_transform(m, tiles):
    """A^T M A of every tile: m (16, th*tw*n, OC) -> (th, 2, tw, 2, n, OC), i.e. the
    (2th, 2tw, n, OC) outputs."""
    th, tw = tiles
    y = np.matmul(_AT_TILE.astype(m.dtype), m.reshape(16, -1)).reshape(2, 2, th, tw, -1)
    out = np.empty((th, 2, tw, 2, y.shape[4]), dtype=m.dtype)
    out[...] = y.transpose(2, 0, 3, 1, 4)
    return out.reshape((th, 2, tw, 2, -1, m.shape[2]))


# Images a block: the transformed tiles of a block take about this many bytes.
BLOCK_BYTES = 2 << 20


def _run_blocks(fn, N, per_image, work_per_image):
    """fn(lo, hi) over blocks of images, the batch split over threads; per-thread results."""
    step = max(1, BLOCK_BYTES // max(per_image, 1))

    def part(lo, hi):
        return [fn(a, min(a + step, hi)) for a in range(lo, hi, step)]

    return _parallel.run(part, _parallel.chunks(np, N, 8, work_per_image,
                                                _parallel.MIN_PRODUCT_WORK))


def conv3x3(x, W, pad, out, b=None):
    """conv2d of x (N, C, H, W) with W (OC, C, 3, 3), stride 1, pad -> (N, OC, *out)."""
    N, C = x.shape[:2]
    OC = W.shape[0]
    th, tw = _tiles(out)
    u = _filter_transform(W)
    y = np.empty((N, OC) + tuple(out), dtype=x.dtype)
    bias = None if b is None else b.reshape(-1, 1, 1)

    def block(lo, hi):
        m = np.matmul(_input_transform(x[lo:hi], pad, (th, tw)), u)
        full = _output_transform(m, (th, tw)).reshape(2 * th, 2 * tw, hi - lo, OC)
        full = full[:out[0], :out[1]].transpose(2, 3, 0, 1)
        if bias is None:
            y[lo:hi] = full
        else:
            np.add(full, bias, out=y[lo:hi])

    _run_blocks(block, N, 16 * (C + OC) * th * tw * x.dtype.itemsize, 16 * OC * C * th * tw)
    return y


def _gy_transform(gy, tiles):
    """A dY A^T of every 2x2 tile of gy (A's last row taken as +1): (16, th*tw*n, OC)."""
    n, OC = gy.shape[:2]
    th, tw = tiles
    g = _split(gy, (0, 0), th, tw)
    r = np.empty((4, th, 2, tw, n, OC), dtype=gy.dtype)
    _a_combine(g[0], g[1], r)
    q = np.empty((4, 4, th, tw, n, OC), dtype=gy.dtype)
    _a_combine(r[:, :, 0], r[:, :, 1], q.transpose(1, 0, 2, 3, 4, 5))
    return q.reshape(16, th * tw * n, OC)


def _a_combine(e0, e1, out):
    """out[0..3] = A (last row +1) applied along one axis: e0, e0+e1, e0-e1, e1."""
    out[0] = e0
    np.add(e0, e1, out=out[1])
    np.subtract(e0, e1, out=out[2])
    out[3] = e1


def conv3x3_grad_w(x, gy, pad):
    """Weight gradient (OC, C, 3, 3) of conv3x3(x, W, pad) given gy (N, OC, OH, OW)."""
    N, C = x.shape[:2]
    OC = gy.shape[1]
    tiles = _tiles(gy.shape[2:])

    def block(lo, hi):
        return np.matmul(_gy_transform(gy[lo:hi], tiles).transpose(0, 2, 1),
                         _input_transform(x[lo:hi], pad, tiles))

    parts = _run_blocks(block, N, 16 * (C + OC) * tiles[0] * tiles[1] * x.dtype.itemsize,
                        16 * OC * C * tiles[0] * tiles[1])
    acc = np.zeros((16, OC, C), dtype=x.dtype)
    for thread_blocks in parts:
        for p in thread_blocks:
            acc += p
    G = _G_SIGNED.astype(x.dtype)
    t = np.tensordot(acc.reshape(4, 4, OC, C), G, axes=([1], [0]))   # (k, OC, C, j)
    return np.ascontiguousarray(np.tensordot(G, t, axes=([0], [0])).transpose(1, 2, 0, 3))
