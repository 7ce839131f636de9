"""numerical_diff, numerical_grad, gradient_check and check_double_backward themselves."""
import numpy as np

import dezero.functions as F
from dezero import Function, Variable
from dezero.utils import (
    array_allclose,
    array_equal,
    check_double_backward,
    gradient_check,
    numerical_diff,
    numerical_grad,
)


def test_numerical_diff_is_a_central_difference():
    x = Variable(np.array(2.0))
    d = numerical_diff(lambda v: F.square(v), x)
    assert abs(float(d) - 4.0) < 1e-8


def test_numerical_grad_of_sum_of_squares():
    x = np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(numerical_grad(lambda v: F.square(v), x), 2 * x, rtol=1e-7)


class WrongGradient(Function):
    def forward(self, x):
        return x * x

    def backward(self, gy):
        x, = self.inputs
        return gy * x  # should be 2x


class WrongSecondDerivative(Function):
    """x^3 whose backward returns the right value 3x^2 built from a constant, so the
    first derivative is right but the second derivative is zero."""

    def forward(self, x):
        return x ** 3

    def backward(self, gy):
        x, = self.inputs
        return gy * (3 * x.data ** 2)


def test_gradient_check_detects_a_wrong_gradient(capsys):
    assert not gradient_check(lambda v: WrongGradient()(v), np.array([1.0, 2.0]))
    assert 'gradient_check failed' in capsys.readouterr().out


def test_gradient_check_checks_variable_args_too():
    def bad(a, b):
        return a + WrongGradient()(b)
    assert not gradient_check(bad, np.array([1.0]), Variable(np.array([2.0])))
    assert gradient_check(lambda a, b: a * b, np.array([1.0]), Variable(np.array([2.0])))


def test_gradient_check_does_not_touch_global_random_state():
    np.random.seed(5)
    expected = np.random.rand()
    np.random.seed(5)
    gradient_check(F.sin, np.array([0.3, 0.2]))
    assert np.random.rand() == expected


def test_check_double_backward_detects_a_wrong_second_derivative():
    x = np.array([1.0, 2.0])
    assert gradient_check(lambda v: WrongSecondDerivative()(v), x)
    assert not check_double_backward(lambda v: WrongSecondDerivative()(v), x)
    assert check_double_backward(lambda v: v ** 3, x)


def test_array_equal_and_allclose_accept_variables():
    a = Variable(np.array([1.0, 2.0]))
    assert array_equal(a, np.array([1.0, 2.0]))
    assert array_allclose(a, np.array([1.0, 2.0 + 1e-7]))
    assert not array_allclose(a, np.array([1.0, 2.1]))


class MulWithConstantGradient(Function):
    """x * w whose gx = gy * w.data is right to first order but carries no graph to w,
    so the mixed second derivative d2/dx dw comes out 0 instead of gy."""

    def forward(self, x, w):
        return x * w

    def backward(self, gy):
        x, w = self.inputs
        return gy * w.data, gy * x


def test_check_double_backward_checks_mixed_derivatives_of_variable_args():
    x = np.array([1.0, 2.0])
    w = Variable(np.array([3.0, -1.0]))
    f = lambda a, b: MulWithConstantGradient()(a, b)  # noqa: E731 (a one-line closure handed to the gradient check)
    assert gradient_check(f, x, w)
    assert check_double_backward(f, x, w.data)  # w held constant: only d2/dx2 (zero) checked
    assert not check_double_backward(f, x, w)
