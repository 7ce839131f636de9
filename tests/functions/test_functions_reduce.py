"""Reductions (sum, average/mean, max, min, logsumexp) and clip: values, gradients, errors."""
import numpy as np
import pytest

import dezero.functions as F
import dezero.utils as utils
from dezero import Variable
from dezero.utils import check_double_backward, gradient_check
from dezero.utils_array import AxisError


def rand(*shape, seed=0):
    return np.asarray(np.random.RandomState(seed).randn(*shape))


def check(f, x):
    assert gradient_check(lambda x: f(x) ** 2, x)
    assert check_double_backward(lambda x: f(x) ** 2, x)


AXIS_CASES = [
    ((), None, False), ((), None, True),
    ((4,), None, False), ((4,), 0, False), ((4,), -1, True),
    ((2, 3, 4), None, False), ((2, 3, 4), None, True), ((2, 3, 4), 1, False),
    ((2, 3, 4), -1, True), ((2, 3, 4), (0, 2), False), ((2, 3, 4), (-1, 0), True),
    ((2, 3, 4), (0, 1, 2), False), ((2, 3, 4), [1], False),
]


@pytest.mark.parametrize('shape,axis,keepdims', AXIS_CASES)
def test_sum(shape, axis, keepdims):
    x = rand(*shape)
    np_axis = tuple(axis) if isinstance(axis, list) else axis
    np.testing.assert_allclose(F.sum(x, axis, keepdims).data,
                               np.sum(x, np_axis, keepdims=keepdims))
    check(lambda x: F.sum(x, axis, keepdims), x)


@pytest.mark.parametrize('shape,axis,keepdims', AXIS_CASES)
def test_average_and_mean(shape, axis, keepdims):
    x = rand(*shape)
    np_axis = tuple(axis) if isinstance(axis, list) else axis
    np.testing.assert_allclose(F.average(x, axis, keepdims).data,
                               np.mean(x, np_axis, keepdims=keepdims))
    assert F.mean is F.average
    check(lambda x: F.mean(x, axis, keepdims), x)


@pytest.mark.parametrize('name', ['max', 'min'])
@pytest.mark.parametrize('shape,axis,keepdims', AXIS_CASES)
def test_max_min(name, shape, axis, keepdims):
    x = rand(*shape)
    np_axis = tuple(axis) if isinstance(axis, list) else axis
    f = getattr(F, name)
    np.testing.assert_array_equal(f(x, axis, keepdims).data,
                                  getattr(np, name)(x, np_axis, keepdims=keepdims))
    check(lambda x: f(x, axis, keepdims), x)


def test_max_gradient_goes_to_argmax():
    x = Variable(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]]))
    F.max(x, axis=1).backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 1, 0], [1, 0, 0]])


def test_max_ties_split_gradient_evenly():
    x = Variable(np.array([1.0, 3.0, 3.0, 3.0, 0.0]))
    F.max(x).backward()
    np.testing.assert_allclose(x.grad.data, [0, 1 / 3, 1 / 3, 1 / 3, 0])


def test_min_ties_split_gradient_evenly_per_row():
    x = Variable(np.array([[0.0, 0.0, 1.0], [2.0, -1.0, 5.0]], dtype=np.float32))
    F.min(x, axis=1, keepdims=True).backward()
    np.testing.assert_allclose(x.grad.data, [[0.5, 0.5, 0], [0, 1, 0]])
    assert x.grad.dtype == np.float32


def test_max_of_empty_array():
    with pytest.raises(ValueError,
                       match=r"max: an axis to reduce has no elements \(shape \(0, 3\)"):
        F.max(np.ones((0, 3)))
    with pytest.raises(ValueError, match=r"min: .*no elements \(shape \(0, 3\), axis \(0,\)"):
        F.min(np.ones((0, 3)), axis=0)
    assert F.max(np.ones((0, 3)), axis=1).shape == (0,)  # nothing to reduce over: as NumPy


@pytest.mark.parametrize('op', [F.sum, F.average, F.max, F.min, F.logsumexp])
def test_axis_out_of_range_names_axis_and_ndim(op):
    name = op.__name__
    with pytest.raises(AxisError, match=rf"{name}: axis 2 is out of bounds .* 2 dimension"):
        op(np.ones((2, 3)), 2)
    with pytest.raises(ValueError, match=rf"{name}: axis -3 is out of bounds .* 2 dimension"):
        op(np.ones((2, 3)), (0, -3))


def test_non_integer_axis_rejected():
    with pytest.raises(TypeError, match=r"sum: axis must be an int, a tuple of ints or None, "
                                        r"got float 1.5"):
        F.sum(np.ones((2, 3)), 1.5)


def test_repeated_axis_rejected():
    with pytest.raises(ValueError, match=r"sum: repeated axis"):
        F.sum(np.ones((2, 3)), (1, -1))


def test_variable_sum_method():
    x = Variable(rand(2, 3))
    np.testing.assert_allclose(x.sum().data, x.data.sum())
    np.testing.assert_allclose(x.sum(axis=0, keepdims=True).data, x.data.sum(0, keepdims=True))


# --- clip ---------------------------------------------------------------------------------
@pytest.mark.parametrize('shape', [(), (5,), (2, 3, 4)])
@pytest.mark.parametrize('lo,hi', [(-0.5, 0.5), (None, 0.3), (-0.2, None)])
def test_clip(shape, lo, hi):
    x = rand(*shape)
    # keep the numerical gradient away from the kinks
    x = np.where(np.abs(np.abs(x) - 0.5) < 0.05, x + 0.1, x)
    x = np.where(np.abs(x - 0.3) < 0.05, x + 0.1, x)
    x = np.where(np.abs(x + 0.2) < 0.05, x - 0.1, x)
    np.testing.assert_array_equal(F.clip(x, lo, hi).data, np.clip(x, lo, hi))
    check(lambda x: F.clip(x, lo, hi), x)


