"""dezero.functions (imported as F): every differentiable operation, one family per module.

Each family module adds its own import block below; keep the blocks separate.
"""
# --- core arithmetic ---
from dezero.core import add, div, mul, neg, pow, rdiv, rsub, sub  # noqa: F401
# --- math ---
from dezero.functions.math import (  # noqa: F401
    Abs, Cos, Exp, Log, Sin, Sqrt, Square, Tanh, abs, cos, exp, log, sin, sqrt, square, tanh)
# --- shape ---
from dezero.functions.shape import (  # noqa: F401
    BroadcastTo, Reshape, SumTo, Transpose, broadcast_to, reshape, sum_to, transpose)
# --- reduce ---
from dezero.functions.reduce import Sum, sum  # noqa: F401
# --- linalg ---
from dezero.functions.linalg import Linear, MatMul, linear, matmul  # noqa: F401
# --- activation ---
# --- loss ---
# --- normalization ---
# --- conv ---
