"""Losses and metrics: mean_squared_error, softmax_cross_entropy, sigmoid_cross_entropy,
binary_cross_entropy, accuracy (and the book's simple forms); nll_loss, kl_div, huber_loss.

Conventions: logits x of shape (N, C), integer labels t of shape (N,); the losses are
summed over the samples and divided by N = len(x), as in the book.
"""
import warnings

import numpy as np

from dezero import _parallel, utils_array
from dezero.core import Config, Function, Variable, as_array, as_variable
from dezero.cuda import get_array_module
from dezero.functions.activation import Sigmoid, sigmoid, softmax, softmax_simple
from dezero.functions.math import exp, log
from dezero.functions.reduce import clip, sum as _sum
from dezero.functions.shape import where


def _data(x):
    return x.data if isinstance(x, Variable) else x


def _len(x):
    return x.shape[0] if x.ndim > 0 else 1


# ---------------------------------------------------------------------------
# Mean squared error
# ---------------------------------------------------------------------------
def _check_same_shape(name, x0, x1, stacklevel=3):
    """Equal shapes pass; broadcastable unequal shapes pass with a UserWarning naming both
    (the book's sine-wave LSTM compares y (1, 1) with t (1,); PyTorch warns the same way);
    shapes that do not broadcast are a ValueError naming the op. Returns the common shape."""
    if x0.shape == x1.shape:
        return x0.shape
    try:
        shape = np.broadcast_shapes(x0.shape, x1.shape)
    except ValueError:
        raise ValueError(f"{name}: the two inputs must have the same shape, got {x0.shape} and "
                         f"{x1.shape}, which do not even broadcast; reshape one of them (e.g. "
                         "t.reshape(y.shape)).") from None
    warnings.warn(f"{name}: input shapes {x0.shape} and {x1.shape} differ; they are broadcast "
                  f"to {shape} before the squared error is taken, which may not be what you "
                  "want; reshape one of them (e.g. t.reshape(y.shape)) to silence this warning.",
                  UserWarning, stacklevel=stacklevel)
    return shape


def _inverse_len(diff, scale=1.0):
    """scale / len(diff); 0 for an empty batch (its gradient is empty anyway)."""
    n = _len(diff)
    return scale / n if n else 0.0


def _target_like(x0, x1):
    """The second operand cast to the first's float dtype (a float32 prediction against a
    float64 target stays float32, as the cross entropies cast their targets)."""
    if x0.dtype.kind == 'f' and x1.dtype != x0.dtype and x1.dtype.kind in 'biuf':
        return x1.astype(x0.dtype)
    return x1


class MeanSquaredError(Function):
    """sum((x0 - x1) ** 2) / len(x0); x1 is cast to x0's float dtype."""

    def forward(self, x0, x1):
        _check_same_shape('mean_squared_error', x0, x1, stacklevel=5)
        diff = x0 - _target_like(x0, x1)
        # an empty batch gives NaN with NumPy's warning, as the mean of nothing does
        return (diff * diff).sum() / _len(diff)

    def backward(self, gy):
        x0, x1 = self.inputs
        diff = x0 - _target_like(x0.data, x1.data) if x1.dtype != x0.dtype else x0 - x1
        gx0 = gy * diff * _inverse_len(diff, 2.0)
        return _sum_to_shape(gx0, x0.shape), _sum_to_shape(-gx0, x1.shape)

    def backward_arrays(self, gy):
        x0, x1 = self.inputs
        diff = x0.data - _target_like(x0.data, x1.data)
        gx0 = gy * diff * _inverse_len(diff, 2.0)
        return _sum_to_array(gx0, x0.data.shape), _sum_to_array(-gx0, x1.data.shape)


def _sum_to_shape(g, shape):
    if g.shape == shape:
        return g
    from dezero.functions.shape import sum_to
    return sum_to(g, shape)


