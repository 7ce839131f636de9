"""Regularisation and normalisation: dropout, batch_norm and layer_norm.

Both read Config.train: dropout is the identity in test mode, batch_norm uses the
running statistics instead of the batch's.
"""
import math
import numbers

import numpy as np

from dezero import _parallel
from dezero.core import Config, Function, Variable, as_variable
from dezero.cuda import get_array_module
from dezero.functions._im2col import _image_blocks
from dezero.functions.reduce import sum as _sum
from dezero.functions.shape import reshape


# ---------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------
class Dropout(Function):
    """y = x * mask, where mask holds 0 or 1 / (1 - ratio) (inverted dropout)."""

    def __init__(self, mask):
        self.mask = mask

    def forward(self, x):
        return x * self.mask

    def backward(self, gy):
        return gy * self.mask

    def backward_arrays(self, gy):
        return gy * self.mask


def dropout(x, dropout_ratio=0.5):
    """Zero each element with probability dropout_ratio and scale the rest by
    1 / (1 - dropout_ratio) in training; the identity in test mode (Config.train False).

    The mask is drawn with `xp.random.rand(*x.shape) > dropout_ratio` from the global
    generator, as the book does, so seeded scripts reproduce its numbers.
    """
    if isinstance(dropout_ratio, bool) or not isinstance(dropout_ratio, numbers.Real) \
            or not 0 <= dropout_ratio < 1:
        raise ValueError(f"dropout: dropout_ratio must be a number in [0, 1), got "
                         f"{dropout_ratio!r}.")
    x = as_variable(x)
    if not Config.train:
        return x
    xp = get_array_module(x)
    dtype = x.dtype if x.dtype.kind == 'f' else np.dtype(np.float64)
    # asarray: for a 0-d x, rand() gives a Python float and the comparison a bool
    mask = xp.asarray(xp.random.rand(*x.shape) > dropout_ratio).astype(dtype)
    mask /= dtype.type(1.0 - dropout_ratio)
    return Dropout(mask)(x)


# ---------------------------------------------------------------------------
# Batch normalisation
# ---------------------------------------------------------------------------
def _bn_layout(name, x, gamma, beta, mean, var):
    """The reduction axes and the (1, C, 1, ...) parameter shape for x of shape (N, C, ...)."""
    if x.ndim < 2:
        raise ValueError(f"{name}: x must have shape (N, C) or (N, C, H, W), got shape {x.shape}.")
    c = x.shape[1]
    for label, a in (('gamma', gamma), ('beta', beta), ('mean', mean), ('var', var)):
        if a.shape != (c,):
            raise ValueError(f"{name}: {label} must have shape ({c},) to match the {c} channels "
                             f"of x of shape {x.shape}, got shape {a.shape}.")
    axes = (0,) + tuple(range(2, x.ndim))
    pshape = (1, c) + (1,) * (x.ndim - 2)
    return axes, pshape


