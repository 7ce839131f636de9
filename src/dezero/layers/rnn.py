"""Recurrent layers: RNN, LSTM (the book's) and GRU.

Each keeps its hidden state between calls; reset_state() forgets it, and
to_cpu()/to_gpu() move it with the parameters (cutting the graph behind it). For
truncated backpropagation through time call `loss.unchain_backward()` after
each backward: the state Variables stay, but the graph behind them is cut.
"""
import dezero.functions as F
from dezero import cuda
from dezero.layers.base import Layer
from dezero.layers.linear import Linear


def _follow_input_once(layer, x):
    """On the first step of a layer whose input size is inferred, put its parameters on x's module.

    The hidden-to-hidden weights are built at construction (on NumPy) while the
    input weights are built from the first input: without this a CuPy input would
    meet NumPy weights on the second step.
    """
    if layer._follow_pending:
        layer._follow_array_module(cuda.get_array_module(x))
        layer._follow_pending = False


def _gate(x2g, h2g, x, h):
    """x2g(x) + h2g(h) as one Linear Function: h @ W_h with x2g(x) as the bias."""
    W = h2g.W
    if W.data is None:
        return x2g(x) + h2g(h)
    return F.linear(h, W, x2g(x))


class RNN(Layer):
    """Elman RNN: h' = tanh(x2h(x) + h2h(h)).

    Args:
        hidden_size: size of h.
        in_size: size of x, or None to infer it from the first input.

    Linear layers are created in the book's order: x2h, then h2h (no bias).
    """

    _follow_pending = False
    _state_attrs = ('h',)  # moved by to_cpu/to_gpu

    def __init__(self, hidden_size, in_size=None):
        super().__init__()
        self._follow_pending = in_size is None
        self.hidden_size = hidden_size
        self.x2h = Linear(hidden_size, in_size=in_size)
        # The book passes in_size here too; the input of h2h is h, so use
        # hidden_size whenever sizes are given eagerly.
        self.h2h = Linear(hidden_size, in_size=None if in_size is None else hidden_size,
                          nobias=True)
        self.h = None

    def reset_state(self):
        """Forget the hidden state."""
        self.h = None

    def forward(self, x):
        if self.h is None:
            _follow_input_once(self, x)
            h_new = F.tanh(self.x2h(x))
        else:
            h_new = F.tanh(_gate(self.x2h, self.h2h, x, self.h))
        self.h = h_new
        return h_new


class LSTM(Layer):
    """Long short-term memory layer (the book's formulation, no peepholes).

    f, i, o = sigmoid(x2g(x) + h2g(h)); u = tanh(x2u(x) + h2u(h));
    c' = f * c + i * u; h' = o * tanh(c').

    Args:
        hidden_size: size of h and c.
        in_size: size of x, or None to infer it from the first input.

    Layers are created in the book's order: x2f, x2i, x2o, x2u, then h2f, h2i,
    h2o, h2u (no bias, built eagerly since their input size is hidden_size).
    """

    _follow_pending = False
    _state_attrs = ('h', 'c')  # moved by to_cpu/to_gpu

    def __init__(self, hidden_size, in_size=None):
        super().__init__()
        self._follow_pending = in_size is None
        H, I = hidden_size, in_size
        self.hidden_size = hidden_size
        self.x2f = Linear(H, in_size=I)
        self.x2i = Linear(H, in_size=I)
        self.x2o = Linear(H, in_size=I)
        self.x2u = Linear(H, in_size=I)
        self.h2f = Linear(H, in_size=H, nobias=True)
        self.h2i = Linear(H, in_size=H, nobias=True)
        self.h2o = Linear(H, in_size=H, nobias=True)
        self.h2u = Linear(H, in_size=H, nobias=True)
        self.reset_state()

    def reset_state(self):
        """Forget the hidden state h and the cell state c."""
        self.h = None
        self.c = None

    def forward(self, x):
        h, c = self.h, self.c
        if h is None:
            _follow_input_once(self, x)
            f = F.sigmoid(self.x2f(x))
            i = F.sigmoid(self.x2i(x))
            o = F.sigmoid(self.x2o(x))
            u = F.tanh(self.x2u(x))
            c_new = i * u if c is None else f * c + i * u
            h_new = o * F.tanh(c_new)
        else:
            if c is None:
                c = cuda.get_array_module(h.data).zeros_like(h.data)
            # Two Functions a step: the gates' pre-activations (eight products in one),
            # then lstm_cell applies sigmoid/tanh and updates c.
            ins = (self.x2f, self.x2i, self.x2o, self.x2u)
            hids = (self.h2f, self.h2i, self.h2o, self.h2u)
            if getattr(x, 'ndim', 0) == 2 and all(
                    g.W.data is not None and g.b is not None for g in ins) and \
                    x.shape[1] == self.x2f.W.data.shape[0]:  # else Linear explains
                gates = F.lstm_gates(x, h, [g.W for g in ins], [g.b for g in ins],
                                     [g.W for g in hids])
            else:
                gates = [_gate(i, u, x, h) for i, u in zip(ins, hids)]
            c_new, h_new = F.lstm_cell(c, *gates)
        self.h, self.c = h_new, c_new
        return h_new


class GRU(Layer):
    """Gated recurrent unit (beyond the book; PyTorch's formulation without hidden biases).

    r = sigmoid(x2r(x) + h2r(h)); z = sigmoid(x2z(x) + h2z(h));
    n = tanh(x2n(x) + r * h2n(h)); h' = (1 - z) * n + z * h.
    With no previous state h is taken as zero: h' = (1 - z) * n with
    r, z, n computed from x alone.

    Args:
        hidden_size: size of h.
        in_size: size of x, or None to infer it from the first input.

    Layers are created in the order x2r, x2z, x2n, h2r, h2z, h2n (h2* without bias).
    """

    _follow_pending = False
    _state_attrs = ('h',)  # moved by to_cpu/to_gpu

    def __init__(self, hidden_size, in_size=None):
        super().__init__()
        self._follow_pending = in_size is None
        H, I = hidden_size, in_size
        self.hidden_size = hidden_size
        self.x2r = Linear(H, in_size=I)
        self.x2z = Linear(H, in_size=I)
        self.x2n = Linear(H, in_size=I)
        self.h2r = Linear(H, in_size=H, nobias=True)
        self.h2z = Linear(H, in_size=H, nobias=True)
        self.h2n = Linear(H, in_size=H, nobias=True)
        self.h = None

    def reset_state(self):
        """Forget the hidden state."""
        self.h = None

    def forward(self, x):
        h = self.h
        if h is None:
            _follow_input_once(self, x)
            z = F.sigmoid(self.x2z(x))
            n = F.tanh(self.x2n(x))
            h_new = (1 - z) * n
        else:
            r = F.sigmoid(_gate(self.x2r, self.h2r, x, h))
            z = F.sigmoid(_gate(self.x2z, self.h2z, x, h))
            n = F.tanh(self.x2n(x) + r * self.h2n(h))
            h_new = n + z * (h - n)  # == (1 - z) * n + z * h, one op fewer
        self.h = h_new
        return h_new
