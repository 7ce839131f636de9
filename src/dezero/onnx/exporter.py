"""The export entry point: trace one forward pass, walk the recorded graph, write the file."""
import os

import numpy as np

from dezero.core import Parameter, Variable, using_config
from dezero.onnx._builder import _Builder
from dezero.onnx.converters import (
    UnsupportedFunctionError,
    _converters,
    _embed_id,
    supported_functions,
)

ONNX_EXTRA = "pip install 'dezero[onnx]'"


def _import_onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as e:
        raise ImportError(f"dezero.onnx.export needs the onnx package: {ONNX_EXTRA} "
                          f"(or pip install onnx); {e}") from e
    return onnx, helper, numpy_helper


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
