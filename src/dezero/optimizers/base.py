"""The Optimizer base class: setup, update, hooks, and state that saves and loads."""
import inspect
import math

import numpy as np

from dezero import cuda, serializers
from dezero.optimizers._checks import _hyper_problem, _is_number, _scheduler_state_problems


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
    _hyper_rules = {}  # hyperparameter -> rule (see _checks), checked at construction and load

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
