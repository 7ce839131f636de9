"""dezero.functions (imported as F): every differentiable operation, one family per module."""
from dezero.core import add, div, mul, neg, pow, rdiv, rsub, sub  # noqa: F401
from dezero.functions.math import (  # noqa: F401
    Abs, Cos, Exp, Log, Sin, Sqrt, Square, Tanh, abs, cos, exp, log, sin, sqrt, square, tanh)
from dezero.functions.shape import (  # noqa: F401
    BroadcastTo, Reshape, SumTo, Transpose, broadcast_to, reshape, sum_to, transpose)
from dezero.functions.reduce import Sum, sum  # noqa: F401
from dezero.functions.linalg import Linear, MatMul, linear, matmul  # noqa: F401
