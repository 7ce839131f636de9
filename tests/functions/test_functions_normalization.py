"""Tests for dezero.functions.normalization: dropout and batch_norm."""
import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero import Variable, cuda
from dezero.utils import check_double_backward, gradient_check


# --- dropout --------------------------------------------------------------------------------
def test_dropout_draws_the_books_mask_and_scales_by_one_over_keep(xp):
    x = xp.asarray(np.random.RandomState(0).randn(4, 5).astype(np.float32))
    xp.random.seed(3)
    mask = xp.random.rand(4, 5) > 0.3
    xp.random.seed(3)
    y = F.dropout(Variable(x), dropout_ratio=0.3)
    assert y.dtype == np.float32
    expected = cuda.as_numpy(x * mask / np.float32(0.7))
    np.testing.assert_allclose(cuda.as_numpy(y.data), expected, rtol=1e-6)


def test_dropout_accepts_numpy_ratios():
    np.random.seed(0)
    y = F.dropout(np.ones((2, 2), dtype=np.float32), np.float32(0.25))
    assert y.dtype == np.float32
    np.random.seed(0)
    np.testing.assert_allclose(y.data, (np.random.rand(2, 2) > 0.25) / 0.75, rtol=1e-6)


def test_dropout_gradient_is_the_scaled_mask():
    x = Variable(np.ones((3, 4)))
    np.random.seed(0)
    y = F.dropout(x, 0.5)
    y.backward()
    np.random.seed(0)
    mask = np.random.rand(3, 4) > 0.5
    np.testing.assert_array_equal(x.grad.data, mask * 2.0)
    np.testing.assert_array_equal(y.data, mask * 2.0)


def _seeded_dropout(x):
    np.random.seed(7)
    return F.dropout(x, 0.4)


def test_dropout_gradient_check_with_a_fixed_seed():
    x = np.random.RandomState(1).randn(3, 4)
    assert gradient_check(_seeded_dropout, x)
    assert check_double_backward(_seeded_dropout, x)


def test_dropout_is_the_identity_in_test_mode_and_draws_nothing():
    x = Variable(np.random.RandomState(0).randn(3, 3))
    np.random.seed(5)
    state = np.random.get_state()[1].copy()
    with dezero.test_mode():
        y = F.dropout(x, 0.9)
    assert y is x
    np.testing.assert_array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize('ratio', [1.0, -0.1, 'half', None])
def test_dropout_rejects_bad_ratios(ratio):
    with pytest.raises(ValueError, match=r"dropout: dropout_ratio must be a number in \[0, 1\)"):
        F.dropout(np.zeros(3), ratio)


# --- batch_norm -----------------------------------------------------------------------------
SHAPES = [(8, 3), (4, 3, 2, 2)]


def _stats_axes(shape):
    return (0,) + tuple(range(2, len(shape)))


def _params(c=3, seed=0):
    r = np.random.RandomState(seed)
    return Variable(r.rand(c) + 0.5), Variable(r.randn(c))


def _ref_train(x, gamma, beta, eps=2e-5):
    axes = _stats_axes(x.shape)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return gamma.reshape(shape) * (x - mu) / np.sqrt(var + eps) + beta.reshape(shape)


@pytest.mark.parametrize('shape', SHAPES)
def test_batch_norm_train_forward_and_running_stats_in_place(shape, xp):
    x = np.random.RandomState(2).randn(*shape) * 3 + 1
    gamma, beta = _params()
    mean = xp.asarray(np.array([0.5, -0.5, 0.0]))
    var = xp.asarray(np.array([1.0, 2.0, 3.0]))
    mean0, var0 = cuda.as_numpy(mean).copy(), cuda.as_numpy(var).copy()
    mean_id, var_id = id(mean), id(var)
    y = F.batch_norm(xp.asarray(x), xp.asarray(gamma.data), xp.asarray(beta.data), mean, var,
                     decay=0.8)
    np.testing.assert_allclose(cuda.as_numpy(y.data), _ref_train(x, gamma.data, beta.data),
                               rtol=1e-10, atol=1e-12)
    axes = _stats_axes(shape)
    m = x.size // 3
    assert id(mean) == mean_id and id(var) == var_id
    np.testing.assert_allclose(cuda.as_numpy(mean), 0.8 * mean0 + 0.2 * x.mean(axis=axes),
                               rtol=1e-12)
    np.testing.assert_allclose(cuda.as_numpy(var),
                               0.8 * var0 + 0.2 * x.var(axis=axes) * m / (m - 1), rtol=1e-12)


