"""The LSTM step as two Functions: the gates' pre-activations (lstm_gates: eight products
and four biases) and the cell update (lstm_cell: the gates' pointwise part)."""
from dezero.core import Function, needs_grad
from dezero.cuda import get_array_module
from dezero.functions.activation import sigmoid, sigmoid_arrays
from dezero.functions.linalg import matmul
from dezero.functions.math import tanh
from dezero.functions.shape import sum_to, transpose
from dezero.utils_array import sum_to as sum_to_array

_GATES = 'f, i, o, u'


class LSTMGates(Function):
    """a_g = x @ W_g + b_g + h @ U_g for the four gates g (f, i, o, u) of an LSTM step.

    One Function instead of eight Linear calls: at batch 1 and hidden size 100 an
    LSTM step is dominated by per-Function overhead (benchmarks/bench_lstm.py).
    Inputs: x (N, I), h (N, H), then W_f..W_u (I, H), b_f..b_u (H,), U_f..U_u (H, H).
    """

    def forward(self, x, h, *params):
        if len(params) != 12:
            raise ValueError(f"lstm_gates: expected 4 input weights, 4 biases and 4 hidden "
                             f"weights ({_GATES}), got {len(params)} arrays in all.")
        if x.ndim != 2 or h.ndim != 2 or x.shape[0] != h.shape[0]:
            raise ValueError(f"lstm_gates: x and h must be (N, I) and (N, H) with the same N, "
                             f"got {x.shape} and {h.shape}.")
        gates = []
        for k in range(4):
            W, b, U = params[k], params[4 + k], params[8 + k]
            try:
                a = x @ W
                a += b
                a += h @ U
            except ValueError:
                raise ValueError(
                    f"lstm_gates: gate {_GATES.split(', ')[k]}: x {x.shape} @ W {W.shape} + "
                    f"b {b.shape} + h {h.shape} @ U {U.shape} do not line up; W must be "
                    f"(I, H), b (H,) and U (H, H).") from None
            gates.append(a)
        return tuple(gates)

    def backward_arrays(self, *gas):
        inputs = self.inputs
        x, h = inputs[0].data, inputs[1].data
        P = [p.data for p in inputs[2:]]
        gx = None
        if needs_grad(inputs[0]):
            gx = gas[0] @ P[0].T
            for k in range(1, 4):
                gx += gas[k] @ P[k].T
        gh = gas[0] @ P[8].T
        for k in range(1, 4):
            gh += gas[k] @ P[8 + k].T
        gWs = [x.T @ g for g in gas]
        gbs = [sum_to_array(g, P[4 + k].shape) for k, g in enumerate(gas)]
        gUs = [h.T @ g for g in gas]
        return (gx, gh, *gWs, *gbs, *gUs)

    def backward(self, *gas):
        x, h, *P = self.inputs
        gx = _sum_of(matmul(g, transpose(P[k])) for k, g in enumerate(gas)) \
            if needs_grad(x) else None
        gh = _sum_of(matmul(g, transpose(P[8 + k])) for k, g in enumerate(gas))
        gWs = [matmul(transpose(x), g) for g in gas]
        gbs = [sum_to(g, P[4 + k].shape) for k, g in enumerate(gas)]
        gUs = [matmul(transpose(h), g) for g in gas]
        return (gx, gh, *gWs, *gbs, *gUs)


def _sum_of(terms):
    terms = iter(terms)
    total = next(terms)
    for t in terms:
        total = total + t
    return total


def lstm_gates(x, h, Ws, bs, Us):
    """The four LSTM gates' pre-activations (a_f, a_i, a_o, a_u), a_g = x @ W_g + b_g +
    h @ U_g, as one Function. Ws, bs, Us: the four (I, H) input weights, (H,) biases and
    (H, H) hidden weights, in the order f, i, o, u."""
    return LSTMGates()(x, h, *Ws, *bs, *Us)


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
        f, i, o = sigmoid_arrays(a_f, a_i, a_o)
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
