"""The .safetensors format: writing, header-first validation and reading. The safetensors
package is imported only when such a file is written or read."""
import math
import os

import numpy as np

from dezero.serializers.files import ArraySpec, _checked_path, atomic_path

SAFETENSORS_EXTRA = "pip install 'dezero[safetensors]'"
# dtype names of the safetensors header that NumPy can hold (BF16 and FP8 it cannot)
_ST_DTYPES = {'BOOL': np.bool_, 'U8': np.uint8, 'I8': np.int8, 'U16': np.uint16,
              'I16': np.int16, 'U32': np.uint32, 'I32': np.int32, 'U64': np.uint64,
              'I64': np.int64, 'F16': np.float16, 'F32': np.float32, 'F64': np.float64}
_ST_HEADER_LIMIT = 100 * 2 ** 20  # the safetensors library's own cap on the JSON header


def _is_safetensors(path):
    return os.fspath(path).endswith('.safetensors')


def _safetensors_numpy(who):
    try:
        import safetensors.numpy
    except ImportError as e:
        raise ImportError(f"{who}: .safetensors files need the safetensors package: "
                          f"{SAFETENSORS_EXTRA} (or pip install safetensors); {e}") from e
    return safetensors.numpy


def to_safetensors_key(key):
    """'l0/W' -> 'l0.W': dezero's attribute path with PyTorch's dots (names hold neither)."""
    return key.replace('/', '.')


def from_safetensors_key(key):
    """'l0.W' -> 'l0/W' (the inverse of to_safetensors_key)."""
    return key.replace('.', '/')


def save_safetensors(path, arrays):
    """Write arrays (dezero key -> NumPy array) to a .safetensors file atomically; return path.

    Keys are dezero's paths with dots ('l0/W' -> 'l0.W', 'bn/avg_mean' -> 'bn.avg_mean');
    arrays keep dezero's layouts (a Linear's W is (in, out), the transpose of PyTorch's
    weight), so the file is not a PyTorch state_dict of the same network.
    """
    st = _safetensors_numpy('save_weights')
    path = os.fspath(path)
    data = st.save({to_safetensors_key(k): np.ascontiguousarray(v) for k, v in arrays.items()},
                   metadata={'framework': 'dezero',
                             'keys': 'dezero attribute paths, / written as .'})
    with atomic_path(path, suffix='.tmp') as tmp:
        with open(tmp, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return path


def read_safetensors_headers(path, who='read_safetensors_headers'):
    """{dezero key: ArraySpec} from a .safetensors file's JSON header, reading no tensor data.

    ValueError naming the file when the header is damaged, names a dtype NumPy cannot hold,
    or places a tensor outside the file or with a size that does not match its shape.
    """
    import json
    path, bad = _checked_path(path, who, 'a .safetensors file')

    size = os.path.getsize(path)
    with open(path, 'rb') as f:
        head = f.read(8)
        if len(head) < 8:
            raise bad("shorter than its 8-byte header length")
        n = int.from_bytes(head, 'little')
        if n > min(_ST_HEADER_LIMIT, size - 8):
            raise bad(f"it announces a {n}-byte header in a {size}-byte file")
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, ValueError) as e:
            raise bad(f"the header is not JSON: {e}") from e
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    data_size = size - 8 - n
    specs = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        try:
            dtype = np.dtype(_ST_DTYPES[info['dtype']])
            shape = tuple(int(d) for d in info['shape'])
            start, end = (int(o) for o in info['data_offsets'])
        except KeyError as e:
            if e.args and e.args[0] not in ('dtype', 'shape', 'data_offsets'):
                raise bad(f"{name!r} holds {info.get('dtype')} data, which NumPy cannot "
                          "hold") from None
            raise bad(f"{name!r} lacks {e}") from None
        except (TypeError, ValueError, AttributeError) as e:
            raise bad(f"{name!r} has a malformed entry: {e}") from None
        nbytes = math.prod(shape) * dtype.itemsize
        if min(shape, default=0) < 0 or not 0 <= start <= end <= data_size or \
                end - start != nbytes:
            raise bad(f"{name!r} announces shape {shape} {dtype} ({nbytes} bytes) at bytes "
                      f"{start}..{end} of {data_size}")
        specs[from_safetensors_key(name)] = ArraySpec(shape, dtype)
    return specs


def _read_safetensors(path, keys, who):
    """Arrays `keys` (dezero keys) of a .safetensors file whose header was checked."""
    _safetensors_numpy(who)  # the clear ImportError when the package is missing
    import safetensors
    errors = (OSError, ValueError, RuntimeError, getattr(safetensors, 'SafetensorError',
                                                         ValueError))
    try:
        with safetensors.safe_open(path, framework='np') as f:
            return {k: f.get_tensor(to_safetensors_key(k)) for k in keys}
    except errors as e:
        raise ValueError(f"{who}: cannot read {path!r}: {type(e).__name__}: {e}") from e
