"""Tests for dezero.functions.loss: MSE, softmax / sigmoid / binary cross entropy, accuracy."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dezero
import dezero.functions as F
from dezero import Variable, cuda
from dezero.utils import check_double_backward, gradient_check

rng = np.random.RandomState(0)
X = rng.randn(5, 4)
T = np.array([0, 3, 1, 3, 2])


def _ref_softmax_ce(x, t):
    x = x.astype(np.float64)
    logp = x - x.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(t)), t].mean()


# --- mean squared error -------------------------------------------------------------------
@pytest.mark.parametrize('f', [F.mean_squared_error, F.mean_squared_error_simple])
def test_mean_squared_error_value_divides_by_len(f, xp):
    a, b = rng.randn(3, 2), rng.randn(3, 2)
    y = f(Variable(xp.asarray(a)), Variable(xp.asarray(b)))
    np.testing.assert_allclose(cuda.as_numpy(y.data), ((a - b) ** 2).sum() / 3, rtol=1e-12)


@pytest.mark.parametrize('f', [F.mean_squared_error, F.mean_squared_error_simple])
def test_mean_squared_error_gradients(f, xp):
    a, b = xp.asarray(rng.randn(4, 3)), xp.asarray(rng.randn(4, 3))
    assert gradient_check(f, a, Variable(b))
    assert check_double_backward(f, a, b)
    assert check_double_backward(lambda x1, x0: f(x0, x1), b, a)


def test_mean_squared_error_keeps_float32():
    a = Variable(rng.randn(4, 1).astype(np.float32))
    b = Variable(rng.randn(4, 1).astype(np.float32))
    y = F.mean_squared_error(a, b)
    assert y.dtype == np.float32
    y.backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float32


@pytest.mark.parametrize('f,name', [(F.mean_squared_error, 'mean_squared_error'),
                                    (F.mean_squared_error_simple, 'mean_squared_error_simple')])
def test_mean_squared_error_shape_mismatch_is_a_value_error(f, name):
    with pytest.raises(ValueError, match=rf"{name}: .*same shape, got \(4, 2\) and \(3,\)"):
        f(np.zeros((4, 2)), np.zeros(3))


# --- softmax cross entropy ------------------------------------------------------------------
@pytest.mark.parametrize('f', [F.softmax_cross_entropy, F.softmax_cross_entropy_simple])
def test_softmax_cross_entropy_value(f, xp):
    y = f(Variable(xp.asarray(X)), xp.asarray(T))
    np.testing.assert_allclose(cuda.as_numpy(y.data), _ref_softmax_ce(X, T), rtol=1e-12)


@pytest.mark.parametrize('f', [F.softmax_cross_entropy, F.softmax_cross_entropy_simple])
def test_softmax_cross_entropy_gradients(f, xp):
    assert gradient_check(f, xp.asarray(X), xp.asarray(T))
    assert check_double_backward(f, xp.asarray(X), xp.asarray(T))


def test_softmax_cross_entropy_gradient_is_softmax_minus_onehot_over_n():
    x = Variable(X.copy())
    F.softmax_cross_entropy(x, T).backward()
    p = np.exp(X) / np.exp(X).sum(axis=1, keepdims=True)
    p[np.arange(5), T] -= 1
    np.testing.assert_allclose(x.grad.data, p / 5, rtol=1e-12, atol=1e-15)


def test_softmax_cross_entropy_create_graph_gradient_equals_fast_gradient():
    x = Variable(X.copy())
    F.softmax_cross_entropy(x, T, ignore_label=3).backward()
    fast = x.grad.data
    x.cleargrad()
    F.softmax_cross_entropy(x, T, ignore_label=3).backward(create_graph=True)
    assert x.grad.creator is not None
    np.testing.assert_allclose(x.grad.data, fast, rtol=1e-12, atol=1e-15)


def test_softmax_cross_entropy_accepts_variable_labels_and_float32():
    x = Variable(X.astype(np.float32))
    y = F.softmax_cross_entropy(x, Variable(T))
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(y.data, _ref_softmax_ce(X, T), rtol=1e-5)


def test_softmax_cross_entropy_ignore_label_averages_over_the_rest():
    t = np.array([0, -1, 1, -1, 2])
    keep = t != -1
    x = Variable(X.copy())
    y = F.softmax_cross_entropy(x, t, ignore_label=-1)
    np.testing.assert_allclose(y.data, _ref_softmax_ce(X[keep], t[keep]), rtol=1e-12)
    y.backward()
    np.testing.assert_array_equal(x.grad.data[~keep], 0)
    x_kept = Variable(X[keep])
    F.softmax_cross_entropy(x_kept, t[keep]).backward()
    np.testing.assert_allclose(x.grad.data[keep], x_kept.grad.data, rtol=1e-12)
    assert gradient_check(F.softmax_cross_entropy, X, t, ignore_label=-1)
    assert check_double_backward(F.softmax_cross_entropy, X, t, ignore_label=-1)


def test_softmax_cross_entropy_ignore_label_can_be_a_valid_class():
    y = F.softmax_cross_entropy(X, T, ignore_label=3)
    keep = T != 3
    np.testing.assert_allclose(y.data, _ref_softmax_ce(X[keep], T[keep]), rtol=1e-12)


def test_softmax_cross_entropy_all_ignored_is_zero_with_zero_gradient():
    x = Variable(X.copy())
    y = F.softmax_cross_entropy(x, np.full(5, -1), ignore_label=-1)
    assert float(y.data) == 0.0
    y.backward()
    np.testing.assert_array_equal(x.grad.data, 0)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_softmax_cross_entropy_is_stable_at_1000(dtype):
    x = Variable(np.array([[1000, -1000, 0], [-1000, 1000, -1000], [0, 0, 1000]], dtype=dtype))
    t = np.array([1, 1, 0])
    with np.errstate(over='raise', invalid='raise', divide='raise'):
        y = F.softmax_cross_entropy(x, t)
        y.backward()
    np.testing.assert_allclose(y.data, (2000 + 0 + 1000) / 3, rtol=1e-6)
    np.testing.assert_allclose(x.grad.data, np.array([[1, -1, 0], [0, 0, 0], [-1, 0, 1]]) / 3,
                               atol=1e-7)
    x.cleargrad()
    with np.errstate(over='raise', invalid='raise', divide='raise'):
        F.softmax_cross_entropy(x, t).backward(create_graph=True)
    assert np.all(np.isfinite(x.grad.data))


def test_softmax_cross_entropy_label_out_of_range_names_shapes_and_labels():
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: labels must lie in \[0, 4\) "
                                         r"for x of shape \(5, 4\), got labels in \[0, 4\]"):
        F.softmax_cross_entropy(X, np.array([0, 1, 2, 3, 4]))
    with pytest.raises(ValueError, match=r"got labels in \[-1, 3\]"):
        F.softmax_cross_entropy(X, np.array([0, -1, 2, 3, 3]))
    with pytest.raises(ValueError, match=r"or ignore_label=-2"):
        F.softmax_cross_entropy(X, np.array([0, -1, 2, 3, 3]), ignore_label=-2)
    with pytest.raises(ValueError, match=r"softmax_cross_entropy_simple: labels must lie"):
        F.softmax_cross_entropy_simple(X, np.array([0, 1, 2, 3, 9]))


def test_softmax_cross_entropy_bad_label_shape_and_type():
    with pytest.raises(ValueError, match=r"t must have shape \(5,\) to match x of shape "
                                         r"\(5, 4\), got shape \(5, 1\)"):
        F.softmax_cross_entropy(X, T.reshape(5, 1))
    with pytest.raises(TypeError, match=r"t must hold integer class labels, got dtype float64"):
        F.softmax_cross_entropy(X, T.astype(np.float64))
    with pytest.raises(ValueError, match=r"x must be logits of shape \(N, C\), got shape "
                                         r"\(5, 4, 1\)"):
        F.softmax_cross_entropy(X.reshape(5, 4, 1), T)


# --- sigmoid / binary cross entropy ------------------------------------------------------------
def _ref_bce(p, t):
    return -(t * np.log(p) + (1 - t) * np.log(1 - p)).sum() / len(p)


TB = (rng.rand(5, 4) > 0.5).astype(np.float64)


def test_sigmoid_cross_entropy_value(xp):
    y = F.sigmoid_cross_entropy(Variable(xp.asarray(X)), xp.asarray(TB))
    np.testing.assert_allclose(cuda.as_numpy(y.data), _ref_bce(1 / (1 + np.exp(-X)), TB),
                               rtol=1e-12)


def test_sigmoid_cross_entropy_gradients(xp):
    assert gradient_check(F.sigmoid_cross_entropy, xp.asarray(X), xp.asarray(TB))
    assert check_double_backward(F.sigmoid_cross_entropy, xp.asarray(X), xp.asarray(TB))


def test_sigmoid_cross_entropy_integer_targets_of_size_n_and_float32():
    x = Variable(X[:, :1].astype(np.float32))
    t = np.array([1, 0, 0, 1, 1])
    y = F.sigmoid_cross_entropy(x, t)
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(y.data, _ref_bce(1 / (1 + np.exp(-X[:, :1])), t[:, None]),
                               rtol=1e-5)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_sigmoid_cross_entropy_is_stable_at_1000(dtype):
    x = Variable(np.array([[1000, -1000], [1000, -1000]], dtype=dtype))
    t = np.array([[1, 0], [0, 1]])
    with np.errstate(over='raise', invalid='raise', divide='raise'):
        y = F.sigmoid_cross_entropy(x, t)
        y.backward()
    np.testing.assert_allclose(y.data, 2000 / 2, rtol=1e-6)
    np.testing.assert_allclose(x.grad.data, [[0, 0], [0.5, -0.5]], atol=1e-7)
    x.cleargrad()
    with np.errstate(over='raise', invalid='raise', divide='raise'):
        F.sigmoid_cross_entropy(x, t).backward(create_graph=True)
    np.testing.assert_allclose(x.grad.data, [[0, 0], [0.5, -0.5]], atol=1e-7)


def test_sigmoid_cross_entropy_bad_inputs():
    with pytest.raises(ValueError, match=r"sigmoid_cross_entropy: t must have the shape of the "
                                         r"input \(5, 4\), got shape \(5,\)"):
        F.sigmoid_cross_entropy(X, T)
    with pytest.raises(ValueError, match=r"sigmoid_cross_entropy: x must be a float array"):
        F.sigmoid_cross_entropy(np.array(1.0), np.array(1.0))


def test_binary_cross_entropy_value_and_agreement_with_sigmoid_cross_entropy(xp):
    p = 1 / (1 + np.exp(-X))
    y = F.binary_cross_entropy(Variable(xp.asarray(p)), xp.asarray(TB))
    np.testing.assert_allclose(cuda.as_numpy(y.data), _ref_bce(p, TB), rtol=1e-12)
    y2 = F.binary_cross_entropy(F.sigmoid(xp.asarray(X)), xp.asarray(TB))
    y3 = F.sigmoid_cross_entropy(xp.asarray(X), xp.asarray(TB))
    np.testing.assert_allclose(cuda.as_numpy(y2.data), cuda.as_numpy(y3.data), rtol=1e-10)


def test_binary_cross_entropy_gradients(xp):
    p = xp.asarray(rng.uniform(0.1, 0.9, size=(4, 3)))
    t = xp.asarray(rng.rand(4, 3))
    assert gradient_check(F.binary_cross_entropy, p, t)
    assert check_double_backward(F.binary_cross_entropy, p, t)
    # Through sigmoid, the composite gradient is (sigmoid(x) - t) / N.
    x = Variable(X.copy())
    F.binary_cross_entropy(F.sigmoid(x), TB).backward()
    np.testing.assert_allclose(x.grad.data, (1 / (1 + np.exp(-X)) - TB) / 5, rtol=1e-8)


def test_binary_cross_entropy_is_finite_at_0_and_1():
    p = Variable(np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32))
    t = np.array([[0, 1], [0, 1]])
    with np.errstate(over='raise', invalid='raise', divide='raise'):
        y = F.binary_cross_entropy(p, t)
        y.backward()
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, 200 / 2)  # the two wrong answers cost 100 each
    assert np.all(np.isfinite(p.grad.data))


def test_binary_cross_entropy_rejects_non_probabilities():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: p must hold probabilities in "
                                         r"\[0, 1\], got values in \[-0.5, 0.5\]"):
        F.binary_cross_entropy(np.array([-0.5, 0.5]), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: t must have the shape"):
        F.binary_cross_entropy(np.array([0.5, 0.5]), np.array([0, 1, 1]))


# --- accuracy ---------------------------------------------------------------------------------
def test_accuracy_counts_argmax_hits_without_a_graph(xp):
    y = Variable(xp.asarray([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]))
    acc = F.accuracy(y, xp.asarray([1, 1, 1, 0]))
    assert isinstance(acc, Variable) and acc.creator is None
    assert float(cuda.as_numpy(acc.data)) == 0.75


def test_accuracy_accepts_arrays_and_column_labels():
    assert float(F.accuracy(X, X.argmax(axis=1).reshape(5, 1)).data) == 1.0


def test_accuracy_shape_mismatch():
    with pytest.raises(ValueError, match=r"accuracy: .*got shapes \(5, 4\) and \(4,\)"):
        F.accuracy(X, T[:4])


def test_losses_record_no_graph_under_no_grad():
    with dezero.no_grad():
        y = F.softmax_cross_entropy(Variable(X), T)
    assert y.creator is None


def test_softmax_cross_entropy_rejects_integer_logits_and_takes_list_labels():
    with pytest.raises(TypeError, match=r"softmax_cross_entropy: x must hold float logits, got "
                                        r"dtype int64"):
        F.softmax_cross_entropy(np.zeros((2, 3), dtype=np.int64), np.array([0, 1]))
    y = F.softmax_cross_entropy(X, T.tolist())
    np.testing.assert_allclose(y.data, _ref_softmax_ce(X, T), rtol=1e-12)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 6), c=st.integers(1, 6), seed=st.integers(0, 2 ** 16),
       scale=st.sampled_from([1.0, 30.0, 1000.0]))
def test_softmax_cross_entropy_matches_reference_on_random_shapes(n, c, seed, scale):
    r = np.random.RandomState(seed)
    x = r.randn(n, c) * scale
    t = r.randint(0, c, n)
    t_ign = np.where(r.rand(n) < 0.3, -1, t)
    with np.errstate(over='raise', invalid='raise', divide='raise'):
        y = F.softmax_cross_entropy(x, t)
        y_ign = F.softmax_cross_entropy(x, t_ign, ignore_label=-1)
    np.testing.assert_allclose(y.data, _ref_softmax_ce(x, t), rtol=1e-10)
    keep = t_ign != -1
    expected = _ref_softmax_ce(x[keep], t[keep]) if keep.any() else 0.0
    np.testing.assert_allclose(y_ign.data, expected, rtol=1e-10)
