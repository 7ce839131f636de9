"""matmul (1-D, 2-D, batched N-D), linear and linear_simple: values, gradients, errors."""
import numpy as np
import pytest

import dezero.functions as F
from dezero import Variable
from dezero.utils import check_double_backward, gradient_check


def rand(*shape, seed=0):
    return np.asarray(np.random.RandomState(seed).randn(*shape))


MATMUL_SHAPES = [
    ((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((1, 1), (1, 1)),
    ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)),
    ((5, 1, 2, 3), (4, 3, 2)), ((1, 2, 3), (5, 3, 4)), ((4,), (5, 4, 2)), ((5, 2, 4), (4,)),
]


@pytest.mark.parametrize('xs,ws', MATMUL_SHAPES)
def test_matmul_values_and_first_order_gradients(xs, ws):
    x, W = rand(*xs), rand(*ws, seed=1)
    y = F.matmul(x, W)
    np.testing.assert_allclose(y.data, np.matmul(x, W))
    assert gradient_check(lambda x, W: F.matmul(x, W) ** 2, x, Variable(W))


@pytest.mark.parametrize('xs,ws', MATMUL_SHAPES)
def test_matmul_second_order_in_each_operand(xs, ws):
    x, W = rand(*xs), rand(*ws, seed=1)
    assert check_double_backward(lambda x, W: F.matmul(x, W) ** 2, x, W)
    assert check_double_backward(lambda W, x: F.matmul(x, W) ** 2, W, x)


def test_matmul_mixed_second_derivative():
    # d/dx of the gradient wrt W (through create_graph) is checked by making x and W one input
    a = rand(3, 3)
    assert check_double_backward(lambda a: F.matmul(a, a) ** 2, a)
    assert check_double_backward(lambda a: F.matmul(a, F.transpose(a)), a)


def test_batched_matmul_gradients_match_loop_of_2d():
    x = Variable(rand(4, 2, 3))
    W = Variable(rand(4, 3, 5, seed=1))
    gy = rand(4, 2, 5, seed=2)
    (F.matmul(x, W) * gy).backward()
    for i in range(4):
        xi, Wi = Variable(x.data[i]), Variable(W.data[i])
        (F.matmul(xi, Wi) * gy[i]).backward()
        np.testing.assert_allclose(x.grad.data[i], xi.grad.data)
        np.testing.assert_allclose(W.grad.data[i], Wi.grad.data)


def test_broadcast_matmul_gradient_summed_over_batch():
    x = Variable(rand(4, 2, 3))
    W = Variable(rand(3, 5, seed=1))
    gy = rand(4, 2, 5, seed=2)
    (F.matmul(x, W) * gy).backward()
    assert W.grad.shape == (3, 5)
    expected = sum(x.data[i].T @ gy[i] for i in range(4))
    np.testing.assert_allclose(W.grad.data, expected)


def test_matmul_operator_and_reflected():
    x, W = rand(2, 3), rand(3, 4, seed=1)
    np.testing.assert_allclose((Variable(x) @ W).data, x @ W)
    np.testing.assert_allclose((x @ Variable(W)).data, x @ W)


@pytest.mark.parametrize('xs,ws', [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (2,)),
                                   ((5, 2, 3), (4, 3, 2)), ((), (3,)), ((3, 3), ())])
def test_matmul_shape_mismatch_names_both_shapes(xs, ws):
    pattern = r"matmul: shapes " + re_shape(xs) + " and " + re_shape(ws)
    with pytest.raises(ValueError, match=pattern):
        F.matmul(np.ones(xs), np.ones(ws))


def re_shape(shape):
    return str(shape).replace('(', r'\(').replace(')', r'\)')


def test_matmul_float32():
    x = Variable(rand(5, 2, 3).astype(np.float32))
    W = Variable(rand(3, 4).astype(np.float32))
    y = F.matmul(x, W)
    assert y.dtype == np.float32
    y.backward(create_graph=True)
    assert x.grad.dtype == np.float32 and W.grad.dtype == np.float32


# --- linear -------------------------------------------------------------------------------
@pytest.mark.parametrize('xs', [(4,), (3, 4), (2, 3, 4)])
@pytest.mark.parametrize('bias', [True, False])
def test_linear_values_and_gradients(xs, bias):
    x, W = rand(*xs), rand(4, 2, seed=1)
    b = rand(2, seed=2) if bias else None
    args = (Variable(W),) + ((Variable(b),) if bias else ())
    y = F.linear(x, *args)
    np.testing.assert_allclose(y.data, x @ W + (b if bias else 0))
    assert gradient_check(lambda x, *a: F.linear(x, *a) ** 2, x, *args)
    consts = (W,) + ((b,) if bias else ())
    assert check_double_backward(lambda x, *a: F.linear(x, *a) ** 2, x, *consts)
    assert check_double_backward(lambda W, x, *b_: F.linear(x, W, *b_) ** 2, W, x,
                                 *((b,) if bias else ()))
    if bias:
        assert check_double_backward(lambda b, x, W: F.linear(x, W, b) ** 2, b, x, W)


