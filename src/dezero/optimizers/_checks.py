"""Hyperparameter and saved-state checks shared by the optimizers (PyTorch's ranges)."""
import math
import numbers

import numpy as np

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
