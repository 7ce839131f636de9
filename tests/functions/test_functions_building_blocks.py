"""The functions added for PyTorch/Keras users: erf, gelu, elu, silu, softplus, hardtanh,
argmax/argmin, layer_norm, nll_loss, kl_div, huber_loss, label smoothing and
scaled_dot_product_attention. NumPy references, gradient checks of first and second
order in float64, float32 kept, bad inputs rejected with readable errors."""
import math

import numpy as np
import pytest

import dezero.functions as F
from dezero import Variable, cuda
from dezero.utils import check_double_backward, gradient_check

_erf = np.vectorize(math.erf)


def _smooth(shape, seed=0):
    # Away from the kinks at 0 and +-1 (elu, hardtanh) so finite differences do not straddle them.
    x = np.random.RandomState(seed).randn(*shape) * 1.5
    near = (np.abs(x) < 0.1) | (np.abs(np.abs(x) - 1) < 0.1)
    return np.where(near, 0.5, x)


def _softplus(x, beta=1.0):
    return np.log1p(np.exp(beta * x)) / beta


ELEMENTWISE = [
    # (name, f, numpy reference, smooth enough for a second derivative)
    ('erf', F.erf, _erf, True),
    ('gelu', F.gelu, lambda x: x * 0.5 * (1 + _erf(x / math.sqrt(2))), True),
    ('gelu_tanh', lambda x: F.gelu(x, approximate='tanh'),
     lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))), True),
    ('elu', F.elu, lambda x: np.where(x > 0, x, np.exp(x) - 1), True),
    ('elu_alpha', lambda x: F.elu(x, alpha=0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)),
     True),
    ('silu', F.silu, lambda x: x / (1 + np.exp(-x)), True),
    ('softplus', F.softplus, _softplus, True),
    ('softplus_beta', lambda x: F.softplus(x, beta=2), lambda x: _softplus(x, 2.0), True),
    ('hardtanh', F.hardtanh, lambda x: np.clip(x, -1, 1), True),
    ('hardtanh_range', lambda x: F.hardtanh(x, -0.5, 2), lambda x: np.clip(x, -0.5, 2), True),
]
IDS = [case[0] for case in ELEMENTWISE]


@pytest.mark.parametrize('name,f,ref,smooth', ELEMENTWISE, ids=IDS)
def test_elementwise_forward_matches_reference(name, f, ref, smooth, xp):
    x = _smooth((3, 4))
    y = f(Variable(xp.asarray(x)))
    np.testing.assert_allclose(cuda.as_numpy(y.data), ref(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('name,f,ref,smooth', ELEMENTWISE, ids=IDS)
def test_elementwise_float32_stays_float32_and_is_close(name, f, ref, smooth):
    x = _smooth((4, 5)).astype(np.float32)
    y = f(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, ref(x.astype(np.float64)), rtol=1e-5, atol=3e-7)
    y.backward()


@pytest.mark.parametrize('name,f,ref,smooth', ELEMENTWISE, ids=IDS)
def test_elementwise_gradients(name, f, ref, smooth, xp):
    x = xp.asarray(_smooth((3, 4), seed=2))
    assert gradient_check(f, x)
    if smooth:
        assert check_double_backward(f, x)


def test_softplus_and_elu_do_not_overflow():
    x = np.array([-1000.0, 0.0, 1000.0], np.float32)
    np.testing.assert_allclose(F.softplus(x).data, [0, math.log(2), 1000], rtol=1e-6)
    np.testing.assert_allclose(F.elu(x).data, [-1, 0, 1000])
    np.testing.assert_allclose(F.gelu(x).data, [0, 0, 1000])


def test_erf_and_gelu_of_integers_compute_in_float():
    assert F.erf(np.array([0, 1])).dtype == np.float64
    np.testing.assert_allclose(F.gelu(np.array([1, 2])).data, [0.8413447460685429,
                                                                1.9544997361036416])


def test_argmax_argmin_return_int_arrays_without_graph(xp):
    x = Variable(xp.asarray(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])))
    amax = F.argmax(x, axis=1)
    assert isinstance(amax, xp.ndarray) and amax.dtype == np.int64
    np.testing.assert_array_equal(cuda.as_numpy(amax), [1, 0])
    np.testing.assert_array_equal(cuda.as_numpy(F.argmin(x, axis=0)), [0, 1, 0])
    assert int(F.argmax(x)) == 3 and int(F.argmin(x.data)) == 4
    assert F.argmax(x, axis=-1, keepdims=True).shape == (2, 1)


