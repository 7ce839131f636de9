"""Export a dezero model to ONNX: trace one forward pass, then translate the recorded graph.

    import dezero.onnx
    dezero.onnx.export(model, x, 'model.onnx')

`export` runs the model once in test mode (dropout off, batch norm on its running
statistics) with graph recording on, walks the define-by-run graph from the outputs back
to the inputs (the graph `backward` walks), orders its Functions topologically and emits
one or a few ONNX nodes for each, through a converter table keyed by Function class.
Parameters become initializers named by their path in the model ("l0/W"); other arrays the
graph holds (constants, batch norm's running statistics) become initializers too.

What is recorded is what runs: Python control flow is unrolled (an LSTM over T steps
becomes T cells), and shapes the model computes from its input are frozen, except that
with `dynamic_batch` a leading dimension equal to the sample's batch size in reshape and
broadcast targets follows the input's batch size at run time.

Needs the `onnx` package (pip install 'dezero[onnx]'); imported only when exporting.
"""
import os

import numpy as np

from dezero.core import Parameter, Variable, using_config

ONNX_EXTRA = "pip install 'dezero[onnx]'"
# ONNX's "to the end" for Slice ends.
_INT_MAX = np.iinfo(np.int64).max
_INT_MIN = np.iinfo(np.int64).min


class UnsupportedFunctionError(NotImplementedError):
    """A Function of the traced graph has no ONNX translation."""


def _import_onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as e:
        raise ImportError(f"dezero.onnx.export needs the onnx package: {ONNX_EXTRA} "
                          f"(or pip install onnx); {e}") from e
    return onnx, helper, numpy_helper


# ---------------------------------------------------------------------------
# The graph being built
# ---------------------------------------------------------------------------
class _Builder:
    """Collects nodes and initializers, and hands out unique tensor names."""

    def __init__(self, helper, numpy_helper, opset, dynamic_batch, batch, first_input):
        self.helper, self.numpy_helper = helper, numpy_helper
        self.opset = opset
        self.dynamic_batch = dynamic_batch and batch is not None
        self.batch = batch
        self.first_input = first_input
        self.nodes, self.initializers = [], []
        self.used = set()
        self._batch_tensor = None
        self._count = {}

    def fresh(self, hint):
        """A tensor name not used yet, derived from hint."""
        name = hint
        k = 0
        while name in self.used:
            k += 1
            name = f'{hint}_{k}'
        self.used.add(name)
        return name

    def const(self, array, hint='const'):
        """An initializer holding array; returns its name."""
        name = self.fresh(hint)
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def ints(self, values, hint='shape'):
        """A 1-D int64 initializer (shapes, axes, pads)."""
        return self.const(np.asarray(values, dtype=np.int64).reshape(-1), hint)

    def node(self, op, inputs, outputs=None, n_outputs=1, **attrs):
        """Append an ONNX node; returns its output name (or list of names when several)."""
        k = self._count[op] = self._count.get(op, -1) + 1
        if outputs is None:
            outputs = [self.fresh(f'{op}_{k}_out{i}' if n_outputs > 1 else f'{op}_{k}')
                       for i in range(n_outputs)]
        self.nodes.append(self.helper.make_node(op, list(inputs), list(outputs),
                                                name=f'{op}_{k}', **attrs))
        return outputs[0] if len(outputs) == 1 else list(outputs)

    def reduce(self, op, x, axes, keepdims, out=None):
        """A Reduce* node over axes (None: all); axes are an input from opset 18 (13 for
        ReduceSum), an attribute before."""
        outputs = None if out is None else [out]
        if axes is None:
            return self.node(op, [x], outputs, keepdims=int(keepdims))
        axes = [int(a) for a in axes]
        if op == 'ReduceSum' or self.opset >= 18:
            return self.node(op, [x, self.ints(axes, 'axes')], outputs, keepdims=int(keepdims))
        return self.node(op, [x], outputs, axes=axes, keepdims=int(keepdims))

    def batch_size(self):
        """A (1,) int64 tensor holding the first input's batch size at run time."""
        if self._batch_tensor is None:
            shape = self.node('Shape', [self.first_input])
            self._batch_tensor = self.node('Slice', [shape, self.ints([0], 'starts'),
                                                     self.ints([1], 'ends')])
        return self._batch_tensor

    def shape(self, shape, keep_first=False):
        """A shape tensor for Reshape/Expand. With dynamic_batch a leading dimension equal to
        the sample's batch size becomes the run-time one (0, 'copy the input's', for a
        Reshape whose input already leads with the batch: keep_first)."""
        shape = [int(s) for s in shape]
        if not (self.dynamic_batch and shape and shape[0] == self.batch):
            return self.ints(shape)
        if keep_first:
            return self.ints([0] + shape[1:])
        if len(shape) == 1:
            return self.batch_size()
        return self.node('Concat', [self.batch_size(), self.ints(shape[1:])], axis=0)


