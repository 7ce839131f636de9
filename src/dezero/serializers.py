"""dezero.serializers: every file dezero writes or reads back, in one place.

- Atomic output: `atomic_path`, `write_text`, `write_npz` (a temporary file
  beside the target, then os.replace, so a crash never leaves half a file).
- Weights: `save_weights(layer, path)` / `load_weights(layer, path)`, an .npz
  keyed by attribute path ("l0/W", "bn/avg_mean"), validated header-first and
  loaded all-or-nothing. `Layer.save_weights` / `Layer.load_weights` call these;
  `state_dict(layer)` / `load_state_dict(layer, state, strict=True)` are the same in
  memory (Layer.state_dict / load_state_dict), sharing load_arrays' validation.
- Optimizer state: `save_optimizer_state(opt, path)` / `load_optimizer_state`,
  the npz encoding of `Optimizer.state_dict()`.
- Dataset caches: `load_array_cache(path, keys)` / `save_array_cache(path, arrays)`,
  parsed-data caches that are rebuilt when damaged.

This module sits below layers and optimizers (it never imports them): it walks
a layer tree through `layer._walk()` (path, owner, name, Variable, is_buffer) and
the layer's `lazy_spec` / `_built_from_checkpoint` hooks.
"""
import collections
import contextlib
import math
import os
import re
import socket
import tempfile
import time
import zipfile

import numpy as np

from dezero import cuda

# ---------------------------------------------------------------------------
# Atomic output
# ---------------------------------------------------------------------------
# mkstemp creates 0600 files; give finished files the usual permissions instead.
_umask = os.umask(0)
os.umask(_umask)
_FILE_MODE = 0o666 & ~_umask


# Temporary files are named `.<target>.dezero-tmp-<host>-<pid>-<random><suffix>`: a name no
# user file has, that says which process on which machine wrote it. A process killed with
# SIGKILL (preemption, the OOM killer) cannot remove its own; the next write of the same
# target removes those whose writer is gone (same host, pid not alive) or a day old.
_TMP_MARK = '.dezero-tmp-'
_STALE_AGE = 24 * 3600
_HOST = re.sub(r'[^A-Za-z0-9]', '_', socket.gethostname())[:32] or 'host'


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # exists (another user's) or cannot tell: keep the file
    return True


def remove_stale_temporaries(path):
    """Remove temporary files that killed writes of `path` left in its folder; return them."""
    folder = os.path.dirname(os.path.abspath(path))
    pattern = re.compile(re.escape('.' + os.path.basename(path) + _TMP_MARK)
                         + r'(?P<host>[A-Za-z0-9_]+)-(?P<pid>[0-9]+)-[A-Za-z0-9_]+(\.[^/]*)?$')
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    now = time.time()
    for name in names:
        m = pattern.match(name)
        if m is None:
            continue
        full = os.path.join(folder, name)
        try:
            dead = m['host'] == _HOST and not _pid_alive(int(m['pid']))
            if dead or now - os.path.getmtime(full) > _STALE_AGE:
                os.remove(full)
                removed.append(full)
        except OSError:
            pass
    return removed


@contextlib.contextmanager
def atomic_path(path, suffix=None):
    """Yield a temporary path next to `path`; on success it replaces `path` in one step.

    A crash or an exception leaves any previous file at `path` untouched and removes
    the temporary file; temporary files of `path` left by killed processes are removed
    first. `suffix` (default: the target's extension) keeps writers that look at the
    extension (np.savez, savefig, dot) happy.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if suffix is None:
        suffix = os.path.splitext(path)[1]
    remove_stale_temporaries(path)
    prefix = f'.{os.path.basename(path)}{_TMP_MARK}{_HOST}-{os.getpid()}-'
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def write_text(path, text):
    """Write text (UTF-8) to path atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, 'w', encoding='utf-8', newline='') as f:
            f.write(text)


def write_npz(path, arrays):
    """Write arrays (name -> array) to an .npz at exactly `path`, atomically and durably."""
    with atomic_path(path, suffix='.tmp') as tmp:
        with open(tmp, 'wb') as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())


def save_npz_atomic(path, arrays):
    """Write arrays (name -> NumPy array) to `path` (+'.npz' if missing) atomically; return it."""
    path = os.fspath(path)
    if not path.endswith('.npz'):
        path += '.npz'
    write_npz(path, arrays)
    return path


