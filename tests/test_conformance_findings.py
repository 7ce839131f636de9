"""The conformance findings of issue 12, one test each: integer and bool inputs, dtype leaks,
empty and 0-d inputs, error messages naming the op, and the book's gradient_check on integer
arrays. Each of these failed before the fix it names."""
import warnings

import numpy as np
import pytest

import dezero.functions as F
import dezero.layers as L
from dezero import Variable, cuda
from dezero.utils import check_double_backward, gradient_check

INT = np.array([[1, 2, 3], [4, 5, 6]])
BOOL = np.array([[True, False], [False, True]])


def _grad(f, data):
    x = Variable(data)
    y = f(x)
    y.backward()
    return y, x.grad


# --- average_pooling on integer images ------------------------------------------------------
@pytest.mark.parametrize('dtype', [np.int64, np.int32, np.uint8])
def test_average_pooling_of_integers_is_the_float_mean(dtype, xp):
    x = xp.asarray(np.array([[[[1, 2], [3, 5]]]], dtype=dtype))
    y, gx = _grad(lambda v: F.average_pooling(v, 2), x)
    assert y.dtype == np.float64
    np.testing.assert_allclose(cuda.as_numpy(y.data), [[[[2.75]]]])
    np.testing.assert_allclose(cuda.as_numpy(gx.data), np.full((1, 1, 2, 2), 0.25))


# --- gradient_check casts integer inputs to float64, as the book does -----------------------
@pytest.mark.parametrize('f', [
    F.transpose, F.relu, F.sigmoid, F.softmax, F.exp, F.sum, F.log_softmax,
    lambda x: F.reshape(x, (3, 2)), lambda x: F.im2col(x.reshape(1, 1, 2, 3), 2)],
    ids=['transpose', 'relu', 'sigmoid', 'softmax', 'exp', 'sum', 'log_softmax', 'reshape',
         'im2col'])
def test_gradient_check_accepts_the_books_integer_arrays(f):
    assert gradient_check(f, INT)
    assert check_double_backward(F.exp, INT)


def test_utils_gradient_check_casts_variable_and_bool_inputs():
    x = Variable(INT.copy())
    assert gradient_check(F.sigmoid, x)
    assert x.dtype == np.float64
    assert gradient_check(lambda a, b: a * b, INT, Variable(INT.T.copy().T))
    assert gradient_check(F.exp, BOOL)


