"""Layer: a container that registers Parameters and sub-Layers in assignment order."""
import weakref

from dezero.core import Parameter


class Layer:
    """Base of every layer and model.

    Assigning a Parameter or a Layer to an attribute registers it, in order, so
    that params() yields every Parameter (nested layers included) deterministically.
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
        object.__delattr__(self, name)

    def __call__(self, *inputs):
        outputs = self.forward(*inputs)
        if not isinstance(outputs, tuple):
            outputs = (outputs,)
        self.inputs = [weakref.ref(x) for x in inputs if _is_weakrefable(x)]
        self.outputs = [weakref.ref(y) for y in outputs if _is_weakrefable(y)]
        return outputs if len(outputs) > 1 else outputs[0]

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def params(self):
        """Yield every Parameter of this layer and its sub-layers, in assignment order."""
        for name in self.__dict__.get('_params', ()):
            obj = self.__dict__[name]
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

    def cleargrads(self):
        """Forget the gradients of every Parameter."""
        for param in self.params():
            param.cleargrad()

    def to_cpu(self):
        """Move every Parameter to NumPy; returns self."""
        for param in self.params():
            param.to_cpu()
        return self

    def to_gpu(self):
        """Move every Parameter to CuPy; returns self."""
        for param in self.params():
            param.to_gpu()
        return self


def _is_weakrefable(x):
    try:
        weakref.ref(x)
        return True
    except TypeError:
        return False
