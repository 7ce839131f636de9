"""The update rules: SGD, MomentumSGD, AdaGrad, AdaDelta, Adam, AdamW, RMSprop."""
import math

import numpy as np

from dezero import _parallel, cuda
from dezero.optimizers._checks import _BETA, _EPS, _LR
from dezero.optimizers.base import Optimizer

# NumPy has no fused multiply-add over arrays: `data -= lr * grad` makes a full-size
# temporary and streams memory twice, and Adam's update is a dozen such passes. On NumPy,
# updates run over cache-sized chunks of the flattened arrays through small scratch
# buffers instead; the arithmetic, and so the result, is the same bit for bit. Measured:
# SGD on 1M float32 600 -> 340 us; Adam on 6.4M float32 (the DCGAN generator's big Linear)
# 49 -> 26 ms, against PyTorch's 32 ms at one thread.
_CHUNK_BYTES = 1 << 21   # all of a chunk's slices together

# Up to this many elements the arrays are updated whole, with as little Python as possible:
# small models (the book's) update many small parameters every step.
_SMALL = 1 << 12


# A large update is also split over threads, from this many element-passes a thread.
SPLIT_MIN_WORK = 1 << 21


def _chunk_elements(n_arrays, itemsize):
    """Elements a chunk: a power of two, its n_arrays slices within _CHUNK_BYTES."""
    fit = max(_CHUNK_BYTES // (n_arrays * itemsize), 1)
    return max(1 << (fit.bit_length() - 1), _SMALL)


def _update_in_place(kernel, hyper, data, grad, states=(), scratch=1):
    """Run kernel(xp, hyper, data, grad, *states, *tmps), which updates data and states in
    place with the hyperparameters hyper, using `scratch` scratch arrays tmps: each either
    an array (a chunk's buffer) or None, and then the first operation writing into it
    (out=) allocates it.

    On NumPy, when every array has data's shape, dtype and C layout, the kernel runs on
    chunks of the flattened arrays (see _CHUNK_BYTES); otherwise (CuPy, mixed dtypes,
    views, small arrays) once on the whole arrays."""
    n = data.size
    if n <= _SMALL and data.__class__ is np.ndarray:  # the common small case, first
        kernel(np, hyper, data, grad, *states, *_NONES[scratch])
        return
    if data.__class__ is not np.ndarray:
        _whole(kernel, hyper, data, grad, states, scratch)
        return
    arrays = (data, grad) + tuple(states)
    step = _chunk_elements(len(arrays) + scratch, data.dtype.itemsize)
    if n <= step or not all(a.__class__ is np.ndarray and a.shape == data.shape and
                            a.dtype == data.dtype and a.flags.c_contiguous for a in arrays):
        _whole(kernel, hyper, data, grad, states, scratch)
        return
    flat = [a.reshape(-1) for a in arrays]

    def part(lo, hi):
        buffers = [np.empty(min(step, hi - lo), dtype=data.dtype) for _ in range(scratch)]
        for start in range(lo, hi, step):
            stop = min(start + step, hi)
            kernel(np, hyper, *[a[start:stop] for a in flat],
                   *[b[:stop - start] for b in buffers])

    _parallel.run(part, _parallel.chunks(np, n, step, len(arrays) + scratch, SPLIT_MIN_WORK))


_NONES = ((), (None,), (None, None))


def _whole(kernel, hyper, data, grad, states, scratch):
    """The kernel on whole arrays: its scratch arrays None, so that its first operation
    into each allocates it (as plain expressions would)."""
    xp = np if data.__class__ is np.ndarray else cuda.get_array_module(data)
    kernel(xp, hyper, data, grad, *states, *_NONES[scratch])


# The update rules as array kernels (see _update_in_place).
def _sgd(xp, lr, data, grad, t):
    t = xp.multiply(grad, lr, out=t)
    data -= t


def _momentum_sgd(xp, hyper, data, grad, v, t):
    momentum, lr = hyper
    v *= momentum
    t = xp.multiply(grad, lr, out=t)
    v -= t
    data += v


def _adagrad(xp, hyper, data, grad, h, t):
    eps, lr = hyper
    t = xp.multiply(grad, grad, out=t)
    h += t
    _sub_scaled_rms(xp, data, grad, h, t, eps, lr)


def _adadelta(xp, hyper, data, grad, msg, msdx, dx, t):
    rho, eps = hyper
    msg *= rho
    t = xp.multiply(grad, 1 - rho, out=t)
    t *= grad
    msg += t
    dx = xp.add(msdx, eps, out=dx)      # dx = sqrt((msdx + eps) / (msg + eps)) * grad
    xp.add(msg, eps, out=t)
    xp.divide(dx, t, out=dx)
    xp.sqrt(dx, out=dx)
    dx *= grad
    msdx *= rho
    xp.multiply(dx, 1 - rho, out=t)
    t *= dx
    msdx += t
    data -= dx


def _adam(xp, hyper, data, grad, m, v, t):
    b1, b2, eps, lr, decay = hyper
    if decay is not None:  # AdamW
        data *= decay
    # m += (1 - b1) * (grad - m); v += (1 - b2) * (grad^2 - v), with one temporary.
    t = xp.subtract(grad, m, out=t)
    t *= 1 - b1
    m += t
    xp.multiply(grad, grad, out=t)
    t -= v
    t *= 1 - b2
    v += t
    _sub_scaled_rms(xp, data, m, v, t, eps, lr)


def _rmsprop(xp, hyper, data, grad, v, t):
    a, eps, lr = hyper
    v *= a
    t = xp.multiply(grad, grad, out=t)
    t *= 1 - a
    v += t
    _sub_scaled_rms(xp, data, grad, v, t, eps, lr)


def _sub_scaled_rms(xp, data, numer, sq, t, eps, lr):
    """data -= lr * numer / (sqrt(sq) + eps), through the scratch array t (AdaGrad,
    RMSprop and Adam end their updates so)."""
    t = xp.sqrt(sq, out=t)
    t += eps
    xp.divide(numer, t, out=t)
    t *= lr
    data -= t


class SGD(Optimizer):
    """Plain stochastic gradient descent: W -= lr * grad."""
    _hyper_names = ('lr',)
    _hyper_rules = {'lr': _LR}

    def __init__(self, lr=0.01):
        super().__init__()
        self.lr = lr
        self._check_hypers()

    def update_one(self, param):
        _update_in_place(_sgd, float(self.lr), param.data, param.grad.data)


class MomentumSGD(Optimizer):
    """SGD with momentum: v = momentum * v - lr * grad; W += v."""
    _hyper_names = ('lr', 'momentum')
    _state_names = ('v',)
    _hyper_rules = {'lr': _LR, 'momentum': ('momentum', 0.0, None, False)}

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__()
        self.lr = lr
        self.momentum = momentum
        self._check_hypers()

    def update_one(self, param):
        _update_in_place(_momentum_sgd, (float(self.momentum), float(self.lr)), param.data,
                         param.grad.data, (self._state_of(param)['v'],))


class AdaGrad(Optimizer):
    """AdaGrad: h += grad^2; W -= lr * grad / (sqrt(h) + eps)."""
    _hyper_names = ('lr', 'eps')
    _state_names = ('h',)
    _hyper_rules = {'lr': _LR, 'eps': _EPS}

    def __init__(self, lr=0.001, eps=1e-8):
        super().__init__()
        self.lr = lr
        self.eps = eps
        self._check_hypers()

    def update_one(self, param):
        _update_in_place(_adagrad, (float(self.eps), float(self.lr)), param.data,
                         param.grad.data, (self._state_of(param)['h'],))


class AdaDelta(Optimizer):
    """AdaDelta (Zeiler 2012): no learning rate, running averages of grad^2 and step^2."""
    _hyper_names = ('rho', 'eps')
    _state_names = ('msg', 'msdx')
    _lr_attr = None  # no learning rate: schedulers refuse it
    _hyper_rules = {'rho': ('decay rate', 0.0, 1.0, True), 'eps': _EPS}

    def __init__(self, rho=0.95, eps=1e-6):
        super().__init__()
        self.rho = rho
        self.eps = eps
        self._check_hypers()

    def update_one(self, param):
        st = self._state_of(param)
        _update_in_place(_adadelta, (float(self.rho), float(self.eps)), param.data,
                         param.grad.data, (st['msg'], st['msdx']), scratch=2)


class Adam(Optimizer):
    """Adam: m, v moving averages of grad and grad^2; step lr * m / (sqrt(v) + eps).

    `lr` is the bias-corrected step size alpha * sqrt(1 - beta2^t) / (1 - beta1^t),
    with t the number of update() calls so far.
    """
    _hyper_names = ('alpha', 'beta1', 'beta2', 'eps')
    _state_names = ('m', 'v')
    _lr_attr = 'alpha'
    _scalar_names = ('t',)
    _hyper_rules = {'alpha': _LR, 'beta1': _BETA, 'beta2': _BETA, 'eps': _EPS}

    def __init__(self, alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__()
        self.t = 0
        self.alpha = alpha
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self._check_hypers()

    def update(self, *args, **kwargs):
        """Advance t, then update every parameter."""
        self.t += 1
        super().update(*args, **kwargs)

    @property
    def lr(self):
        """Bias-corrected step size for the current t (the book's meaning; read-only).

        The base learning rate is `alpha`: set that one (schedulers drive it).
        """
        fix1 = 1. - math.pow(self.beta1, self.t)
        fix2 = 1. - math.pow(self.beta2, self.t)
        return self.alpha * math.sqrt(fix2) / fix1

    @lr.setter
    def lr(self, value):
        raise AttributeError(f"{type(self).__name__}.lr is the book's bias-corrected step size "
                             f"and cannot be set; set {type(self).__name__}.alpha, the base "
                             f"learning rate (opt.alpha = {value!r}).")

    def update_one(self, param, decay=None):
        st = self._state_of(param)
        hyper = (float(self.beta1), float(self.beta2), float(self.eps), self.lr, decay)
        _update_in_place(_adam, hyper, param.data, param.grad.data, (st['m'], st['v']))


class AdamW(Adam):
    """Adam with decoupled weight decay: W -= alpha * weight_decay * W before the Adam step."""
    _hyper_names = ('alpha', 'beta1', 'beta2', 'eps', 'weight_decay')
    _hyper_rules = dict(Adam._hyper_rules, weight_decay=('weight decay', 0.0, None, False))

    def __init__(self, alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
        self.weight_decay = weight_decay  # first: Adam.__init__ checks every hyperparameter
        super().__init__(alpha, beta1, beta2, eps)

    def update_one(self, param):
        super().update_one(param, decay=1 - float(self.alpha) * float(self.weight_decay))


class RMSprop(Optimizer):
    """RMSprop: v = alpha * v + (1 - alpha) * grad^2; W -= lr * grad / (sqrt(v) + eps)."""
    _hyper_names = ('lr', 'alpha', 'eps')
    _state_names = ('v',)
    _hyper_rules = {'lr': _LR, 'alpha': ('smoothing constant', 0.0, None, False), 'eps': _EPS}

    def __init__(self, lr=0.01, alpha=0.99, eps=1e-8):
        super().__init__()
        self.lr = lr
        self.alpha = alpha
        self.eps = eps
        self._check_hypers()

    def update_one(self, param):
        _update_in_place(_rmsprop, (float(self.alpha), float(self.eps), float(self.lr)),
                         param.data, param.grad.data, (self._state_of(param)['v'],))
