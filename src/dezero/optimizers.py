"""dezero.optimizers: Optimizer, its hooks, SGD ... Adam, AdamW, RMSprop, and (defined in
dezero.schedulers, re-exported here) the learning-rate schedulers StepLR, ExponentialLR,
CosineAnnealingLR, ReduceLROnPlateau.

An optimizer is set up on a Layer (`opt = SGD().setup(model)`), then each
`opt.update()` walks `model.params()`, skips Parameters whose grad is None,
runs the hooks on the remaining list, and updates each parameter in place
(param.data keeps its array, dtype and array module; hyperparameters are
Python floats, which NumPy/CuPy treat as weak scalars, so float32 stays float32).

State (momenta, moments, step counts) is kept per Parameter object.
`state_dict()` returns it keyed by the parameter's path in the target ("l0/W"),
so it survives being loaded into a fresh model and optimizer with
`load_state_dict()`; `save_state(path)` / `load_state(path)` put it in an .npz
atomically. Resuming from a checkpoint gives bit-identical parameters.
"""
import inspect
import math
import numbers

import numpy as np

from dezero import cuda, serializers
from dezero.core import Parameter, Variable
from dezero.schedulers import (  # noqa: F401 (re-exported: the schedulers' public home)
    CosineAnnealingLR,
    ExponentialLR,
    LRScheduler,
    ReduceLROnPlateau,
    StepLR,
)


