"""The book's first-stage module name (steps 23-32): the same engine as dezero.core."""
from dezero.core import (  # noqa: F401
    Config, Function, Variable, add, as_array, as_variable, div, mul, neg, no_grad, pow, rdiv,
    rsub, setup_variable, sub, using_config)