# ---------------------------------------------------------------------------
# Converters: convert(builder, f, xs, ys) emits nodes reading the input names xs and
# writing the output names ys (one per output of f).
# ---------------------------------------------------------------------------
def _in(f, k=0):
    return f.inputs[k].data


def _scalar_const(b, value, like, hint='c'):
    # NumPy's rule for a Python scalar beside an array: the array's dtype wins for floats
    dtype = like.dtype if like.dtype.kind in 'fc' else np.result_type(like.dtype, value)
    return b.const(np.asarray(value, dtype=dtype), hint)


def _simple(op, **attrs):
    def convert(b, f, xs, ys):
        b.node(op, xs, ys, **attrs)
    convert.__doc__ = op
    return convert


def _constant_op(op, swap=False):
    def convert(b, f, xs, ys):
        c = _scalar_const(b, f.c, _in(f))
        b.node(op, [c, xs[0]] if swap else [xs[0], c], ys)
    return convert


def _pow(b, f, xs, ys):
    x = _in(f)
    c = np.asarray(f.c)
    if x.dtype.kind == 'f' and c.dtype.kind in 'biuf':
        c = c.astype(x.dtype)
    b.node('Pow', [xs[0], b.const(c, 'exponent')], ys)


def _square(b, f, xs, ys):
    b.node('Mul', [xs[0], xs[0]], ys)


def _leaky_relu(b, f, xs, ys):
    b.node('LeakyRelu', xs, ys, alpha=float(f.slope))


def _softmax_like(log):
    def convert(b, f, xs, ys):
        axis = f.axis
        if isinstance(axis, int):
            b.node('LogSoftmax' if log else 'Softmax', xs, ys, axis=axis)
            return
        # several axes: the stable formula spelt out
        m = b.reduce('ReduceMax', xs[0], axis, True)
        shifted = b.node('Sub', [xs[0], m])
        e = b.node('Exp', [shifted])
        s = b.reduce('ReduceSum', e, axis, True)
        if log:
            b.node('Sub', [shifted, b.node('Log', [s])], ys)
        else:
            b.node('Div', [e, s], ys)
    return convert


def _reshape(b, f, xs, ys):
    x = _in(f)
    shape = list(f.shape)
    keep = bool(x.ndim) and bool(shape) and x.shape[0] == shape[0]
    b.node('Reshape', [xs[0], b.shape(shape, keep_first=keep)], ys)


def _transpose(b, f, xs, ys):
    ndim = _in(f).ndim
    axes = f.axes if f.axes is not None else tuple(reversed(range(ndim)))
    b.node('Transpose', xs, ys, perm=[int(a) for a in axes])