def _sum_to_array(g, shape):
    return g if g.shape == shape else utils_array.sum_to(g, shape)


def mean_squared_error(x0, x1):
    """sum((x0 - x1) ** 2) / len(x0): the squared error summed and averaged over the first axis.

    x1 (the target) is cast to x0's float dtype. Broadcastable but unequal shapes (the
    book's y (1, 1) against t (1,)) are broadcast with a UserWarning; others raise ValueError.
    """
    return MeanSquaredError()(x0, x1)


def mean_squared_error_simple(x0, x1):
    """The book's mean_squared_error composed of sub, pow, sum and div."""
    x0, x1 = as_variable(x0), as_variable(x1)
    _check_same_shape('mean_squared_error_simple', x0, x1)
    diff = x0 - x1
    return _sum(diff ** 2) / _len(diff)


# ---------------------------------------------------------------------------
# Softmax cross entropy
# ---------------------------------------------------------------------------
def _check_labels(name, x, t, ignore_label=None):
    """Validate logits (N, C) and integer labels (N,) in [0, C); returns t as an integer array."""
    if x.ndim != 2:
        raise ValueError(f"{name}: x must be logits of shape (N, C), got shape {x.shape}; "
                         "reshape it, e.g. x.reshape(len(x), -1).")
    if x.dtype.kind != 'f':
        raise TypeError(f"{name}: x must hold float logits, got dtype {x.dtype}; convert it "
                        "with x.astype(np.float32).")
    t = get_array_module(x).asarray(_data(t))  # lists, or NumPy labels for CuPy logits
    if t.dtype.kind not in 'iu':
        raise TypeError(f"{name}: t must hold integer class labels, got dtype {t.dtype}; "
                        "convert it with t.astype(np.int64) (one-hot targets are not accepted).")
    n, c = x.shape
    if t.shape != (n,):
        raise ValueError(f"{name}: t must have shape ({n},) to match x of shape {x.shape}, got "
                         f"shape {t.shape}.")
    # The range check reads the labels on the host: on a GPU that would be a device sync
    # and copy every step, so CuPy labels are trusted (as PyTorch does until its kernel runs).
    if n and get_array_module(t) is np:
        valid = t if ignore_label is None else t[t != ignore_label]
        if valid.size:
            lo, hi = int(valid.min()), int(valid.max())
            if lo < 0 or hi >= c:
                extra = '' if ignore_label is None else f' (or ignore_label={ignore_label})'
                raise ValueError(f"{name}: labels must lie in [0, {c}){extra} for x of shape "
                                 f"{x.shape}, got labels in [{lo}, {hi}].")
    return t