def test_clip_gradient_mask_includes_bounds():
    x = Variable(np.array([-2.0, -1.0, 0.0, 1.0, 2.0], dtype=np.float32))
    y = F.clip(x, np.float64(-1.0), np.float64(1.0))
    assert y.dtype == np.float32
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [0, 1, 1, 1, 0])
    assert x.grad.dtype == np.float32


def test_clip_needs_a_bound():
    with pytest.raises(ValueError, match=r"clip: at least one of x_min and x_max"):
        F.clip(np.ones(3), None, None)


def test_clip_bound_must_not_broadcast_x():
    with pytest.raises(ValueError, match=r"clip: x_min of shape \(2, 3\) .* shape \(3,\)"):
        F.clip(np.ones(3), np.zeros((2, 3)), 1.0)


# --- logsumexp ----------------------------------------------------------------------------
@pytest.mark.parametrize('shape,axis,keepdims', [
    ((4,), 0, False), ((4,), None, True), ((3, 4), 1, False), ((3, 4), 1, True),
    ((2, 3, 4), (0, 2), False), ((2, 3, 4), -1, True), ((2, 3, 4), None, False), ((), None, False),
])
def test_logsumexp(shape, axis, keepdims):
    x = rand(*shape)
    expected = np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))
    np.testing.assert_allclose(F.logsumexp(x, axis, keepdims).data, expected)
    check(lambda x: F.logsumexp(x, axis, keepdims), x)


def test_logsumexp_default_axis_is_1():
    x = rand(3, 4)
    np.testing.assert_allclose(F.logsumexp(x).data, np.log(np.exp(x).sum(1)))


def test_logsumexp_stable_for_large_inputs():
    x = Variable(np.array([[1000.0, 1000.0], [-1000.0, -1000.0]], dtype=np.float32))
    y = F.logsumexp(x, axis=1)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, [1000 + np.log(2), -1000 + np.log(2)], rtol=1e-6)
    y.backward()
    np.testing.assert_allclose(x.grad.data, np.full((2, 2), 0.5))
    assert x.grad.dtype == np.float32
    assert gradient_check(lambda x: F.logsumexp(x, 1), np.array([[800.0, 801.0, 799.0]]))


def test_logsumexp_gradient_when_output_dropped():
    x = Variable(rand(2, 3))
    loss = F.sum(F.logsumexp(x, 1) * 2.0)  # the logsumexp output is only held by Mul
    loss.backward()
    e = np.exp(x.data)
    np.testing.assert_allclose(x.grad.data, 2 * e / e.sum(1, keepdims=True))


def test_utils_logsumexp_keeps_dims_and_handles_infinities():
    x = np.array([[1000.0, 1000.0], [-np.inf, 0.0], [np.inf, 1.0]])
    y = utils.logsumexp(x, axis=1)
    assert y.shape == (3, 1)
    np.testing.assert_allclose(y[:2, 0], [1000 + np.log(2), 0.0])
    assert y[2, 0] == np.inf
    with np.errstate(divide='ignore'):
        assert utils.logsumexp(np.full((1, 2), -np.inf))[0, 0] == -np.inf


# --- dtype --------------------------------------------------------------------------------
@pytest.mark.parametrize('op', [
    lambda x: F.sum(x), lambda x: F.sum(x, (0, 2), True), lambda x: F.mean(x, 1),
    lambda x: F.max(x, -1), lambda x: F.min(x), lambda x: F.clip(x, -0.5, 0.5),
    lambda x: F.logsumexp(x, 1), lambda x: x.sum(axis=0),
])
def test_float32_in_float32_out_and_grad(op):
    x = Variable(rand(2, 3, 4).astype(np.float32))
    y = op(x)
    assert y.dtype == np.float32
    y.backward(create_graph=True)
    assert x.grad.dtype == np.float32


def test_sum_backend(xp):
    x = Variable(xp.ones((2, 3), dtype=xp.float32))
    y = F.mean(F.max(x, axis=1))
    y.backward()
    assert type(x.grad.data) is type(x.data)
    np.testing.assert_allclose(np.asarray(x.grad.data.tolist()), np.full((2, 3), 1 / 6),
                               rtol=1e-6)


# --- norm: the gradient where the norm is 0 -----------------------------------------
@pytest.mark.parametrize('axis,keepdims', [(None, False), (1, False), (1, True), ((0,), True)])
def test_norm_gradient_is_zero_where_the_norm_is_zero(axis, keepdims):
    """PyTorch's subgradient: x / |x| would be 0 / 0 = NaN on an all-zero slice."""
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    v = Variable(x.copy())
    y = F.norm(v, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(y.data, np.sqrt((x * x).sum(axis=axis, keepdims=keepdims)))
    y.backward(gradient=np.ones(y.shape))
    norms = np.sqrt((x * x).sum(axis=axis, keepdims=True))
    expected = np.divide(x, norms, out=np.zeros_like(x), where=norms != 0)
    np.testing.assert_allclose(v.grad.data, expected)
    assert not np.isnan(v.grad.data).any()


def test_norm_of_zeros_has_zero_gradient_and_a_finite_second_order():
    v = Variable(np.zeros(3))
    y = F.norm(v)
    y.backward(create_graph=True)
    np.testing.assert_array_equal(v.grad.data, np.zeros(3))
    g = v.grad
    v.cleargrad()
    F.sum(g).backward()
    assert np.isfinite(v.grad.data).all()
