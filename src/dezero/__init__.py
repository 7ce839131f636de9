"""dezero: a define-by-run deep-learning framework (Deep Learning from Scratch 3)."""
from dezero import _blas_env  # noqa: F401 (first: OpenBLAS's idle wait, before NumPy loads)
from dezero.core import (
    Config, Function, Parameter, Variable, as_array, as_variable, from_dlpack, no_grad,
    setup_variable, test_mode, using_config)
from dezero import cuda, functions
from dezero.functions._variable_methods import VARIABLE_METHODS as _VARIABLE_METHODS

# Variable's operators and methods are Functions: bind them now that the functions exist.
setup_variable(_VARIABLE_METHODS)

from dezero import utils
from dezero.anomaly import (
    AnomalyError, detect_anomaly, is_anomaly_enabled, set_detect_anomaly)
from dezero.cuda import manual_seed
from dezero import layers, models, optimizers
from dezero import datasets, dataloaders, transforms
from dezero.datasets import Dataset
from dezero.dataloaders import DataLoader, SeqDataLoader
from dezero.layers import Layer
from dezero.models import Model

from dezero._malloc import tune_allocator as _tune_allocator

# Reuse large freed blocks between training steps (glibc; DEZERO_MALLOC_TUNING=0 opts out).
_tune_allocator()

# --- compatibility ---
# keeps the book's dezero.is_simple_core switch: dezero itself always uses the full core
# (dezero.core_simple is the separate first-stage engine of steps 1-32).
is_simple_core = False

__version__ = '0.1.0'

# Submodules loaded on first use (`dezero.onnx.export(...)` after `import dezero`), so
# that importing dezero does not pay for the exporter or the communicators.
_LAZY_SUBMODULES = ('onnx', 'distributed')


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        import importlib
        return importlib.import_module(f'dezero.{name}')
    raise AttributeError(f"module 'dezero' has no attribute {name!r}")