def _get_item(b, f, xs, ys):
    x = _in(f)
    slices = f.slices
    items = list(slices) if isinstance(slices, tuple) else [slices]
    for s in items:
        if isinstance(s, np.ndarray) and s.dtype.kind == 'b':
            raise UnsupportedFunctionError(
                "dezero.onnx.export: get_item with a boolean mask has a data-dependent shape; "
                "ONNX export supports ints, slices, Ellipsis, None and one integer array.")
    # one integer array on one axis, full slices elsewhere: Gather
    arrays = [i for i, s in enumerate(items) if isinstance(s, np.ndarray) and s.ndim > 0]
    if arrays:
        k = arrays[0]
        if len(arrays) > 1 or any(s is None or s is Ellipsis or
                                  (isinstance(s, slice) and s != slice(None))
                                  or isinstance(s, (int, np.integer))
                                  for i, s in enumerate(items) if i != k):
            raise UnsupportedFunctionError(
                f"dezero.onnx.export: get_item index {slices!r} mixes integer arrays with "
                "other indices; supported: ints, slices, Ellipsis, None, or one integer array "
                "with full slices elsewhere.")
        b.node('Gather', [xs[0], b.const(items[k].astype(np.int64), 'indices')], ys, axis=k)
        return
    # expand Ellipsis so that every real axis has an entry
    n_real = sum(1 for s in items if s is not None and s is not Ellipsis)
    expanded = []
    for s in items:
        if s is Ellipsis:
            expanded.extend([slice(None)] * (x.ndim - n_real))
        else:
            expanded.append(s)
    if Ellipsis not in items:
        expanded.extend([slice(None)] * (x.ndim - n_real))
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    axis = out_pos = 0
    for s in expanded:
        if s is None:
            unsqueeze.append(out_pos)
            out_pos += 1
            continue
        if isinstance(s, (int, np.integer)) or (isinstance(s, np.ndarray) and s.ndim == 0):
            i = int(s)
            starts.append(i)
            ends.append(i + 1 if i != -1 else _INT_MAX)
            axes.append(axis)
            steps.append(1)
            squeeze.append(axis)
        elif isinstance(s, slice):
            if s != slice(None):
                step = 1 if s.step is None else int(s.step)
                starts.append((0 if step > 0 else -1) if s.start is None else int(s.start))
                ends.append((_INT_MAX if step > 0 else _INT_MIN) if s.stop is None
                            else int(s.stop))
                axes.append(axis)
                steps.append(step)
            out_pos += 1
        else:
            raise UnsupportedFunctionError(f"dezero.onnx.export: get_item index {slices!r}: "
                                           f"cannot translate {s!r}")
        axis += 1
    y = xs[0]
    steps_left = bool(squeeze) + bool(unsqueeze)
    if starts:
        out = ys if not steps_left else None
        y = b.node('Slice', [y, b.ints(starts, 'starts'), b.ints(ends, 'ends'),
                             b.ints(axes, 'axes'), b.ints(steps, 'steps')], out)
    if squeeze:
        steps_left -= 1
        y = b.node('Squeeze', [y, b.ints(squeeze, 'axes')], ys if not steps_left else None)
    if unsqueeze:
        y = b.node('Unsqueeze', [y, b.ints(unsqueeze, 'axes')], ys)
    if not (starts or squeeze or unsqueeze):
        b.node('Identity', [y], ys)


def _concat(b, f, xs, ys):
    b.node('Concat', xs, ys, axis=int(f.axis))


def _split(b, f, xs, ys):
    x = _in(f)
    axis = int(f.axis)
    sizes = [len(y) for y in np.split(np.empty(x.shape[axis]), f.indices_or_sections)]
    b.node('Split', [xs[0], b.ints(sizes, 'split')], ys, axis=axis)


def _broadcast_to(b, f, xs, ys):
    x = _in(f)
    shape = list(f.shape)
    if x.ndim == len(shape) and x.ndim and x.shape[0] == shape[0]:
        shape[0] = 1  # Expand broadcasts both ways: 1 keeps the input's (batch) length
    b.node('Expand', [xs[0], b.shape(shape)], ys)


def _sum_to(b, f, xs, ys):
    x = _in(f)
    shape = tuple(f.shape)
    lead = x.ndim - len(shape)
    # axes of the result that broadcasting stretched (numbered after the leading ones go)
    keep = [i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1]
    y = xs[0]
    if lead:
        y = b.reduce('ReduceSum', y, range(lead), False, out=None if keep else ys[0])
    if keep:
        b.reduce('ReduceSum', y, keep, True, out=ys[0])
    elif not lead:
        b.node('Identity', [y], ys)


def _reduction(op):
    def convert(b, f, xs, ys):
        axis = f.axis
        if isinstance(axis, (int, np.integer)):
            axis = (int(axis),)
        b.reduce(op, xs[0], axis, f.keepdims, out=ys[0])
    return convert


def _clip(b, f, xs, ys):
    x = _in(f)
    bounds = []
    for v in (f.x_min, f.x_max):
        if v is None:
            bounds.append('')
        elif np.ndim(v):
            raise UnsupportedFunctionError("dezero.onnx.export: clip with array bounds; "
                                           "use scalar bounds")
        else:
            bounds.append(b.const(np.asarray(v, dtype=x.dtype), 'bound'))
    b.node('Clip', [xs[0]] + bounds, ys)


