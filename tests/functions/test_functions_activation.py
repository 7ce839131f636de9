"""Tests for dezero.functions.activation: sigmoid, relu, leaky_relu, softmax, log_softmax."""
import numpy as np
import pytest

import dezero.functions as F
from dezero import Variable
from dezero.utils import gradient_check


def _ref_softmax(x, axis=1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _smooth_input(shape, seed=0):
    # Away from 0 so that relu/leaky_relu's kink is not straddled by the finite differences.
    x = np.random.RandomState(seed).randn(*shape)
    return np.where(np.abs(x) < 0.1, 0.5, x)


# Values against references, float32, first and second derivatives on every backend: the
# op registry (tests/op_registry.py) checks these for every activation.


@pytest.mark.parametrize('dtype, rtol', [(np.float16, 1e-3), (np.float32, 1e-6),
                                         (np.float64, 1e-14)])
def test_sigmoid_keeps_its_relative_precision_in_the_tails(dtype, rtol):
    """Small sigmoids stay nonzero and precise (0.5 tanh(0.5 x) + 0.5 rounded them to 0),
    float16 through float32 (its own exp overflows at -11)."""
    x = np.array([-60.0, -20.0, -12.0, -5.0, 0.0, 5.0, 30.0]).astype(dtype)
    want = (1 / (1 + np.exp(-x.astype(np.float64)))).astype(dtype)  # float16: 0 below 6e-8
    y = F.sigmoid(x)
    assert y.dtype == dtype
    np.testing.assert_allclose(y.data, want, rtol=rtol, atol=0)


@pytest.mark.parametrize('f', [F.softmax, F.softmax_simple, F.log_softmax])
@pytest.mark.parametrize('axis', [0, 2, -1, (1, 2)])
def test_rowwise_other_axes(f, axis):
    x = _smooth_input((2, 3, 4))
    y = f(x, axis=axis)
    expected = _ref_softmax(x, axis)
    if f is F.log_softmax:
        expected = np.log(expected)
    np.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-12)
    assert gradient_check(f, x, axis=axis)


@pytest.mark.parametrize('f,name', [(F.softmax, 'softmax'), (F.softmax_simple, 'softmax_simple'),
                                    (F.log_softmax, 'log_softmax')])
def test_rowwise_bad_axis_is_a_value_error(f, name):
    with pytest.raises(ValueError, match=rf"{name}: axis 2 is out of range .*\(2, 3\)"):
        f(np.zeros((2, 3)), axis=2)


def test_leaky_relu_slope_and_dtype():
    x = np.array([[-2.0, 3.0]], dtype=np.float32)
    y = F.leaky_relu(x, slope=np.float64(0.1))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, [[-0.2, 3.0]], rtol=1e-6)
    xv = Variable(x)
    F.leaky_relu(xv, slope=0.1).backward()
    assert xv.grad.dtype == np.float32
    np.testing.assert_allclose(xv.grad.data, [[0.1, 1.0]], rtol=1e-6)
    assert gradient_check(F.leaky_relu, _smooth_input((3, 3)), slope=0.01)


def test_relu_gradient_is_the_positive_mask():
    x = Variable(np.array([-1.0, 0.0, 2.0, 3.0]))
    y = F.relu(x)
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize('dtype', [np.float16, np.float32, np.float64])
@pytest.mark.parametrize('shape, layout', [
    ((3,), 'c'), ((1025,), 'c'), ((4, 1024), 'c'), ((2, 3, 0), 'c'),
    ((2, 600), 'transposed'),   # not C-contiguous: the plain NumPy path
])
def test_relu_gives_the_bits_of_maximum_with_zero(dtype, shape, layout):
    """The row-by-row kernel (rows of 1024 and a tail) against np.maximum(x, 0): -0.0,
    NaN of either sign and infinities included."""
    rng = np.random.RandomState(0)
    x = rng.randn(*shape).astype(dtype)
    if x.size:
        special = np.array([-0.0, np.nan, -np.nan, np.inf, -np.inf], dtype)
        x.flat[:len(special)] = special
        x.flat[-1] = np.nan
    if layout == 'transposed':
        x = x.T
    y = F.relu(x).data
    want = np.maximum(x, 0)
    assert y.dtype == dtype and y.shape == want.shape
    assert np.array_equal(np.ascontiguousarray(y).view(np.uint8),
                          np.ascontiguousarray(want).view(np.uint8))


# --- numerical stability at logits of +-1000 -------------------------------------------
BIG = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0]])


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_sigmoid_is_stable_at_1000(dtype):
    x = Variable(BIG.astype(dtype))
    with np.errstate(all='raise'):
        y = F.sigmoid(x)
        y.backward()
    np.testing.assert_array_equal(y.data, [[1, 0, 0.5], [0, 0, 1]])
    np.testing.assert_array_equal(x.grad.data, [[0, 0, 0.25], [0, 0, 0]])


@pytest.mark.parametrize('f', [F.softmax, F.softmax_simple, F.log_softmax])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_softmax_family_is_stable_at_1000(f, dtype):
    x = Variable(BIG.astype(dtype))
    with np.errstate(over='raise', invalid='raise', divide='raise'):
        y = f(x)
        w = np.arange(6, dtype=dtype).reshape(2, 3)
        (y * w).sum().backward()
    assert y.dtype == dtype
    assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(x.grad.data))
    if f is F.log_softmax:
        np.testing.assert_allclose(y.data, [[0, -2000, -1000], [-2000, -2000, 0]])
    else:
        np.testing.assert_allclose(y.data, [[1, 0, 0], [0, 0, 1]], atol=1e-30)


def test_log_softmax_gradient_at_1000_matches_closed_form():
    x = Variable(BIG)
    F.log_softmax(x).sum().backward()
    # d/dx sum_j log_softmax_j = 1 - C * softmax
    np.testing.assert_allclose(x.grad.data, 1 - 3 * _ref_softmax(BIG), atol=1e-12)


@pytest.mark.parametrize('slope', [0.0, 0.2, 1.0, 2.5, -0.5])
def test_leaky_relu_any_slope(slope):
    x = _smooth_input((4, 5), seed=3)
    xv = Variable(x)
    y = F.leaky_relu(xv, slope)
    np.testing.assert_array_equal(y.data, np.where(x > 0, x, slope * x))
    y.backward()
    np.testing.assert_array_equal(xv.grad.data, np.where(x > 0, 1.0, slope))
    assert gradient_check(F.leaky_relu, x, slope=slope)
