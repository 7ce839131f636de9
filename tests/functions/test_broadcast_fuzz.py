"""Hypothesis fuzzing: random shapes, broadcastable pairs and reductions against numerical
gradients (small example counts: each example runs a numerical gradient)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import dezero.functions as F
from dezero import Variable
from dezero.utils import check_double_backward, gradient_check

FUZZ = settings(max_examples=25, deadline=None)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)


def data_for(shape, seed):
    return np.asarray(np.random.RandomState(seed).randn(*shape))


@FUZZ
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       st.sampled_from(['add', 'sub', 'mul', 'div']), st.integers(0, 2 ** 16))
def test_broadcast_binary_ops_gradients(shapes_, op, seed):
    s0, s1 = shapes_.input_shapes
    x0, x1 = data_for(s0, seed), data_for(s1, seed + 1)
    if op == 'div':
        x1 = np.asarray(np.sign(x1) * (np.abs(x1) + 0.5))  # away from 0
    f = getattr(F, op)
    y = f(x0, x1)
    assert y.shape == shapes_.result_shape
    assert gradient_check(lambda a, b: f(a, b), x0, Variable(x1))


@FUZZ
@given(hnp.mutually_broadcastable_shapes(num_shapes=1, min_dims=0, max_dims=3, max_side=3),
       st.integers(0, 2 ** 16))
def test_broadcast_to_and_sum_to_are_adjoint(shapes_, seed):
    (s,), target = shapes_.input_shapes, shapes_.result_shape
    x = data_for(s, seed)
    assert gradient_check(lambda x: F.broadcast_to(x, target) ** 2, x)
    big = data_for(target, seed + 1)
    y = F.sum_to(big, s)
    assert y.shape == s
    assert gradient_check(lambda b: F.sum_to(b, s) ** 2, big)
    # <broadcast(x), big> == <x, sum_to(big)>
    np.testing.assert_allclose((np.broadcast_to(x, target) * big).sum(), (x * y.data).sum())


@st.composite
def reductions(draw):
    shape = draw(shapes)
    ndim = len(shape)
    if ndim == 0 or draw(st.booleans()):
        axis = None
    elif draw(st.booleans()):
        axis = draw(st.integers(-ndim, ndim - 1))
    else:
        axis = tuple(draw(st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim,
                                   unique_by=lambda a: a % ndim)))
    return shape, axis, draw(st.booleans())


@FUZZ
@given(reductions(), st.sampled_from(['sum', 'mean', 'max', 'min', 'logsumexp']),
       st.integers(0, 2 ** 16))
def test_reductions_match_numpy_and_numerical_gradients(case, name, seed):
    shape, axis, keepdims = case
    x = data_for(shape, seed)
    if name in ('max', 'min'):
        # distinct values at least 0.1 apart: the numerical gradient never straddles a tie
        x = np.asarray(np.random.RandomState(seed).permutation(x.size).reshape(shape) * 0.1 + 0.01)
    f = getattr(F, name)
    y = f(x, axis, keepdims)
    if name == 'logsumexp':
        expected = np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))
    else:
        expected = getattr(np, name)(x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(y.data, expected, rtol=1e-12)
    assert gradient_check(lambda x: f(x, axis, keepdims) ** 2, x)
    assert check_double_backward(lambda x: f(x, axis, keepdims) ** 2, x)


@FUZZ
@given(shapes, st.randoms(use_true_random=False), st.integers(0, 2 ** 16))
def test_transpose_and_reshape_random(shape, rnd, seed):
    x = data_for(shape, seed)
    axes = list(range(len(shape)))
    rnd.shuffle(axes)
    axes = [a - len(shape) if rnd.random() < 0.5 else a for a in axes]
    np.testing.assert_array_equal(F.transpose(x, axes).data, np.transpose(x, axes))
    assert gradient_check(lambda x: F.transpose(x, axes) ** 2, x)
    assert gradient_check(lambda x: F.reshape(x, (-1,)) ** 2, x)


@FUZZ
@given(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), st.data())
def test_get_item_random_basic_and_integer_indices(shape, data):
    x = data_for(shape, 0)
    index = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    np.testing.assert_array_equal(F.get_item(x, index).data, x[index])
    assert gradient_check(lambda x: F.get_item(x, index) ** 2, x)
    idx = data.draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(
        min_dims=1, max_dims=2, max_side=4)))
    expected_grad = np.zeros(shape)
    np.add.at(expected_grad, idx, 1.0)
    v = Variable(x)
    F.sum(F.get_item(v, idx)).backward()
    np.testing.assert_array_equal(v.grad.data, expected_grad)


@FUZZ
@given(hnp.mutually_broadcastable_shapes(signature=np.matmul.signature,
                                         max_dims=2, max_side=3),
       st.integers(0, 2 ** 16))
def test_matmul_random_broadcast_shapes(shapes_, seed):
    s0, s1 = shapes_.input_shapes
    x, W = data_for(s0, seed), data_for(s1, seed + 1)
    y = F.matmul(x, W)
    assert y.shape == shapes_.result_shape
    np.testing.assert_allclose(y.data, np.matmul(x, W))
    assert gradient_check(lambda a, b: F.matmul(a, b) ** 2, x, Variable(W))


@pytest.mark.parametrize('s0,s1', [((2, 3), (4, 3)), ((3,), (2,)), ((2, 1, 3), (4, 2, 3))])
def test_binary_op_refuses_what_numpy_refuses(s0, s1):
    with pytest.raises(ValueError):
        F.add(np.ones(s0), np.ones(s1))
