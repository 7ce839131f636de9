"""dezero.core_simple is the book's first-stage engine (steps 1-32): these replay the
book's first-stage patterns with it, unchanged (gradients are plain ndarrays)."""
import ast
import pathlib
import unittest

import numpy as np
import pytest

import dezero
import dezero.core_simple as cs
from dezero.core_simple import (
    Exp,
    Function,
    Square,
    Variable,
    add,
    as_array,
    as_variable,
    exp,
    mul,
    no_grad,
    square,
    using_config,
)
from dezero.utils import numerical_diff


def test_gradient_is_a_plain_ndarray_and_the_books_update_works():
    x = Variable(np.array(2.0))
    y = x ** 2 + 3 * x
    y.backward()
    assert type(x.grad) is np.ndarray and x.grad == 7.0
    x.data -= 0.1 * x.grad  # the book's update: would fail if grad were a Variable
    assert x.data == pytest.approx(1.3)


def test_square_exp_chain_matches_numerical_diff():
    x = Variable(np.array(0.5))
    y = square(exp(square(x)))
    y.backward()
    num = numerical_diff(lambda v: square(exp(square(v))), Variable(np.array(0.5)))
    assert np.allclose(x.grad, num)
    assert type(Square()(x)) is Variable and isinstance(Exp(), Function)


class SquareTest(unittest.TestCase):
    """The book's step 10 unit test, as written there."""

    def test_forward(self):
        y = square(Variable(np.array(2.0)))
        self.assertEqual(y.data, np.array(4.0))

    def test_backward(self):
        x = Variable(np.array(3.0))
        y = square(x)
        y.backward()
        self.assertEqual(x.grad, np.array(6.0))

    def test_gradient_check(self):
        x = Variable(np.random.rand(1))
        y = square(x)
        y.backward()
        num_grad = numerical_diff(square, x)
        self.assertTrue(np.allclose(x.grad, num_grad))


def test_add_mul_and_operators_with_arrays_and_scalars():
    a, b, c = Variable(np.array(3.0)), Variable(np.array(2.0)), Variable(np.array(1.0))
    y = add(mul(a, b), c)
    y.backward()
    assert y.data == 7.0 and a.grad == 2.0 and b.grad == 3.0
    x = Variable(np.array(2.0))
    y = 3.0 * x + 1.0
    z = np.array([2.0]) + x
    assert y.data == 7.0 and isinstance(z, Variable) and z.data[0] == 4.0
    y = (-x) - 1 + 2 / x - x / 4 + 2 - x + x ** 3
    y.backward()
    assert x.grad == pytest.approx(-1 - 2 / 4 - 0.25 - 1 + 12)


def test_the_same_variable_used_twice_accumulates_and_cleargrad_resets():
    x = Variable(np.array(3.0))
    y = add(x, x)
    y.backward()
    assert x.grad == 2.0
    x.cleargrad()
    y = add(add(x, x), x)
    y.backward()
    assert x.grad == 3.0


def test_diamond_graph_respects_generations():
    x = Variable(np.array(2.0))
    a = square(x)
    y = add(square(a), square(a))
    y.backward()
    assert y.data == 32.0 and x.grad == 64.0
    assert (x.generation, a.generation, y.generation) == (0, 1, 3)


def test_retain_grad_and_no_grad():
    x0, x1 = Variable(np.array(1.0)), Variable(np.array(1.0))
    t = add(x0, x1)
    y = add(x0, t)
    y.backward()
    assert y.grad is None and t.grad is None and x0.grad == 2.0
    y = add(x0, t)
    y.backward(retain_grad=True)
    assert y.grad == 1.0 and t.grad == 1.0
    with no_grad():
        y = square(Variable(np.ones((100, 100))))
    assert y.creator is None
    with using_config('enable_backprop', False):
        assert square(x0).creator is None
    assert square(x0).creator is not None


