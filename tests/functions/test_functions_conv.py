"""conv2d, deconv2d, pooling, average_pooling, im2col and col2im against plain-loop
references, gradient checks (first and second order) and error messages."""
import importlib

import numpy as np
import pytest

import dezero.functions as F
import dezero.functions_conv as FC
from dezero import Variable
from dezero.utils import check_double_backward, gradient_check, pair

TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-10)}


# ---------------------------------------------------------------------------
# plain-loop references (float64)
# ---------------------------------------------------------------------------
def _pad(x, p, value=0.0):
    ph, pw = p
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def ref_conv2d(x, W, b, stride, pad, gy=None):
    """y, and (gx, gW, gb) for the given gy, by loops over every output element."""
    (sh, sw), (ph, pw) = pair(stride), pair(pad)
    N, C, H, Wd = x.shape
    OC, _, KH, KW = W.shape
    OH = (H + 2 * ph - KH) // sh + 1
    OW = (Wd + 2 * pw - KW) // sw + 1
    xp = _pad(x.astype(np.float64), (ph, pw))
    W = W.astype(np.float64)
    y = np.zeros((N, OC, OH, OW))
    gxp = np.zeros_like(xp)
    gW = np.zeros_like(W)
    for n in range(N):
        for o in range(OC):
            for i in range(OH):
                for j in range(OW):
                    win = xp[n, :, i * sh:i * sh + KH, j * sw:j * sw + KW]
                    y[n, o, i, j] = (win * W[o]).sum() + (0 if b is None else b[o])
                    if gy is not None:
                        g = gy[n, o, i, j]
                        gxp[n, :, i * sh:i * sh + KH, j * sw:j * sw + KW] += g * W[o]
                        gW[o] += g * win
    if gy is None:
        return y
    gx = gxp[:, :, ph:ph + H, pw:pw + Wd]
    return y, (gx, gW, gy.sum(axis=(0, 2, 3)))


def ref_deconv2d(x, W, b, stride, pad, outsize, gy=None):
    """Transposed convolution by scattering each input element times its kernel."""
    (sh, sw), (ph, pw) = pair(stride), pair(pad)
    N, C, H, Wd = x.shape
    _, OC, KH, KW = W.shape
    if outsize is None:
        outsize = (sh * (H - 1) + KH - 2 * ph, sw * (Wd - 1) + KW - 2 * pw)
    OH, OW = outsize
    x = x.astype(np.float64)
    W = W.astype(np.float64)
    yp = np.zeros((N, OC, OH + 2 * ph, OW + 2 * pw))
    gx = np.zeros_like(x)
    gW = np.zeros_like(W)
    gyp = None if gy is None else _pad(gy.astype(np.float64), (ph, pw))
    for n in range(N):
        for c in range(C):
            for i in range(H):
                for j in range(Wd):
                    sl = (n, slice(None), slice(i * sh, i * sh + KH), slice(j * sw, j * sw + KW))
                    yp[sl] += x[n, c, i, j] * W[c]
                    if gy is not None:
                        gx[n, c, i, j] = (gyp[sl] * W[c]).sum()
                        gW[c] += x[n, c, i, j] * gyp[sl]
    y = yp[:, :, ph:ph + OH, pw:pw + OW]
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    if gy is None:
        return y
    return y, (gx, gW, gy.sum(axis=(0, 2, 3)))


def ref_pool(x, k, s, p, gy, mode='max'):
    """Max (padding never wins; first maximum gets the gradient) or average pooling."""
    (KH, KW), (sh, sw), (ph, pw) = pair(k), pair(s), pair(p)
    N, C, H, W = x.shape
    OH = (H + 2 * ph - KH) // sh + 1
    OW = (W + 2 * pw - KW) // sw + 1
    xp = _pad(x.astype(np.float64), (ph, pw), -np.inf if mode == 'max' else 0.0)
    y = np.zeros((N, C, OH, OW))
    gxp = np.zeros_like(xp)
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    win = xp[n, c, i * sh:i * sh + KH, j * sw:j * sw + KW]
                    if mode == 'max':
                        a = int(np.argmax(win))
                        y[n, c, i, j] = win.flat[a]
                        gxp[n, c, i * sh + a // KW, j * sw + a % KW] += gy[n, c, i, j]
                    else:
                        y[n, c, i, j] = win.sum() / (KH * KW)
                        gxp[n, c, i * sh:i * sh + KH, j * sw:j * sw + KW] += \
                            gy[n, c, i, j] / (KH * KW)
    return y, gxp[:, :, ph:ph + H, pw:pw + W]


def ref_im2col(x, k, s, p):
    """(N*OH*OW, C*KH*KW): one row per output position, columns over (C, KH, KW)."""
    (KH, KW), (sh, sw), (ph, pw) = pair(k), pair(s), pair(p)
    N, C, H, W = x.shape
    OH = (H + 2 * ph - KH) // sh + 1
    OW = (W + 2 * pw - KW) // sw + 1
    xp = _pad(x, (ph, pw))
    rows = []
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                rows.append(xp[n, :, i * sh:i * sh + KH, j * sw:j * sw + KW].reshape(-1))
    return np.array(rows)


def _backward(y, gy):
    y.grad = Variable(gy)
    y.backward()


def _grad_of(f, n_inputs, seed=0):
    """A function of the same inputs returning the first gradient (create_graph=True) of a
    random weighting of f's output with respect to every input: checks second order."""
    rng = np.random.RandomState(seed)
    cache = {}

    def g(*inputs):
        y = f(*inputs)
        if 'w' not in cache:
            cache['w'] = rng.standard_normal(y.shape)
        for v in inputs[:n_inputs]:
            v.cleargrad()
        (y * cache['w'].astype(y.dtype)).sum().backward(create_graph=True)
        grads = [v.grad for v in inputs[:n_inputs]]
        for v in inputs[:n_inputs]:
            v.cleargrad()
        out = grads[0]
        for gv in grads[1:]:
            out = out + F.sum(gv) * 0.37  # fold every gradient into one output
        return out
    return g


# ---------------------------------------------------------------------------
# conv2d
# ---------------------------------------------------------------------------
CONV_CASES = [
    # x shape, W shape, stride, pad
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 0),
    ((2, 3, 6, 5), (4, 3, 3, 2), 1, 1),
    ((2, 2, 7, 6), (3, 2, 3, 3), 2, 1),
    ((1, 2, 8, 7), (2, 2, 2, 3), (2, 3), (0, 1)),
    ((2, 3, 4, 4), (5, 3, 1, 1), 1, 0),
    ((1, 1, 5, 5), (2, 1, 5, 5), 1, 0),
    ((1, 2, 6, 6), (2, 2, 2, 2), 3, 2),
    ((2, 2, 4, 5), (3, 2, 3, 3), 1, (2, 0)),
    # deep patches (C*KH*KW >= 256)
    ((2, 32, 5, 6), (3, 32, 3, 3), 1, 1),
    ((2, 4, 5, 6), (32, 4, 3, 3), 1, 1),     # its input gradient has the deep patches
    ((2, 30, 7, 6), (4, 30, 3, 3), 2, 1),
    # more output channels than patch rows: the weight gradient skips the flat layout
    ((2, 1, 6, 5), (12, 1, 3, 3), 1, 1),
    # deep patches, few output channels, little junk: the weight gradient's flat layout
    ((2, 8, 12, 12), (4, 8, 3, 3), 1, 1),
    # 3x3 stride 1 with 16+ input channels: Winograd F(2x2, 3x3) (dezero.functions._winograd)
    ((2, 16, 6, 6), (16, 16, 3, 3), 1, 1),   # whole tiles
    ((2, 17, 7, 5), (18, 17, 3, 3), 1, 0),   # odd output sizes: partial tiles
    ((1, 16, 3, 4), (16, 16, 3, 3), 1, (2, 1)),
]
# the cases above that run on Winograd (forward, input and weight gradients)
WINOGRAD_CASES = [c for c in CONV_CASES
                  if c[1][2:] == (3, 3) and c[2] == 1 and min(c[1][:2]) >= 16]


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('xs, ws, stride, pad', CONV_CASES)
def test_conv2d_forward_and_grads_match_loops(xs, ws, stride, pad, dtype):
    rng = np.random.RandomState(0)
    x = rng.randn(*xs).astype(dtype)
    W = rng.randn(*ws).astype(dtype)
    b = rng.randn(ws[0]).astype(dtype)
    y_ref = ref_conv2d(x, W, b, stride, pad)
    gy = rng.randn(*y_ref.shape).astype(dtype)
    _, (gx_ref, gW_ref, gb_ref) = ref_conv2d(x, W, b, stride, pad, gy)

    vx, vW, vb = Variable(x), Variable(W), Variable(b)
    y = F.conv2d(vx, vW, vb, stride=stride, pad=pad)
    assert y.dtype == dtype
    np.testing.assert_allclose(y.data, y_ref, **TOL[dtype])
    _backward(y, gy)
    for got, want in ((vx.grad, gx_ref), (vW.grad, gW_ref), (vb.grad, gb_ref)):
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got.data, want, **TOL[dtype])