class SoftmaxCrossEntropy(Function):
    """Mean of -log softmax(x)[i, t[i]] over the samples whose label is not ignore_label."""

    def __init__(self, t, ignore_label=None, label_smoothing=0.0):
        self.t = t
        self.ignore_label = ignore_label
        self.label_smoothing = label_smoothing

    def forward(self, x):
        t = _check_labels('softmax_cross_entropy', x, self.t, self.ignore_label)
        xp = get_array_module(x)
        n = x.shape[0]
        rows = xp.arange(n)
        if self.ignore_label is None:
            mask = None
            count = n
        else:
            mask = t != self.ignore_label
            count = int(mask.sum())
            t = xp.where(mask, t, 0)
        # One log-sum-exp: z = x - max, e = exp(z), loss_i = log(sum(e_i)) - z[i, t_i].
        z = x - x.max(axis=1, keepdims=True)
        z_t = z[rows, t]
        eps = self.label_smoothing
        if eps:
            # The target is (1 - eps) one-hot + eps / C: the loss picks the mean logit too.
            z_t = z_t * (1 - eps) + z.mean(axis=1) * eps
        _parallel.transcendental(xp, xp.exp, z, out=z)
        s = z.sum(axis=1, keepdims=True)
        losses = xp.log(s[:, 0]) - z_t
        if mask is not None:
            losses *= mask
        scale = 1.0 / max(count, 1)
        if Config.enable_backprop:
            # Backward needs only softmax = e / s, the labels and the per-sample weights.
            self.e, self.s, self.t_safe = z, s, t
            self.weight = x.dtype.type(scale) if mask is None else (
                mask[:, None] * x.dtype.type(scale)).astype(x.dtype)
        return losses.sum() * x.dtype.type(scale)

    def backward(self, gy):
        # The gradient built of Functions, so that it can be differentiated again.
        x, = self.inputs
        xp = get_array_module(self.e)
        eps = self.label_smoothing
        onehot = xp.full_like(self.e, eps / self.e.shape[1])
        onehot[xp.arange(len(self.e)), self.t_safe] += 1 - eps
        return (softmax(x) - onehot) * (gy * self.weight)

    def backward_arrays(self, gy):
        # (e / s - onehot) * gy / N, with the per-row factor gy / (N s) folded into one pass.
        xp = get_array_module(self.e)
        w = gy * self.weight  # a scalar, or (N, 1) with ignore_label
        gx = self.e * (w / self.s)
        eps = self.label_smoothing
        if eps:
            gx -= w * (eps / self.e.shape[1])
            w = w * (1 - eps)
        gx[xp.arange(len(self.e)), self.t_safe] -= w if w.ndim == 0 else w[:, 0]
        return gx


def softmax_cross_entropy(x, t, ignore_label=None, label_smoothing=0.0):
    """Mean cross entropy of softmax(x) against integer labels.

    Args:
        x: logits of shape (N, C).
        t: integer labels of shape (N,) in [0, C).
        ignore_label: samples whose label equals it contribute nothing; the mean is
            taken over the others (the loss is 0 when every sample is ignored).
        label_smoothing: eps in [0, 1): the target distribution becomes
            (1 - eps) * one_hot(t) + eps / C, as in PyTorch's cross_entropy.
    """
    if isinstance(label_smoothing, bool) or not isinstance(
            label_smoothing, (int, float, np.integer, np.floating)) \
            or not 0 <= label_smoothing < 1:
        raise ValueError(f"softmax_cross_entropy: label_smoothing must be a number in [0, 1), "
                         f"got {label_smoothing!r}.")
    return SoftmaxCrossEntropy(_data(t), ignore_label, float(label_smoothing))(x)


def softmax_cross_entropy_simple(x, t):
    """softmax_cross_entropy composed of softmax_simple, a one-hot pick, log and sum (the
    book's teaching form; it is not clipped, so a probability that underflows gives inf)."""
    x = as_variable(x)
    t = _check_labels('softmax_cross_entropy_simple', x.data, t)
    n = len(x)
    p = softmax_simple(x)
    # Pick p[i, t_i] with a one-hot product (differentiable without get_item).
    onehot = get_array_module(x.data).eye(x.shape[1], dtype=x.dtype)[t]
    p_t = _sum(p * onehot, axis=1)
    return -_sum(log(p_t)) / n


# ---------------------------------------------------------------------------
# nll_loss, kl_div, huber_loss (PyTorch's names)
# ---------------------------------------------------------------------------
def nll_loss(x, t, ignore_label=None):
    """Mean negative log likelihood -x[i, t[i]] over the samples (PyTorch's F.nll_loss).

    Args:
        x: log-probabilities of shape (N, C), e.g. log_softmax(logits); so
            nll_loss(log_softmax(x), t) equals softmax_cross_entropy(x, t).
        t: integer labels of shape (N,) in [0, C).
        ignore_label: samples whose label equals it are left out of the mean.
    """
    x = as_variable(x)
    t = _check_labels('nll_loss', x.data, t, ignore_label)
    xp = get_array_module(x.data)
    rows = xp.arange(len(t))
    if ignore_label is None:
        return -_sum(x[rows, t]) / max(len(t), 1)
    keep = t != ignore_label
    picked = x[rows[keep], t[keep]]
    return -_sum(picked) / max(int(keep.sum()), 1)


