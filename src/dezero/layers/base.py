"""Layer: a container that registers Parameters and sub-Layers in assignment order.

Checkpoints: save_weights / load_weights call dezero.serializers. The file format is a
plain .npz whose keys are attribute paths ("l0/W", "bn/avg_mean"): every
Parameter, plus every persistent buffer (running statistics such as
BatchNorm's avg_mean / avg_var, which are state but not trainable).
"""
import weakref

import numpy as np

from dezero import cuda, serializers
from dezero.core import Parameter, Variable, _settings, using_config


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

    def __call__(self, *inputs, **kwargs):
        mode = self.__dict__.get('_train_mode')
        if mode is not None and mode is not _settings.train:
            # eval() / train(False): this call runs in that mode, whatever Config.train is.
            with using_config('train', mode):
                return self.__call__(*inputs, **kwargs)
        outputs = self.forward(*inputs, **kwargs)  # keyword options such as mask=
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

    def _walk(self, prefix=''):
        """Yield (path, owner layer, attribute name, Variable, is_buffer) for the whole tree.

        The one walker: each layer's buffers first, then its Parameters and
        sub-layers in assignment order, depth first. Paths look like 'l0/W'.
        """
        d = self.__dict__
        for name in d.get('_buffers', ()):
            yield (prefix + '/' + name if prefix else name), self, name, d[name], True
        for name in d.get('_params', ()):
            obj = d[name]
            key = prefix + '/' + name if prefix else name
            if isinstance(obj, Layer):
                yield from obj._walk(key)
            else:
                yield key, self, name, obj, False

    def params(self):
        """Yield every Parameter of this layer and its sub-layers, in assignment order."""
        for _, _, _, var, is_buffer in self._walk():
            if not is_buffer:
                yield var

    def named_params(self, prefix=''):
        """Yield (path, Parameter) pairs; paths look like 'l0/W'."""
        for key, _, _, var, is_buffer in self._walk(prefix):
            if not is_buffer:
                yield key, var

    def named_buffers(self, prefix=''):
        """Yield (path, owner layer, attribute name) for every persistent buffer."""
        for key, owner, name, _, is_buffer in self._walk(prefix):
            if is_buffer:
                yield key, owner, name

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

    # Attributes holding per-sequence state (a recurrent layer's h and c): not saved or
    # trained, but to_cpu/to_gpu move them so that a sequence can go on after the move.
    _state_attrs = ()

    def to_cpu(self):
        """Move every Parameter, buffer and recurrent state to NumPy; returns self."""
        for param in self.params():
            param.to_cpu()
        for _, layer, name in self.named_buffers():
            layer.__dict__[name].to_cpu()
        self._move_state(gpu=False)
        return self

    def to_gpu(self):
        """Move every Parameter, buffer and recurrent state to CuPy; returns self.

        Raises without CuPy.
        """
        for param in self.params():
            param.to_gpu()
        for _, layer, name in self.named_buffers():
            layer.__dict__[name].to_gpu()
        self._move_state(gpu=True)
        return self

    def _move_state(self, gpu):
        """Put every state Variable in this tree on CuPy (gpu=True) or NumPy.

        A moved state is a new Variable without a creator: a graph cannot span two
        devices, so the move cuts it as unchain_backward would (the Variable a forward
        call returned, which may be the same object, is left as it was).
        """
        d = self.__dict__
        for name in self._state_attrs:
            var = d.get(name)
            if isinstance(var, Variable) and var.data is not None and \
                    cuda.is_cupy_array(var.data) is not gpu:
                data = cuda.as_cupy(var.data) if gpu else cuda.as_numpy(var.data)
                d[name] = Variable(data, name=var.name)
        for name in d.get('_params', ()):
            if isinstance(d[name], Layer):
                d[name]._move_state(gpu)

    def _follow_array_module(self, xp):
        """Put every built Parameter and buffer of this layer (and its sub-layers) on xp.

        Called when a layer builds a parameter lazily from its first input: the new
        array is on the input's module (NumPy or CuPy), and the parameters made at
        construction (a bias, a recurrent layer's hidden-to-hidden weights) must
        follow it, or the first arithmetic mixing them fails on the GPU.
        """
        for _, _, _, var, _ in self._walk():
            for v in (var, var.grad):
                if v is not None and v.data is not None and \
                        cuda.get_array_module(v.data) is not xp:
                    v.data = cuda.as_numpy(v.data) if xp is np else xp.asarray(v.data)

    # -- PyTorch-style names and conveniences -----------------------------------
    def parameters(self):
        """Yield every Parameter (PyTorch's name for params())."""
        return self.params()

    def named_parameters(self, prefix=''):
        """Yield (path, Parameter) pairs, paths like 'l0/W' (PyTorch's name for named_params())."""
        return self.named_params(prefix)

    def zero_grad(self):
        """Forget the gradients of every Parameter (PyTorch's name for cleargrads())."""
        self.cleargrads()

    def train(self, mode=True):
        """Put this layer and its sub-layers in training mode (mode=False: eval()); returns self.

        The mode is scoped to the layer's calls: after eval(), every call of this
        layer runs with Config.train = False (dropout off, batch norm on its running
        statistics) whatever the thread's setting, and other models are unaffected.
        train() returns to the default, which follows Config.train (True, or False
        inside dezero.test_mode(), so fit()'s evaluation still works).
        """
        if not isinstance(mode, bool):
            raise TypeError(f"{type(self).__name__}.train: mode must be a bool, got "
                            f"{type(mode).__name__}.")
        value = None if mode else False
        for layer in self._layers():
            layer.__dict__['_train_mode'] = value
        return self

    def eval(self):
        """Put this layer and its sub-layers in evaluation mode (see train()); returns self."""
        return self.train(False)

    @property
    def training(self):
        """Whether a call of this layer now runs in training mode (read-only)."""
        mode = self.__dict__.get('_train_mode')
        return _settings.train if mode is None else mode

    def _layers(self):
        """Yield this layer and every sub-layer, depth first."""
        yield self
        d = self.__dict__
        for name in d.get('_params', ()):
            obj = d[name]
            if isinstance(obj, Layer):
                yield from obj._layers()

    def to(self, device):
        """Move parameters and buffers to 'cpu' (NumPy) or 'cuda'/'gpu' (CuPy); returns self."""
        where = device.lower() if isinstance(device, str) else None
        if where == 'cpu':
            return self.to_cpu()
        if where in ('cuda', 'gpu', 'cuda:0'):
            return self.to_gpu()
        raise ValueError(f"{type(self).__name__}.to: device must be 'cpu', 'cuda' or 'gpu', "
                         f"got {device!r}.")

    def __getstate__(self):
        # Pickling and deepcopy keep parameters, buffers and settings, never the graph:
        # inputs/outputs of the last call are weak references (and would be stale anyway).
        state = self.__dict__.copy()
        state.pop('inputs', None)
        state.pop('outputs', None)
        return state

    def __repr__(self):
        return '\n'.join(self._repr_lines(type(self).__name__))

    def _repr_lines(self, head):
        d = self.__dict__
        parts, children = [], []
        for name in d.get('_params', ()):
            obj = d[name]
            if isinstance(obj, Layer):
                children.append((name, obj))
            else:
                parts.append(f'{name}={_shape_text(obj)}')
        count, unbuilt = _count(self.params())
        note = f'{count:,} parameters' + (f', {unbuilt} uninitialised' if unbuilt else '')
        if not children:
            return [f"{head}({', '.join(parts)})  # {note}"]
        lines = [f'{head}(  # {note}']
        lines += [f'  {p},' for p in parts]
        for name, child in children:
            sub = child._repr_lines(f'({name}): {type(child).__name__}')
            lines += ['  ' + line for line in sub]
        lines.append(')')
        return lines

    def summary(self, print_fn=print):
        """Print a table of every parameter (path, owner, shape, dtype, size) and the totals.

        Parameters that lazy layers have not created yet show as uninitialised
        (call the model on one batch first). print_fn=None returns the text instead.
        """
        rows = [('Parameter', 'Layer', 'Shape', 'Dtype', 'Size')]
        for key, layer, _, p, is_buffer in self._walk():
            if is_buffer:
                continue
            if p.data is None:
                rows.append((key, type(layer).__name__, 'uninitialised', '-', '-'))
            else:
                rows.append((key, type(layer).__name__, str(p.data.shape), str(p.data.dtype),
                             f'{p.data.size:,}'))
        count, unbuilt = _count(self.params())
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        fmt = '  '.join(f'{{:{">" if i == 4 else "<"}{w}}}' for i, w in enumerate(widths))
        rule = '-' * (sum(widths) + 8)
        lines = [type(self).__name__, rule, fmt.format(*rows[0]), rule]
        lines += [fmt.format(*r) for r in rows[1:]]
        lines += [rule, f'Total parameters: {count:,}']
        if unbuilt:
            lines.append(f'Uninitialised: {unbuilt} (created on the first call)')
        text = '\n'.join(lines)
        if print_fn is None:
            return text
        print_fn(text)

    # -- checkpoints (the file format lives in dezero.serializers) -----------
    def save_weights(self, path):
        """Write every Parameter and buffer to an .npz keyed by path ("l0/W"), atomically.

        Like np.savez, '.npz' is appended when `path` does not end with it; the
        final path is returned. The data go to a temporary file in the same
        folder that then replaces `path`, so an interrupted save never destroys
        the previous checkpoint. GPU arrays are copied to NumPy (the model stays
        where it is). Raises ValueError if a lazily-created parameter has not
        been built yet (call the model on one input first).

        A path ending in '.safetensors' writes that format (needs the safetensors
        package), keyed "l0.W" (dots for slashes), in dezero's layouts.
        """
        return serializers.save_weights(self, path)

    def state_dict(self):
        """{path: NumPy array} of every Parameter and buffer ("l0/W", "bn/avg_mean").

        The arrays are copies (GPU data copied to NumPy), so the dict is a snapshot
        that later training does not change; the keys are save_weights' keys.
        Raises ValueError, as save_weights, while lazy parameters are not built.
        """
        return serializers.state_dict(self)

    def load_state_dict(self, state_dict, strict=True):
        """Load a dict from state_dict() (copying its arrays), validated as load_weights is.

        With strict=True every key must be present with the right shape and dtype
        and no extra key may appear, else ValueError lists the problems and
        nothing changes. strict=False loads the keys present, ignores unexpected
        ones and leaves missing ones as they are (shapes and dtypes are still
        checked). Returns (missing_keys, unexpected_keys) as a named tuple.
        """
        return serializers.load_state_dict(self, state_dict, strict)

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
        A '.safetensors' path reads that format, validated the same way from its
        header before any tensor is read.
        """
        serializers.load_weights(self, path)


def _shape_text(param):
    if param.data is None:
        return 'uninitialised'
    return str(param.data.shape)


def _count(params):
    """(number of scalars in the built params, number of params not created yet)."""
    count = unbuilt = 0
    seen = set()
    for p in params:
        if p in seen:
            continue
        seen.add(p)
        if p.data is None:
            unbuilt += 1
        else:
            count += p.data.size
    return count, unbuilt


def _is_weakrefable(x):
    try:
        weakref.ref(x)
        return True
    except TypeError:
        return False
