"""Linear algebra: matmul (1-D, 2-D and batched N-D, NumPy's rules) and linear.

Backward passes are written with dezero Functions (matmul, transpose, reshape, sum_to), so
create_graph=True works through them.
"""
import numpy as np

from dezero import _parallel
from dezero.core import Function, Variable as _Variable, needs_grad
from dezero.functions.shape import _swap_last, expand_dims, reshape, sum_to, transpose
from dezero.utils_array import sum_to as sum_to_array

_ndarray, _matmul, _result_type = np.ndarray, np.matmul, np.result_type


def _grad_out(W, *operand_dtypes):
    """W.grad_out when the gradient of W may be written there: W is a Parameter with no
    gradient yet (a second use would accumulate) and the product has the buffer's dtype."""
    out = getattr(W, 'grad_out', None)
    if out is None or W.grad is not None or out.__class__ is not _ndarray or \
            W.data.__class__ is not _ndarray or out.shape != W.data.shape or \
            _result_type(*operand_dtypes) != out.dtype:
        return None
    return out


def _matmul_error(op, x, W):
    return ValueError(f"{op}: shapes {x.shape} and {W.shape} are not aligned: the last axis "
                      f"of x ({x.shape[-1] if x.ndim else 'none, 0-d'}) must equal the "
                      f"{'first' if W.ndim == 1 else 'second-to-last'} axis of W "
                      f"({W.shape[0] if W.ndim == 1 else W.shape[-2] if W.ndim else 'none, 0-d'})"
                      ", and batch axes must broadcast (0-d operands are not allowed).")


class MatMul(Function):
    """y = x @ W with NumPy's matmul rules; gradients are summed back to each operand's shape."""

    def forward(self, x, W):
        _parallel.before_product(x, W)
        try:
            return x @ W
        except ValueError:
            raise _matmul_error('matmul', x, W) from None

    def backward(self, gy):
        x, W = self.inputs
        xd, wd = x.data, W.data
        if xd.ndim == 2 and wd.ndim == 2:  # the common case, kept short
            gx = matmul(gy, transpose(W)) if needs_grad(x) else None
            gW = matmul(transpose(x), gy) if needs_grad(W) else None
            return gx, gW
        return self._backward_nd(gy)

    def backward_arrays(self, gy):
        x, W = self.inputs
        xd, wd = x.data, W.data
        _parallel.before_product(xd, wd)
        if xd.ndim == 2 and wd.ndim == 2:
            gx = gy @ wd.T if needs_grad(x) else None
            gW = xd.T @ gy if needs_grad(W) else None
            return gx, gW
        gx, gW = self._backward_nd(_Variable(gy))
        return gx.data, gW.data

    def _backward_nd(self, gy):
        x, W = self.inputs
        xd, wd = x.data, W.data
        x2, W2, g2 = x, W, gy
        # 1-D operands act as a row (x) or a column (W) that matmul then drops
        if xd.ndim == 1:
            x2 = reshape(x, (1, xd.shape[0]))
        if wd.ndim == 1:
            W2 = reshape(W, (wd.shape[0], 1))
        if xd.ndim == 1 and wd.ndim == 1:
            g2 = reshape(gy, (1, 1))
        elif xd.ndim == 1:
            g2 = expand_dims(gy, -2)
        elif wd.ndim == 1:
            g2 = expand_dims(gy, -1)
        gx = matmul(g2, _swap_last(W2))
        if W2.ndim == 2 and x2.ndim > 2:
            # one big product instead of a batch of them summed afterwards
            k, m = W2.shape
            gW = matmul(transpose(reshape(x2, (-1, k))), reshape(g2, (-1, m)))
        else:
            gW = sum_to(matmul(_swap_last(x2), g2), W2.shape)
        gx = reshape(sum_to(gx, x2.shape), xd.shape)
        gW = reshape(gW, wd.shape)
        return gx, gW


def matmul(x, W):
    """Matrix product x @ W: 1-D, 2-D and batched N-D operands with NumPy's broadcasting."""
    return MatMul()(x, W)


class Linear(Function):
    """y = x @ W (+ b). Keeps only its inputs; gW is one matmul and gb one sum."""

    def forward(self, x, W, b=None):
        if W.ndim != 2:
            raise ValueError(f"linear: W must be 2-D (in_size, out_size), got shape {W.shape} "
                             f"(x has shape {x.shape}).")
        _parallel.before_product(x, W)
        try:
            y = x @ W
        except ValueError:
            raise _matmul_error('linear', x, W) from None
        if b is not None:
            try:
                y += b  # in place: no second (N, out) temporary
            except ValueError:
                raise ValueError(f"linear: bias of shape {b.shape} does not broadcast to the "
                                 f"output shape {y.shape} (x {x.shape} @ W {W.shape}); "
                                 f"use a bias of shape ({W.shape[1]},).") from None
        return y

    def backward(self, gy):
        inputs = self.inputs
        x, W = inputs[0], inputs[1]
        # a batch passed as a plain array needs no gradient: skip the (N, in) product
        gx = matmul(gy, transpose(W)) if needs_grad(x) else None
        ndim = x.data.ndim
        if ndim == 2:
            gW = matmul(transpose(x), gy)
        else:
            k, m = W.data.shape
            gW = matmul(transpose(reshape(x, (-1, k))), reshape(gy, (-1, m)))
        if len(inputs) == 3:
            return gx, gW, sum_to(gy, inputs[2].data.shape)
        return gx, gW

    def backward_arrays(self, gy):
        inputs = self.inputs
        x, W = inputs[0].data, inputs[1].data
        _parallel.before_product(x, W)
        gx = gy @ W.T if needs_grad(inputs[0]) else None
        x2 = x if x.ndim == 2 else x.reshape(-1, W.shape[0])
        g2 = gy if gy.ndim == 2 else gy.reshape(-1, W.shape[1])
        out = _grad_out(inputs[1], x2.dtype, g2.dtype)
        gW = x2.T @ g2 if out is None else _matmul(x2.T, g2, out=out)
        if len(inputs) == 3:
            return gx, gW, sum_to_array(gy, inputs[2].data.shape)
        return gx, gW


def linear(x, W, b=None):
    """x @ W + b for x of shape (..., in) and W of shape (in, out); b (out,) or None."""
    if b is None:
        return Linear()(x, W)
    return Linear()(x, W, b)


def linear_simple(x, W, b=None):
    """The book's linear built from matmul and add (two graph nodes instead of one)."""
    t = matmul(x, W)
    if b is None:
        return t
    return t + b