@pytest.mark.parametrize('batch_major', [False, True])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('xs, ws, stride, pad', CONV_CASES)
def test_conv2d_weight_gradient_in_each_layout_matches_loops(monkeypatch, xs, ws, stride, pad,
                                                             dtype, batch_major):
    """The weight gradient's per-image layouts (flat, plain, either orientation) and the
    batch-major one (images side by side in one product), each forced on every case."""
    import dezero.functions.conv as conv_module
    monkeypatch.setattr(conv_module, 'BATCH_MAJOR_MAX_POSITIONS', 1 << 30 if batch_major else 0)
    test_conv2d_forward_and_grads_match_loops(xs, ws, stride, pad, dtype)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('xs, ws, stride, pad', CONV_CASES)
def test_conv2d_in_one_image_blocks_matches_loops(monkeypatch, xs, ws, stride, pad, dtype):
    """Every case again with the patch columns built one image at a time."""
    import dezero.functions.conv as conv_module
    monkeypatch.setattr(conv_module, '_COL_BLOCK_BYTES', 1)
    test_conv2d_forward_and_grads_match_loops(xs, ws, stride, pad, dtype)


@pytest.mark.parametrize('xs, ws, stride, pad', [((5, 2, 6, 5), (3, 2, 3, 3), 1, 1),
                                                 ((5, 1, 7, 7), (4, 1, 2, 3), (2, 1), 0)])
def test_conv2d_bias_row_in_blocks_of_two_images(monkeypatch, xs, ws, stride, pad):
    """The patch buffer with its row of ones (bias in the product) serves blocks of 2, 2
    and 1 images: one buffer a block size, the ones row still in place."""
    import dezero.functions.conv as conv_module
    k, s, p = (ws[2], ws[3]), pair(stride), pair(pad)
    OH = (xs[2] + 2 * p[0] - k[0]) // s[0] + 1
    per_image = conv_module._col_bytes(np.zeros(xs, np.float32), ws[1] * k[0] * k[1], OH, p)
    monkeypatch.setattr(conv_module, '_COL_BLOCK_BYTES', 2 * per_image)
    assert conv_module._blocks(np, 0, 5, per_image) == [(0, 2), (2, 4), (4, 5)]
    test_conv2d_forward_and_grads_match_loops(xs, ws, stride, pad, np.float32)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('xs, ws, stride, pad', CONV_CASES)
def test_conv2d_with_winograd_everywhere_matches_loops(monkeypatch, xs, ws, stride, pad, dtype):
    """Every case again with Winograd taken for any channel count, one image a block."""
    from dezero.functions import _winograd
    monkeypatch.setattr(_winograd, 'MIN_CHANNELS', 1)
    monkeypatch.setattr(_winograd, 'BLOCK_BYTES', 1)
    test_conv2d_forward_and_grads_match_loops(xs, ws, stride, pad, dtype)


@pytest.mark.parametrize('xs, ws, stride, pad', WINOGRAD_CASES)
def test_winograd_cases_take_the_winograd_path(monkeypatch, xs, ws, stride, pad):
    from dezero.functions import _winograd
    calls = []
    for name in ('conv3x3', 'conv3x3_grad_w'):
        original = getattr(_winograd, name)
        monkeypatch.setattr(_winograd, name,
                            lambda *a, _f=original, _n=name: calls.append(_n) or _f(*a))
    x, W = Variable(np.ones(xs, np.float32)), Variable(np.ones(ws, np.float32))
    F.sum(F.conv2d(x, W, stride=stride, pad=pad)).backward()
    # the forward, then the input gradient (the forward of the flipped kernel) and the
    # weight gradient
    assert sorted(calls) == ['conv3x3', 'conv3x3', 'conv3x3_grad_w']


@pytest.mark.parametrize('xs, ws, stride, pad, dtypes, applies', [
    ((1, 16, 4, 4), (16, 16, 3, 3), 1, 0, ('f4', 'f4'), True),
    ((1, 16, 4, 4), (16, 16, 3, 3), 1, 0, ('f8', 'f8'), True),
    ((1, 15, 4, 4), (16, 15, 3, 3), 1, 0, ('f4', 'f4'), False),   # too few input channels
    ((1, 16, 4, 4), (15, 16, 3, 3), 1, 0, ('f4', 'f4'), False),   # too few output channels
    ((1, 16, 4, 4), (16, 16, 3, 3), 2, 0, ('f4', 'f4'), False),   # stride 2
    ((1, 16, 6, 6), (16, 16, 5, 5), 1, 0, ('f4', 'f4'), False),   # 5x5
    ((1, 16, 4, 4), (16, 16, 3, 3), 1, 3, ('f4', 'f4'), False),   # pad 3: a tile of padding
    ((1, 16, 3, 1), (16, 16, 3, 3), 1, 1, ('f4', 'f4'), False),   # narrower than a tile
    ((1, 16, 4, 4), (16, 16, 3, 3), 1, 0, ('f2', 'f2'), False),   # float16
    ((1, 16, 4, 4), (16, 16, 3, 3), 1, 0, ('i8', 'i8'), False),   # integers
    ((1, 16, 4, 4), (16, 16, 3, 3), 1, 0, ('f4', 'f8'), False),   # mixed: NumPy promotes
])
def test_winograd_applies_to_float_3x3_stride_1_only(xs, ws, stride, pad, dtypes, applies):
    from dezero.functions import _winograd
    from dezero.functions._im2col import _args
    x, W = np.ones(xs, dtypes[0]), np.ones(ws, dtypes[1])
    k, s, p = _args('test', ws[2:], stride, pad)
    assert _winograd.applies(np, x, W, ws[0], k, s, p) is applies