def test_as_array_and_as_variable():
    assert isinstance(as_array(1.0), np.ndarray) and as_array(np.ones(2)).shape == (2,)
    v = Variable(np.ones(2))
    assert as_variable(v) is v and isinstance(as_variable(np.ones(2)), Variable)
    with pytest.raises(TypeError, match='ndarray'):
        Variable(1.0)


def test_variable_properties_and_repr():
    x = Variable(np.array([[1, 2, 3], [4, 5, 6]]))
    x.name = 'x'
    assert (x.shape, x.ndim, x.size, x.dtype, len(x)) == ((2, 3), 2, 6, np.int64, 2)
    assert repr(x) == 'variable([[1 2 3]\n          [4 5 6]])'
    assert repr(Variable(None)) == 'variable(None)'


def sphere(x, y):
    return x ** 2 + y ** 2


def matyas(x, y):
    return 0.26 * (x ** 2 + y ** 2) - 0.48 * x * y


def goldstein(x, y):
    return (1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x ** 2 - 14 * y + 6 * x * y + 3 * y ** 2)) * \
        (30 + (2 * x - 3 * y) ** 2
         * (18 - 32 * x + 12 * x ** 2 + 48 * y - 36 * x * y + 27 * y ** 2))


@pytest.mark.parametrize('f,expected', [
    (sphere, (2.0, 2.0)), (matyas, (0.040000000000000036, 0.040000000000000036)),
    (goldstein, (-5376.0, 8064.0))], ids=['sphere', 'matyas', 'goldstein'])
def test_the_books_step_24_functions(f, expected):
    x, y = Variable(np.array(1.0)), Variable(np.array(1.0))
    z = f(x, y)
    z.backward()
    assert (x.grad, y.grad) == pytest.approx(expected)


def test_rosenbrock_gradient_descent_with_in_place_updates():
    def rosenbrock(x0, x1):
        return 100 * (x1 - x0 ** 2) ** 2 + (x0 - 1) ** 2

    x0, x1 = Variable(np.array(0.0)), Variable(np.array(2.0))
    lr = 0.001
    for _ in range(1000):
        y = rosenbrock(x0, x1)
        x0.cleargrad()
        x1.cleargrad()
        y.backward()
        x0.data -= lr * x0.grad
        x1.data -= lr * x1.grad
    assert (float(x0.data), float(x1.data)) == pytest.approx((0.6837, 0.4659), abs=1e-3)


def test_newtons_method_with_a_hand_written_second_derivative():
    def f(x):
        return x ** 4 - 2 * x ** 2

    x = Variable(np.array(2.0))
    for _ in range(10):
        y = f(x)
        x.cleargrad()
        y.backward()
        x.data -= x.grad / (12 * x.data ** 2 - 4)
    assert x.data == pytest.approx(1.0)


def test_a_user_defined_function_with_array_backward():
    class Sin(Function):
        def forward(self, x):
            return np.sin(x)

        def backward(self, gy):
            return gy * np.cos(self.inputs[0].data)

    x = Variable(np.array(np.pi / 4))
    y = Sin()(x)
    y.backward()
    assert x.grad == pytest.approx(np.cos(np.pi / 4))


def test_float32_stays_float32_and_broadcast_gradients_are_summed():
    x = Variable(np.ones(3, np.float32))
    y = x * 2.0 + 1
    assert y.dtype == np.float32
    b = Variable(np.array(1.0))
    z = x + b
    z.backward()
    assert b.grad.shape == () and b.grad == 3.0


def test_pow_zero_at_zero_has_zero_gradient():
    x = Variable(np.array(0.0))
    y = x ** 0
    y.backward()
    assert x.grad == 0.0


def test_core_simple_is_self_contained():
    tree = ast.parse(pathlib.Path(cs.__file__).read_text())
    modules = {a.name.split('.')[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
               for a in n.names}
    modules |= {n.module.split('.')[0] for n in ast.walk(tree)
                if isinstance(n, ast.ImportFrom)}
    assert modules <= {'contextlib', 'heapq', 'weakref', 'numpy'}
    assert cs.Variable is not dezero.Variable and dezero.is_simple_core is False
