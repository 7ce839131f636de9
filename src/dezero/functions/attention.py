"""Attention: scaled_dot_product_attention, composed of matmul, softmax and the arithmetic.

Being a composition of dezero Functions it is differentiable twice with no code of its own.
"""
import math

import numpy as np

from dezero.core import Variable, as_variable
from dezero.cuda import get_array_module
from dezero.functions.activation import softmax
from dezero.functions.linalg import matmul
from dezero.functions.normalization import dropout
from dezero.functions.shape import _swap_last


def _additive_mask(mask, scores_shape, dtype, xp):
    """The mask as an array added to the scores: 0 / -inf for a boolean mask (True = attend)."""
    m = mask.data if isinstance(mask, Variable) else mask
    m = xp.asarray(m)
    try:
        np.broadcast_shapes(m.shape, scores_shape)
    except ValueError:
        raise ValueError(f"scaled_dot_product_attention: mask of shape {m.shape} does not "
                         f"broadcast to the attention scores of shape {scores_shape} "
                         "(..., T, S).") from None
    if m.dtype == np.bool_:
        return xp.where(m, dtype.type(0), dtype.type(-np.inf))
    if m.dtype.kind != 'f':
        raise TypeError(f"scaled_dot_product_attention: mask must be boolean (True = attend) "
                        f"or float (added to the scores), got dtype {m.dtype}.")
    return m.astype(dtype, copy=False)


def causal_mask(t, s=None, xp=np):
    """Boolean (t, s) mask that lets position i attend to positions j <= i (True = attend)."""
    s = t if s is None else s
    return xp.tril(xp.ones((t, s), dtype=bool))


def scaled_dot_product_attention(q, k, v, mask=None, dropout_p=0.0):
    """softmax(q @ k^T / sqrt(E) + mask) @ v, PyTorch's F.scaled_dot_product_attention.

    Args:
        q: queries of shape (..., T, E).
        k: keys of shape (..., S, E).
        v: values of shape (..., S, Ev); leading (batch, head) axes broadcast.
        mask: None, a boolean array broadcastable to (..., T, S) where True means
            "may attend" (PyTorch's attn_mask convention; False positions get -inf),
            or a float array added to the scores. A query row with every key masked
            gives NaN, as in PyTorch. causal_mask(T) builds the autoregressive one.
        dropout_p: dropout probability applied to the attention weights while
            Config.train is True (F.dropout; PyTorch applies it whenever it is given).

    Returns the attended values of shape (..., T, Ev).
    """
    q, k, v = as_variable(q), as_variable(k), as_variable(v)
    for name, a in (('q', q), ('k', k), ('v', v)):
        if a.ndim < 2 or a.dtype.kind != 'f':
            raise ValueError(f"scaled_dot_product_attention: {name} must be a float array of "
                             f"shape (..., L, E), got shape {a.shape} and dtype {a.dtype}.")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: q (..., T, E), k (..., S, E) and v "
                         f"(..., S, Ev) do not fit: got shapes {q.shape}, {k.shape} and "
                         f"{v.shape}.")
    scores = matmul(q, _swap_last(k)) * (1.0 / math.sqrt(q.shape[-1]))
    if mask is not None:
        xp = get_array_module(scores.data)
        scores = scores + _additive_mask(mask, scores.shape, scores.dtype, xp)
    weights = softmax(scores, axis=-1)
    if dropout_p:
        weights = dropout(weights, dropout_p)
    return matmul(weights, v)
