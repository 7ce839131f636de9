"""dezero.schedulers: learning-rate schedulers with PyTorch's names and arguments.

StepLR, ExponentialLR, CosineAnnealingLR (with warm-up) and ReduceLROnPlateau drive an
optimizer's `lr` (or `alpha` for Adam/AdamW); their counters are saved with the
optimizer's state. Also reachable as dezero.optimizers.StepLR and friends.
"""
import math

import numpy as np

from dezero.core import Variable


# ---------------------------------------------------------------------------
# Learning-rate schedulers (PyTorch's names and arguments)
# ---------------------------------------------------------------------------
def _check_number(who, name, value, low=None, high=None, low_open=False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{who}: {name} must be a number, got {value!r} "
                        f"({type(value).__name__}).")
    if low is not None and (value <= low if low_open else value < low) or \
            high is not None and value > high:
        lo = '' if low is None else f"{'>' if low_open else '>='} {low}"
        hi = '' if high is None else f"<= {high}"
        raise ValueError(f"{who}: {name} must be {' and '.join(filter(None, (lo, hi)))}, got "
                         f"{value!r}.")
    return value


class LRScheduler:
    """Base of the schedulers: sets the optimizer's learning rate at each step().

    The rate driven is `lr` (SGD, MomentumSGD, AdaGrad, RMSprop) or `alpha` (Adam,
    AdamW); its value when the scheduler is created is the base rate. `last_epoch`
    counts step() calls; step() may be called per epoch or per batch. The counters
    are saved with the optimizer's state (state_dict / save_state) and restored
    by load_state_dict / load_state, before or after the scheduler is created.
    """

    def __init__(self, optimizer):
        who = type(self).__name__
        # Checked by shape (an Optimizer class carries _lr_attr): this module sits below
        # dezero.optimizers, which re-exports the schedulers.
        if not hasattr(type(optimizer), '_lr_attr') or not hasattr(optimizer, 'update'):
            raise TypeError(f"{who}: expected an Optimizer, got {type(optimizer).__name__}.")
        self.attr = type(optimizer)._lr_attr
        if self.attr is None:
            raise TypeError(f"{who}: {type(optimizer).__name__} has no learning rate to "
                            "schedule.")
        self.optimizer = optimizer
        self.base_lr = float(getattr(optimizer, self.attr))
        self.last_epoch = 0
        if not hasattr(optimizer, 'schedulers'):
            optimizer.schedulers = []
        optimizer.schedulers.append(self)
        pending = getattr(optimizer, '_pending_schedulers', None)
        index = len(optimizer.schedulers) - 1
        if pending and index < len(pending) and pending[index].get('type') == who:
            self.load_state_dict(pending[index])

    def get_last_lr(self):
        """The learning rate the optimizer has now."""
        return float(getattr(self.optimizer, self.attr))

    def _set(self, lr):
        setattr(self.optimizer, self.attr, float(lr))

    def lr_at(self, epoch):
        """The learning rate after `epoch` steps."""
        raise NotImplementedError

    def step(self):
        """Advance one step and set the optimizer's learning rate; returns it."""
        self.last_epoch += 1
        self._set(self.lr_at(self.last_epoch))
        return self.get_last_lr()

    _state_keys = ('last_epoch', 'base_lr')

    def state_dict(self):
        """{'type', 'last_epoch', 'base_lr', ...}: plain numbers (saved with the optimizer)."""
        sd = {'type': type(self).__name__}
        sd.update({k: getattr(self, k) for k in self._state_keys})
        return sd

    def load_state_dict(self, state_dict):
        """Restore the counters saved by state_dict()."""
        if state_dict.get('type') != type(self).__name__:
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state was saved by "
                             f"{state_dict.get('type')}.")
        for k in self._state_keys:
            value = state_dict[k]
            setattr(self, k, value.item() if hasattr(value, 'item') else value)


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (last_epoch // step_size) (PyTorch's StepLR).

    Args:
        optimizer: the optimizer whose rate is set.
        step_size: steps between decays (a positive int).
        gamma: the decay factor (0.1 by default, as PyTorch).
    """

    def __init__(self, optimizer, step_size, gamma=0.1):
        if isinstance(step_size, bool) or not isinstance(step_size, (int, np.integer)) \
                or step_size < 1:
            raise TypeError(f"StepLR: step_size must be a positive int, got {step_size!r}.")
        self.step_size = int(step_size)
        self.gamma = _check_number('StepLR', 'gamma', gamma, 0, low_open=True)
        super().__init__(optimizer)

    def lr_at(self, epoch):
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRScheduler):
    """lr = base_lr * gamma ** last_epoch (PyTorch's ExponentialLR)."""

    def __init__(self, optimizer, gamma):
        self.gamma = _check_number('ExponentialLR', 'gamma', gamma, 0, low_open=True)
        super().__init__(optimizer)

    def lr_at(self, epoch):
        return self.base_lr * self.gamma ** epoch


class CosineAnnealingLR(LRScheduler):
    """Cosine decay from base_lr to eta_min over T_max steps, after an optional linear
    warm-up (PyTorch's CosineAnnealingLR plus warm-up).

    For last_epoch e: during warm-up (e < warmup) lr = base_lr * (e + 1) / (warmup + 1);
    then lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * (e - warmup) / T_max)) / 2,
    which reaches eta_min at e = warmup + T_max and stays there.
    Creating the scheduler sets the warm-up's first rate (with warmup > 0).

    Args:
        T_max: steps of the cosine phase (a positive int).
        eta_min: the final learning rate.
        warmup: steps of linear warm-up before the cosine phase.
    """

    def __init__(self, optimizer, T_max, eta_min=0, warmup=0):
        for name, v, low in (('T_max', T_max, 1), ('warmup', warmup, 0)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
                raise TypeError(f"CosineAnnealingLR: {name} must be an int >= {low}, got {v!r}.")
        self.T_max, self.warmup = int(T_max), int(warmup)
        self.eta_min = float(_check_number('CosineAnnealingLR', 'eta_min', eta_min, 0))
        super().__init__(optimizer)
        if self.warmup:
            self._set(self.lr_at(0))

    def lr_at(self, epoch):
        if epoch < self.warmup:
            return self.base_lr * (epoch + 1) / (self.warmup + 1)
        e = min(epoch - self.warmup, self.T_max)
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * e /
                                                                           self.T_max)) / 2


class ReduceLROnPlateau(LRScheduler):
    """Multiply the learning rate by `factor` when a metric has stopped improving for
    `patience` steps (PyTorch's ReduceLROnPlateau); call step(metric) after each
    validation.

    Args:
        mode: 'min' (lower is better, e.g. a loss) or 'max' (e.g. an accuracy).
        factor: the multiplier, in (0, 1).
        patience: steps without improvement tolerated before reducing.
        threshold, threshold_mode: an improvement must beat the best by threshold,
            relative ('rel': best * (1 -+ threshold)) or absolute ('abs').
        cooldown: steps to wait after a reduction before counting again.
        min_lr: the rate never goes below it.
        eps: reductions smaller than eps are skipped.
    """
    _state_keys = ('last_epoch', 'base_lr', 'best', 'num_bad_epochs', 'cooldown_counter')

    def __init__(self, optimizer, mode='min', factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode='rel', cooldown=0, min_lr=0, eps=1e-8):
        who = 'ReduceLROnPlateau'
        if mode not in ('min', 'max'):
            raise ValueError(f"{who}: mode must be 'min' or 'max', got {mode!r}.")
        if threshold_mode not in ('rel', 'abs'):
            raise ValueError(f"{who}: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}.")
        _check_number(who, 'factor', factor, 0, 1, low_open=True)
        if factor == 1:
            raise ValueError(f"{who}: factor must be below 1, got {factor!r}.")
        for name, v in (('patience', patience), ('cooldown', cooldown)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise TypeError(f"{who}: {name} must be an int >= 0, got {v!r}.")
        self.mode, self.factor, self.patience = mode, float(factor), int(patience)
        self.threshold = float(_check_number(who, 'threshold', threshold, 0))
        self.threshold_mode, self.cooldown = threshold_mode, int(cooldown)
        self.min_lr = float(_check_number(who, 'min_lr', min_lr, 0))
        self.eps = float(_check_number(who, 'eps', eps, 0))
        self.best = math.inf if mode == 'min' else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        super().__init__(optimizer)

    def _better(self, a):
        t = self.threshold
        if self.mode == 'min':
            return a < (self.best * (1 - t) if self.threshold_mode == 'rel' else self.best - t)
        return a > (self.best * (1 + t) if self.threshold_mode == 'rel' else self.best + t)

    def step(self, metric):
        """Record one value of the monitored metric; reduce the rate on a plateau. Returns the
        rate."""
        if isinstance(metric, Variable):
            metric = metric.data
        try:
            value = float(metric)
        except (TypeError, ValueError):
            raise TypeError(f"ReduceLROnPlateau.step: metric must be a number (a loss or an "
                            f"accuracy), got {type(metric).__name__}.") from None
        self.last_epoch += 1
        if self._better(value):
            self.best = value
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            old = self.get_last_lr()
            new = max(old * self.factor, self.min_lr)
            if old - new > self.eps:
                self._set(new)
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        return self.get_last_lr()
