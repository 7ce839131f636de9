"""Layer: a container that registers Parameters and sub-Layers in assignment order.

Checkpoints (save_weights / load_weights) live here too. The file format is a
plain .npz whose keys are attribute paths ("l0/W", "bn/avg_mean"): every
Parameter, plus every persistent buffer (running statistics such as
BatchNorm's avg_mean / avg_var, which are state but not trainable).
"""
import os
import weakref
import zipfile

import numpy as np

from dezero import cuda
from dezero._atomic import write_npz
from dezero.core import Parameter, Variable


class Layer:
    """Base of every layer and model.

    Assigning a Parameter or a Layer to an attribute registers it, in order, so
    that params() yields every Parameter (nested layers included) deterministically.
    Persistent non-trainable arrays are declared with register_buffer(name, array).
    Subclasses implement forward(*inputs).
    """

    def __init__(self):
        self._params = []  # attribute names, in assignment order

    def __setattr__(self, name, value):
        if isinstance(value, (Parameter, Layer)):
            if '_params' not in self.__dict__:
                object.__setattr__(self, '_params', [])
            if name not in self._params:
                self._params.append(name)
        elif '_params' in self.__dict__ and name in self._params:
            self._params.remove(name)
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        if name in self.__dict__.get('_params', ()):
            self._params.remove(name)
        if name in self.__dict__.get('_buffers', ()):
            self._buffers.remove(name)
        object.__delattr__(self, name)

    def __call__(self, *inputs):
        outputs = self.forward(*inputs)
        # Plain dict stores: these bookkeeping attributes never hold Parameters.
        d = self.__dict__
        d['inputs'] = [weakref.ref(x) for x in inputs if _is_weakrefable(x)]
        if outputs.__class__ is not tuple:
            d['outputs'] = [weakref.ref(outputs)] if _is_weakrefable(outputs) else []
            return outputs
        d['outputs'] = [weakref.ref(y) for y in outputs if _is_weakrefable(y)]
        return outputs if len(outputs) > 1 else outputs[0]

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    # -- registry ------------------------------------------------------------
    def register_buffer(self, name, value):
        """Store a persistent, non-trainable array (or None until built) saved with the weights.

        The attribute holds a plain Variable (not a Parameter, so no optimizer sees it);
        its .data is the array, as with the book's BatchNorm.avg_mean.
        """
        if '_buffers' not in self.__dict__:
            object.__setattr__(self, '_buffers', [])
        if name not in self._buffers:
            self._buffers.append(name)
        object.__setattr__(self, name, value if isinstance(value, Variable) else Variable(value))

    def params(self):
        """Yield every Parameter of this layer and its sub-layers, in assignment order."""
        d = self.__dict__
        for name in d.get('_params', ()):
            obj = d[name]
            if isinstance(obj, Layer):
                yield from obj.params()
            else:
                yield obj

    def named_params(self, prefix=''):
        """Yield (path, Parameter) pairs; paths look like 'l0/W'."""
        for name in self.__dict__.get('_params', ()):
            obj = self.__dict__[name]
            key = prefix + '/' + name if prefix else name
            if isinstance(obj, Layer):
                yield from obj.named_params(key)
            else:
                yield key, obj

    def named_buffers(self, prefix=''):
        """Yield (path, owner layer, attribute name) for every persistent buffer."""
        for name in self.__dict__.get('_buffers', ()):
            yield (prefix + '/' + name if prefix else name), self, name
        for name in self.__dict__.get('_params', ()):
            obj = self.__dict__[name]
            if isinstance(obj, Layer):
                yield from obj.named_buffers(prefix + '/' + name if prefix else name)

    def _named_param_specs(self, prefix=''):
        """Yield (path, Parameter, layer, attribute name) to resolve lazy-parameter specs."""
        for name in self.__dict__.get('_params', ()):
            obj = self.__dict__[name]
            key = prefix + '/' + name if prefix else name
            if isinstance(obj, Layer):
                yield from obj._named_param_specs(key)
            else:
                yield key, obj, self, name

    def lazy_spec(self, name, known=None):
        """(shape with None for unknown sizes, dtype) of a not-yet-built array `name`, or None.

        Layers that create arrays on their first call override this so that
        load_weights can build them from a checkpoint and still check them.
        `known` maps the names of this layer's lazy arrays already accepted from
        the file to those arrays, so that sizes they fix can be enforced.
        """
        return None

    def _built_from_checkpoint(self, name, value):
        """Called after load_weights created the lazy array `name`; layers record inferred sizes."""

    def cleargrads(self):
        """Forget the gradients of every Parameter."""
        for param in self.params():
            param.grad = None

    def to_cpu(self):
        """Move every Parameter and buffer to NumPy; returns self."""
        for param in self.params():
            param.to_cpu()
        for _, layer, name in self.named_buffers():
            layer.__dict__[name].to_cpu()
        return self

    def to_gpu(self):
        """Move every Parameter and buffer to CuPy; returns self (raises without CuPy)."""
        for param in self.params():
            param.to_gpu()
        for _, layer, name in self.named_buffers():
            layer.__dict__[name].to_gpu()
        return self

    # -- checkpoints -----------------------------------------------------------
    def save_weights(self, path):
        """Write every Parameter and buffer to an .npz keyed by path ("l0/W"), atomically.

        Like np.savez, '.npz' is appended when `path` does not end with it; the
        final path is returned. The data go to a temporary file in the same
        folder that then replaces `path`, so an interrupted save never destroys
        the previous checkpoint. GPU arrays are copied to NumPy (the model stays
        where it is). Raises ValueError if a lazily-created parameter has not
        been built yet (call the model on one input first).
        """
        arrays = {}
        unbuilt = []
        for key, param in self.named_params():
            if param.data is None:
                unbuilt.append(key)
            else:
                arrays[key] = cuda.as_numpy(param.data)
        for key, layer, name in self.named_buffers():
            value = layer.__dict__[name].data
            if value is None:
                unbuilt.append(key)
            else:
                arrays[key] = cuda.as_numpy(value)
        if unbuilt:
            raise ValueError(
                f"{type(self).__name__}.save_weights: parameters {unbuilt} have not been "
                "created yet (their layers build them from the first input); call the "
                "model on one batch before saving.")
        return save_npz_atomic(path, arrays)

    def load_weights(self, path):
        """Load an .npz written by save_weights; all-or-nothing.

        Every parameter and buffer must be present with the right shape and
        dtype and no extra keys may appear; otherwise ValueError lists the
        missing, unexpected and mismatched keys and the model is left untouched.
        Lazily-created parameters that are not built yet are created from the
        file (their known sizes and dtype are still checked). Arrays are placed
        on the device (NumPy/CuPy) each parameter is on; unbuilt ones go where
        the model's built parameters are (NumPy for a model with none built).
        A path without '.npz' is also tried with it, mirroring save_weights.
        """
        path = _resolve_npz_path(path)
        arrays = load_npz(path, who=f"{type(self).__name__}.load_weights")

        targets = []  # (key, Parameter or buffer Variable, layer, attribute, current value)
        for key, param, layer, name in self._named_param_specs():
            targets.append((key, param, layer, name, param.data))
        for key, layer, name in self.named_buffers():
            buffer = layer.__dict__[name]
            targets.append((key, buffer, layer, name, buffer.data))

        missing, mismatched = [], []
        expected = set()
        accepted_lazy = {}  # id(layer) -> {name: array} of lazy arrays taken from the file
        for key, param, layer, name, current in targets:
            expected.add(key)
            if key not in arrays:
                missing.append(key)
                continue
            arr = arrays[key]
            if current is not None:
                want_shape, want_dtype = current.shape, current.dtype
            else:
                known = accepted_lazy.setdefault(id(layer), {})
                spec = layer.lazy_spec(name, known)
                if spec is None:
                    want_shape, want_dtype = None, None
                else:
                    want_shape, want_dtype = spec
            problem = _compare(arr, want_shape, want_dtype)
            if problem:
                mismatched.append(f"{key}: {problem}")
            elif current is None:
                known[name] = arr
        unexpected = sorted(set(arrays) - expected)
        if missing or unexpected or mismatched:
            raise ValueError(
                f"{type(self).__name__}.load_weights: {os.fspath(path)!r} does not match the "
                f"model (nothing was loaded): missing keys {missing}, unexpected keys "
                f"{unexpected}, mismatched [{'; '.join(mismatched)}].")

        # Everything checked: now assign.
        default_xp = next((cuda.get_array_module(t[4]) for t in targets if t[4] is not None), np)
        for key, param, layer, name, current in targets:
            arr = arrays[key]
            xp = cuda.get_array_module(current) if current is not None else default_xp
            param.data = xp.asarray(arr) if xp is not np else arr
            value = param.data
            if current is None:
                layer._built_from_checkpoint(name, value)


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


def _resolve_npz_path(path):
    path = os.fspath(path)
    if not os.path.exists(path) and not path.endswith('.npz') and os.path.exists(path + '.npz'):
        return path + '.npz'
    return path


def save_npz_atomic(path, arrays):
    """Write arrays (name -> NumPy array) to `path` (+'.npz' if missing) atomically; return it."""
    path = os.fspath(path)
    if not path.endswith('.npz'):
        path += '.npz'
    write_npz(path, arrays)
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


def _is_weakrefable(x):
    try:
        weakref.ref(x)
        return True
    except TypeError:
        return False