def _linear(b, f, xs, ys):
    x = _in(f, 0)
    if x.ndim == 2 and len(xs) == 3:
        b.node('Gemm', xs, ys)
    elif len(xs) == 3:
        b.node('Add', [b.node('MatMul', xs[:2]), xs[2]], ys)
    else:
        b.node('MatMul', xs, ys)


def _conv(b, f, xs, ys):
    W = _in(f, 1)
    p, s = f.pad, f.stride
    b.node('Conv', xs, ys, kernel_shape=list(W.shape[2:]), strides=list(s),
           pads=[p[0], p[1], p[0], p[1]])


def _deconv(b, f, xs, ys):
    x, W = _in(f, 0), _in(f, 1)
    p, s = f.pad, f.stride
    KH, KW = W.shape[2:]
    natural = [s[i] * (x.shape[2 + i] - 1) + (KH, KW)[i] - 2 * p[i] for i in range(2)]
    out = f.out
    b.node('ConvTranspose', xs, ys, kernel_shape=[KH, KW], strides=list(s),
           pads=[p[0], p[1], p[0], p[1]],
           output_padding=[out[0] - natural[0], out[1] - natural[1]])


def _pool(op, **extra):
    def convert(b, f, xs, ys):
        k, s, p = f.kernel_size, f.stride, f.pad
        b.node(op, xs, ys, kernel_shape=list(k), strides=list(s),
               pads=[p[0], p[1], p[0], p[1]], **extra)
    return convert


def _batch_norm(b, f, xs, ys):
    if f.train:
        raise UnsupportedFunctionError("dezero.onnx.export: batch_norm recorded in training "
                                       "mode; export traces in test mode")
    dtype = _in(f).dtype
    mean = b.const(np.asarray(f.mean, dtype=dtype), 'running_mean')
    var = b.const(np.asarray(f.var, dtype=dtype), 'running_var')
    b.node('BatchNormalization', [xs[0], xs[1], xs[2], mean, var], ys, epsilon=float(f.eps))


def _dropout(b, f, xs, ys):
    # Never recorded in test mode (dropout returns its input); a recorded one is the identity.
    b.node('Identity', xs, ys)


def _lstm_cell(b, f, xs, ys):
    c, a_f, a_i, a_o, a_u = xs
    gate_f, gate_i, gate_o = (b.node('Sigmoid', [a]) for a in (a_f, a_i, a_o))
    u = b.node('Tanh', [a_u])
    c_new = b.node('Add', [b.node('Mul', [gate_f, c]), b.node('Mul', [gate_i, u])], [ys[0]])
    b.node('Mul', [gate_o, b.node('Tanh', [c_new])], [ys[1]])


def _lstm_gates(b, f, xs, ys):
    x, h, params = xs[0], xs[1], xs[2:]
    for k in range(4):
        a = b.node('Add', [b.node('MatMul', [x, params[k]]), params[4 + k]])
        b.node('Add', [a, b.node('MatMul', [h, params[8 + k]])], [ys[k]])


def _embed_id(b, f, xs, ys, ids_name):
    b.node('Gather', [xs[0], ids_name], ys, axis=0)


# Function class name -> converter. Classes are resolved from dezero.functions and
# dezero.functions.arithmetic (see _converters), so the table survives modules moving.
_BY_NAME = {
    'Add': _simple('Add'), 'Sub': _simple('Sub'), 'Mul': _simple('Mul'),
    'Div': _simple('Div'), 'Neg': _simple('Neg'), 'PowVariable': _simple('Pow'),
    'Pow': _pow, 'AddConstant': _constant_op('Add'), 'MulConstant': _constant_op('Mul'),
    'DivConstant': _constant_op('Div'), 'RSubConstant': _constant_op('Sub', swap=True),
    'RDivConstant': _constant_op('Div', swap=True),
    'Exp': _simple('Exp'), 'Log': _simple('Log'), 'Tanh': _simple('Tanh'),
    'Sin': _simple('Sin'), 'Cos': _simple('Cos'), 'Sqrt': _simple('Sqrt'),
    'Abs': _simple('Abs'), 'Square': _square,
    'Sigmoid': _simple('Sigmoid'), 'ReLU': _simple('Relu'), 'LeakyReLU': _leaky_relu,
    'Softmax': _softmax_like(False), 'LogSoftmax': _softmax_like(True),
    'Reshape': _reshape, 'Transpose': _transpose, 'GetItem': _get_item,
    'Concat': _concat, 'Split': _split, 'BroadcastTo': _broadcast_to, 'SumTo': _sum_to,
    'Sum': _reduction('ReduceSum'), 'Average': _reduction('ReduceMean'),
    'Max': _reduction('ReduceMax'), 'Min': _reduction('ReduceMin'), 'Clip': _clip,
    'MatMul': _simple('MatMul'), 'Linear': _linear,
    'Conv2d': _conv, 'Deconv2d': _deconv,
    'Pooling2D': _pool('MaxPool'), 'AveragePooling2D': _pool('AveragePool',
                                                             count_include_pad=1),
    'BatchNorm': _batch_norm, 'Dropout': _dropout, 'LSTMCell': _lstm_cell,
    'LSTMGates': _lstm_gates, 'EmbedID': _embed_id,
}