# --- integer and bool inputs compute in floating point --------------------------------------
@pytest.mark.parametrize('f,ref', [
    (F.softmax, lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
    (F.log_softmax, lambda x: np.log(np.exp(x) / np.exp(x).sum(1, keepdims=True))),
    (F.logsumexp, lambda x: np.log(np.exp(x).sum(1))),
    (F.max, lambda x: x.max()), (F.min, lambda x: x.min()),
    (F.leaky_relu, lambda x: np.where(x > 0, x, 0.2 * x)),
    (lambda x: 1 / x, lambda x: 1 / x), (F.abs, np.abs),
], ids=['softmax', 'log_softmax', 'logsumexp', 'max', 'min', 'leaky_relu', 'rdiv', 'abs'])
@pytest.mark.parametrize('data', [INT, -INT, BOOL], ids=['int', 'negint', 'bool'])
def test_integer_and_bool_inputs_forward_and_backward(f, ref, data):
    if data is BOOL and f is not F.abs and f is not F.softmax:
        data = data.astype(np.int64) + 1  # 1/x of False is a division by zero
    y, gx = _grad(f, data)
    with np.errstate(divide='ignore'):
        expected = ref(data.astype(np.float64))
    np.testing.assert_allclose(cuda.as_numpy(y.data).astype(np.float64), expected, rtol=1e-3)
    assert gx.dtype.kind == 'f' and gx.shape == data.shape


def test_softmax_of_bool_follows_numpy_exp_dtype():
    assert F.softmax(BOOL).dtype == np.exp(BOOL).dtype == np.float16


def test_integer_leaf_gets_a_float_gradient():
    _, gx = _grad(F.transpose, INT)
    assert gx.dtype == np.float64


@pytest.mark.parametrize('x,lo,hi', [
    (np.array([1, 2, 3]), 0.5, 2.5), (np.array([1, 2, 3], np.int8), 0, 2),
    (np.array([1., 2., 3.], np.float32), np.float64(0.5), 2.5)])
def test_clip_promotes_like_numpy(x, lo, hi):
    y = F.clip(x, lo, hi).data
    expected = np.clip(x, lo, hi) if x.dtype.kind != 'f' else np.clip(x, np.float32(lo), hi)
    assert y.dtype == expected.dtype
    np.testing.assert_array_equal(y, expected)


# --- pow --------------------------------------------------------------------------------
def test_pow_with_an_array_exponent_sums_the_gradient_to_x():
    x = Variable(np.array(2.0))
    y = x ** np.array([1., 2., 3.])
    y.backward()
    assert x.grad.shape == ()
    assert x.grad.data == pytest.approx(1 + 4 + 12)
    assert gradient_check(lambda v: v ** np.array([1., 2., 3.]), np.array(1.5))


def test_pow_float32_with_float64_array_exponent_stays_float32():
    x = Variable(np.array([2., 3.], np.float32))
    y = x ** np.array([1., 2.])
    y.backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


@pytest.mark.parametrize('c', [0, 0.0, np.array([0., 2.])])
def test_pow_zero_exponent_at_zero_has_zero_gradient(c):
    x = Variable(np.array([0.0, 0.0]))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        y = x ** c
        y.backward()
    expected = np.zeros(2) if np.ndim(c) == 0 else np.array([0., 0.])
    np.testing.assert_array_equal(x.grad.data, expected)
    assert check_double_backward(lambda v: v ** c, np.array([0.5, 1.5]))


# --- dtype leak in mean_squared_error -----------------------------------------------------
def test_mean_squared_error_float32_prediction_float64_target_stays_float32():
    w = Variable(np.ones((2, 3), np.float32))
    loss = F.mean_squared_error(w * 2.0, np.zeros((2, 3)))
    loss.backward()
    assert loss.dtype == np.float32 and w.grad.dtype == np.float32


# --- empty and 0-d inputs -------------------------------------------------------------------
@pytest.mark.parametrize('f', [
    lambda x: F.mean_squared_error(x, np.zeros((0, 3))),
    lambda x: F.sigmoid_cross_entropy(x, np.zeros((0, 3), np.int64)),
    lambda x: F.binary_cross_entropy(x, np.zeros((0, 3)))],
    ids=['mean_squared_error', 'sigmoid_cross_entropy', 'binary_cross_entropy'])
def test_losses_on_an_empty_batch_are_nan_and_backward_works(f):
    with pytest.warns(RuntimeWarning):
        y, gx = _grad(f, np.zeros((0, 3)))
    assert np.isnan(y.data) and gx.shape == (0, 3)


@pytest.mark.parametrize('f,expected', [
    (F.softmax, np.zeros((2, 0))), (F.log_softmax, np.zeros((2, 0))),
    (F.logsumexp, np.full(2, -np.inf))], ids=['softmax', 'log_softmax', 'logsumexp'])
def test_softmax_family_over_an_empty_axis(f, expected):
    y, gx = _grad(f, np.zeros((2, 0)))
    np.testing.assert_array_equal(y.data, expected)
    assert gx.shape == (2, 0)


def test_dropout_on_a_0d_variable():
    np.random.seed(0)
    y = F.dropout(Variable(np.array(1.0)), 0.5)
    assert y.shape == () and y.data in (0.0, 2.0)


def test_batchnorm_on_an_empty_batch_leaves_running_statistics_unchanged():
    bn = L.BatchNorm()
    bn(np.random.RandomState(0).randn(4, 3))
    mean, var = bn.avg_mean.data.copy(), bn.avg_var.data.copy()
    x = Variable(np.zeros((0, 3)))
    y = bn(x)
    y.backward()
    assert y.shape == (0, 3) and x.grad.shape == (0, 3)
    np.testing.assert_array_equal(bn.avg_mean.data, mean)
    np.testing.assert_array_equal(bn.avg_var.data, var)


# --- messages that name the op -------------------------------------------------------------
@pytest.mark.parametrize('call,name', [
    (lambda: F.lstm_cell(*[np.zeros((2, 4))] * 4, np.zeros((2, 3))), 'lstm_cell'),
    (lambda: Variable(np.zeros(3)) ** Variable(np.zeros(2)), 'pow'),
    (lambda: Variable(np.zeros(3)) ** np.zeros(2), 'pow'),
    (lambda: F.mean_squared_error(np.zeros((4, 2)), np.zeros(3)), 'mean_squared_error'),
], ids=['lstm_cell', 'pow_variable', 'pow_array', 'mean_squared_error'])
def test_shape_mismatch_messages_name_the_op(call, name):
    with pytest.raises(ValueError, match=rf'^{name}: .*\(.*\).*\(.*\)'):
        call()


# --- the book's LSTM: mean_squared_error of y (1, 1) against t (1,) ----------------------
@pytest.mark.parametrize('f', [F.mean_squared_error, F.mean_squared_error_simple])
def test_mean_squared_error_broadcasts_unequal_shapes_with_a_warning(f):
    y = Variable(np.array([[0.5]]))
    with pytest.warns(UserWarning, match=r'\(1, 1\) and \(1,\)'):
        loss = f(y, np.array([2.0]))
    loss.backward()
    assert loss.data == pytest.approx(2.25)
    assert y.grad.shape == (1, 1) and y.grad.data[0, 0] == pytest.approx(-3.0)
