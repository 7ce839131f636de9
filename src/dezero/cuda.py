"""Which array module (NumPy or CuPy) an array belongs to, and moving arrays between them.

CuPy is imported lazily, the first time it is needed, so that `import dezero`
never pays for it (or fails because of it).
"""
import numpy as np

_ndarray = np.ndarray

_cupy = None
_cupy_error = None


def _load_cupy():
    """Return the cupy module, or None when it cannot be imported or sees no GPU."""
    global _cupy, _cupy_error
    if _cupy is None and _cupy_error is None:
        try:
            import cupy
            cupy.cuda.runtime.getDeviceCount()
            _cupy = cupy
        except Exception as e:  # ImportError, or CUDA errors when no GPU is visible
            _cupy_error = e
    return _cupy


def gpu_available():
    """True when CuPy imports and at least one CUDA GPU is visible."""
    return _load_cupy() is not None


class _GpuEnable:
    """`dezero.cuda.gpu_enable` reads like the book's module-level flag but is computed lazily."""

    def __bool__(self):
        return gpu_available()

    def __repr__(self):
        return repr(bool(self))


gpu_enable = _GpuEnable()


def require_cupy():
    """Return cupy or raise a RuntimeError that says how to get a GPU backend."""
    cupy = _load_cupy()
    if cupy is None:
        raise RuntimeError(
            "dezero: the GPU backend is unavailable: CuPy is not installed or no CUDA GPU is "
            f"visible ({type(_cupy_error).__name__}: {_cupy_error}). Install it with "
            "`pip install 'dezero[gpu]'` (or the cupy-cudaXXx wheel matching your CUDA) "
            "and check that `nvidia-smi` lists a GPU.")
    return cupy


def is_cupy_array(x):
    """True when x is a CuPy ndarray (checked without importing CuPy)."""
    return type(x).__module__.startswith('cupy')


def get_array_module(x):
    """Return numpy or cupy, whichever the data of x (a Variable or an array) belongs to."""
    if x.__class__ is _ndarray:
        return np
    data = x if isinstance(x, _ndarray) else getattr(x, 'data', x)
    if is_cupy_array(data):
        return _load_cupy()
    return np


def _unwrap(x):
    """The array of a dezero Variable, x itself otherwise.

    Checked by shape (an object with .data and .creator) rather than by class: this module
    sits below dezero.core and must not import it.
    """
    if x.__class__ is not _ndarray and hasattr(x, 'creator') and hasattr(x, 'data'):
        return x.data
    return x


def as_numpy(x):
    """Return x (a Variable, scalar or array) as a NumPy array."""
    x = _unwrap(x)
    if np.isscalar(x):
        return np.array(x)
    if is_cupy_array(x):
        return x.get()
    if isinstance(x, np.ndarray):
        return x
    return np.asarray(x)


def as_cupy(x):
    """Return x (a Variable, scalar or array) as a CuPy array; raises when CuPy is unavailable."""
    x = _unwrap(x)
    cupy = require_cupy()
    return cupy.asarray(x)


# DLPack device types (dlpack.h): host memory, CUDA, CUDA pinned host, CUDA managed.
_DLPACK_CPU, _DLPACK_CUDA_TYPES = (1, 3), (2, 13)


def array_from_dlpack(obj):
    """The array (NumPy for host memory, CuPy for CUDA memory) sharing memory with obj, any
    object with __dlpack__ and __dlpack_device__; see dezero.from_dlpack."""
    if not hasattr(obj, '__dlpack__') or not hasattr(obj, '__dlpack_device__'):
        raise TypeError(f"from_dlpack: expected an object with __dlpack__ and "
                        f"__dlpack_device__ (a PyTorch tensor, CuPy/NumPy/JAX array), got "
                        f"{type(obj).__name__}.")
    device = int(obj.__dlpack_device__()[0])
    if device in _DLPACK_CPU:
        if not hasattr(np, 'from_dlpack'):
            raise RuntimeError(f"from_dlpack: NumPy {np.__version__} lacks from_dlpack; "
                               "upgrade to NumPy 1.23 or newer.")
        return np.from_dlpack(obj)
    if device in _DLPACK_CUDA_TYPES:
        return require_cupy().from_dlpack(obj)
    raise ValueError(f"from_dlpack: {type(obj).__name__} lives on DLPack device type "
                     f"{device}; dezero reads host memory (NumPy) and CUDA memory (CuPy).")


def manual_seed(seed):
    """Seed NumPy's global generator and, when CuPy and a GPU are present, CuPy's.

    dezero draws every random number (Linear's and Conv2d's initial weights, dropout
    masks, DataLoader shuffling) from these generators, so one call makes a run
    repeatable. `seed` is an int in [0, 2**32 - 1]. Available as dezero.manual_seed.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__} "
                        f"({seed!r:.40}).")
    if not 0 <= seed < 2 ** 32:
        raise ValueError(f"manual_seed: seed must be in [0, 2**32 - 1], got {seed}.")
    np.random.seed(int(seed))
    # CuPy is looked for only when installed (a failed import is cheap to skip).
    cupy = _load_cupy() if _cupy is not None or _cupy_importable() else None
    if cupy is not None:
        cupy.random.seed(int(seed))


def _cupy_importable():
    import importlib.util
    return importlib.util.find_spec('cupy') is not None