# ---------------------------------------------------------------------------
# layer_norm
# ---------------------------------------------------------------------------
def _ref_layer_norm(x, g, b, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


@pytest.mark.parametrize('shape', [(4,), (3, 4), (2, 3, 5)])
def test_layer_norm_matches_reference_and_gradients(shape, xp):
    rng = np.random.RandomState(0)
    x, g, b = rng.randn(*shape), rng.randn(shape[-1]), rng.randn(shape[-1])
    y = F.layer_norm(xp.asarray(x), xp.asarray(g), xp.asarray(b))
    np.testing.assert_allclose(cuda.as_numpy(y.data), _ref_layer_norm(x, g, b), rtol=1e-10)
    args = (xp.asarray(x), Variable(xp.asarray(g)), Variable(xp.asarray(b)))
    assert gradient_check(F.layer_norm, *args)
    assert check_double_backward(F.layer_norm, *args)


def test_layer_norm_without_affine_and_float32():
    x = np.random.RandomState(1).randn(3, 6).astype(np.float32)
    y = F.layer_norm(x, None, None, eps=1e-6)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data.mean(axis=-1), 0, atol=1e-6)
    np.testing.assert_allclose(y.data.std(axis=-1), 1, atol=1e-4)
    assert gradient_check(lambda v: F.layer_norm(v, None, None), x.astype(np.float64))


# ---------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------
def _log_softmax(x):
    z = x - x.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


X = np.random.RandomState(3).randn(4, 5)
T = np.array([0, 4, 2, 2])


def test_nll_loss_of_log_softmax_is_cross_entropy():
    lp = _log_softmax(X)
    np.testing.assert_allclose(F.nll_loss(lp, T).data, -lp[np.arange(4), T].mean())
    np.testing.assert_allclose(F.nll_loss(F.log_softmax(X), T).data,
                               F.softmax_cross_entropy(X, T).data)
    assert gradient_check(lambda v: F.nll_loss(v, T), lp)
    t_ign = np.array([0, -1, 2, -1])
    np.testing.assert_allclose(F.nll_loss(lp, t_ign, ignore_label=-1).data,
                               -(lp[0, 0] + lp[2, 2]) / 2)


def test_kl_div_is_batchmean_and_differentiable_in_both():
    lp = _log_softmax(X)
    p = np.exp(_log_softmax(np.random.RandomState(4).randn(4, 5)))
    p[0, 1] = 0.0  # a zero target contributes nothing
    expected = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1)) - lp), 0).sum() / 4
    np.testing.assert_allclose(F.kl_div(lp, p).data, expected)
    np.testing.assert_allclose(F.kl_div(lp, np.log(p + 1e-300) * (p > 0) + (p == 0) * -1e3,
                                        log_target=True).data, expected, rtol=1e-6)
    assert gradient_check(F.kl_div, lp, Variable(p + 0.01))
    assert check_double_backward(F.kl_div, lp, Variable(p + 0.01))


@pytest.mark.parametrize('delta', [1.0, 0.5, 3])
def test_huber_loss_matches_reference(delta):
    t = np.random.RandomState(5).randn(4, 5) * 2
    d = X - t
    ref = np.where(np.abs(d) < delta, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta)).mean()
    np.testing.assert_allclose(F.huber_loss(X, t, delta=delta).data, ref)
    assert gradient_check(lambda a, b: F.huber_loss(a, b, delta=delta), X, Variable(t))
    assert F.huber_loss(X.astype(np.float32), t.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize('eps', [0.0, 0.1, 0.5])
def test_label_smoothing_matches_reference(eps):
    lp = _log_softmax(X)
    q = np.full_like(X, eps / 5)
    q[np.arange(4), T] += 1 - eps
    np.testing.assert_allclose(F.softmax_cross_entropy(X, T, label_smoothing=eps).data,
                               -(q * lp).sum() / 4, rtol=1e-12)
    f = lambda v: F.softmax_cross_entropy(v, T, label_smoothing=eps)  # noqa: E731 (a one-line closure handed to the gradient check)
    assert gradient_check(f, X)
    assert check_double_backward(f, X)
    y = F.softmax_cross_entropy(X.astype(np.float32), T, label_smoothing=eps)
    assert y.dtype == np.float32


# ---------------------------------------------------------------------------
# scaled_dot_product_attention
# ---------------------------------------------------------------------------
def _ref_attention(q, k, v, add=0.0):
    s = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1]) + add
    s = s - s.max(axis=-1, keepdims=True)
    w = np.exp(s)
    w /= w.sum(axis=-1, keepdims=True)
    return w @ v


def _qkv(seed=0):
    rng = np.random.RandomState(seed)
    return rng.randn(2, 3, 4), rng.randn(2, 5, 4), rng.randn(2, 5, 2)


def test_attention_without_mask(xp):
    q, k, v = _qkv()
    y = F.scaled_dot_product_attention(xp.asarray(q), xp.asarray(k), xp.asarray(v))
    np.testing.assert_allclose(cuda.as_numpy(y.data), _ref_attention(q, k, v), rtol=1e-10)


