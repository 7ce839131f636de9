"""Max pooling of overlapping or padded windows, and average pooling, on NumPy, on
stride-parity planes.

The padded input of a few channels at a time is copied into s[0]*s[1] planes, plane (a, b)
holding the padded rows a, a + s[0], ... and columns b, b + s[1], ... Every window offset
(i, j) then reads plane (i % s[0], j % s[1]) shifted by (i // s[0], j // s[1]): in the
flat plane, one contiguous run for all windows of the block at once (the runs also cover a
few junk positions past each row's last window, which are cropped). NumPy streams such runs
several times faster than the stride-2 views of the padded input: 3x3 windows, stride 2,
pad 1 over (32, 64, 56, 56) float32, forward 122 -> 23 ms and backward 106 -> 27 ms at one
thread. Average pooling sums the same runs (3x3, stride 2, pad 1: forward 42 -> 8.6 ms,
backward 59 -> 9.1 ms; 2x2 tiled windows 3.3 -> 2.4 and 4.3 -> 2.4 ms). Blocks keep the
planes (about _BLOCK_BYTES) in cache across the offsets.

The arg-max is the first maximum in row-major window order, as pooling's other paths give
it: offsets are scanned in that order, a later one winning only when strictly greater.
"""
import numpy as np

from dezero import _parallel
from dezero.functions._im2col import _plane_spans

_BLOCK_BYTES = 1 << 20


