"""The update rules: SGD, MomentumSGD, AdaGrad, AdaDelta, Adam, AdamW, RMSprop."""
import math

import numpy as np

from dezero import cuda
from dezero.optimizers._checks import _BETA, _EPS, _LR
from dezero.optimizers.base import Optimizer

# NumPy has no fused a*x+y: `data -= lr * grad` makes a full-size temporary and
# streams memory twice. Working in L2-sized chunks through one small buffer
# halves the memory traffic (measured 600 -> 340 us for 1M float32); the
# arithmetic, and so the result, is the same bit for bit.
_CHUNK = 1 << 17


def _sub_scaled(data, grad, scale):
    """data -= scale * grad, in place (scale a Python float)."""
    n = data.size
    if (n <= _CHUNK or data.__class__ is not np.ndarray or grad.__class__ is not np.ndarray
            or data.dtype != grad.dtype or data.shape != grad.shape
            or not data.flags.c_contiguous or not grad.flags.c_contiguous):
        data -= scale * grad
        return
    buf = np.empty(_CHUNK, dtype=data.dtype)  # per call: thread safe, and cheap
    d = data.reshape(-1)
    g = grad.reshape(-1)
    multiply, subtract = np.multiply, np.subtract
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        b = buf[:stop - start]
        multiply(g[start:stop], scale, out=b)
        w = d[start:stop]
        subtract(w, b, out=w)


class SGD(Optimizer):
    """Plain stochastic gradient descent: W -= lr * grad."""
    _hyper_names = ('lr',)
    _hyper_rules = {'lr': _LR}

    def __init__(self, lr=0.01):
        super().__init__()
        self.lr = lr
        self._check_hypers()

    def update_one(self, param):
        _sub_scaled(param.data, param.grad.data, float(self.lr))


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
        v = self._state_of(param)['v']
        v *= float(self.momentum)
        v -= float(self.lr) * param.grad.data
        param.data += v


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
        xp = cuda.get_array_module(param.data)
        h = self._state_of(param)['h']
        grad = param.grad.data
        h += grad * grad
        t = xp.sqrt(h)
        t += float(self.eps)
        xp.divide(grad, t, out=t)
        t *= float(self.lr)
        param.data -= t


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
        xp = cuda.get_array_module(param.data)
        st = self._state_of(param)
        msg, msdx = st['msg'], st['msdx']
        rho, eps = float(self.rho), float(self.eps)
        grad = param.grad.data
        msg *= rho
        msg += (1 - rho) * grad * grad
        dx = xp.sqrt((msdx + eps) / (msg + eps))
        dx *= grad
        msdx *= rho
        msdx += (1 - rho) * dx * dx
        param.data -= dx


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

    def _moments(self, param):
        xp = cuda.get_array_module(param.data)
        st = self._state_of(param)
        m, v = st['m'], st['v']
        b1, b2 = float(self.beta1), float(self.beta2)
        grad = param.grad.data
        # m += (1 - b1) * (grad - m); v += (1 - b2) * (grad^2 - v), with one temporary.
        t = grad - m
        t *= 1 - b1
        m += t
        xp.multiply(grad, grad, out=t)
        t -= v
        t *= 1 - b2
        v += t
        # step = lr * m / (sqrt(v) + eps), reusing the temporary.
        xp.sqrt(v, out=t)
        t += float(self.eps)
        xp.divide(m, t, out=t)
        return t

    def update_one(self, param):
        step = self._moments(param)
        step *= self.lr
        param.data -= step


class AdamW(Adam):
    """Adam with decoupled weight decay: W -= alpha * weight_decay * W before the Adam step."""
    _hyper_names = ('alpha', 'beta1', 'beta2', 'eps', 'weight_decay')
    _hyper_rules = dict(Adam._hyper_rules, weight_decay=('weight decay', 0.0, None, False))

    def __init__(self, alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
        self.weight_decay = weight_decay  # first: Adam.__init__ checks every hyperparameter
        super().__init__(alpha, beta1, beta2, eps)

    def update_one(self, param):
        param.data *= 1 - float(self.alpha) * float(self.weight_decay)
        super().update_one(param)


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
        xp = cuda.get_array_module(param.data)
        v = self._state_of(param)['v']
        a = float(self.alpha)
        grad = param.grad.data
        v *= a
        t = grad * grad
        t *= 1 - a
        v += t
        xp.sqrt(v, out=t)
        t += float(self.eps)
        xp.divide(grad, t, out=t)
        t *= float(self.lr)
        param.data -= t