def resolve_npz_path(path):
    """`path`, or `path + '.npz'` when only that exists (mirrors save_npz_atomic)."""
    path = os.fspath(path)
    if not os.path.exists(path) and not path.endswith('.npz') and os.path.exists(path + '.npz'):
        return path + '.npz'
    return path


def load_npz(path, who='load_npz'):
    """Read every array of an .npz (no pickles) into a dict, headers first (read_npz_headers);
    ValueError naming a corrupt file."""
    specs = read_npz_headers(path, who=who)
    return _read_arrays(os.fspath(path), list(specs), who)


# ---------------------------------------------------------------------------
# Header-first reading
# ---------------------------------------------------------------------------
class ArraySpec:
    """Shape and dtype of an array in an .npz, read from its .npy header (no data read)."""

    __slots__ = ('shape', 'dtype')

    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype

    def __repr__(self):
        return f"ArraySpec({self.shape}, {self.dtype})"


def _checked_path(path, who, what):
    """(path as str, bad(why) -> ValueError naming the file); FileNotFoundError if missing."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{who}: no such file {path!r}")

    def bad(why):
        return ValueError(f"{who}: cannot read {path!r}: the file is truncated, corrupt or not "
                          f"{what} ({why}).")
    return path, bad


def read_npz_headers(path, who='read_npz_headers'):
    """{key: ArraySpec} of an .npz from the .npy headers inside it, reading no array data.

    Cheap whatever the file claims (a zip bomb or a header announcing 80 GB costs a few
    bytes of reading). ValueError naming the file when it is not an .npz of plain numeric
    arrays, or when a header announces more (or less) data than its member holds.
    """
    path, bad = _checked_path(path, who, 'an .npz written by dezero')

    specs = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith('.npy'):
                    raise bad(f"member {info.filename!r} is not an .npy array")
                key = info.filename[:-4]
                with zf.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    if version == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
                    elif version == (2, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
                    else:
                        raise bad(f"{key!r} has .npy version {version}")
                    header_len = f.tell()
                if dtype.hasobject or dtype.kind not in 'biufcSU':
                    raise bad(f"{key!r} holds {dtype} data, not plain numbers")
                nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
                if header_len + nbytes != info.file_size:
                    raise bad(f"{key!r} announces shape {shape} {dtype} ({nbytes} bytes) but "
                              f"holds {info.file_size - header_len} bytes")
                specs[key] = ArraySpec(tuple(shape), dtype)
    except ValueError as e:
        if str(e).startswith(who):
            raise
        raise bad(f"{type(e).__name__}: {e}") from e
    except zipfile.BadZipFile as e:
        raise bad(f"it is not an .npz archive: {e}") from e
    except (OSError, EOFError, KeyError, RuntimeError) as e:
        raise bad(f"{type(e).__name__}: {e}") from e
    return specs


def _read_arrays(path, keys, who):
    """Arrays `keys` of an .npz whose headers were checked; ValueError for damaged data."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in keys}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise ValueError(
            f"{who}: cannot read {os.fspath(path)!r}: the file is truncated or corrupt "
            f"({type(e).__name__}: {e})") from e


# ---------------------------------------------------------------------------
# Layer weights
# ---------------------------------------------------------------------------
def save_weights(layer, path):
    """Write every Parameter and buffer of `layer` to an .npz keyed by path; return the path.

    A path ending in '.safetensors' writes that format instead (save_safetensors).
    See Layer.save_weights. Raises ValueError if a lazily-created parameter has
    not been built yet.
    """
    arrays = _layer_arrays(layer, 'save_weights')
    if _is_safetensors(path):
        return save_safetensors(path, arrays)
    return save_npz_atomic(path, arrays)


def _layer_arrays(layer, who):
    """{path: NumPy array} of every Parameter and buffer (GPU data moved, NumPy data shared)."""
    arrays = {}
    unbuilt = []
    for key, _, _, var in _params_then_buffers(layer):
        if var.data is None:
            unbuilt.append(key)
        else:
            arrays[key] = cuda.as_numpy(var.data)
    if unbuilt:
        raise ValueError(
            f"{type(layer).__name__}.{who}: parameters {unbuilt} have not been "
            "created yet (their layers build them from the first input); call the "
            "model on one batch before saving.")
    return arrays