def kl_div(x, t, log_target=False):
    """Kullback-Leibler divergence KL(t || exp(x)) summed and divided by N = len(x).

    PyTorch's F.kl_div(x, t, reduction='batchmean'): x holds log-probabilities
    (log_softmax output), t probabilities (or log-probabilities when log_target).
    The pointwise term is t * (log t - x), taken as 0 where t is 0. t may be a
    Variable (the gradient then flows to it as well) or a constant array.
    """
    x = as_variable(x)
    if isinstance(t, Variable):
        tv = t
    else:
        xp = get_array_module(x.data)
        tv = Variable(xp.asarray(t).astype(x.dtype, copy=False))
    if tv.shape != x.shape:
        raise ValueError(f"kl_div: x and t must have the same shape, got {x.shape} and "
                         f"{tv.shape}.")
    if log_target:
        terms = exp(tv) * (tv - x)
    else:
        positive = tv.data > 0
        safe_t = where(positive, tv, 1.0)  # log 1 = 0 where t = 0, and t * 0 = 0
        terms = tv * (log(safe_t) - x)
    return _sum(terms) / _len(x.data)


def huber_loss(x0, x1, delta=1.0):
    """Huber loss, the mean over all elements of 0.5 d^2 where |d| < delta and
    delta * (|d| - 0.5 delta) elsewhere, d = x0 - x1 (PyTorch's F.huber_loss with
    reduction='mean'; note mean_squared_error divides by len(x0) instead)."""
    if isinstance(delta, bool) or not isinstance(delta, (int, float, np.integer, np.floating)) \
            or not delta > 0:
        raise ValueError(f"huber_loss: delta must be a positive number, got {delta!r}.")
    x0, x1 = as_variable(x0), as_variable(x1)
    _check_same_shape('huber_loss', x0, x1)
    d = x0 - x1
    return _sum(Huber(float(delta))(d)) / max(d.size, 1)


class Huber(Function):
    """Elementwise Huber function of d: 0.5 d^2 where |d| < delta, delta (|d| - 0.5 delta)
    elsewhere, computed as m (|d| - m / 2) with m = min(|d|, delta) (no where()); its
    derivative is clip(d, -delta, delta)."""

    def __init__(self, delta):
        self.delta = delta

    def forward(self, d):
        xp = get_array_module(d)
        if d.dtype.kind != 'f':
            d = d.astype(np.float64)
        y = xp.abs(d)
        m = xp.minimum(y, self.delta)
        y -= m * 0.5
        y *= m
        return y

    def backward(self, gy):
        d, = self.inputs
        return gy * clip(d, -self.delta, self.delta)

    def backward_arrays(self, gy):
        d = self.inputs[0].data
        xp = get_array_module(d)
        if d.dtype.kind != 'f':
            d = d.astype(np.float64)
        return gy * xp.clip(d, -self.delta, self.delta)


# ---------------------------------------------------------------------------
# Binary losses
# ---------------------------------------------------------------------------
def _float_targets(name, x, t):
    """t as an array of x's shape and float dtype (same size required; (N,) fits (N, 1))."""
    t = get_array_module(x).asarray(_data(t))  # lists, or NumPy labels for CuPy logits
    if t.shape != x.shape:
        if t.size != x.size:
            raise ValueError(f"{name}: t must have the shape of the input {x.shape}, got "
                             f"shape {t.shape}.")
        t = t.reshape(x.shape)
    return t.astype(x.dtype, copy=False)


