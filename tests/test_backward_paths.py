"""Functions with a raw-array first-order backward (`backward_arrays`, used when
create_graph=False) must agree with their differentiable `backward` (used when
create_graph=True)."""
import numpy as np
import pytest

import dezero.functions as F
from dezero import Function, Variable

RNG = np.random.RandomState(0)


def _pos(*shape):
    return RNG.uniform(0.5, 1.5, size=shape)


def _weighted_sum(ys):
    """sum_k (k + 1) * ys[k] ** 2: every output matters, each with its own gradient."""
    total = ys[0] * ys[0]
    for k, y in enumerate(ys[1:], 2):
        total = total + y * y * float(k)
    return total


CASES = {
    'add_broadcast': (lambda a, b: a + b, [_pos(2, 3), _pos(3)]),
    'sub_broadcast': (lambda a, b: a - b, [_pos(2, 1), _pos(3)]),
    'mul_broadcast': (lambda a, b: a * b, [_pos(2, 3), _pos(1, 3)]),
    'div_broadcast': (lambda a, b: a / b, [_pos(2, 3), _pos(3)]),
    'neg': (lambda a: -a, [_pos(4)]),
    'constants': (lambda a: (2.0 - a * 3.0 + 1.5) / 2.0 + 3.0 / a, [_pos(4)]),
    'pow': (lambda a: a ** 3 + a ** -0.5, [_pos(2, 2)]),
    'math': (lambda a: F.exp(a) + F.log(a) + F.sin(a) + F.cos(a) + F.tanh(a) + F.sqrt(a)
             + F.square(a) + F.abs(a), [_pos(3, 2)]),
    'matmul_2d': (F.matmul, [_pos(2, 3), _pos(3, 4)]),
    'matmul_nd': (F.matmul, [_pos(2, 2, 3), _pos(3, 4)]),
    'matmul_1d': (F.matmul, [_pos(3), _pos(3, 2)]),
    'linear': (F.linear, [_pos(4, 3), _pos(3, 2), _pos(2)]),
    'linear_nd': (F.linear, [_pos(2, 4, 3), _pos(3, 2), _pos(2)]),
    'linear_nobias': (F.linear, [_pos(4, 3), _pos(3, 2)]),
    'reshape_transpose': (lambda a: F.transpose(F.reshape(a, (3, 2)), (1, 0)) * a,
                          [_pos(2, 3)]),
    'get_item_repeats': (lambda a: a[np.array([0, 0, 1])] * 2.0, [_pos(3, 2)]),
    'get_item_slices': (lambda a: a[:, ::2] + a[1, ::2], [_pos(2, 4)]),
    'broadcast_sum_to': (lambda a: F.sum_to(F.broadcast_to(a, (2, 3)) * 2.0, (1, 3)),
                         [_pos(3)]),
    'sum_axes': (lambda a: F.sum(a, axis=1) + F.sum(a, axis=(0, 2), keepdims=True).sum() +
                 F.sum(a), [_pos(2, 3, 2)]),
    'average': (lambda a: F.average(a, axis=0) * F.mean(a), [_pos(3, 2)]),
    'activations': (lambda a: F.sigmoid(a) * F.relu(a - 1.0) + F.leaky_relu(a - 1.0),
                    [_pos(3, 4)]),
    'mse': (F.mean_squared_error, [_pos(4, 2), _pos(4, 2)]),
    'huber': (lambda a, b: F.huber_loss(a, b * 3.0, delta=1.0), [_pos(4, 3), _pos(4, 3)]),
    'softmax_family': (lambda a: F.softmax(a) * F.log_softmax(a, axis=0) +
                       F.logsumexp(a, axis=1, keepdims=True) + F.logsumexp(a, axis=0),
                       [_pos(3, 4)]),
    'logsumexp_all': (lambda a: F.logsumexp(a, axis=None) * a, [_pos(2, 3)]),
    'softmax_cross_entropy': (lambda a: F.softmax_cross_entropy(a, np.array([0, 2, 1])),
                              [_pos(3, 4)]),
    'softmax_cross_entropy_ignore': (
        lambda a: F.softmax_cross_entropy(a, np.array([0, -1, 1]), ignore_label=-1),
        [_pos(3, 4)]),
    'softmax_cross_entropy_smoothing': (
        lambda a: F.softmax_cross_entropy(a, np.array([0, -1, 1]), ignore_label=-1,
                                          label_smoothing=0.2),
        [_pos(3, 4)]),
    'sigmoid_cross_entropy': (lambda a: F.sigmoid_cross_entropy(a, np.array([[0, 1], [1, 1]])),
                              [_pos(2, 2)]),
    'batch_norm_train': (lambda a, g, b: F.batch_norm(a, g, b, np.zeros(3), np.ones(3)),
                         [_pos(4, 3), _pos(3), _pos(3)]),
    'batch_norm_4d': (lambda a, g, b: F.batch_norm(a, g, b, np.zeros(2), np.ones(2)),
                      [_pos(2, 2, 3, 3), _pos(2), _pos(2)]),
    'gelu_elu_softplus': (lambda a: F.gelu(a - 1.0) * F.elu(a - 1.0, 0.7) +
                          F.softplus(a - 1.0) + F.softplus(a, beta=2.0),
                          [_pos(3, 4)]),
    'layer_norm': (F.layer_norm, [_pos(2, 3, 4), _pos(4), _pos(4)]),
    'layer_norm_no_gamma': (lambda a, b: F.layer_norm(a, None, b), [_pos(3, 5), _pos(5)]),
    'layer_norm_no_beta': (lambda a, g: F.layer_norm(a, g, None), [_pos(5), _pos(5)]),
    'layer_norm_bare': (lambda a: F.layer_norm(a, None, None) * a, [_pos(2, 2, 3)]),
    'embed_id': (lambda w: F.embed_id(np.array([[0, 2], [2, 2]]), w), [_pos(3, 4)]),
    'lstm_cell': (lambda *a: (lambda c, h: c * 0.5 + h * h)(*F.lstm_cell(*a)),
                  [_pos(2, 3) - 1.0 for _ in range(5)]),
    'lstm_gates': (lambda x, h, *p: _weighted_sum(F.lstm_gates(x, h, p[:4], p[4:8], p[8:])),
                   [_pos(2, 3), _pos(2, 4)] + [_pos(3, 4) for _ in range(4)] +
                   [_pos(4) for _ in range(4)] + [_pos(4, 4) for _ in range(4)]),
    'lstm_cell_h_only': (lambda *a: F.lstm_cell(*a)[1], [_pos(2, 3) - 1.0 for _ in range(5)]),
    'conv2d': (lambda x, W, b: F.conv2d(x, W, b, stride=1, pad=1),
               [_pos(2, 3, 5, 4), _pos(4, 3, 3, 3), _pos(4)]),
    'conv2d_nobias_strided': (lambda x, W: F.conv2d(x, W, stride=2, pad=1),
                              [_pos(2, 3, 5, 4), _pos(4, 3, 3, 3)]),
    'deconv2d_strided': (lambda x, W, b: F.deconv2d(x, W, b, stride=2, pad=1),
                         [_pos(2, 3, 4, 3), _pos(3, 2, 4, 4), _pos(2)]),
    'deconv2d_nobias': (lambda x, W: F.deconv2d(x, W, stride=1, pad=1, outsize=(4, 3)),
                        [_pos(2, 3, 4, 3), _pos(3, 2, 3, 3)]),
}