class Optimizer:
    """Base class: setup(target), update(), update_one(param), add_hook(f), state handling.

    Subclasses implement update_one(param). Per-parameter state arrays live in
    self.state[param] (a dict of name -> array); `_state_names` lists them.
    Scalar counters (like Adam's t) are listed in `_scalar_names`.
    """
    _hyper_names = ()
    _state_names = ()
    _scalar_names = ()
    _lr_attr = 'lr'  # the attribute holding the base learning rate that schedulers drive
    _hyper_rules = {}  # hyperparameter -> rule from _RULES, checked at construction and load

    def __init__(self):
        self.target = None
        self.hooks = []
        self.state = {}
        self.schedulers = []  # learning-rate schedulers attached to this optimizer

    def _check_hypers(self):
        """Raise TypeError/ValueError (PyTorch's checks) for a hyperparameter given out of range.

        Only construction and load_state_dict check: schedulers set the attributes later.
        """
        for name, rule in self._hyper_rules.items():
            value = getattr(self, name)
            problem = _hyper_problem(name, value, rule)
            if problem is not None:
                param = inspect.signature(type(self)).parameters.get(name)
                fix = '' if param is None or param.default is param.empty else \
                    f"; pass e.g. {name}={param.default!r} (the default)"
                raise (ValueError if _is_number(value) else TypeError)(
                    f"{type(self).__name__}: invalid {problem}{fix}")

    def setup(self, target):
        """Attach to a Layer (or Model); returns self for chaining."""
        if not hasattr(target, 'params'):
            raise TypeError(f"{type(self).__name__}.setup: target must be a Layer or Model "
                            f"(something with params()), got {type(target).__name__}.")
        self.target = target
        return self

    def update(self):
        """Run the hooks, then update every parameter whose grad is not None, in place."""
        if self.target is None:
            raise RuntimeError(f"{type(self).__name__}.update: call setup(model) first.")
        params = []
        seen = set()
        for p in self.target.params():
            # A Parameter shared by two layers (tied weights) is updated once.
            if p.grad is not None and p not in seen:
                seen.add(p)
                params.append(p)
        if self.hooks:
            for f in self.hooks:
                f(params)
            params = [p for p in params if p.grad is not None]  # hooks may freeze some
        for param in params:
            self.update_one(param)

    def step(self):
        """Update the parameters from their gradients (PyTorch's name for update())."""
        self.update()

    def zero_grad(self):
        """Forget the gradients of the target's parameters (target.cleargrads())."""
        if self.target is None:
            raise RuntimeError(f"{type(self).__name__}.zero_grad: call setup(model) first.")
        self.target.cleargrads()

    def update_one(self, param):
        """Update one Parameter in place from its grad."""
        raise NotImplementedError(f"{type(self).__name__}.update_one is not implemented")

    def add_hook(self, f):
        """Add f(params), called with the list of parameters to update before each update."""
        self.hooks.append(f)

    def _state_of(self, param):
        """The state dict of param, created with zero arrays like param.data on first use."""
        st = self.state.get(param)
        if st is None:
            xp = cuda.get_array_module(param.data)
            st = {name: xp.zeros_like(param.data) for name in self._state_names}
            self.state[param] = st
        return st

    # -- checkpoints -----------------------------------------------------------
    def state_dict(self):
        """Return {'type', 'hyper', 'scalars', 'state': {param path: {name: NumPy array}}}.

        Arrays are NumPy copies (GPU state is moved); paths come from
        target.named_params(), so the dict can be loaded into a fresh model.
        """
        if self.target is None:
            raise RuntimeError(f"{type(self).__name__}.state_dict: call setup(model) first.")
        state = {}
        for path, param in self.target.named_params():
            st = self.state.get(param)
            if st is not None:
                state[path] = {k: np.array(cuda.as_numpy(v)) for k, v in st.items()}
        sd = {
            'type': type(self).__name__,
            'hyper': {k: getattr(self, k) for k in self._hyper_names},
            'scalars': {k: getattr(self, k) for k in self._scalar_names},
            'state': state,
        }
        schedulers = getattr(self, 'schedulers', ())
        if schedulers:
            sd['schedulers'] = [s.state_dict() for s in schedulers]
        return sd

    def load_state_dict(self, state_dict):
        """Restore what state_dict() returned; validates everything before changing anything.

        Raises ValueError for another optimizer type, unknown parameter paths, state
        arrays whose names, shapes or dtypes do not fit the parameters or that hold
        NaN/inf, and hyperparameters or counters that are not this optimizer's own
        names with finite numbers (a file can never set `target` or a string `alpha`).
        """
        who = f"{type(self).__name__}.load_state_dict"
        if self.target is None:
            raise RuntimeError(f"{who}: call setup(model) first.")
        kind = state_dict.get('type')
        if kind != type(self).__name__:
            raise ValueError(f"{who}: the state was saved by {kind}, not {type(self).__name__}.")
        params = dict(self.target.named_params())
        problems = []
        for path, st in state_dict['state'].items():
            param = params.get(path)
            if param is None:
                problems.append(f"{path}: no such parameter in the target")
                continue
            if set(st) != set(self._state_names):
                problems.append(f"{path}: state names {sorted(st)}, expected "
                                f"{sorted(self._state_names)}")
                continue
            if param.data is None:
                problems.append(f"{path}: the parameter is not built yet (call the model once "
                                "or load its weights first)")
                continue
            for name, arr in st.items():
                if getattr(arr, 'dtype', np.dtype(object)).kind not in 'biuf':
                    problems.append(f"{path}/{name}: {type(arr).__name__} of "
                                    f"{getattr(arr, 'dtype', None)}, not a numeric array")
                elif arr.shape != param.data.shape:
                    problems.append(f"{path}/{name}: shape {arr.shape}, parameter has "
                                    f"{param.data.shape}")
                elif not np.isfinite(arr).all():
                    problems.append(f"{path}/{name}: holds NaN or inf")
        settings = {}
        for section, names in (('hyper', self._hyper_names), ('scalars', self._scalar_names)):
            for k, v in state_dict.get(section, {}).items():
                v = v.item() if isinstance(v, np.generic) else v
                if k not in names:
                    problems.append(f"{section}/{k}: not a setting of {type(self).__name__} "
                                    f"(its {section}: {list(names)})")
                elif (isinstance(v, bool) or not isinstance(v, (int, float))
                        or not math.isfinite(v)):
                    problems.append(f"{section}/{k}: {v!r} is not a finite number")
                elif section == 'scalars' and (v < 0 or v != int(v)):
                    problems.append(f"{section}/{k}: {v!r} is not a count (an integer >= 0)")
                elif section == 'hyper' and k in self._hyper_rules and \
                        _hyper_problem(k, v, self._hyper_rules[k]) is not None:
                    problems.append(f"{section}/{k}: invalid "
                                    f"{_hyper_problem(k, v, self._hyper_rules[k])}")
                else:
                    settings[k] = int(v) if section == 'scalars' else v
        saved = state_dict.get('schedulers') or []
        attached = getattr(self, 'schedulers', [])
        problems.extend(_scheduler_state_problems(saved))
        if attached and saved and [sd.get('type') for sd in saved] != \
                [type(sc).__name__ for sc in attached]:
            problems.append(f"schedulers: saved {[sd.get('type') for sd in saved]}, attached "
                            f"{[type(sc).__name__ for sc in attached]}")
        if problems:
            raise ValueError(f"{who}: the state does not fit the target (nothing was loaded): "
                             + '; '.join(problems))
        for k, v in settings.items():
            setattr(self, k, v)
        self.state = {}
        for path, st in state_dict['state'].items():
            param = params[path]
            xp = cuda.get_array_module(param.data)
            self.state[param] = {
                name: xp.array(arr, dtype=param.data.dtype) for name, arr in st.items()}
        if attached:
            for sched, st in zip(attached, saved):
                sched.load_state_dict(st)
        else:
            # Schedulers created after loading pick their state up when they attach.
            self._pending_schedulers = list(saved)

    def save_state(self, path):
        """Write state_dict() to an .npz atomically (".npz" added if missing); return its path."""
        return serializers.save_optimizer_state(self, path)

    def load_state(self, path):
        """Read an .npz written by save_state and load_state_dict() it."""
        serializers.load_optimizer_state(self, path)