class SigmoidCrossEntropy(Function):
    """Mean binary cross entropy of sigmoid(x) against targets t, from logits."""

    def __init__(self, t):
        self.t = t

    def forward(self, x):
        if x.ndim == 0 or x.dtype.kind != 'f':
            raise ValueError(f"sigmoid_cross_entropy: x must be a float array of logits with at "
                             f"least one axis, got shape {x.shape} and dtype {x.dtype}.")
        t = self.t = _float_targets('sigmoid_cross_entropy', x, self.t)
        xp = get_array_module(x)
        # -t log s(x) - (1 - t) log(1 - s(x)) = max(x, 0) - x t + log(1 + exp(-|x|)): no overflow.
        loss = xp.maximum(x, 0) - x * t + xp.log1p(xp.exp(-xp.abs(x)))
        return loss.sum() / _len(x)

    def backward(self, gy):
        x, = self.inputs
        return (sigmoid(x) - self.t) * (gy * _inverse_len(x))

    def backward_arrays(self, gy):
        x = self.inputs[0].data
        y = Sigmoid().forward(x)
        y -= self.t
        y *= gy * _inverse_len(x)
        return y


def sigmoid_cross_entropy(x, t):
    """Mean binary cross entropy of sigmoid(x) against targets t in [0, 1], without overflow.

    x holds logits of any shape (N, ...); t has the same shape (or size); the sum is
    divided by N = len(x). t is a constant (no gradient flows to it).
    """
    return SigmoidCrossEntropy(_data(t))(x)


class BinaryCrossEntropy(Function):
    """Mean binary cross entropy of probabilities p against targets t."""

    # The logs are clamped at -100 (as PyTorch does) so p = 0 or 1 gives a finite loss.
    _LOG_FLOOR = -100.0
    _TINY = 1e-12

    def __init__(self, t):
        self.t = t

    def forward(self, p):
        if p.ndim == 0 or p.dtype.kind != 'f':
            raise ValueError(f"binary_cross_entropy: p must be a float array of probabilities "
                             f"with at least one axis, got shape {p.shape} and dtype {p.dtype}.")
        xp = get_array_module(p)
        if p.size and (float(p.min()) < 0 or float(p.max()) > 1):
            raise ValueError(f"binary_cross_entropy: p must hold probabilities in [0, 1], got "
                             f"values in [{float(p.min())}, {float(p.max())}]; pass logits to "
                             "sigmoid_cross_entropy instead.")
        t = self.t = _float_targets('binary_cross_entropy', p, self.t)
        with np.errstate(divide='ignore'):
            log_p = xp.maximum(xp.log(p), self._LOG_FLOOR)
            log_q = xp.maximum(xp.log1p(-p), self._LOG_FLOOR)
        loss = t * log_p + (1 - t) * log_q
        return -loss.sum() / _len(p)

    def backward(self, gy):
        p, = self.inputs
        denom = p * (1 - p)
        # Keep the denominator off zero at p = 0 or 1; a zero constant elsewhere.
        xp = get_array_module(denom.data)
        denom = denom + xp.maximum(self._TINY - denom.data, 0).astype(denom.dtype, copy=False)
        return (p - self.t) / denom * (gy * _inverse_len(p))


def binary_cross_entropy(p, t):
    """Mean binary cross entropy of probabilities p against targets t: the sum of
    -(t log p + (1 - t) log(1 - p)) divided by N = len(p); t is a constant."""
    return BinaryCrossEntropy(_data(t))(p)


# ---------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------
def accuracy(y, t):
    """Fraction of rows whose argmax over axis 1 equals the label; a Variable with no graph.

    y: scores of shape (N, C) (a Variable or an array); t: labels of shape (N,).
    """
    y, t = _data(y), _data(t)
    if y.ndim != 2 or y.shape[0] != t.size:
        raise ValueError(f"accuracy: y must be scores of shape (N, C) and t labels of shape "
                         f"(N,), got shapes {y.shape} and {t.shape}.")
    pred = y.argmax(axis=1).reshape(t.shape)
    acc = (pred == t).mean()
    return Variable(as_array(acc, get_array_module(y)))