def test_winograd_reads_strided_inputs():
    """x as a reversed, transposed view: the split copy reads any strides."""
    rng = np.random.RandomState(6)
    base = rng.randn(7, 6, 16, 2)                       # (W, H, C, N) in memory
    x = base.transpose(3, 2, 1, 0)[:, :, ::-1, :]        # (N, C, H, W), no unit stride
    W = rng.randn(16, 16, 3, 3)
    gy = rng.randn(2, 16, 6, 7)
    y_ref, (gx_ref, gW_ref, _) = ref_conv2d(x, W, None, 1, 1, gy)
    vx, vW = Variable(x), Variable(W)
    y = F.conv2d(vx, vW, stride=1, pad=1)
    _backward(y, gy)
    for got, want in ((y.data, y_ref), (vx.grad.data, gx_ref), (vW.grad.data, gW_ref)):
        np.testing.assert_allclose(got, want, **TOL[np.float64])


@pytest.mark.parametrize('bad', [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize('where', ['x', 'W', 'gy'])
def test_non_finite_values_give_what_the_column_path_gives(monkeypatch, bad, where):
    """Winograd's transforms would turn an inf into NaN: such calls take the column path."""
    from dezero.functions import _winograd
    xs, ws, stride, pad = WINOGRAD_CASES[0]
    rng = np.random.RandomState(0)
    arrays = {'x': rng.randn(*xs), 'W': rng.randn(*ws), 'gy': rng.randn(*xs[:1], ws[0], 6, 6)}
    arrays[where].flat[7] = bad

    def run():
        vx, vW = Variable(arrays['x']), Variable(arrays['W'])
        with np.errstate(invalid='ignore', over='ignore'):
            y = F.conv2d(vx, vW, stride=stride, pad=pad)
            _backward(y, arrays['gy'])
        return y.data, vx.grad.data, vW.grad.data
    got = run()
    monkeypatch.setattr(_winograd, 'MIN_CHANNELS', 1 << 30)
    for g, want in zip(got, run()):
        assert np.array_equal(np.isnan(g), np.isnan(want))
        assert np.array_equal(np.isinf(g), np.isinf(want))
        np.testing.assert_allclose(g, want, **TOL[np.float64])


def test_winograd_is_numpy_only(standin_gpu):
    from dezero.functions import _winograd
    x, W = np.ones((1, 16, 4, 4), 'f4'), np.ones((16, 16, 3, 3), 'f4')
    assert not _winograd.applies(standin_gpu, x, W, 16, (3, 3), (1, 1), (0, 0))


@pytest.mark.parametrize('threads, C, OC, size, weight_gradient, applies', [
    ('1', 16, 32, 14, False, True),
    ('1', 16, 32, 14, True, True),
    ('2', 16, 32, 14, False, False),   # split over threads: the column path scales better
    ('2', 16, 64, 14, True, False),    # C * OC = 1024 but 16 input channels
    ('2', 32, 32, 14, True, True),     # C * OC = 1024 from 32 input channels: still pays
    ('2', 32, 16, 14, True, False),    # C * OC = 512: not for the weight gradient
    ('2', 32, 16, 14, False, True),    # ... but the forward: 32 * 16 * 7 * 7 tiles >= 16384
    ('2', 32, 16, 7, False, False),    # 32 * 16 * 4 * 4 < 16384
])
def test_winograd_when_split_over_threads_needs_more_channels(monkeypatch, threads, C, OC,
                                                               size, weight_gradient,
                                                               applies):
    pytest.importorskip('threadpoolctl')
    from dezero import _parallel
    from dezero.functions import _winograd
    monkeypatch.setenv('DEZERO_NUM_THREADS', threads)
    if threads == '2' and not _parallel._blas_controllers():
        pytest.skip('no BLAS that threadpoolctl can pin: nothing is split')
    x, W = np.ones((64, C, size, size), 'f4'), np.ones((OC, C, 3, 3), 'f4')
    assert _winograd.applies(np, x, W, OC, (3, 3), (1, 1), (1, 1), weight_gradient) is applies


@pytest.mark.parametrize('xs, ws, stride, pad', CONV_CASES[:4])
def test_conv2d_simple_matches_conv2d(xs, ws, stride, pad):
    rng = np.random.RandomState(1)
    x, W, b = rng.randn(*xs), rng.randn(*ws), rng.randn(ws[0])
    y0 = F.conv2d(x, W, b, stride, pad)
    y1 = F.conv2d_simple(x, W, b, stride, pad)
    np.testing.assert_allclose(y1.data, y0.data, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize('xs, ws, stride, pad', [CONV_CASES[1], CONV_CASES[2], CONV_CASES[3]])
def test_conv2d_gradient_check(xs, ws, stride, pad):
    rng = np.random.RandomState(2)
    x, W, b = rng.randn(*xs), Variable(rng.randn(*ws)), Variable(rng.randn(ws[0]))
    assert gradient_check(F.conv2d, x, W, b, stride=stride, pad=pad)


@pytest.mark.parametrize('xs, ws, stride, pad', [CONV_CASES[1], CONV_CASES[3]])
def test_conv2d_double_backward(xs, ws, stride, pad):
    rng = np.random.RandomState(3)
    x, W = rng.randn(*xs), rng.randn(*ws)

    def f(x, W):
        return F.conv2d(x, W, stride=stride, pad=pad) ** 2
    assert check_double_backward(f, x, Variable(W))
    # second derivatives across x and W (Conv2DGradW's own backward included)
    g = _grad_of(lambda x, W: F.conv2d(x, W, stride=stride, pad=pad), 2)
    assert gradient_check(g, Variable(x), Variable(W))


@pytest.mark.parametrize('xs, ws, stride, pad, winograd', [
    (((1, 2, 11, 11), (1, 2, 3, 3), 1, 1, False)),   # the weight gradient's flat layout
    (CONV_CASES[2] + (False,)),    # strided
    (CONV_CASES[11] + (False,)),   # more output channels than patch rows: plain layout
    (((1, 2, 4, 5), (3, 2, 3, 3), 1, 1, True)),
])
def test_conv2d_bias_gradient_twice_differentiable(monkeypatch, xs, ws, stride, pad, winograd):
    """The bias gradient comes out of Conv2DGradW (with_bias) beside the weight gradient:
    its second derivatives (gy depending on x, W and b) reach all three inputs."""
    from dezero.functions import _winograd
    if winograd:
        monkeypatch.setattr(_winograd, 'MIN_CHANNELS', 1)
    rng = np.random.RandomState(4)
    x, W, b = rng.randn(*xs), rng.randn(*ws), rng.randn(ws[0])
    g = _grad_of(lambda x, W, b: F.conv2d(x, W, b, stride=stride, pad=pad) ** 2, 3)
    assert gradient_check(g, Variable(x), Variable(W), Variable(b))


@pytest.mark.parametrize('xs, ws, winograd', [((2, 3, 5, 5), (4, 3, 3, 3), False),
                                              ((2, 8, 12, 12), (4, 8, 3, 3), False),  # flat
                                              ((2, 1, 6, 5), (12, 1, 3, 3), False),
                                              ((2, 16, 6, 6), (16, 16, 3, 3), True)])
def test_conv2d_grad_w_with_bias_gives_the_sum_of_gy(xs, ws, winograd):
    from dezero.functions import _winograd
    from dezero.functions.conv import Conv2DGradW
    rng = np.random.RandomState(5)
    x = rng.randn(*xs).astype(np.float32)
    gy = rng.randn(xs[0], ws[0], xs[2], xs[3]).astype(np.float32)
    assert _winograd.applies(np, x, gy, ws[0], (3, 3), (1, 1), (1, 1)) == winograd
    gW, gb = Conv2DGradW((3, 3), 1, 1, with_bias=True)(x, gy)
    np.testing.assert_allclose(gW.data, Conv2DGradW((3, 3), 1, 1)(x, gy).data, rtol=1e-6)
    assert gb.dtype == np.float32
    np.testing.assert_allclose(gb.data, gy.sum(axis=(0, 2, 3)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('K, OC, out, padded_w, flat', [
    (72, 4, (12, 12), 14, True),     # the flat case of CONV_CASES
    (9, 16, (28, 28), 30, False),    # conv1 of benchmarks/bench_cnn.py: gy is the wider
    (144, 32, (14, 14), 16, False),  # conv2: gy has 32 / 144 >= 1/8 of the patch rows
    (288, 16, (14, 14), 16, True),   # 16 / 288 < 1/8, junk 13%
    (800, 64, (14, 14), 18, False),  # a 5x5 kernel: junk 26%
])
def test_weight_gradient_layout_rule(K, OC, out, padded_w, flat):
    from dezero.functions.conv import _flat_grad_w
    assert _flat_grad_w(K, OC, out, padded_w) is flat


@pytest.mark.parametrize('C, OC, in_hw, out_hw, flipped', [
    (4, 3, (3, 3), (5, 5), False),       # CONV_CASES[0]'s input gradient: scatter-adds
    (3, 32, (5, 6), (5, 6), True),       # CONV_CASES[8]'s: the flipped kernel
    (50, 20, (8, 8), (12, 12), False),   # LeNet's second 5x5 layer: 0.52x the time
    (16, 1, (28, 28), (28, 28), False),  # a thin output: 0.36x
    (32, 16, (14, 14), (14, 14), True),  # conv2 of benchmarks/bench_cnn.py: 0.7x flipped
    (32, 32, (28, 28), (28, 28), True),
])
def test_transposed_convolution_path_rule(C, OC, in_hw, out_hw, flipped):
    from dezero.functions.conv import _flipped_is_cheaper
    assert _flipped_is_cheaper(C, OC, in_hw, out_hw) is flipped


def test_conv2d_forward_writes_its_product_straight_into_the_output(monkeypatch):
    """The (OC, K) @ (K, L) product lands in y without a crop, deep patches included; only
    mixed dtypes go through the flat layout and its crop (where the product's dtype is
    cast)."""
    import dezero.functions.conv as conv_module
    calls = []
    original = conv_module._from_cols
    monkeypatch.setattr(conv_module, '_from_cols', lambda *a: calls.append(1) or original(*a))
    x, W = np.ones((2, 1, 6, 5)), np.ones((12, 1, 3, 3))
    y = F.conv2d(x, W, np.arange(12.0), pad=1)
    np.testing.assert_allclose(y.data[0, 5, 2, 2], 9 + 5)
    F.conv2d(np.ones((2, 32, 5, 6)), np.ones((3, 32, 3, 3)), pad=1)   # K = 288
    assert not calls
    y = F.conv2d(np.ones((2, 2, 5, 6), np.float32), np.ones((3, 2, 3, 3)), pad=1)
    assert calls and y.dtype == np.float64
    np.testing.assert_allclose(y.data[0, 0, 2, 2], 18)


@pytest.mark.parametrize('xs, ws, pad', [((1, 2, 4, 5), (3, 2, 3, 3), 1),
                                         ((2, 2, 4, 3), (2, 2, 3, 3), (0, 2))])
def test_winograd_gradient_check_and_double_backward(monkeypatch, xs, ws, pad):
    """First and second order through Winograd, taken here for any channel count (the
    numerical checks would take seconds at 16 channels)."""
    from dezero.functions import _winograd
    monkeypatch.setattr(_winograd, 'MIN_CHANNELS', 1)
    calls = []
    original = _winograd.conv3x3_grad_w
    monkeypatch.setattr(_winograd, 'conv3x3_grad_w', lambda *a: calls.append(1) or original(*a))
    test_conv2d_gradient_check(xs, ws, 1, pad)
    test_conv2d_double_backward(xs, ws, 1, pad)
    assert calls


def test_conv2d_keeps_float32_and_skips_grad_of_raw_input():
    x = np.random.randn(2, 1, 6, 6).astype(np.float32)
    W = Variable(np.random.randn(3, 1, 3, 3).astype(np.float32))
    b = Variable(np.zeros(3, dtype=np.float32))
    y = F.conv2d(x, W, b, pad=1)
    F.sum(y).backward()
    assert y.dtype == np.float32 and W.grad.dtype == np.float32 and b.grad.dtype == np.float32
    assert y.creator.inputs[0].grad is None  # a raw ndarray's gradient is never built


def test_conv2d_channel_mismatch_names_both_shapes():
    x = np.zeros((2, 3, 5, 5))
    W = np.zeros((4, 2, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: x has 3 channels \(shape \(2, 3, 5, 5\)\) "
                                         r"but W expects 2 input channels \(shape \(4, 2, 3, 3\)"):
        F.conv2d(x, W)


def test_conv2d_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=r"conv2d: kernel \(5, 3\) is larger than the padded "
                                         r"input \(4, 6\)"):
        F.conv2d(np.zeros((1, 1, 2, 4)), np.zeros((1, 1, 5, 3)), pad=1)


def test_conv2d_bad_arguments():
    x, W = np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: x must be 4-D, got shape \(4, 4\)"):
        F.conv2d(np.zeros((4, 4)), W)
    with pytest.raises(ValueError, match=r"conv2d: stride must be >= 1, got 0"):
        F.conv2d(x, W, stride=0)
    with pytest.raises(ValueError, match=r"conv2d: pad must be an int or a pair of ints"):
        F.conv2d(x, W, pad=1.5)
    with pytest.raises(ValueError, match=r"conv2d: b must have shape \(1,\)"):
        F.conv2d(x, W, np.zeros(2))


# ---------------------------------------------------------------------------
# deconv2d
# ---------------------------------------------------------------------------
DECONV_CASES = [
    # x shape, W shape (C, OC, KH, KW), stride, pad, outsize
    ((2, 3, 3, 4), (3, 2, 3, 3), 1, 0, None),
    ((2, 3, 3, 3), (3, 2, 3, 2), 2, 1, None),
    ((1, 2, 3, 4), (2, 3, 3, 3), 2, 1, (6, 8)),
    ((1, 2, 4, 3), (2, 2, 2, 3), (2, 3), (0, 1), None),
    ((2, 1, 3, 3), (1, 2, 4, 4), 2, 1, None),
    ((1, 2, 4, 4), (2, 2, 3, 3), 1, 1, (4, 4)),
    ((2, 16, 4, 5), (16, 16, 3, 3), 1, 1, None),  # Winograd forward and gradients
    ((1, 17, 3, 4), (17, 16, 3, 3), 1, 0, None),
    ((1, 2, 3, 3), (2, 3, 2, 2), 2, 0, (7, 7)),   # an outsize row and column no window reaches
    ((2, 3, 4, 3), (3, 2, 4, 4), 2, 1, None),     # DCGAN's upsampling: 4 planes, 2x2 shifts
]


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('xs, ws, stride, pad, outsize', DECONV_CASES)
def test_deconv2d_forward_and_grads_match_loops(xs, ws, stride, pad, outsize, dtype):
    rng = np.random.RandomState(4)
    x = rng.randn(*xs).astype(dtype)
    W = rng.randn(*ws).astype(dtype)
    b = rng.randn(ws[1]).astype(dtype)
    y_ref = ref_deconv2d(x, W, b, stride, pad, outsize)
    if outsize is not None:
        assert y_ref.shape[2:] == outsize
    gy = rng.randn(*y_ref.shape).astype(dtype)
    _, (gx_ref, gW_ref, gb_ref) = ref_deconv2d(x, W, b, stride, pad, outsize, gy)

    vx, vW, vb = Variable(x), Variable(W), Variable(b)
    y = F.deconv2d(vx, vW, vb, stride=stride, pad=pad, outsize=outsize)
    assert y.dtype == dtype and y.shape == y_ref.shape
    np.testing.assert_allclose(y.data, y_ref, **TOL[dtype])
    _backward(y, gy)
    for got, want in ((vx.grad, gx_ref), (vW.grad, gW_ref), (vb.grad, gb_ref)):
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got.data, want, **TOL[dtype])


def _random_deconv_geometries(count, seed=5):
    """(x shape, W shape, stride, pad, outsize) at random: kernels up to 4, strides up to 3,
    pads below the kernel, outsize the natural one or up to stride - 1 larger."""
    rng = np.random.RandomState(seed)
    cases = []
    while len(cases) < count:
        k = tuple(int(v) for v in rng.randint(1, 5, size=2))
        s = tuple(int(v) for v in rng.randint(1, 4, size=2))
        p = tuple(int(rng.randint(0, kk)) for kk in k)
        hw = tuple(int(v) for v in rng.randint(1, 5, size=2))
        natural = tuple(ss * (h - 1) + kk - 2 * pp for ss, h, kk, pp in zip(s, hw, k, p))
        if min(natural) < 1:
            continue
        extra = tuple(int(rng.randint(0, ss)) for ss in s)
        out = tuple(n + e for n, e in zip(natural, extra))
        C, OC = (int(v) for v in rng.randint(1, 4, size=2))
        cases.append(((2, C) + hw, (C, OC) + k, s, p, out))
    return cases


@pytest.mark.parametrize('xs, ws, stride, pad, outsize', _random_deconv_geometries(30))
def test_deconv2d_random_geometries_match_loops(xs, ws, stride, pad, outsize):
    """Every path of the transposed convolution (flipped kernel, flat scatter, stride-parity
    planes) and of its gradients against the loops, on random geometries."""
    test_deconv2d_forward_and_grads_match_loops(xs, ws, stride, pad, outsize, np.float64)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('xs, ws, stride, pad, outsize', DECONV_CASES)
def test_deconv2d_in_one_image_blocks_matches_loops(monkeypatch, xs, ws, stride, pad, outsize,
                                                    dtype):
    import dezero.functions.conv as conv_module
    monkeypatch.setattr(conv_module, '_COL_BLOCK_BYTES', 1)
    test_deconv2d_forward_and_grads_match_loops(xs, ws, stride, pad, outsize, dtype)


@pytest.mark.parametrize('xs, ws, stride, pad, outsize', [DECONV_CASES[0], DECONV_CASES[2]])
def test_deconv2d_gradient_check_and_double_backward(xs, ws, stride, pad, outsize):
    rng = np.random.RandomState(5)
    x, W, b = rng.randn(*xs), rng.randn(*ws), rng.randn(ws[1])
    kw = dict(stride=stride, pad=pad, outsize=outsize)
    assert gradient_check(F.deconv2d, x, Variable(W), Variable(b), **kw)
    assert check_double_backward(lambda x, W: F.deconv2d(x, W, **kw) ** 2, x, Variable(W))
    g = _grad_of(lambda x, W: F.deconv2d(x, W, **kw), 2)
    assert gradient_check(g, Variable(x), Variable(W))


def test_deconv2d_errors():
    with pytest.raises(ValueError, match=r"deconv2d: x has 3 channels \(shape \(1, 3, 2, 2\)\) "
                                         r"but W expects 2 input channels \(shape \(2, 4, 3, 3\)"):
        F.deconv2d(np.zeros((1, 3, 2, 2)), np.zeros((2, 4, 3, 3)))
    with pytest.raises(ValueError, match=r"deconv2d: outsize \(9, 9\) does not match .* use "
                                         r"outsize between \(7, 7\) and \(8, 8\)"):
        F.deconv2d(np.zeros((1, 2, 3, 3)), np.zeros((2, 1, 3, 3)), stride=2, pad=0,
                   outsize=(9, 9))
    with pytest.raises(ValueError, match=r"deconv2d: the output size \(-1, -1\)"):
        F.deconv2d(np.zeros((1, 2, 1, 1)), np.zeros((2, 1, 1, 1)), pad=1)


# ---------------------------------------------------------------------------
# im2col / col2im
# ---------------------------------------------------------------------------
IM2COL_CASES = [
    ((2, 3, 5, 4), (3, 2), 1, 0),
    ((1, 2, 6, 7), 3, 2, 1),
    ((2, 1, 5, 5), (2, 3), (1, 2), (1, 0)),
]


@pytest.mark.parametrize('xs, k, s, p', IM2COL_CASES)
def test_im2col_matches_loops_and_col2im_is_its_adjoint(xs, k, s, p):
    rng = np.random.RandomState(6)
    x = rng.randn(*xs)
    col = F.im2col_array(x, k, s, p, to_matrix=True)
    np.testing.assert_array_equal(col, ref_im2col(x, k, s, p))
    col6 = F.im2col_array(x, k, s, p, to_matrix=False)
    N, C = xs[:2]
    KH, KW = pair(k)
    assert col6.shape[:4] == (N, C, KH, KW)
    np.testing.assert_array_equal(col6.transpose(0, 4, 5, 1, 2, 3).reshape(col.shape), col)
    # <im2col(x), c> == <x, col2im(c)>: col2im is the transpose of im2col
    c = rng.randn(*col.shape)
    img = F.col2im_array(c, xs, k, s, p, to_matrix=True)
    assert img.shape == xs
    np.testing.assert_allclose((col * c).sum(), (x * img).sum(), rtol=1e-12)
    y = F.im2col(Variable(x), k, s, p)
    np.testing.assert_array_equal(y.data, col)
    z = F.col2im(Variable(c), xs, k, s, p)
    np.testing.assert_allclose(z.data, img, rtol=1e-12)


@pytest.mark.parametrize('to_matrix', [True, False])
def test_im2col_col2im_gradient_checks(to_matrix):
    rng = np.random.RandomState(7)
    xs, k, s, p = (1, 2, 4, 3), (2, 2), 1, (1, 0)
    x = rng.randn(*xs)
    assert gradient_check(F.im2col, x, k, s, p, to_matrix=to_matrix)
    assert check_double_backward(lambda x: F.im2col(x, k, s, p, to_matrix) ** 2, x)
    col = F.im2col_array(x, k, s, p, to_matrix=to_matrix)
    c = rng.randn(*col.shape)
    assert gradient_check(F.col2im, c, xs, k, s, p, to_matrix=to_matrix)
    assert check_double_backward(lambda c: F.col2im(c, xs, k, s, p, to_matrix) ** 2, c)


def test_col2im_rejects_wrong_col_shape():
    with pytest.raises(ValueError, match=r"col2im_array: col has shape \(5, 4\) but img_shape "
                                         r"\(1, 1, 3, 3\) .* needs \(4, 4\)"):
        F.col2im_array(np.zeros((5, 4)), (1, 1, 3, 3), 2, 1, 0)


# ---------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------
POOL_CASES = [
    # x shape, kernel, stride, pad
    ((2, 3, 4, 4), 2, 2, 0),
    ((2, 3, 5, 7), 2, 2, 0),
    ((2, 2, 6, 6), 3, 3, 0),
    ((1, 2, 5, 5), 3, 1, 1),
    ((1, 2, 7, 6), (3, 2), (2, 1), (1, 0)),
    ((2, 1, 6, 6), (1, 2), (1, 2), 0),
    ((2, 1, 6, 6), (2, 1), (2, 1), 0),
    ((1, 2, 7, 7), 2, 3, 1),
]


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('xs, k, s, p', POOL_CASES)
def test_pooling_forward_and_grad_match_loops(xs, k, s, p, dtype):
    rng = np.random.RandomState(8)
    x = rng.randn(*xs).astype(dtype)
    OH = (xs[2] + 2 * pair(p)[0] - pair(k)[0]) // pair(s)[0] + 1
    OW = (xs[3] + 2 * pair(p)[1] - pair(k)[1]) // pair(s)[1] + 1
    gy = rng.randn(xs[0], xs[1], OH, OW).astype(dtype)
    y_ref, gx_ref = ref_pool(x, k, s, p, gy, 'max')
    vx = Variable(x)
    y = F.pooling(vx, k, s, p)
    assert y.dtype == dtype and y.shape == y_ref.shape
    np.testing.assert_allclose(y.data, y_ref, **TOL[dtype])
    _backward(y, gy)
    assert vx.grad.dtype == dtype
    np.testing.assert_allclose(vx.grad.data, gx_ref, **TOL[dtype])


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('xs, k, s, p', POOL_CASES)
def test_average_pooling_forward_and_grad_match_loops(xs, k, s, p, dtype):
    rng = np.random.RandomState(9)
    x = rng.randn(*xs).astype(dtype)
    OH = (xs[2] + 2 * pair(p)[0] - pair(k)[0]) // pair(s)[0] + 1
    OW = (xs[3] + 2 * pair(p)[1] - pair(k)[1]) // pair(s)[1] + 1
    gy = rng.randn(xs[0], xs[1], OH, OW).astype(dtype)
    y_ref, gx_ref = ref_pool(x, k, s, p, gy, 'avg')
    vx = Variable(x)
    y = F.average_pooling(vx, k, s, p)
    assert y.dtype == dtype and y.shape == y_ref.shape
    np.testing.assert_allclose(y.data, y_ref, **TOL[dtype])
    _backward(y, gy)
    assert vx.grad.dtype == dtype
    np.testing.assert_allclose(vx.grad.data, gx_ref, **TOL[dtype])


@pytest.mark.parametrize('xs', [(3, 2, 6, 8), (3, 2, 5, 7)])   # the second crops a border
def test_pooling_2x2_one_image_a_block_matches_loops(monkeypatch, xs):
    """2x2 pooling copies a block of images at a time into planes: one image a block here,
    ties included (the first maximum in row-major order wins)."""
    pooling_module = importlib.import_module('dezero.functions.pooling')
    monkeypatch.setattr(pooling_module, '_PLANAR_BLOCK_BYTES', 1)
    rng = np.random.RandomState(15)
    x = rng.randint(-2, 3, size=xs).astype(np.float32)
    gy = rng.randn(xs[0], xs[1], xs[2] // 2, xs[3] // 2).astype(np.float32)
    y_ref, gx_ref = ref_pool(x, 2, 2, 0, gy, 'max')
    vx = Variable(x)
    y = F.pooling(vx, 2, 2)
    np.testing.assert_array_equal(y.data, y_ref)
    _backward(y, gy)
    np.testing.assert_allclose(vx.grad.data, gx_ref, rtol=1e-6, atol=1e-6)


# windows that overlap, are padded or leave a border: pooling on stride-parity planes
PLANE_CASES = [c for c in POOL_CASES if pair(c[1]) != pair(c[2]) or pair(c[3]) != (0, 0)] + [
    ((2, 3, 9, 8), 3, 2, 1),         # ResNet's stem pooling
    ((1, 2, 8, 9), (2, 3), (3, 2), (1, 1)),
    ((1, 1, 6, 6), 3, 3, 1),         # disjoint padded windows: their gradient is assigned
]


@pytest.mark.parametrize('dtype', [np.float16, np.float32, np.float64, np.longdouble,
                                   np.int32])
@pytest.mark.parametrize('xs, k, s, p', PLANE_CASES)
def test_pooling_planes_one_channel_a_block_match_loops(monkeypatch, xs, k, s, p, dtype):
    """Max pooling of overlapping or padded windows copies a block of channels at a time into
    stride-parity planes (dezero.functions._pool_planes): one channel a block here, ties
    included; longdouble takes the masked-add backward (no unsigned type of its size)."""
    from dezero.functions import _pool_planes
    monkeypatch.setattr(_pool_planes, '_BLOCK_BYTES', 1)
    rng = np.random.RandomState(16)
    x = rng.randint(-2, 3, size=xs).astype(dtype)
    k2, s2, p2 = pair(k), pair(s), pair(p)
    out = tuple((xs[i + 2] + 2 * p2[i] - k2[i]) // s2[i] + 1 for i in range(2))
    gy = rng.randint(-4, 5, size=xs[:2] + out).astype(dtype)
    y_ref, gx_ref = ref_pool(x, k, s, p, gy)
    y, idx = _pool_planes.max_windows(x, k2, s2, p2, out, np.uint8)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, y_ref.astype(dtype))
    gx = _pool_planes.max_windows_grad(gy, idx, xs, k2, s2, p2)
    assert gx.dtype == dtype
    np.testing.assert_array_equal(gx, gx_ref.astype(dtype))


def _random_pool_geometries(count, seed=21):
    """(x shape, kernel, stride, pad) drawn at random: kernels up to 4, strides up to 3, any
    pad below the kernel, inputs at least as large as the padded kernel."""
    rng = np.random.RandomState(seed)
    cases = []
    while len(cases) < count:
        k = tuple(rng.randint(1, 5, size=2))
        s = tuple(rng.randint(1, 4, size=2))
        p = tuple(rng.randint(0, kk) for kk in k)
        hw = tuple(max(kk - 2 * pp, 1) + rng.randint(0, 6) for kk, pp in zip(k, p))
        cases.append(((rng.randint(1, 3), rng.randint(1, 4)) + hw, k, s, p))
    return cases


@pytest.mark.parametrize('xs, k, s, p', _random_pool_geometries(40))
def test_pooling_random_geometries_match_loops(xs, k, s, p):
    """Every path of max pooling (planes, tiled 2x2, tiled reshapes) against the loops, on
    random window geometries with ties."""
    rng = np.random.RandomState(17)
    x = rng.randint(-3, 4, size=xs).astype(np.float32)
    vx = Variable(x)
    y = F.pooling(vx, k, s, p)
    gy = rng.randn(*y.shape).astype(np.float32)
    y_ref, gx_ref = ref_pool(x, k, s, p, gy)
    np.testing.assert_array_equal(y.data, y_ref.astype(np.float32))
    y.grad = Variable(gy)
    y.backward()
    np.testing.assert_allclose(vx.grad.data, gx_ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('one_channel_blocks', [False, True])
@pytest.mark.parametrize('xs, k, s, p', _random_pool_geometries(20, seed=22))
def test_average_pooling_random_geometries_match_loops(monkeypatch, xs, k, s, p,
                                                       one_channel_blocks):
    """Average pooling sums its windows on stride-parity planes (_pool_planes)."""
    if one_channel_blocks:
        from dezero.functions import _pool_planes
        monkeypatch.setattr(_pool_planes, '_BLOCK_BYTES', 1)
    rng = np.random.RandomState(18)
    x = rng.randn(*xs)
    vx = Variable(x)
    y = F.average_pooling(vx, k, s, p)
    gy = rng.randn(*y.shape)
    y_ref, gx_ref = ref_pool(x, k, s, p, gy, 'avg')
    np.testing.assert_allclose(y.data, y_ref, rtol=1e-12, atol=1e-12)
    y.grad = Variable(gy)
    y.backward()
    np.testing.assert_allclose(vx.grad.data, gx_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize('xs, k, s, p', PLANE_CASES[-3:])
def test_pooling_planes_keep_a_non_finite_gradient_at_its_arg_max(xs, k, s, p, bad):
    rng = np.random.RandomState(1)
    x = rng.randint(-2, 3, size=xs).astype(np.float32)
    vx = Variable(x)
    y = F.pooling(vx, k, s, p)
    gy = rng.randn(*y.shape).astype(np.float32)
    gy[0, 0, 1, 1] = bad
    _, gx_ref = ref_pool(x, k, s, p, gy)
    y.grad = Variable(gy)
    y.backward()
    # overlapping windows add in float32: rounding apart, the same, NaN and inf in place
    np.testing.assert_allclose(vx.grad.data, gx_ref, rtol=1e-6, atol=1e-6)


def test_pooling_planes_keep_negative_zero_gradients_of_disjoint_windows():
    x = np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6)
    vx = Variable(x)
    y = F.pooling(vx, 3, 3, 1)
    y.grad = Variable(np.full(y.shape, -0.0, dtype=np.float32))
    y.backward()
    assert np.signbit(vx.grad.data).sum() == y.size   # one -0.0 a window, at its max


def test_pooling_ties_send_gradient_to_first_maximum():
    x = Variable(np.ones((1, 1, 4, 4), dtype=np.float32))
    y = F.pooling(x, 2, 2)
    F.sum(y).backward()
    expected = np.zeros((4, 4), dtype=np.float32)
    expected[::2, ::2] = 1
    np.testing.assert_array_equal(x.grad.data[0, 0], expected)
    x.cleargrad()
    F.sum(F.pooling(x, 3, 1, 1)).backward()
    _, gx_ref = ref_pool(x.data, 3, 1, 1, np.ones((1, 1, 4, 4)))
    np.testing.assert_array_equal(x.grad.data, gx_ref)


@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf, None])
@pytest.mark.parametrize('xs, k', [((2, 3, 4, 6), 2), ((1, 2, 6, 6), (3, 2)),
                                   ((1, 2, 5, 4), 2)])  # the last does not tile exactly
def test_pooling_gradient_reaches_only_the_arg_max(xs, k, bad):
    """Both backward paths (planes through a strided view when the windows tile the input
    and gy is finite, else a scatter) send each gy to its window's first maximum only,
    a NaN or inf in gy included."""
    rng = np.random.RandomState(0)
    x = rng.randint(-2, 3, size=xs).astype(np.float32)  # ties
    pool = F.pooling(Variable(x), k, k)
    gy = rng.randn(*pool.shape).astype(np.float32)
    if bad is not None:
        gy[0, 0, 0, 0] = bad
    _, gx_ref = ref_pool(x, k, k, 0, gy)
    vx = Variable(x)
    y = F.pooling(vx, k, k)
    y.grad = Variable(gy)
    y.backward()
    np.testing.assert_array_equal(vx.grad.data, gx_ref.astype(np.float32))


@pytest.mark.parametrize('xs, k, s, p', [POOL_CASES[0], POOL_CASES[3], POOL_CASES[4]])
def test_pooling_gradient_checks(xs, k, s, p):
    # distinct, well separated values: the arg-max does not move under the finite differences
    rng = np.random.RandomState(10)
    x = rng.permutation(np.prod(xs)).reshape(xs) * 0.1
    assert gradient_check(F.pooling, x, k, s, p)
    assert check_double_backward(lambda x: F.pooling(x, k, s, p) ** 2, x)
    assert gradient_check(F.average_pooling, x, k, s, p)
    assert check_double_backward(lambda x: F.average_pooling(x, k, s, p) ** 2, x)


# pooling(relu(h)): the pooling's backward applies ReLU's mask to its (smaller) gy and the
# ReLU passes that gradient on (Pooling2D.backward); everything below compares with the
# unfolded walk: the same values, and the same bits where no two gradients meet.
RELU_POOL_CASES = [
    # h shape, kernel, stride, pad
    ((2, 3, 6, 8), 2, 2, 0),      # windows tile the input
    ((1, 2, 5, 7), 2, 2, 0),      # a cropped border
    ((2, 2, 6, 6), 3, 1, 1),      # overlapping windows, padding
    ((1, 3, 7, 7), 2, 3, 0),      # gaps between windows
]


def _relu_pool_input(xs, dtype, nan=False):
    """Values with dead windows (all <= 0), ties at 0, -0.0, and a NaN if asked (its
    window's max is NaN, its arg-max need not be: such a pooling does not fold)."""
    rng = np.random.RandomState(12)
    h = rng.randint(-3, 3, size=xs).astype(dtype)
    h[0, 0, :2, :2] = -1.0
    h[0, 0, 0, 3] = -0.0
    if nan:
        h[-1, -1, -1, -1] = np.nan
    return h


def _relu_pool_grads(monkeypatch, xs, k, s, p, dtype, fold, extra_use=False, nan=False):
    pooling_module = importlib.import_module('dezero.functions.pooling')  # F.pooling shadows it
    if not fold:
        monkeypatch.setattr(pooling_module.Pooling2D, '_relu_below', lambda self: None)
    h = Variable(_relu_pool_input(xs, dtype, nan))
    y = F.relu(h)
    z = F.pooling(y, k, s, p)
    w = np.random.RandomState(13).randn(*z.shape).astype(dtype)
    loss = F.sum(z * w)
    if extra_use:  # a second consumer of the ReLU's output: its gradients are added
        loss = loss + F.sum(y * np.full(y.shape, -0.5, dtype))
    loss.backward()
    monkeypatch.undo()
    return h.grad.data


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('extra_use, nan', [(False, False), (True, False), (False, True)])
@pytest.mark.parametrize('xs, k, s, p', RELU_POOL_CASES)
def test_pooling_of_relu_folds_the_mask_bit_for_bit(monkeypatch, xs, k, s, p, dtype, extra_use,
                                                    nan):
    folded = _relu_pool_grads(monkeypatch, xs, k, s, p, dtype, True, extra_use, nan)
    plain = _relu_pool_grads(monkeypatch, xs, k, s, p, dtype, False, extra_use, nan)
    assert folded.dtype == dtype
    np.testing.assert_array_equal(folded, plain)
    if not extra_use and pair(s)[0] >= pair(k)[0]:
        # Where several gradients meet at a dead window's arg-max (a second consumer,
        # overlapping windows) a zero's sign may differ: (g1 + g2) * 0 against g1*0 + g2*0.
        np.testing.assert_array_equal(np.signbit(folded), np.signbit(plain))


def test_pooling_of_relu_hands_its_gradient_through_the_relu(monkeypatch):
    """The ReLU's input gets the very array the pooling's backward made: no second pass."""
    pooling_module = importlib.import_module('dezero.functions.pooling')  # F.pooling shadows it
    made = []
    original = pooling_module.Pooling2DGrad.forward
    monkeypatch.setattr(pooling_module.Pooling2DGrad, 'forward',
                        lambda self, gy: made.append(original(self, gy)) or made[-1])
    h = Variable(_relu_pool_input((2, 3, 6, 8), np.float32))
    F.sum(F.pooling(F.relu(h), 2, 2)).backward()
    assert len(made) == 1 and h.grad.data is made[0]
    # a second use of the ReLU's output: the sum is masked by the ReLU as usual
    h.cleargrad()
    y = F.relu(h)
    (F.sum(F.pooling(y, 2, 2)) + F.sum(y)).backward()
    assert h.grad.data is not made[-1]


def test_pooling_of_relu_keeps_true_gradients_when_they_are_retained():
    """With retain_grad, the ReLU's output keeps its own gradient (unmasked: a dead window
    still sends gy to its arg-max), so nothing is folded."""
    h = Variable(-np.ones((1, 1, 2, 2), np.float32))   # one dead window: max 0
    y = F.relu(h)
    z = F.pooling(y, 2, 2)
    (z * 3.0).backward(retain_grad=True)
    np.testing.assert_array_equal(y.grad.data[0, 0], [[3.0, 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(h.grad.data, np.zeros((1, 1, 2, 2), np.float32))


def test_pooling_of_relu_twice_differentiable():
    rng = np.random.RandomState(14)
    h = rng.permutation(2 * 2 * 4 * 4).reshape(2, 2, 4, 4) * 0.1 - 1.2  # no ties, some dead
    g = _grad_of(lambda h: F.pooling(F.relu(h), 2, 2) ** 2, 1)
    assert gradient_check(g, Variable(h))


def test_pooling_simple_matches_pooling():
    x = np.random.RandomState(11).randn(2, 3, 6, 5)
    np.testing.assert_array_equal(F.pooling_simple(x, 2, 2).data, F.pooling(x, 2, 2).data)
    np.testing.assert_array_equal(F.pooling_simple(x, 3, 1).data, F.pooling(x, 3, 1).data)


def test_pooling_errors():
    with pytest.raises(ValueError, match=r"pooling: pad \(2, 2\) must be smaller than "
                                         r"kernel_size \(2, 2\)"):
        F.pooling(np.zeros((1, 1, 4, 4)), 2, 1, 2)
    with pytest.raises(ValueError, match=r"pooling: kernel \(5, 5\) is larger than the padded "
                                         r"input \(4, 4\)"):
        F.pooling(np.zeros((1, 1, 4, 4)), 5)
    with pytest.raises(ValueError, match=r"pooling: x must be 4-D \(N, C, H, W\), got shape "
                                         r"\(4, 4\)"):
        F.pooling(np.zeros((4, 4)), 2)
    with pytest.raises(ValueError, match=r"average_pooling: kernel_size must be >= 1"):
        F.average_pooling(np.zeros((1, 1, 4, 4)), 0)


def test_functions_conv_module_reexports():
    assert FC.conv2d is F.conv2d and FC.pooling is F.pooling and FC.im2col is F.im2col
    assert FC.get_conv_outsize(5, 3, 2, 1) == 3 and FC.get_deconv_outsize(3, 3, 2, 1) == 5


def test_pooling_backward_called_by_hand_does_not_fold():
    """Outside a backward walk (a backward called by hand, under no_grad too) the pooling
    gives its own gradient, unmasked."""
    import dezero
    from dezero.core import backward_on_arrays
    h = Variable(-np.ones((1, 1, 2, 2), np.float32))
    z = F.pooling(F.relu(h), 2, 2)
    assert not backward_on_arrays()
    with dezero.no_grad():
        assert not backward_on_arrays()
        gx = z.creator.backward(Variable(np.full((1, 1, 1, 1), 3.0, np.float32)))
    np.testing.assert_array_equal(gx.data[0, 0], [[3.0, 0.0], [0.0, 0.0]])
