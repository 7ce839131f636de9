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
import os
import tempfile
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


@contextlib.contextmanager
def atomic_path(path, suffix=None):
    """Yield a temporary path next to `path`; on success it replaces `path` in one step.

    A crash or an exception leaves any previous file at `path` untouched and removes
    the temporary file. `suffix` (default: the target's extension) keeps writers that
    look at the extension (np.savez, savefig, dot) happy.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if suffix is None:
        suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix=suffix,
                               dir=folder)
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
    """Read every array of an .npz (no pickles) into a dict; ValueError naming a corrupt file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{who}: no such file {path!r}")
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array, not an .npz archive")
        with npz:
            return {key: npz[key] for key in npz.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise ValueError(
            f"{who}: cannot read {path!r}: the file is truncated, corrupt or not an .npz "
            f"written by save_weights ({type(e).__name__}: {e})") from e


# ---------------------------------------------------------------------------
# Layer weights
# ---------------------------------------------------------------------------
def save_weights(layer, path):
    """Write every Parameter and buffer of `layer` to an .npz keyed by path; return the path.

    See Layer.save_weights. Raises ValueError if a lazily-created parameter has
    not been built yet.
    """
    return save_npz_atomic(path, _layer_arrays(layer, 'save_weights'))


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
    """Load an .npz written by save_weights into `layer`, all-or-nothing; see Layer.load_weights."""
    who = f"{type(layer).__name__}.load_weights"
    path = resolve_npz_path(path)
    load_arrays(layer, load_npz(path, who=who), who, repr(os.fspath(path)))


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


def load_arrays(layer, arrays, who, source, strict=True):
    """Check arrays (path -> NumPy array) against `layer`, then assign them; LoadResult.

    All-or-nothing: any mismatched shape or dtype, and with strict any missing or
    unexpected key, raises ValueError naming `source` and changes nothing.
    strict=False leaves missing keys as they are and ignores unexpected ones.
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

    # Everything checked: now assign.
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
    return save_npz_atomic(path, arrays)


def load_optimizer_state(optimizer, path):
    """Read an .npz written by save_optimizer_state and load_state_dict() it into optimizer."""
    path = resolve_npz_path(path)
    who = f"{type(optimizer).__name__}.load_state"
    arrays = load_npz(path, who=who)
    if '__type__' not in arrays:
        raise ValueError(f"{who}: {path!r} is not an optimizer state file (no __type__).")
    sd = {'type': str(arrays.pop('__type__')), 'hyper': {}, 'scalars': {}, 'state': {}}
    for key, arr in arrays.items():
        section, _, rest = key.partition('/')
        if section in ('hyper', 'scalars'):
            sd[section][rest] = arr.item()
        elif section == 'state':
            p, _, name = rest.rpartition('/')
            sd['state'].setdefault(p, {})[name] = arr
        else:
            raise ValueError(f"{who}: unexpected key {key!r} in {path!r}.")
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