_table = None


def _converters():
    """{Function class: converter}, resolved once from dezero's modules."""
    global _table
    if _table is None:
        import importlib
        modules = [importlib.import_module(m)
                   for m in ('dezero.functions', 'dezero.functions.arithmetic')]
        table = {}
        for name, convert in _BY_NAME.items():
            for m in modules:
                cls = getattr(m, name, None)
                if isinstance(cls, type):
                    table[cls] = convert
                    break
        _table = table
    return _table


def supported_functions():
    """The names of the Function classes export can translate, sorted."""
    return sorted(cls.__name__ for cls in _converters())


# ---------------------------------------------------------------------------
# Tracing and the walk
# ---------------------------------------------------------------------------
def _as_tuple(obj):
    return tuple(obj) if isinstance(obj, (tuple, list)) else (obj,)


def _functions_behind(outputs, inputs):
    """The Functions between inputs and outputs, in a topological order (by generation:
    a Function's generation is below that of every Function that reads its outputs)."""
    input_ids = {id(x) for x in inputs}
    seen, order, stack = set(), [], []
    for y in outputs:
        if y.creator is not None and id(y) not in input_ids:
            stack.append(y.creator)
    while stack:
        f = stack.pop()
        if f in seen:
            continue
        seen.add(f)
        order.append(f)
        for x in f.inputs:
            if x.creator is not None and id(x) not in input_ids and x.creator not in seen:
                stack.append(x.creator)
    index = {f: i for i, f in enumerate(order)}
    order.sort(key=lambda f: (f.generation, -index[f]))
    return order


def _elem_type(helper, dtype):
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))



def _tensor_names(names, n, stem):
    """The graph's input or output names: the given ones (n of them), else stem or stemI."""
    if names is None:
        return [f'{stem}{i}' if n > 1 else stem for i in range(n)]
    names = list(names)
    if len(names) != n:
        raise ValueError(f"dezero.onnx.export: {len(names)} {stem} names for {n} {stem}s.")
    return names