def load_weights(layer, path):
    """Load an .npz (or .safetensors) written by save_weights into `layer`, all-or-nothing;
    see Layer.load_weights."""
    who = f"{type(layer).__name__}.load_weights"
    if _is_safetensors(path):
        path = os.fspath(path)
        specs = read_safetensors_headers(path, who=who)
        load_arrays(layer, specs, who, repr(path),
                    read=lambda keys: _read_safetensors(path, keys, who))
        return
    path = resolve_npz_path(path)
    specs = read_npz_headers(path, who=who)  # names, shapes and dtypes before any data
    load_arrays(layer, specs, who, repr(os.fspath(path)),
                read=lambda keys: _read_arrays(path, keys, who))


def state_dict(layer):
    """{path: NumPy copy} of every Parameter and buffer of `layer` (see Layer.state_dict)."""
    return {k: np.array(v, copy=True) for k, v in _layer_arrays(layer, 'state_dict').items()}


def load_state_dict(layer, state, strict=True):
    """Load a dict from state_dict() into `layer`, validated as load_weights (see Layer)."""
    who = f"{type(layer).__name__}.load_state_dict"
    if not isinstance(state, dict):
        raise TypeError(f"{who}: expected a dict of arrays as returned by state_dict(), "
                        f"got {type(state).__name__}.")
    arrays = {k: np.array(cuda.as_numpy(v), copy=True) for k, v in state.items()}
    return load_arrays(layer, arrays, who, 'the state dict', strict)


LoadResult = collections.namedtuple('LoadResult', ['missing_keys', 'unexpected_keys'])
LoadResult.__doc__ = "The keys load_state_dict(strict=False) skipped: missing and unexpected."


def load_arrays(layer, arrays, who, source, strict=True, read=None):
    """Check arrays (path -> NumPy array) against `layer`, then assign them; LoadResult.

    All-or-nothing: any mismatched shape or dtype, and with strict any missing or
    unexpected key, raises ValueError naming `source` and changes nothing.
    strict=False leaves missing keys as they are and ignores unexpected ones.
    With read, `arrays` holds only shapes and dtypes (ArraySpec, from the file's
    headers) and read(keys) is called for the data once everything has been checked.
    """
    # (key, Parameter or buffer Variable, owner layer, attribute, current value)
    targets = [(key, var, owner, name, var.data)
               for key, owner, name, var in _params_then_buffers(layer)]

    missing, mismatched = [], []
    expected = set()
    accepted_lazy = {}  # id(owner) -> {name: array} of lazy arrays taken from the file
    for key, _, owner, name, current in targets:
        expected.add(key)
        if key not in arrays:
            missing.append(key)
            continue
        arr = arrays[key]
        if current is not None:
            want_shape, want_dtype = current.shape, current.dtype
        else:
            known = accepted_lazy.setdefault(id(owner), {})
            spec = owner.lazy_spec(name, known)
            want_shape, want_dtype = (None, None) if spec is None else spec
        problem = _compare(arr, want_shape, want_dtype)
        if problem:
            mismatched.append(f"{key}: {problem}")
        elif current is None:
            known[name] = arr
    unexpected = sorted(set(arrays) - expected)
    if mismatched or (strict and (missing or unexpected)):
        raise ValueError(
            f"{who}: {source} does not match the "
            f"model (nothing was loaded): missing keys {missing}, unexpected keys "
            f"{unexpected}, mismatched [{'; '.join(mismatched)}].")

    # Everything checked: now read the data (when only headers were given), then assign.
    if read is not None:
        arrays = read([k for k in arrays if k in expected])
    default_xp = next((cuda.get_array_module(t[4]) for t in targets if t[4] is not None), np)
    for key, var, owner, name, current in targets:
        if key not in arrays:
            continue
        arr = arrays[key]
        xp = cuda.get_array_module(current) if current is not None else default_xp
        var.data = xp.asarray(arr) if xp is not np else arr
        if current is None:
            owner._built_from_checkpoint(name, var.data)
    return LoadResult(missing, unexpected)


def _params_then_buffers(layer):
    """(path, owner, name, Variable) of Parameters first, then buffers (the checkpoint's order)."""
    entries = list(layer._walk())
    return ([e[:4] for e in entries if not e[4]] + [e[:4] for e in entries if e[4]])


