"""Shared test helpers: the array-backend fixture (NumPy always, CuPy where a GPU is visible)."""
import types

import numpy as np
import pytest

from dezero import cuda


@pytest.fixture(params=['numpy', pytest.param('cupy', marks=pytest.mark.gpu)])
def xp(request):
    """The array module under test; CuPy runs are skipped without CuPy and a CUDA GPU."""
    if request.param == 'cupy':
        if not cuda.gpu_available():
            pytest.skip('CuPy with a visible CUDA GPU is not available')
        return cuda.require_cupy()
    return np


class StandInArray(np.ndarray):
    """A NumPy-backed array that dezero.cuda takes for a CuPy array (see `standin_gpu`).

    Like CuPy it refuses to mix with plain NumPy arrays in arithmetic (TypeError),
    so a parameter left behind on NumPy shows up as it would on a real GPU.
    """
    __module__ = 'cupy_standin'

    def get(self):
        """The data as a plain NumPy array (CuPy's device-to-host copy)."""
        return np.array(self.view(np.ndarray))

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        _reject_numpy(ufunc.__name__, inputs + (out or ()))
        args = [a.view(np.ndarray) if isinstance(a, StandInArray) else a for a in inputs]
        if out is not None:
            kwargs['out'] = tuple(o.view(np.ndarray) for o in out)
        result = getattr(ufunc, method)(*args, **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap_standin(result)


def _reject_numpy(what, args):
    for a in args:
        if isinstance(a, np.ndarray) and not isinstance(a, StandInArray) and a.ndim:
            raise TypeError(f"Unsupported type {type(a)} (stand-in GPU array mixed with a "
                            f"NumPy array in {what})")


def _wrap_standin(result):
    if isinstance(result, tuple):
        return tuple(_wrap_standin(r) for r in result)
    if isinstance(result, np.generic):  # CuPy reductions give 0-d device arrays
        return np.asarray(result).view(StandInArray)
    if isinstance(result, np.ndarray) and type(result) is not StandInArray:
        return result.view(StandInArray)
    return result


class _StandInModule:
    """NumPy's namespace whose array results are StandInArrays (a stand-in for `cupy`)."""
    ndarray = StandInArray

    def __init__(self, inner=np):
        self._inner = inner

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if isinstance(attr, types.ModuleType):  # random, lib.stride_tricks, linalg, ...
            return _StandInModule(attr)
        if callable(attr) and not isinstance(attr, type):
            def wrapped(*args, **kwargs):
                _reject_numpy(name, args + tuple(kwargs.values()))
                return _wrap_standin(attr(*args, **kwargs))
            return wrapped
        return attr

    def asarray(self, a, dtype=None):
        """Host-to-device copy: a StandInArray holding a's data."""
        return np.array(a, dtype=dtype).view(StandInArray)


@pytest.fixture
def standin_gpu(monkeypatch):
    """Make dezero.cuda treat StandInArrays as CuPy arrays and return the stand-in module.

    Lets tests of array-module bookkeeping (which module a lazily built parameter,
    a moved buffer or an optimizer state lands on) run without CuPy or a GPU.
    """
    module = _StandInModule()
    monkeypatch.setattr(cuda, '_cupy', module)
    monkeypatch.setattr(cuda, '_cupy_error', None)
    return module


@pytest.fixture(scope='session')
def function_classes():
    """Every Function subclass defined in the dezero package (core_simple excluded: it is
    the book's separate first-stage engine, tested by tests/test_core_simple.py)."""
    import dezero.layers  # noqa: F401  (layers may define Functions of their own)
    from dezero import Function
    seen, stack = set(), list(Function.__subclasses__())
    while stack:
        c = stack.pop()
        if c not in seen:
            seen.add(c)
            stack.extend(c.__subclasses__())
    return {c for c in seen
            if c.__module__.startswith('dezero.') and c.__module__ != 'dezero.core_simple'}


def pytest_terminal_summary(terminalreporter):
    """Report the op registry's gradient fuzz counts (tests/test_ops_generic.py)."""
    import sys
    registry = sys.modules.get('op_registry')
    stats = getattr(registry, 'FUZZ_STATS', None)
    if stats and stats['cases']:
        terminalreporter.write_line(
            f"op registry gradient fuzz: {stats['cases']} cases, {stats['mismatches']} "
            f"mismatches {stats['failed'][:5] if stats['failed'] else ''}")
