"""Model, Sequential and MLP."""
import dezero.functions as F
from dezero.layers.base import Layer
from dezero.layers.containers import LayerDict, LayerList
from dezero.layers.linear import Linear


class Model(Layer):
    """A Layer meant as a whole network; adds plot()."""

    def plot(self, *inputs, to_file='model.png'):
        """Run forward on inputs and draw the computational graph into to_file (needs Graphviz)."""
        from dezero.utils import plot_dot_graph
        y = self.forward(*inputs)
        return plot_dot_graph(y, verbose=True, to_file=to_file)


class Sequential(Model):
    """Chain layers (or any callables): forward applies them in order.

    Layers are registered as l0, l1, ... so their parameters save as "l0/W".
    A LayerList (or a plain list/tuple) among the arguments contributes its
    layers in order, numbered like the others; a LayerDict (or a plain dict)
    contributes its layers registered under their keys ("encoder/W"), as with
    PyTorch's nn.Sequential(OrderedDict(...)).
    """

    def __init__(self, *layers):
        super().__init__()
        self.layers = []
        for i, item in enumerate(layers):
            if isinstance(item, (LayerDict, dict)):
                for key, layer in item.items():
                    self._add(layer, f"item {i}[{key!r}]", key)
            elif isinstance(item, (LayerList, list, tuple)):
                for j, layer in enumerate(item):
                    self._add(layer, f"item {i}[{j}]", None)
            else:
                self._add(item, f"item {i}", None)

    def _add(self, layer, where, name):
        if not callable(layer) or isinstance(layer, (LayerList, LayerDict)):
            raise TypeError(f"Sequential: {where} is a {type(layer).__name__}, not a "
                            "Layer or callable.")
        if isinstance(layer, Layer):
            if name is None:
                name = 'l' + str(len(self.layers))
            elif not isinstance(name, str) or not name or '/' in name or \
                    name.startswith('_') or name in self.__dict__ or hasattr(type(self), name):
                raise ValueError(f"Sequential: {where}: key {name!r} cannot name a layer "
                                 "(empty, contains '/', starts with '_' or is taken).")
            setattr(self, name, layer)
        self.layers.append(layer)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class MLP(Model):
    """Multi-layer perceptron: Linear layers l0, l1, ... with `activation` between them.

    Args:
        fc_output_sizes: output size of each Linear layer (input sizes are inferred).
        activation: applied after every layer but the last (F.sigmoid by default).
    """

    def __init__(self, fc_output_sizes, activation=F.sigmoid):
        super().__init__()
        self.activation = activation
        self.layers = []
        for i, out_size in enumerate(fc_output_sizes):
            layer = Linear(out_size)
            setattr(self, 'l' + str(i), layer)
            self.layers.append(layer)

    def forward(self, x):
        activation = self.activation
        layers = self.layers
        for layer in layers[:-1]:
            x = activation(layer(x))
        return layers[-1](x)
