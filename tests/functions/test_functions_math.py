"""Elementwise math functions: what the op registry's generic tests do not say."""
import numpy as np

import dezero.functions as F
from dezero import Variable
from dezero.utils import gradient_check

# Values, first and second derivatives and dtypes of every elementwise function are checked
# by the op registry (tests/op_registry.py, tests/test_ops_generic.py).


def test_abs_of_negative_values_has_negative_gradient():
    x = Variable(np.array([-2.0, 3.0]))
    F.abs(x).backward()
    np.testing.assert_array_equal(x.grad.data, [-1.0, 1.0])
    assert gradient_check(F.abs, np.array([-0.3, -1.2, -2.0]))
