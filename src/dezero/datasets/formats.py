"""File formats of the downloadable sets: IDX (MNIST), and CIFAR's pickles read from the
archive in memory with an unpickler that only admits NumPy arrays.

Every parser checks what it reads and raises CorruptFileError naming the file rather than
returning a wrong array.
"""
import gzip
import io
import math
import pickle
import struct
import tarfile
import zlib

import numpy as np

from dezero.download import CorruptFileError

# ---------------------------------------------------------------------------
# file parsing helpers
# ---------------------------------------------------------------------------
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32,
               0x0D: np.float32, 0x0E: np.float64}


def _read_maybe_gzip(path, who):
    with open(path, 'rb') as f:
        head = f.read(2)
    try:
        if head == b'\x1f\x8b':
            with gzip.open(path, 'rb') as f:
                return f.read()
        with open(path, 'rb') as f:
            return f.read()
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise CorruptFileError(
            f"{who}: {path} is a damaged gzip file ({type(e).__name__}: {e}); delete it and run "
            "again to download it afresh.", path) from e


def read_idx(path, who='read_idx'):
    """Read an IDX file (gzipped or not) into a native-endian array; CorruptFileError when bad."""
    raw = _read_maybe_gzip(path, who)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise CorruptFileError(
            f"{who}: {path} is not an IDX file (bad magic number {raw[:4]!r}); delete it and run "
            "again to download it afresh.", path)
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise CorruptFileError(f"{who}: {path} is truncated inside its IDX header.", path)
    dims = struct.unpack(f'>{ndim}I', raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[raw[2]]).newbyteorder('>')
    expected = math.prod(dims) * dtype.itemsize  # Python ints: a crafted header cannot overflow
    if len(raw) - header != expected:
        raise CorruptFileError(
            f"{who}: {path} holds {len(raw) - header} bytes of data but its header announces "
            f"shape {dims} ({expected} bytes): the file is truncated or corrupt; delete it and run "
            "again to download it afresh.", path)
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder('='))  # a native-endian, writable copy


# ---------------------------------------------------------------------------
# CIFAR
# ---------------------------------------------------------------------------
def _np_multiarray():
    try:
        from numpy._core import multiarray  # NumPy 2
    except ImportError:  # pragma: no cover - NumPy 1
        from numpy.core import multiarray
    return multiarray


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that admits only NumPy arrays, dtypes and builtin containers (no code runs)."""

    _ALLOWED = {('numpy', 'ndarray'), ('numpy', 'dtype'), ('_codecs', 'encode'),
                ('numpy.core.multiarray', '_reconstruct'),
                ('numpy._core.multiarray', '_reconstruct'),
                ('numpy.core.multiarray', 'scalar'), ('numpy._core.multiarray', 'scalar')}

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load the global {module}.{name}")
        if module == 'numpy':
            return getattr(np, name)
        if module == '_codecs':
            import codecs
            return codecs.encode
        return getattr(_np_multiarray(), name)


def _unpickle_arrays(data, where):
    try:
        obj = _ArrayUnpickler(io.BytesIO(data), encoding='latin1').load()
    except Exception as e:
        raise CorruptFileError(f"cannot read {where}: {type(e).__name__}: {e}", None) from e
    if not isinstance(obj, dict):
        raise CorruptFileError(f"cannot read {where}: expected a dict, got {type(obj).__name__}")
    return {k.decode('latin1') if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _read_cifar_members(path, names, who):
    """{name: dict} for the pickled members `names` of the tar.gz at path."""
    out = {}
    try:
        with tarfile.open(path, 'r:gz') as tar:
            for name in names:
                try:
                    member = tar.getmember(name)
                except KeyError:
                    raise CorruptFileError(f"{who}: {path} has no member {name!r}; it is not the "
                                           "expected archive. Delete it and run again.",
                                           path) from None
                if not member.isfile():
                    raise CorruptFileError(f"{who}: member {name!r} of {path} is not a file.", path)
                out[name] = _unpickle_arrays(tar.extractfile(member).read(), f"{name!r} in {path}")
    except CorruptFileError as e:
        if e.path is None:
            raise CorruptFileError(f"{who}: {e}; delete the archive and run again.", path) from e
        raise
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise CorruptFileError(f"{who}: {path} is not a readable tar.gz archive "
                               f"({type(e).__name__}: {e}); delete it and run again to download "
                               "it afresh.", path) from e
    return out


def _cifar_arrays(batch, keys, where, path, who):
    data = np.asarray(batch.get('data'))
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise CorruptFileError(f"{who}: {where} of {path} has data of {data.dtype} {data.shape}, "
                               "not (N, 3072) uint8.", path)
    labels = []
    for key in keys:
        if key not in batch or len(batch[key]) != len(data):
            raise CorruptFileError(f"{who}: {where} of {path} lacks {len(data)} {key!r}.", path)
        labels.append(np.asarray(batch[key], dtype=np.int64))
    return data.reshape(-1, 3, 32, 32), labels