def test_attention_boolean_mask_keeps_true_positions():
    q, k, v = _qkv(1)
    mask = np.random.RandomState(2).rand(3, 5) > 0.4
    mask[:, 0] = True
    mask[:, 4] = False
    y = F.scaled_dot_product_attention(q, k, v, mask=mask)
    np.testing.assert_allclose(y.data, _ref_attention(q, k, v, np.where(mask, 0, -1e30)),
                               rtol=1e-10)
    # a masked key does not change the output
    v2 = v.copy()
    v2[:, 4] += 100
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v2, mask=mask).data, y.data)
    f = lambda a, b, c: F.scaled_dot_product_attention(a, b, c, mask=mask)  # noqa: E731 (a one-line closure handed to the gradient check)
    assert gradient_check(f, q, Variable(k), Variable(v))
    assert check_double_backward(f, q, Variable(k), Variable(v))


def test_attention_float_mask_is_added_and_causal_mask():
    q, k, v = _qkv(3)
    add = np.random.RandomState(4).randn(3, 5)
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v, mask=add).data,
                               _ref_attention(q, k, v, add), rtol=1e-10)
    causal = F.causal_mask(3, 5)
    assert causal.dtype == bool and causal[0].tolist() == [True, False, False, False, False]
    y = F.scaled_dot_product_attention(q[:, :1], k, v, mask=causal[:1])
    np.testing.assert_allclose(y.data[:, 0], v[:, 0])  # only the first key is visible


def test_attention_float32_stays_float32():
    q, k, v = (a.astype(np.float32) for a in _qkv())
    y = F.scaled_dot_product_attention(q, k, v, mask=F.causal_mask(3, 5))
    assert y.dtype == np.float32
    F.sum(y).backward()


# ---------------------------------------------------------------------------
# bad inputs
# ---------------------------------------------------------------------------
BAD = [
    (lambda: F.gelu(X, approximate='fast'), ValueError, r"gelu: approximate must be 'none' or"),
    (lambda: F.elu(X, alpha='1'), TypeError, r'elu: alpha must be a real number'),
    (lambda: F.softplus(X, beta=0), ValueError, r'softplus: beta must be positive'),
    (lambda: F.hardtanh(X, 1, -1), ValueError, r'hardtanh: min_val must be below max_val'),
    (lambda: F.argmax(X, axis=2), ValueError, r'argmax: axis must be None or an int in'),
    (lambda: F.argmin(np.zeros((0,))), ValueError, r'argmin: the input has no elements'),
    (lambda: F.layer_norm(X, np.ones(4), np.zeros(5)), ValueError,
     r'layer_norm: gamma must have shape \(5,\)'),
    (lambda: F.layer_norm(np.ones((2, 3), int), None, None), ValueError,
     r'layer_norm: x must be a float array'),
    (lambda: F.layer_norm(X, None, None, eps=-1), ValueError, r'eps must be a non-negative'),
    (lambda: F.nll_loss(X, np.array([0, 1])), ValueError, r'nll_loss: t must have shape \(4,\)'),
    (lambda: F.nll_loss(X, T.astype(float)), TypeError, r'nll_loss: t must hold integer'),
    (lambda: F.nll_loss(X, np.array([0, 1, 2, 5])), ValueError, r'labels must lie in \[0, 5\)'),
    (lambda: F.kl_div(X, X[:2]), ValueError, r'kl_div: x and t must have the same shape'),
    (lambda: F.huber_loss(X, X[:2]), ValueError, r'huber_loss: the two inputs must have the'),
    (lambda: F.huber_loss(X, X, delta=0), ValueError, r'huber_loss: delta must be a positive'),
    (lambda: F.softmax_cross_entropy(X, T, label_smoothing=1.0), ValueError,
     r'label_smoothing must be a number in \[0, 1\)'),
    (lambda: F.scaled_dot_product_attention(*_qkv()[:2], np.ones((2, 4, 2))), ValueError,
     r'do not fit'),
    (lambda: F.scaled_dot_product_attention(np.ones(4), np.ones(4), np.ones(4)), ValueError,
     r'q must be a float array of shape \(\.\.\., L, E\)'),
    (lambda: F.scaled_dot_product_attention(*_qkv(), mask=np.ones((4, 5), bool)), ValueError,
     r'mask of shape \(4, 5\) does not broadcast'),
    (lambda: F.scaled_dot_product_attention(*_qkv(), mask=np.ones((3, 5), int)), TypeError,
     r'mask must be boolean \(True = attend\) or float'),
]


@pytest.mark.parametrize('call,error,message', BAD)
def test_bad_inputs_are_readable_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