def _compare(arr, want_shape, want_dtype):
    problems = []
    if want_shape is not None:
        ok = len(arr.shape) == len(want_shape) and all(
            w is None or w == s for s, w in zip(arr.shape, want_shape))
        if not ok:
            shown = ', '.join('?' if w is None else str(w) for w in want_shape)
            shown = '(' + shown + (',)' if len(want_shape) == 1 else ')')
            problems.append(f"shape {arr.shape} in file, model expects {shown}")
    if want_dtype is not None and arr.dtype != np.dtype(want_dtype):
        problems.append(f"dtype {arr.dtype} in file, model expects {np.dtype(want_dtype)}")
    return '; '.join(problems)


# ---------------------------------------------------------------------------
# safetensors (the package is imported only when such a file is written or read)
# ---------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------
# Optimizer state
# ---------------------------------------------------------------------------
def save_optimizer_state(optimizer, path):
    """Write optimizer.state_dict() to an .npz atomically (".npz" added if missing); return it."""
    sd = optimizer.state_dict()
    arrays = {'__type__': np.array(sd['type'])}
    for k, v in sd['hyper'].items():
        arrays['hyper/' + k] = np.array(v)
    for k, v in sd['scalars'].items():
        arrays['scalars/' + k] = np.array(v)
    for p, st in sd['state'].items():
        for name, arr in st.items():
            arrays['state/' + p + '/' + name] = arr
    for i, sched in enumerate(sd.get('schedulers', ())):
        for k, v in sched.items():
            arrays[f'schedulers/{i}/{k}'] = np.array(v)
    return save_npz_atomic(path, arrays)


def load_optimizer_state(optimizer, path):
    """Read an .npz written by save_optimizer_state and load_state_dict() it into optimizer."""
    path = resolve_npz_path(path)
    who = f"{type(optimizer).__name__}.load_state"
    specs = read_npz_headers(path, who=who)
    if '__type__' not in specs:
        raise ValueError(f"{who}: {path!r} is not an optimizer state file (no __type__).")
    params = (dict(optimizer.target.named_params()) if optimizer.target is not None else {})
    problems = []
    for key, spec in specs.items():
        section, _, rest = key.partition('/')
        if key == '__type__' or section in ('hyper', 'scalars'):
            if spec.shape != () or (key == '__type__') != (spec.dtype.kind == 'U'):
                problems.append(f"{key}: {spec.dtype} of shape {spec.shape}, expected a "
                                + ("name" if key == '__type__' else "number"))
        elif section == 'state':
            p = params.get(rest.rpartition('/')[0])
            if p is not None and p.data is not None and spec.shape != p.data.shape:
                problems.append(f"{key}: shape {spec.shape}, parameter has {p.data.shape}")
            if spec.dtype.kind not in 'biuf':
                problems.append(f"{key}: {spec.dtype} is not a numeric array")
    if problems:
        raise ValueError(f"{who}: {path!r} does not fit {type(optimizer).__name__} (nothing was "
                         "loaded): " + '; '.join(problems))
    arrays = _read_arrays(path, list(specs), who)
    sd = {'type': str(arrays.pop('__type__')), 'hyper': {}, 'scalars': {}, 'state': {}}
    scheds = {}
    for key, arr in arrays.items():
        section, _, rest = key.partition('/')
        if section in ('hyper', 'scalars'):
            sd[section][rest] = arr.item()
        elif section == 'state':
            p, _, name = rest.rpartition('/')
            sd['state'].setdefault(p, {})[name] = arr
        elif section == 'schedulers':
            i, _, name = rest.partition('/')
            scheds.setdefault(int(i), {})[name] = arr.item()
        else:
            raise ValueError(f"{who}: unexpected key {key!r} in {path!r}.")
    if scheds:
        sd['schedulers'] = [scheds[i] for i in sorted(scheds)]
    optimizer.load_state_dict(sd)


# ---------------------------------------------------------------------------
# Dataset caches
# ---------------------------------------------------------------------------
def load_array_cache(path, keys):
    """Arrays `keys` from a parsed-data cache, or None when absent or unreadable.

    A damaged or stale cache is deleted, so that the caller rebuilds it from the sources.
    """
    if not os.path.exists(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in keys}
    except Exception:  # any failure means a damaged or stale derived cache: rebuild it
        with contextlib.suppress(OSError):
            os.remove(path)
        return None


def save_array_cache(path, arrays):
    """Write a parsed-data cache atomically; a read-only cache folder only costs the speed-up."""
    with contextlib.suppress(OSError):
        write_npz(path, arrays)