def test_batch_norm_test_mode_paths_agree():
    import dezero
    with dezero.test_mode():
        fast = _grads(CASES['batch_norm_train'][0], CASES['batch_norm_train'][1], False)
        slow = _grads(CASES['batch_norm_train'][0], CASES['batch_norm_train'][1], True)
    for g_fast, g_slow in zip(fast, slow):
        np.testing.assert_allclose(g_fast, g_slow, rtol=1e-12, atol=1e-12)


def test_dropout_paths_agree():
    def grads(create_graph):
        np.random.seed(0)
        return _grads(lambda a: F.dropout(a, 0.3), [_pos(5, 4)], create_graph)
    np.testing.assert_array_equal(grads(False)[0], grads(True)[0])


def _grads(fn, arrays, create_graph):
    xs = [Variable(a.copy()) for a in arrays]
    y = fn(*xs)
    weights = np.random.RandomState(1).standard_normal(y.shape)
    F.sum(y * weights).backward(create_graph=create_graph)
    return [x.grad.data for x in xs]


@pytest.mark.parametrize('name', sorted(CASES))
def test_array_backward_agrees_with_differentiable_backward(name):
    fn, arrays = CASES[name]
    fast = _grads(fn, arrays, create_graph=False)
    slow = _grads(fn, arrays, create_graph=True)
    for a, g_fast, g_slow in zip(arrays, fast, slow):
        assert isinstance(g_fast, np.ndarray) and g_fast.shape == a.shape
        np.testing.assert_allclose(g_fast, g_slow, rtol=1e-12, atol=1e-12)


def test_functions_without_array_backward_still_work_beside_those_with_one():
    class Twice(Function):
        def forward(self, x):
            return x * 2

        def backward(self, gy):
            return gy * 2

    x = Variable(np.array([1.0, 2.0]))
    y = F.sum(Twice()(F.exp(x)) * 3.0)
    y.backward()
    np.testing.assert_allclose(x.grad.data, 6 * np.exp([1.0, 2.0]))


def test_zero_d_array_backward_gives_array_gradients():
    x = Variable(np.array(2.0))
    y = x * x + F.sin(x)
    y.backward()
    assert isinstance(x.grad.data, np.ndarray) and x.grad.data.shape == ()


def _creators(y):
    """The Function classes in the graph behind y."""
    found, stack, seen = set(), [y.creator], set()
    while stack:
        f = stack.pop()
        if f is None or f in seen:
            continue
        seen.add(f)
        found.add(type(f))
        stack.extend(x.creator for x in f.inputs)
    return found


def test_every_function_with_array_backward_is_in_an_agreement_case(function_classes):
    """A Function that gains a `backward_arrays` must get a case above (its two backward
    paths could otherwise drift apart unnoticed)."""
    import dezero
    covered = set()
    for fn, arrays in CASES.values():
        covered |= _creators(fn(*[Variable(a.copy()) for a in arrays]))
    covered |= _creators(F.dropout(Variable(_pos(3)), 0.3))  # test_dropout_paths_agree
    with dezero.test_mode():  # test_batch_norm_test_mode_paths_agree: same Function
        covered |= _creators(CASES['batch_norm_train'][0](
            *[Variable(a) for a in CASES['batch_norm_train'][1]]))
    with_arrays = {c for c in function_classes if c.backward_arrays is not None}
    missing = sorted(c.__name__ for c in with_arrays - covered)
    assert not missing, f"add agreement cases (CASES) for {missing}"
