"""The LSTM cell update as one Function (the gates' pointwise part, fused)."""
from dezero.core import Function
from dezero.cuda import get_array_module
from dezero.functions.activation import Sigmoid, sigmoid
from dezero.functions.math import tanh


class LSTMCell(Function):
    """(c, h) = (f c_prev + i u, o tanh(c)) with f, i, o = sigmoid(a_f, a_i, a_o), u = tanh(a_u).

    One Function instead of nine keeps the per-step overhead of an LSTM low; the
    first-order backward runs on the saved gate values, and `backward` rebuilds
    the same gradients from dezero Functions so they can be differentiated again.
    """

    def forward(self, c, a_f, a_i, a_o, a_u):
        shapes = [a.shape for a in (c, a_f, a_i, a_o, a_u)]
        if any(s != shapes[0] for s in shapes):
            raise ValueError(f"lstm_cell: c, a_f, a_i, a_o and a_u must share one shape (N, H), "
                             f"got {', '.join(map(str, shapes))}; split the gates' "
                             "pre-activations into four (N, H) arrays.")
        sig = Sigmoid().forward
        f, i, o = sig(a_f), sig(a_i), sig(a_o)
        xp_tanh = get_array_module(a_u).tanh
        u = xp_tanh(a_u)
        c_new = f * c
        c_new += i * u
        tc = xp_tanh(c_new)
        h_new = o * tc
        self.saved = (f, i, o, u, tc)
        return c_new, h_new

    def backward_arrays(self, gc, gh):
        f, i, o, u, tc = self.saved
        c_prev = self.inputs[0].data
        go = gh * tc
        g = gh * o
        g *= 1 - tc * tc
        g += gc  # the total gradient reaching the new cell state
        ga_f = g * c_prev * f * (1 - f)
        ga_i = g * u * i * (1 - i)
        ga_o = go * o * (1 - o)
        ga_u = g * i * (1 - u * u)
        return g * f, ga_f, ga_i, ga_o, ga_u

    def backward(self, gc, gh):
        c_prev, a_f, a_i, a_o, a_u = self.inputs
        f, i, o, u = sigmoid(a_f), sigmoid(a_i), sigmoid(a_o), tanh(a_u)
        tc = tanh(f * c_prev + i * u)
        g = gh * o * (1 - tc * tc) + gc
        return (g * f, g * c_prev * f * (1 - f), g * u * i * (1 - i),
                gh * tc * o * (1 - o), g * i * (1 - u * u))


def lstm_cell(c, a_f, a_i, a_o, a_u):
    """One LSTM cell update from the previous cell state c and the four gates'
    pre-activations (each (N, H)); returns (c_new, h_new)."""
    return LSTMCell()(c, a_f, a_i, a_o, a_u)
