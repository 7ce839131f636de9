"""Layer weights: save_weights / load_weights (.npz or .safetensors) and the in-memory
state_dict / load_state_dict, all validated by load_arrays before anything is assigned."""
import collections
import os

import numpy as np

from dezero import cuda
from dezero.serializers.files import (
    _read_arrays,
    read_npz_headers,
    resolve_npz_path,
    save_npz_atomic,
)
from dezero.serializers.safetensors_format import (
    _is_safetensors,
    _read_safetensors,
    read_safetensors_headers,
    save_safetensors,
)


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
