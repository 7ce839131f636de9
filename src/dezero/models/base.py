"""Model, Sequential and MLP."""
from dezero.layers.base import Layer
from dezero.layers.linear import Linear
import dezero.functions as F


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
    """

    def __init__(self, *layers):
        super().__init__()
        self.layers = []
        for i, layer in enumerate(layers):
            if not callable(layer):
                raise TypeError(f"Sequential: item {i} is a {type(layer).__name__}, not a "
                                "Layer or callable.")
            if isinstance(layer, Layer):
                setattr(self, 'l' + str(i), layer)
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
