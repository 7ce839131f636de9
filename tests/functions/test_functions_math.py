"""Elementwise math functions: values, first and second derivatives, dtypes."""
import numpy as np
import pytest

import dezero.functions as F
from dezero import Variable
from dezero.utils import check_double_backward, gradient_check

CASES = {
    'square': (F.square, np.square, (-2, 2)),
    'exp': (F.exp, np.exp, (-2, 2)),
    'log': (F.log, np.log, (0.5, 3)),
    'sin': (F.sin, np.sin, (-3, 3)),
    'cos': (F.cos, np.cos, (-3, 3)),
    'tanh': (F.tanh, np.tanh, (-2, 2)),
    'sqrt': (F.sqrt, np.sqrt, (0.5, 3)),
    'abs': (F.abs, np.abs, (0.2, 2)),
    'pow3': (lambda x: F.pow(x, 3), lambda a: a ** 3, (-2, 2)),
}


def _input(shape, low, high, seed=0):
    return np.random.RandomState(seed).uniform(low, high, size=shape)


@pytest.mark.parametrize('name', sorted(CASES))
@pytest.mark.parametrize('shape', [(), (4,), (2, 3)])
def test_forward_matches_numpy(name, shape, xp):
    fn, ref, (low, high) = CASES[name]
    x = _input(shape, low, high)
    y = fn(Variable(xp.asarray(x)))
    np.testing.assert_allclose(np.asarray(y.data.get() if xp is not np else y.data), ref(x),
                               rtol=1e-12)


@pytest.mark.parametrize('name', sorted(CASES))
@pytest.mark.parametrize('shape', [(), (4,), (2, 3)])
def test_first_and_second_derivatives(name, shape):
    fn, _, (low, high) = CASES[name]
    x = _input(shape, low, high)
    assert gradient_check(fn, x)
    assert check_double_backward(fn, x)


def test_abs_of_negative_values_has_negative_gradient():
    x = Variable(np.array([-2.0, 3.0]))
    F.abs(x).backward()
    np.testing.assert_array_equal(x.grad.data, [-1.0, 1.0])
    assert gradient_check(F.abs, -_input((3,), 0.2, 2))


@pytest.mark.parametrize('name', sorted(CASES))
def test_float32_in_float32_out_and_gradient(name):
    fn, _, (low, high) = CASES[name]
    x = Variable(_input((3,), low, high).astype(np.float32))
    y = fn(x)
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32