class _Layout:
    """Geometry of the planes for inputs (H, W) of `dtype`, windows k, stride s, pad p,
    output out."""

    def __init__(self, H, W, k, s, p, out, dtype):
        self.H, self.W, self.k, self.s, self.p, self.out = H, W, k, s, p, out
        # plane rows and columns: enough for the last window's far edge
        self.Hs = -(-((out[0] - 1) * s[0] + k[0]) // s[0])
        self.Ws = -(-((out[1] - 1) * s[1] + k[1]) // s[1])
        # the largest shift of an offset's run
        self.tail = ((k[0] - 1) // s[0]) * self.Ws + (k[1] - 1) // s[1]
        per_channel = s[0] * s[1] * self.Hs * self.Ws * dtype.itemsize
        self.step = max(1, _BLOCK_BYTES // per_channel)
        self.per_channel = per_channel // dtype.itemsize
        # x rows (columns) past the last window's reach, which no plane holds
        self.uncovered = (self.Hs * s[0] - p[0] < H) or (self.Ws * s[1] - p[1] < W)
        self._spans = _plane_spans((H, W), (self.Hs, self.Ws), s, p)

    def blocks(self, lo, hi, make):
        """(a, c, L, buffers) for the blocks a..c of channels lo..hi, L their plane positions
        and buffers = make(L), made once a block size."""
        made = {}
        for a in range(lo, hi, self.step):
            c = min(a + self.step, hi)
            L = (c - a) * self.Hs * self.Ws
            if L not in made:
                made[L] = make(L)
            yield a, c, L, made[L]

    def planes(self, L, dtype):
        """An empty block of planes (s0, s1, L + tail)."""
        return np.empty((self.s[0], self.s[1], L + self.tail), dtype=dtype)

    def runs(self, planes, L):
        """(t, run) for each window offset t (row-major in the window): the L plane positions
        that offset reads for all windows of the block."""
        k, s = self.k, self.s
        for t in range(k[0] * k[1]):
            i, j = divmod(t, k[1])
            start = (i // s[0]) * self.Ws + j // s[1]
            yield t, planes[i % s[0], j % s[1], start:start + L]

    def windows(self, flat, n):
        """The (n, OH, OW) window positions of a flat (n * Hs * Ws) block buffer."""
        return flat.reshape(n, self.Hs, self.Ws)[:, :self.out[0], :self.out[1]]

    def load(self, planes, x, fill):
        """planes set to fill, then the channels x (n, H, W) copied in."""
        planes.fill(fill)
        for a, b, prow, pcol, xrow, xcol in self._spans:
            self._grid(planes, a, b, len(x))[:, prow, pcol] = x[:, xrow, xcol]

    def store(self, planes, dest):
        """The planes' values at x's positions copied into dest (n, H, W)."""
        for a, b, prow, pcol, xrow, xcol in self._spans:
            dest[:, xrow, xcol] = self._grid(planes, a, b, len(dest))[:, prow, pcol]

    def _grid(self, planes, a, b, n):
        return planes[a, b, :n * self.Hs * self.Ws].reshape(n, self.Hs, self.Ws)


def _channels(x):
    N, C = x.shape[:2]
    return x.reshape((N * C,) + x.shape[2:])


def _split(lay, M, fn):
    _parallel.run(fn, _parallel.chunks(np, M, 1, lay.per_channel, _parallel.MIN_ELEMENT_WORK))


def max_windows(x, k, s, p, out, idx_dtype):
    """Max and arg-max (idx_dtype, row-major in the window) of x (N, C, H, W) over windows
    k, stride s, pad p (padding never wins), out = (OH, OW)."""
    N, C, H, W = x.shape
    lay = _Layout(H, W, k, s, p, out, x.dtype)
    fill = -np.inf if x.dtype.kind == 'f' else np.iinfo(x.dtype).min
    xs = _channels(x)
    y = np.empty((N * C,) + tuple(out), dtype=x.dtype)
    idx = np.empty((N * C,) + tuple(out), dtype=idx_dtype)

    def make(L):
        return (lay.planes(L, x.dtype), np.empty(L, x.dtype), np.empty(L, idx_dtype),
                np.empty(L, bool), np.empty(L, idx_dtype))

    def part(lo, hi):
        for a, c, L, (planes, best, arg, greater, mark) in lay.blocks(lo, hi, make):
            lay.load(planes, xs[a:c], fill)
            arg.fill(0)
            for t, v in lay.runs(planes, L):
                if t == 0:
                    np.copyto(best, v)
                    continue
                np.greater(v, best, out=greater)
                np.maximum(best, v, out=best)
                # offsets come in increasing t: the last strictly greater one is the max t
                np.multiply(greater, idx_dtype(t), out=mark)
                np.maximum(arg, mark, out=arg)
            y[a:c] = lay.windows(best, c - a)
            idx[a:c] = lay.windows(arg, c - a)

    _split(lay, N * C, part)
    return y.reshape((N, C) + tuple(out)), idx.reshape((N, C) + tuple(out))


def max_windows_grad(gy, idx, x_shape, k, s, p):
    """The gradient of max_windows: gy (N, C, OH, OW) added at each window's arg-max idx
    into zeros of x_shape."""
    N, C, H, W = x_shape
    lay = _Layout(H, W, k, s, p, gy.shape[2:], gy.dtype)
    gys, idxs = _channels(gy), _channels(idx)
    gx = (np.zeros if lay.uncovered else np.empty)((N * C, H, W), dtype=gy.dtype)
    disjoint = s[0] >= k[0] and s[1] >= k[1]
    bits = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}.get(gy.dtype.itemsize)

    def make(L):   # the junk positions of g and arg stay 0 for good
        return (lay.planes(L, gy.dtype), np.zeros(L, gy.dtype), np.zeros(L, idx.dtype),
                np.empty(L, bool), np.empty(L, bits or np.uint8), np.empty(L, gy.dtype))

    def part(lo, hi):
        for a, c, L, (planes, g, arg, here, mask, share) in lay.blocks(lo, hi, make):
            planes.fill(0)
            lay.windows(g, c - a)[...] = gys[a:c]
            lay.windows(arg, c - a)[...] = idxs[a:c]
            for t, v in lay.runs(planes, L):
                np.equal(arg, t, out=here)
                if bits is None:
                    np.add(v, g, out=v, where=here)
                    continue
                # g's bits where here, else 0 bits (+0.0): unlike g * here, a NaN or inf
                # in g stays at its arg-max; 3 times faster than a masked add.
                np.negative(here.view(np.uint8), out=mask, dtype=bits)
                if disjoint:   # each plane position is one window's: the bits as they are
                    np.bitwise_and(g.view(bits), mask, out=v.view(bits))
                else:
                    np.bitwise_and(g.view(bits), mask, out=share.view(bits))
                    np.add(v, share, out=v)
            lay.store(planes, gx[a:c])

    _split(lay, N * C, part)
    return gx.reshape(x_shape)


def sum_windows(x, k, s, p, out):
    """Sum of x (N, C, H, W, float) over windows k, stride s, zero padding p, out = (OH, OW)."""
    N, C, H, W = x.shape
    lay = _Layout(H, W, k, s, p, out, x.dtype)
    xs = _channels(x)
    y = np.empty((N * C,) + tuple(out), dtype=x.dtype)

    def make(L):
        return lay.planes(L, x.dtype), np.empty(L, x.dtype)

    def part(lo, hi):
        for a, c, L, (planes, total) in lay.blocks(lo, hi, make):
            lay.load(planes, xs[a:c], 0)
            for t, v in lay.runs(planes, L):
                if t == 0:
                    np.copyto(total, v)
                else:
                    total += v
            y[a:c] = lay.windows(total, c - a)

    _split(lay, N * C, part)
    return y.reshape((N, C) + tuple(out))


def sum_windows_grad(g, x_shape, k, s, p):
    """The gradient of sum_windows: g (N, C, OH, OW) added over each window into zeros of
    x_shape."""
    N, C, H, W = x_shape
    lay = _Layout(H, W, k, s, p, g.shape[2:], g.dtype)
    gs = _channels(g)
    gx = (np.zeros if lay.uncovered else np.empty)((N * C, H, W), dtype=g.dtype)

    def make(L):   # the junk positions of spread stay 0 for good
        return lay.planes(L, g.dtype), np.zeros(L, g.dtype)

    def part(lo, hi):
        for a, c, L, (planes, spread) in lay.blocks(lo, hi, make):
            planes.fill(0)
            lay.windows(spread, c - a)[...] = gs[a:c]
            for _, v in lay.runs(planes, L):
                v += spread
            lay.store(planes, gx[a:c])

    _split(lay, N * C, part)
    return gx.reshape(x_shape)