def export(model, sample_input, path, input_names=None, output_names=None,
           dynamic_batch=True, opset=17):
    """Trace model on sample_input and write the graph as an ONNX model to path.

    Args:
        model: a Layer/Model, or any callable taking Variables and returning a Variable
            or a tuple of them.
        sample_input: an array or Variable (or a tuple of them, one per model input) with
            the shapes and dtypes the exported model will take; its values only drive
            the one forward pass.
        path: the .onnx file to write (atomically: temporary file, then rename).
        input_names, output_names: graph input/output names (default input0...,
            output0...).
        dynamic_batch: make the leading (batch) axis of inputs and outputs symbolic
            ('batch'), so the file runs on any batch size.
        opset: the ONNX opset to target (17 or newer).

    Returns the path written. Raises UnsupportedFunctionError (a NotImplementedError)
    naming the first Function without an ONNX translation and listing the supported ones.
    """
    onnx, helper, numpy_helper = _import_onnx()
    if opset < 17:
        raise ValueError(f"dezero.onnx.export: opset must be 17 or newer, got {opset}.")
    arrays = []
    for i, x in enumerate(_as_tuple(sample_input)):
        data = x.data if isinstance(x, Variable) else x
        if not isinstance(data, np.ndarray):
            from dezero import cuda
            if cuda.is_cupy_array(data):
                data = cuda.as_numpy(data)
            else:
                raise TypeError(f"dezero.onnx.export: sample input {i} must be an ndarray or "
                                f"a Variable, got {type(x).__name__}.")
        arrays.append(data)
    inputs = [Variable(a) for a in arrays]
    n_in = len(inputs)
    input_names = _tensor_names(input_names, n_in, 'input')

    with using_config('train', False), using_config('enable_backprop', True):
        outputs = model(*inputs)
    outputs = _as_tuple(outputs)
    for i, y in enumerate(outputs):
        if not isinstance(y, Variable):
            raise TypeError(f"dezero.onnx.export: the model must return Variables, output {i} "
                            f"is a {type(y).__name__}.")
    n_out = len(outputs)
    output_names = _tensor_names(output_names, n_out, 'output')

    batch = arrays[0].shape[0] if arrays and arrays[0].ndim else None
    b = _Builder(helper, numpy_helper, opset, dynamic_batch, batch, input_names[0])
    names = {}  # id(Variable) -> tensor name
    keep = list(inputs)  # hold every named Variable so that ids stay unique
    for x, name in zip(inputs, input_names):
        b.used.add(name)
        names[id(x)] = name
    for name in output_names:
        b.used.add(name)
    param_names = {}
    if hasattr(model, 'named_params'):
        param_names = {id(p): key for key, p in model.named_params()}
    input_by_data = {id(x.data): name for x, name in zip(inputs, input_names)}

    def name_of(x):
        name = names.get(id(x))
        if name is None:
            # a leaf that is not an input: a parameter or a constant, stored as initializer
            hint = param_names.get(id(x)) or x.name or \
                ('param' if isinstance(x, Parameter) else 'const')
            name = b.const(x.data if isinstance(x.data, np.ndarray) else
                           np.asarray(x.data), hint)
            names[id(x)] = name
            keep.append(x)
        return name

    table = _converters()
    functions = _functions_behind(outputs, inputs)
    final = {}
    for y, name in zip(outputs, output_names):
        final.setdefault(id(y), name)
    for f in functions:
        convert = table.get(type(f))
        if convert is None:
            raise UnsupportedFunctionError(
                f"dezero.onnx.export: no ONNX translation for the Function "
                f"{type(f).__name__} (from {type(f).__module__}); supported: "
                f"{', '.join(supported_functions())}.")
        xs = [name_of(x) for x in f.inputs]
        ys = []
        for k, ref in enumerate(f.outputs):
            y = ref()
            name = final.pop(id(y), None) if y is not None else None
            if name is None:
                name = b.fresh(f'{type(f).__name__}_{len(b.nodes)}_{k}')
            if y is not None:
                names[id(y)] = name
                keep.append(y)
            ys.append(name)
        if convert is _embed_id:
            ids = f.ids
            ids_name = input_by_data.get(id(ids))
            if ids_name is None:
                ids_name = b.const(np.asarray(ids).astype(np.int64), 'ids')
            elif ids.dtype != np.int64:
                ids_name = b.node('Cast', [ids_name], to=helper.np_dtype_to_tensor_dtype(
                    np.dtype(np.int64)))
            convert(b, f, xs, ys, ids_name)
        else:
            convert(b, f, xs, ys)
    # outputs that are inputs or leaves, or one Variable returned twice
    for y, name in zip(outputs, output_names):
        if names.get(id(y)) != name:
            b.node('Identity', [name_of(y)], [name])

    def value_info(name, a, dynamic):
        shape = list(a.shape)
        if dynamic and shape and shape[0] == batch:
            shape[0] = 'batch'
        return helper.make_tensor_value_info(name, _elem_type(helper, a.dtype), shape)

    dyn = b.dynamic_batch
    graph = helper.make_graph(
        b.nodes, type(model).__name__,
        [value_info(n, a, dyn) for n, a in zip(input_names, arrays)],
        [value_info(n, np.asarray(y.data), dyn) for n, y in zip(output_names, outputs)],
        initializer=b.initializers)
    onnx_model = helper.make_model(
        graph, producer_name='dezero', opset_imports=[helper.make_opsetid('', int(opset))])
    # the oldest IR version that carries the opset: runtimes accept it more widely
    onnx_model.ir_version = helper.find_min_ir_version_for(
        [helper.make_opsetid('', int(opset))], True)
    onnx.checker.check_model(onnx_model)

    from dezero.serializers import atomic_path
    path = os.fspath(path)
    with atomic_path(path, suffix='.tmp') as tmp, open(tmp, 'wb') as fh:
        fh.write(onnx_model.SerializeToString())
        fh.flush()
        os.fsync(fh.fileno())
    return path
