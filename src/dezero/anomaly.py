"""Anomaly detection: stop at the first Function whose output or gradient holds NaN or inf.

    with dezero.detect_anomaly():
        loss = model(x) ...
        loss.backward()

While it is on (in this thread), every Function call records where in the user's code
it was made, and checks its forward outputs; Variable.backward checks the gradients each
Function returns. The first NaN or inf raises AnomalyError (a FloatingPointError) that
names the Function, its inputs' shapes and dtypes, and the place it was created.
Turn it on with the context manager, `set_detect_anomaly(True)` or
`dezero.Config.detect_anomaly = True`.

Cost: none while it is off everywhere (Function.__call__ is the plain one; the backward
walk reads the flag once per backward() call). While on it is slow: a stack capture per
Function call and a finiteness check per array (a device-to-host read on a GPU).
"""
import contextlib
import os
import sys
import threading
import traceback

from dezero import core, cuda

__all__ = ['AnomalyError', 'detect_anomaly', 'set_detect_anomaly', 'is_anomaly_enabled']

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_MAX_FRAMES = 10
_lock = threading.Lock()
_threads_on = 0  # threads with the flag on; the checking __call__ is installed while > 0
_plain_call = core.Function.__call__


class AnomalyError(FloatingPointError):
    """A Function produced NaN or inf (in forward or backward) while detect_anomaly was on."""


def is_anomaly_enabled():
    """True when anomaly detection is on in this thread."""
    return core._settings.detect_anomaly


def set_detect_anomaly(mode):
    """Turn anomaly detection on (True) or off (False) in this thread."""
    global _threads_on
    if not isinstance(mode, (bool, int)):
        raise TypeError(f"set_detect_anomaly: mode must be True or False, got {mode!r}.")
    mode = bool(mode)
    with _lock:
        old = core._settings.detect_anomaly
        core._settings.detect_anomaly = mode
        if mode != old:
            _threads_on += 1 if mode else -1
            core.Function.__call__ = _checked_call if _threads_on > 0 else _plain_call


@contextlib.contextmanager
def detect_anomaly(mode=True):
    """Context manager: anomaly detection on (or, with mode=False, off) inside the block."""
    old = is_anomaly_enabled()
    set_detect_anomaly(mode)
    try:
        yield
    finally:
        set_detect_anomaly(old)


def _user_stack():
    """The calling frames outside the dezero package, innermost last (at most _MAX_FRAMES)."""
    frames = traceback.extract_stack(sys._getframe(2))
    user = [fr for fr in frames if not os.path.abspath(fr.filename).startswith(_PACKAGE_DIR)]
    return traceback.StackSummary.from_list(user[-_MAX_FRAMES:])


def _describe(arrays):
    parts = []
    for a in arrays:
        a = a.data if isinstance(a, core.Variable) else a
        shape, dtype = getattr(a, 'shape', None), getattr(a, 'dtype', None)
        parts.append(f"{tuple(shape)} {dtype}" if shape is not None else type(a).__name__)
    return '[' + ', '.join(parts) + ']'


def _bad(array):
    """'nan', 'inf', 'nan and inf' or None."""
    if array is None or getattr(array, 'dtype', None) is None or array.dtype.kind not in 'fc':
        return None
    xp = cuda.get_array_module(array)
    has_nan, has_inf = bool(xp.isnan(array).any()), bool(xp.isinf(array).any())
    if has_nan and has_inf:
        return 'nan and inf'
    return 'nan' if has_nan else ('inf' if has_inf else None)


def _where(func):
    stack = getattr(func, '_anomaly_stack', None)
    if stack is None:
        return ("It was created while detect_anomaly was off; turn it on before the forward "
                "pass to see where.")
    if not stack:
        return "It was created inside dezero (no user frame on the stack)."
    return "It was created at (most recent call last):\n" + ''.join(stack.format()).rstrip()


def _checked_call(self, *inputs):
    settings = core._settings
    if not settings.detect_anomaly:
        return _plain_call(self, *inputs)
    owner = settings.anomaly_backward  # a Function whose backward is running, or None
    self._anomaly_stack = _user_stack() if owner is None else getattr(owner, '_anomaly_stack',
                                                                       None)
    shapes = _describe(inputs)
    outputs = _plain_call(self, *inputs)
    for i, y in enumerate(outputs if isinstance(outputs, list) else [outputs]):
        kind = _bad(y.data)
        if kind is None:
            continue
        if owner is not None:  # blame the backward being computed, as the user sees it
            raise AnomalyError(
                f"detect_anomaly: {type(owner).__name__}.backward produced {kind} (in its "
                f"{type(self).__name__} step, from {shapes}); its inputs were "
                f"{_describe(owner.inputs)}. {_where(owner)}")
        raise AnomalyError(
            f"detect_anomaly: {type(self).__name__}.forward returned {kind} in output {i} "
            f"(shape {y.data.shape}, {y.data.dtype}) from inputs {shapes}. {_where(self)}")
    return outputs


def check_backward(func, gxs):
    """Raise AnomalyError when a gradient returned by func's backward holds NaN or inf."""
    for i, gx in enumerate(gxs):
        data = gx.data if isinstance(gx, core.Variable) else gx
        kind = _bad(data)
        if kind is not None:
            raise AnomalyError(
                f"detect_anomaly: {type(func).__name__}.backward returned {kind} in the gradient "
                f"of input {i} (shape {data.shape}, {data.dtype}); its inputs were "
                f"{_describe(func.inputs)}. {_where(func)}")


# The engine (dezero.core) sits below this module and calls these through its hooks.
core._anomaly_hooks.update(set_detect_anomaly=set_detect_anomaly, check_backward=check_backward)
