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
# The package's names, and (for code written before the split into modules) the private
# helpers that lived here.
from dezero.onnx._builder import _Builder
from dezero.onnx.converters import (
    _BY_NAME, _INT_MAX, _INT_MIN, UnsupportedFunctionError, _converters, supported_functions)
from dezero.onnx.exporter import (
    ONNX_EXTRA, _as_tuple, _elem_type, _functions_behind, _import_onnx, _tensor_names, export)