# Hyperparameter rules: (what it is, lowest allowed, upper limit or None, limit allowed),
# the ranges PyTorch's optimizers check.
_LR = ('learning rate', 0.0, None, False)
_EPS = ('epsilon', 0.0, None, False)
_BETA = ('beta', 0.0, 1.0, False)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _hyper_problem(name, value, rule):
    """Why `value` is not a valid hyperparameter `name` under `rule`, or None when it is."""
    what, low, high, high_ok = rule
    if not _is_number(value):
        return f"{what}: {name}={value!r} is a {type(value).__name__}, not a number"
    if high is None:
        bounds = f">= {low:g}"
    else:
        bounds = f"in [{low:g}, {high:g}{']' if high_ok else ')'}"
    if not (math.isfinite(value) and value >= low
            and (high is None or value < high or (high_ok and value == high))):
        return f"{what}: {name}={value!r}, expected a finite number {bounds}"
    return None


def _scheduler_state_problems(saved):
    """Why the saved scheduler states cannot be loaded (a type name and finite counters)."""
    problems = []
    for i, sd in enumerate(saved):
        if not isinstance(sd, dict) or not isinstance(sd.get('type'), str):
            problems.append(f"schedulers/{i}: not a scheduler state (no type name)")
            continue
        for k, v in sd.items():
            v = v.item() if isinstance(v, np.generic) else v
            if k == 'type':
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v) or \
                    (math.isinf(v) and k != 'best'):
                problems.append(f"schedulers/{i}/{k}: {v!r} is not a finite number")
    return problems


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


# ---------------------------------------------------------------------------
# Hooks
# ---------------------------------------------------------------------------
class WeightDecay:
    """Hook adding rate * param to each gradient (L2 regularisation)."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, params):
        rate = float(self.rate)
        for param in params:
            # A new grad Variable: one grad object may be shared by several params.
            param.grad = Variable(param.grad.data + rate * param.data)


class ClipGrad:
    """Hook scaling all gradients by max_norm / total_norm when their global L2 norm exceeds it."""

    def __init__(self, max_norm):
        self.max_norm = max_norm

    def __call__(self, params):
        total = 0.0
        for param in params:
            g = param.grad.data
            total = total + (g * g).sum()  # stays on the device: one read below, not one per param
        total_norm = math.sqrt(float(total))
        rate = self.max_norm / (total_norm + 1e-6)
        if rate < 1:
            for param in params:
                param.grad = Variable(param.grad.data * rate)


class FreezeParam:
    """Hook that drops the gradients of the given Layers or Parameters so they are not updated."""

    def __init__(self, *layers):
        self.freeze_params = []
        for layer in layers:
            if isinstance(layer, Parameter):
                self.freeze_params.append(layer)
            elif hasattr(layer, 'params'):
                self.freeze_params.extend(layer.params())
            else:
                raise TypeError(f"FreezeParam: expected Layers or Parameters, got "
                                f"{type(layer).__name__}.")

    def __call__(self, params):
        for p in self.freeze_params:
            p.grad = None


# ---------------------------------------------------------------------------
# Optimizers
# ---------------------------------------------------------------------------
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