@pytest.mark.parametrize('shape', SHAPES)
def test_batch_norm_test_mode_uses_and_keeps_running_stats(shape, xp):
    x = np.random.RandomState(3).randn(*shape)
    gamma, beta = _params()
    mean, var = np.array([0.5, -0.5, 0.0]), np.array([1.0, 2.0, 3.0])
    mean_d, var_d = xp.asarray(mean), xp.asarray(var)
    with dezero.test_mode():
        y = F.batch_norm(xp.asarray(x), xp.asarray(gamma.data), xp.asarray(beta.data),
                         mean_d, var_d)
    pshape = (1, 3) + (1,) * (len(shape) - 2)
    expected = (gamma.data.reshape(pshape) * (x - mean.reshape(pshape))
                / np.sqrt(var.reshape(pshape) + 2e-5) + beta.data.reshape(pshape))
    np.testing.assert_allclose(cuda.as_numpy(y.data), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(cuda.as_numpy(mean_d), mean)
    np.testing.assert_array_equal(cuda.as_numpy(var_d), var)


@pytest.mark.parametrize('shape', SHAPES)
@pytest.mark.parametrize('train', [True, False])
def test_batch_norm_gradient_check(shape, train, xp):
    x = xp.asarray(np.random.RandomState(4).randn(*shape))
    gamma, beta = _params()
    gamma.data, beta.data = xp.asarray(gamma.data), xp.asarray(beta.data)
    mean, var = xp.zeros(3), xp.ones(3) * 1.5
    with dezero.using_config('train', train):
        assert gradient_check(F.batch_norm, x, gamma, beta, mean, var)


@pytest.mark.parametrize('shape', SHAPES)
@pytest.mark.parametrize('train', [True, False])
def test_batch_norm_double_backward(shape, train):
    x = np.random.RandomState(5).randn(*shape)
    gamma, beta = _params()
    mean, var = np.zeros(3), np.ones(3) * 1.5
    with dezero.using_config('train', train):
        assert check_double_backward(F.batch_norm, x, gamma, beta, mean, var)
        # Second derivatives that mix gamma and x.
        assert check_double_backward(
            lambda g, x_: F.batch_norm(x_, g, beta.data, mean, var), gamma.data, x)


@pytest.mark.parametrize('shape', SHAPES)
def test_batch_norm_create_graph_gradients_equal_fast_gradients(shape):
    x = Variable(np.random.RandomState(6).randn(*shape))
    gamma, beta = _params()
    w = np.random.RandomState(7).randn(*shape)
    grads = []
    for create_graph in (False, True):
        for v in (x, gamma, beta):
            v.cleargrad()
        (F.batch_norm(x, gamma, beta, np.zeros(3), np.ones(3)) * w).sum().backward(
            create_graph=create_graph)
        grads.append([v.grad.data for v in (x, gamma, beta)])
    for fast, graph in zip(*grads):
        np.testing.assert_allclose(graph, fast, rtol=1e-10, atol=1e-12)


def test_batch_norm_keeps_float32_and_the_alias():
    x = Variable(np.random.RandomState(8).randn(6, 3).astype(np.float32))
    gamma = Variable(np.ones(3, dtype=np.float32))
    beta = Variable(np.zeros(3, dtype=np.float32))
    mean, var = np.zeros(3, dtype=np.float32), np.ones(3, dtype=np.float32)
    assert F.batch_nrom is F.batch_norm
    y = F.batch_nrom(x, gamma, beta, mean, var)
    assert y.dtype == np.float32 and mean.dtype == np.float32 and var.dtype == np.float32
    y.backward()
    assert x.grad.dtype == gamma.grad.dtype == beta.grad.dtype == np.float32
    with dezero.test_mode():
        assert F.batch_norm(x, gamma, beta, mean, var).dtype == np.float32
    # Normalised: per-channel mean 0 and variance 1 (up to eps).
    np.testing.assert_allclose(y.data.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(y.data.var(axis=0), 1, atol=1e-3)


def test_batch_norm_accepts_running_stats_as_variables():
    mean, var = Variable(np.zeros(3)), Variable(np.ones(3))
    F.batch_norm(np.arange(6.0).reshape(2, 3), np.ones(3), np.zeros(3), mean, var)
    np.testing.assert_allclose(mean.data, [0.15, 0.25, 0.35])


def test_batch_norm_shape_errors():
    with pytest.raises(ValueError, match=r"batch_norm: gamma must have shape \(3,\) to match the "
                                         r"3 channels of x of shape \(2, 3\), got shape \(4,\)"):
        F.batch_norm(np.zeros((2, 3)), np.ones(4), np.zeros(3), np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match=r"batch_norm: var must have shape \(3,\)"):
        F.batch_norm(np.zeros((2, 3)), np.ones(3), np.zeros(3), np.zeros(3), np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"batch_norm: x must have shape \(N, C\) or "
                                         r"\(N, C, H, W\), got shape \(3,\)"):
        F.batch_norm(np.zeros(3), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3))


@pytest.mark.parametrize('shape', [(7, 5, 6), (3, 4), (6,)])
def test_layer_norm_in_row_blocks_matches_one_block(monkeypatch, shape):
    """Large inputs run in blocks of rows (in cache): the same values as one block, each
    row's statistics being its own."""
    from dezero.functions import normalization
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    gamma, beta = rng.standard_normal(shape[-1]), rng.standard_normal(shape[-1])
    gy = rng.standard_normal(shape)

    def run(block_bytes):
        monkeypatch.setattr(normalization, '_LN_BLOCK_BYTES', block_bytes)
        xs = [Variable(a.copy()) for a in (x, gamma, beta)]
        y = F.layer_norm(*xs)
        y.backward(gradient=gy)
        return [y.data] + [v.grad.data for v in xs]

    one, blocked = run(1 << 30), run(8 * shape[-1] * 2)   # two rows a block
    for a, b in zip(one, blocked):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(blocked[0], one[0])     # rows alone: the same bits


@pytest.mark.parametrize('shape', [(0, 4), (3, 0), (2, 3, 0)])
def test_layer_norm_of_empty_inputs_has_empty_gradients_and_no_warnings(shape):
    import warnings
    d = shape[-1]
    xs = [Variable(np.zeros(shape)), Variable(np.ones(d)), Variable(np.zeros(d))]
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        y = F.layer_norm(*xs)
        y.backward()
    assert y.shape == shape and xs[0].grad.shape == shape
    for p in xs[1:]:
        np.testing.assert_array_equal(p.grad.data, np.zeros(d))
