"""The ONNX graph being built: nodes, initializers and unique tensor names."""
import numpy as np


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