def test_linear_matches_linear_simple():
    x, W, b = rand(5, 4), rand(4, 3, seed=1), rand(3, seed=2)
    vs = [Variable(a.copy()) for a in (x, W, b)]
    ws = [Variable(a.copy()) for a in (x, W, b)]
    y1 = F.linear(*vs)
    y2 = F.linear_simple(*ws)
    np.testing.assert_allclose(y1.data, y2.data)
    gy = rand(5, 3, seed=3)
    (y1 * gy).backward()
    (y2 * gy).backward()
    for v, w in zip(vs, ws):
        np.testing.assert_allclose(v.grad.data, w.grad.data)
    assert F.linear_simple(x, W).shape == (5, 3)
    assert gradient_check(lambda x, W, b: F.linear_simple(x, W, b) ** 2, x, Variable(W),
                          Variable(b))


def test_linear_does_not_keep_its_output():
    x, W, b = Variable(rand(5, 4)), Variable(rand(4, 3)), Variable(rand(3))
    y = F.linear(x, W, b)
    f = y.creator
    assert set(vars(f)) <= {'inputs', 'outputs', 'generation'}
    assert f.inputs == [x, W, b] or tuple(f.inputs) == (x, W, b)


def test_linear_float32_stays_float32():
    x = Variable(rand(5, 4).astype(np.float32))
    W = Variable(rand(4, 3).astype(np.float32))
    b = Variable(np.zeros(3, dtype=np.float32))
    y = F.linear(x, W, b)
    assert y.dtype == np.float32
    y.backward()
    assert {x.grad.dtype, W.grad.dtype, b.grad.dtype} == {np.dtype(np.float32)}


def test_linear_bias_gradient_is_column_sum():
    x, W, b = Variable(rand(5, 4)), Variable(rand(4, 3)), Variable(rand(3))
    F.linear(x, W, b).backward()
    np.testing.assert_allclose(b.grad.data, np.full(3, 5.0))
    np.testing.assert_allclose(W.grad.data, x.data.T @ np.ones((5, 3)))


def test_linear_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"linear: shapes \(2, 3\) and \(4, 5\)"):
        F.linear(np.ones((2, 3)), np.ones((4, 5)))


def test_linear_rejects_non_2d_weight():
    with pytest.raises(ValueError, match=r"linear: W must be 2-D .* \(3, 4, 5\)"):
        F.linear(np.ones((2, 3)), np.ones((3, 4, 5)))


def test_linear_bias_mismatch():
    with pytest.raises(ValueError, match=r"linear: bias of shape \(5,\) .* \(2, 4\)"):
        F.linear(np.ones((2, 3)), np.ones((3, 4)), np.ones(5))


def test_linear_backend(xp):
    x = Variable(xp.ones((2, 3), dtype=xp.float32))
    W = Variable(xp.ones((3, 4), dtype=xp.float32))
    b = Variable(xp.zeros(4, dtype=xp.float32))
    F.sum(F.linear(x, W, b)).backward()
    assert type(W.grad.data) is type(W.data)
    np.testing.assert_allclose(np.asarray(W.grad.data.tolist()), np.full((3, 4), 2.0))
    np.testing.assert_allclose(np.asarray(b.grad.data.tolist()), np.full(4, 2.0))


# ---------------------------------------------------------------------------
# Parameter.grad_out: Linear writes W's gradient into a given buffer (dezero.distributed)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('case', ['once', 'twice', 'other dtype', 'create_graph', 'no buffer'])
def test_linear_writes_the_weight_gradient_into_grad_out_only_when_safe(case):
    import pickle

    from dezero.core import Parameter
    rng = np.random.RandomState(0)
    x = rng.randn(4, 3).astype(np.float32)
    W = Parameter(rng.randn(3, 2).astype(np.float32))
    assert W.grad_out is None
    buf = np.full((3, 2), np.nan, dtype=np.float64 if case == 'other dtype' else np.float32)
    if case != 'no buffer':
        W.grad_out = buf
    y = F.linear(x, W)
    if case == 'twice':  # a shared weight: the second gradient must not overwrite the first
        y = y + F.linear(2 * x, W)
    F.sum(y * y).backward(create_graph=case == 'create_graph')
    gy = 2 * (x @ W.data) if case != 'twice' else 2 * (3 * x @ W.data)
    expected = x.T @ gy if case != 'twice' else x.T @ gy + (2 * x).T @ gy
    np.testing.assert_allclose(W.grad.data, expected, rtol=1e-5)
    # twice: the first gradient went into buf, and the sum is a new array (copied at packing)
    assert (W.grad.data is buf) == (case == 'once')
    assert pickle.loads(pickle.dumps(W)).grad_out is None
