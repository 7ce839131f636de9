"""lstm_cell: the fused LSTM update equals its composition, with first and second
derivatives for every input."""
import numpy as np
import pytest

import dezero.functions as F
from dezero import Variable
from dezero.utils import check_double_backward, gradient_check

RNG = np.random.RandomState(0)
ARGS = [RNG.randn(2, 3) for _ in range(5)]


def _composed(c, a_f, a_i, a_o, a_u):
    f, i, o, u = F.sigmoid(a_f), F.sigmoid(a_i), F.sigmoid(a_o), F.tanh(a_u)
    c_new = f * c + i * u
    return c_new, o * F.tanh(c_new)


def test_forward_matches_the_composition():
    fused = F.lstm_cell(*ARGS)
    composed = _composed(*[Variable(a) for a in ARGS])
    for a, b in zip(fused, composed):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12)


@pytest.mark.parametrize('which', [0, 1])
@pytest.mark.parametrize('position', range(5))
def test_gradients_first_and_second_order(which, position):
    def f(v, *rest):
        args = list(rest)
        args.insert(position, v)
        return F.lstm_cell(*args)[which]

    rest = [a for k, a in enumerate(ARGS) if k != position]
    assert gradient_check(f, ARGS[position], *rest)
    assert check_double_backward(f, ARGS[position], *rest)


def test_both_outputs_used_agree_with_the_composition_gradients():
    def grads(fn):
        xs = [Variable(a.copy()) for a in ARGS]
        c, h = fn(*xs)
        F.sum(c * 0.5 + h * h).backward()
        return [x.grad.data for x in xs]

    for g_fused, g_comp in zip(grads(F.lstm_cell), grads(_composed)):
        np.testing.assert_allclose(g_fused, g_comp, rtol=1e-10, atol=1e-12)


def test_float32_stays_float32():
    xs = [Variable(a.astype(np.float32)) for a in ARGS]
    c, h = F.lstm_cell(*xs)
    F.sum(c + h).backward()
    assert c.dtype == h.dtype == np.float32
    assert all(x.grad.dtype == np.float32 for x in xs)
