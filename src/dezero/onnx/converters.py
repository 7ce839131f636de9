"""The converter table: one function per dezero Function class that emits its ONNX nodes."""
import numpy as np

# ONNX's "to the end" for Slice ends.
_INT_MAX = np.iinfo(np.int64).max
_INT_MIN = np.iinfo(np.int64).min


class UnsupportedFunctionError(NotImplementedError):
    """A Function of the traced graph has no ONNX translation."""


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