def _batch_parts(xp, x):
    """Batch chunks for batch_norm's passes: one a thread for large float NumPy arrays (as
    ReLU splits, from 2^19 elements), else the whole batch."""
    if x.dtype.kind != 'f' or x.size < _parallel.ELEMENTWISE_MIN or not x.shape[0]:
        return [(0, x.shape[0])]
    return _parallel.chunks(xp, x.shape[0], 1, x.size // x.shape[0],
                            _parallel.ELEMENTWISE_MIN // 2)


def _summed(parts, fn):
    """The sum of fn(start, stop) over the parts (run at once, one a thread)."""
    return sum(_parallel.run(fn, parts))


def _accumulator(x):
    """float32 sums for float16 x (NumPy's mean does the same), else x's own dtype."""
    return np.float32 if x.dtype == np.float16 else None


# Batch norm works on x as rows (N, C*L), L = H*W: a per-channel value becomes a row of
# C*L (each value repeated L times), so broadcasts run along long contiguous rows instead
# of rows of L (a 4x4 map: 16), and per-channel sums add the N rows first (one product
# with a ones vector on BLAS), then L neighbours. On (64, 128, 4, 4): a channel sum 232 ->
# 34 us, x - mean 84 -> 44 us, a channel dot 83 -> 37 us.
def _rows(a):
    """(N, C, ...) as (N, C*L) (a view of a C-contiguous array)."""
    return a if a.ndim == 2 else a.reshape(a.shape[0], math.prod(a.shape[1:]))


def _channel_row(xp, v, x):
    """v (C values, any shape) repeated as a row matching _rows(x)'s columns."""
    v = v.reshape(-1)
    return v if x.ndim == 2 else xp.repeat(v, math.prod(x.shape[2:]))


def _per_channel(rowsum, x):
    """Per-column sums (C*L,) of _rows(x) -> per-channel sums (C,)."""
    return rowsum if x.ndim == 2 else rowsum.reshape(x.shape[1], -1).sum(axis=1)


def _channel_sum(xp, a):
    """sum(a) over all axes but 1 (float32 sums for float16)."""
    rows = _rows(a)
    if xp is np and a.dtype in (np.float32, np.float64) and rows.shape[0]:
        return _per_channel(np.ones(rows.shape[0], dtype=a.dtype) @ rows, a)
    return _per_channel(rows.sum(axis=0, dtype=_accumulator(a)), a)


def _channel_dot(xp, a, b):
    """sum(a * b) over all axes but 1, for equally shaped (N, C, ...) arrays, in one pass
    (einsum: no product array)."""
    return _per_channel(xp.einsum('ni,ni->i', _rows(a), _rows(b), dtype=_accumulator(a)), a)


class BatchNorm(Function):
    """y = gamma * (x - mu) / sqrt(var + eps) + beta over the channel axis 1.

    In training mu and var are the batch's (and the running mean/var arrays are
    updated in place); in test mode they are the running arrays.
    """

    def __init__(self, mean, var, decay, eps, train):
        self.mean = mean
        self.var = var
        self.decay = decay
        self.eps = eps
        self.train = train

    def forward(self, x, gamma, beta):
        xp = get_array_module(x)
        axes, pshape = _bn_layout('batch_norm', x, gamma, beta, self.mean, self.var)
        self.axes, self.pshape = axes, pshape
        if not self.train:
            dtype = x.dtype
            inv_std = 1 / xp.sqrt(self.var.astype(dtype) + self.eps)
            # Copies: the running arrays may be updated before backward runs.
            self.inv_std = inv_std.reshape(pshape)
            self.shift = self.mean.astype(dtype).reshape(pshape)
            scale = gamma * inv_std
            scale = scale.reshape(pshape)
            return x * scale + (beta.reshape(pshape) - self.shift * scale)

        m = x.size // x.shape[1] if x.shape[1] else 0
        if m == 0:
            # An empty batch: nothing to normalise, and the running statistics stay as they
            # are (as in PyTorch) instead of turning NaN for good.
            if Config.enable_backprop:
                self.m, self.xc = 1, x * 0
                self.inv_std = xp.zeros(pshape, dtype=self.xc.dtype)
            return x * gamma.reshape(pshape) + beta.reshape(pshape)
        # Five passes over x: the mean, x - mean, the sum of squares, the scale and the
        # shift; xc = x - mean is kept for backward (not xhat: one pass fewer). Each pass
        # runs over batch chunks, one a thread (_batch_parts).
        parts = _batch_parts(xp, x)
        mu = (_summed(parts, lambda a, b: _channel_sum(xp, x[a:b])) / m).reshape(pshape)
        if mu.dtype != x.dtype and x.dtype.kind == 'f':
            mu = mu.astype(x.dtype)   # float16 x: summed in float32
        xc = xp.empty(x.shape, dtype=mu.dtype)
        x_rows, xc_rows, mu_row = _rows(x), _rows(xc), _channel_row(xp, mu, x)

        def center(a, b):
            xp.subtract(x_rows[a:b], mu_row, out=xc_rows[a:b])
            return _channel_dot(xp, xc[a:b], xc[a:b])
        batch_var = (_summed(parts, center) / m).reshape(pshape).astype(xc.dtype)
        inv_std = 1 / xp.sqrt(batch_var + self.eps)
        scale, shift = gamma.reshape(pshape) * inv_std, beta.reshape(pshape)
        y = xp.empty(x.shape, dtype=xp.result_type(xc, scale, shift))
        y_rows = _rows(y)
        scale_row, shift_row = _channel_row(xp, scale, x), _channel_row(xp, shift, x)

        def normalize(a, b):
            xp.multiply(xc_rows[a:b], scale_row, out=y_rows[a:b])
            y_rows[a:b] += shift_row
        _parallel.run(normalize, parts)

        # Running statistics, in place; the variance is the unbiased m / (m - 1) estimate.
        decay = self.decay
        adjust = m / max(m - 1, 1)
        self.mean *= decay
        self.mean += (1 - decay) * mu.reshape(-1)
        self.var *= decay
        self.var += ((1 - decay) * adjust) * batch_var.reshape(-1)

        if Config.enable_backprop:
            self.m, self.xc, self.inv_std = m, xc, inv_std
        return y

    def backward(self, gy):
        x, gamma, beta = self.inputs
        axes, pshape = self.axes, self.pshape
        if not self.train:
            # Statistics are constants here: y is affine in x.
            xhat = (x - self.shift) * self.inv_std
            gx = gy * (reshape(gamma, pshape) * self.inv_std)
            return gx, _sum(gy * xhat, axis=axes), _sum(gy, axis=axes)
        return self._backward_graph(gy)

    def backward_arrays(self, g):
        x, gamma, beta = self.inputs
        axes, pshape = self.axes, self.pshape
        if not self.train:
            xhat = (x.data - self.shift) * self.inv_std
            gx = g * (gamma.data.reshape(pshape) * self.inv_std)
            return gx, (g * xhat).sum(axis=axes), g.sum(axis=axes)
        # gamma inv_std (g - gbeta / m - xhat ggamma / m), xhat = xc inv_std, as
        # (g - gbeta / m) scale - xc (scale inv_std ggamma / m): four passes and two sums.
        xp = get_array_module(g)
        m, xc, inv_std = self.m, self.xc, self.inv_std
        parts = _batch_parts(xp, g)
        sums = _parallel.run(lambda a, b: (_channel_sum(xp, g[a:b]),
                                           _channel_dot(xp, g[a:b], xc[a:b])), parts)
        gbeta = sum(part[0] for part in sums).reshape(pshape)
        if gbeta.dtype != g.dtype and g.dtype.kind == 'f':
            gbeta = gbeta.astype(g.dtype)   # float16: summed in float32
        ggamma = sum(part[1] for part in sums).reshape(pshape).astype(gbeta.dtype) * inv_std
        scale = gamma.data.reshape(pshape) * inv_std
        offset, coef = gbeta / m, scale * inv_std * ggamma / m
        gx = xp.empty(g.shape, dtype=xp.result_type(g, offset))
        g_rows, gx_rows, xc_rows = _rows(g), _rows(gx), _rows(xc)
        offset_row, scale_row, coef_row = (_channel_row(xp, v, g) for v in (offset, scale, coef))

        def finish(a, b):
            xp.subtract(g_rows[a:b], offset_row, out=gx_rows[a:b])
            gx_rows[a:b] *= scale_row
            gx_rows[a:b] -= xc_rows[a:b] * coef_row
        _parallel.run(finish, parts)
        return gx, ggamma.reshape(-1), gbeta.reshape(-1)

    def _backward_graph(self, gy):
        # create_graph: the same formulas built of Functions, with the batch statistics
        # recomputed from x so that they are differentiated too.
        x, gamma, beta = self.inputs
        axes, pshape, m = self.axes, self.pshape, self.m
        xc = x - _sum(x, axis=axes, keepdims=True) / m
        inv_std = (_sum(xc * xc, axis=axes, keepdims=True) / m + self.eps) ** -0.5
        xhat = xc * inv_std
        gbeta = _sum(gy, axis=axes, keepdims=True)
        ggamma = _sum(gy * xhat, axis=axes, keepdims=True)
        gx = (reshape(gamma, pshape) * inv_std) * (gy - gbeta / m - xhat * ggamma / m)
        return gx, reshape(ggamma, (-1,)), reshape(gbeta, (-1,))


def batch_norm(x, gamma, beta, mean, var, decay=0.9, eps=2e-5):
    """Batch normalisation over axis 1 of x (N, C) or (N, C, H, W).

    Args:
        gamma, beta: scale and shift of shape (C,).
        mean, var: running statistics, arrays of shape (C,); in training they are
            updated in place (mean = decay * mean + (1 - decay) * batch mean, and
            likewise var with the unbiased batch variance); in test mode
            (Config.train False) they normalise x.
    """
    mean = mean.data if isinstance(mean, Variable) else mean
    var = var.data if isinstance(var, Variable) else var
    return BatchNorm(mean, var, decay, eps, Config.train)(x, gamma, beta)


# --- compatibility ---
batch_nrom = batch_norm  # keeps the book's misspelt F.batch_nrom


# ---------------------------------------------------------------------------
# Layer normalisation
# ---------------------------------------------------------------------------
# Layer norm runs over blocks of rows of about this many bytes an array: its seven passes
# forward and nine backward then stay in cache for large inputs (forward + backward of
# (64, 128, 512) float32: 39 ms in one block, 31 ms in blocks; the Functions-built backward
# took 64 ms, PyTorch 10.5 ms).
_LN_BLOCK_BYTES = 1 << 19


def _row_blocks(xp, rows, row_bytes):
    """[(start, stop)] over rows in blocks of about _LN_BLOCK_BYTES (one block on CuPy)."""
    return _image_blocks(xp, 0, rows, row_bytes, _LN_BLOCK_BYTES)


def _last_axis_rows(x):
    """x as rows (M, D) of its last axis (-1 fails for an empty last axis)."""
    return x.reshape(math.prod(x.shape[:-1]), x.shape[-1])


class LayerNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * gamma + beta over the last axis (per sample)."""

    def __init__(self, eps, has_gamma, has_beta):
        self.eps = eps
        self.has_gamma = has_gamma
        self.has_beta = has_beta

    def forward(self, x, *params):
        xp = get_array_module(x)
        n = x.shape[-1]
        gamma = params[0] if self.has_gamma else None
        beta = params[-1] if self.has_beta else None
        x2 = _last_axis_rows(x)
        y = xp.empty(x2.shape, dtype=x.dtype)
        mean = xp.zeros((x2.shape[0], 1), dtype=x.dtype)
        inv_std = xp.zeros((x2.shape[0], 1), dtype=x.dtype)
        for a, b in _row_blocks(xp, x2.shape[0] if n else 0, n * x.dtype.itemsize):
            xb, yb, mu, s = x2[a:b], y[a:b], mean[a:b], inv_std[a:b]
            mu[...] = xb.mean(axis=1, keepdims=True)
            cb = xp.subtract(xb, mu, out=yb)
            # the row sums of squares in one pass (einsum: no product array)
            var = xp.einsum('ni,ni->n', cb, cb)[:, None] / n
            var += self.eps
            xp.divide(1, xp.sqrt(var), out=s)
            yb *= s
            if gamma is not None:
                yb *= gamma
            if beta is not None:
                yb += beta
        if Config.enable_backprop:
            # Row statistics only (as PyTorch): backward_arrays recomputes x - mean a block
            # at a time, in cache, rather than keep an array of x's size.
            self.mean, self.inv_std = mean, inv_std
        return y.reshape(x.shape)

    def backward_arrays(self, gy):
        # gx = inv_std (g - mean(g)) - xc inv_std^3 mean(g xc), g = gy gamma, xc = x - mean,
        # block by block; row and column sums by einsum (no product arrays).
        xp = get_array_module(gy)
        x2 = _last_axis_rows(self.inputs[0].data)
        mean, inv_std = self.mean, self.inv_std
        n = x2.shape[-1]
        gamma = self.inputs[1].data if self.has_gamma else None
        gy2 = gy.reshape(x2.shape)
        gx = xp.empty(x2.shape, dtype=xp.result_type(gy, x2, *(() if gamma is None
                                                                  else (gamma,))))
        ggamma = gbeta = 0
        for a, b in _row_blocks(xp, x2.shape[0], n * gx.dtype.itemsize):
            gyb, s = gy2[a:b], inv_std[a:b]
            cb = x2[a:b] - mean[a:b]
            g = gyb
            if gamma is not None:
                g = gyb * gamma
                ggamma = ggamma + xp.einsum('ni,ni,n->i', gyb, cb, s[:, 0])
            if self.has_beta:
                gbeta = gbeta + gyb.sum(axis=0)
            if not n:
                continue
            coef = xp.einsum('ni,ni->n', g, cb)[:, None]
            coef *= s ** 3 / n
            gxb = gx[a:b]
            xp.subtract(g, g.sum(axis=1, keepdims=True) / n, out=gxb)
            gxb *= s
            cb *= coef
            gxb -= cb
        if not n:
            gx[...] = 0
        grads = []
        for has, total, p in ((self.has_gamma, ggamma, 1), (self.has_beta, gbeta, -1)):
            if has:
                param = self.inputs[p].data
                total = total + xp.zeros(param.shape, dtype=param.dtype)   # empty batch: 0
                grads.append(total.astype(param.dtype, copy=False))
        return (gx.reshape(gy.shape), *grads)

    def backward(self, gy):
        # Recomputed from x with Functions, so the statistics are differentiated too and
        # create_graph=True gives exact second derivatives.
        x = self.inputs[0]
        params = list(self.inputs[1:])
        n = x.shape[-1]
        xc = x - _sum(x, axis=-1, keepdims=True) / n
        inv_std = (_sum(xc * xc, axis=-1, keepdims=True) / n + self.eps) ** -0.5
        xhat = xc * inv_std
        grads = []
        g = gy
        if self.has_gamma:
            gamma = params.pop(0)
            g = gy * gamma
            grads.append(_sum_to_last(gy * xhat, gamma.shape))
        if self.has_beta:
            beta = params.pop(0)
            grads.append(_sum_to_last(gy, beta.shape))
        gx = inv_std * (g - _sum(g, axis=-1, keepdims=True) / n
                        - xhat * (_sum(g * xhat, axis=-1, keepdims=True) / n))
        return (gx, *grads)


def _sum_to_last(g, shape):
    axes = tuple(range(g.ndim - len(shape)))
    return _sum(g, axis=axes) if axes else g


def layer_norm(x, gamma, beta, eps=1e-5):
    """Layer normalisation over the last axis: each x[..., :] gets zero mean and unit
    variance (the biased variance, as PyTorch), then is scaled by gamma and shifted by beta.

    Args:
        x: input of shape (..., D) with a float dtype.
        gamma, beta: scale and shift of shape (D,) (Variables/Parameters or arrays), or
            None to leave them out.
        eps: added to the variance.
    """
    x = as_variable(x)
    if x.ndim < 1 or x.dtype.kind != 'f':
        raise ValueError(f"layer_norm: x must be a float array with at least one axis, got "
                         f"shape {x.shape} and dtype {x.dtype}.")
    d = x.shape[-1]
    params = []
    for label, p in (('gamma', gamma), ('beta', beta)):
        if p is None:
            continue
        shape = p.shape if hasattr(p, 'shape') else None
        if shape != (d,):
            raise ValueError(f"layer_norm: {label} must have shape ({d},) to match the last "
                             f"axis of x of shape {x.shape}, got "
                             f"{shape if shape is not None else type(p).__name__}.")
        params.append(p)
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)) or eps < 0:
        raise ValueError(f"layer_norm: eps must be a non-negative number, got {eps!r}.")
    return LayerNorm(float(eps), gamma is not None, beta is not None)(x, *params)
