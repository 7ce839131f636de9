"""RNN, LSTM and GRU layers: book's creation order, maths, state handling, truncated BPTT."""
import numpy as np
import pytest

import dezero.functions as F
from dezero import Variable
from dezero.layers import GRU, LSTM, RNN
from dezero.utils import gradient_check


def _sig(a):
    return 1 / (1 + np.exp(-a))


def _init(I, O):
    return np.random.randn(I, O).astype(np.float32) * np.float32(np.sqrt(1 / I))


def test_lstm_registers_layers_in_book_order():
    lstm = LSTM(4)
    names = [k for k, _ in lstm.named_params()]
    assert names == ['x2f/W', 'x2f/b', 'x2i/W', 'x2i/b', 'x2o/W', 'x2o/b', 'x2u/W', 'x2u/b',
                     'h2f/W', 'h2i/W', 'h2o/W', 'h2u/W']
    assert lstm.h2f.b is None and lstm.x2f.W.data is None and lstm.h2f.W.shape == (4, 4)


def test_lstm_random_draws_follow_the_book():
    np.random.seed(7)
    lstm = LSTM(3)
    lstm(np.ones((1, 2), dtype=np.float32))
    np.random.seed(7)
    h_ws = [_init(3, 3) for _ in range(4)]   # h2f, h2i, h2o, h2u at construction
    x_ws = [_init(2, 3) for _ in range(4)]   # x2f, x2i, x2o, x2u on the first call
    for layer, W in zip([lstm.h2f, lstm.h2i, lstm.h2o, lstm.h2u], h_ws):
        np.testing.assert_array_equal(layer.W.data, W)
    for layer, W in zip([lstm.x2f, lstm.x2i, lstm.x2o, lstm.x2u], x_ws):
        np.testing.assert_array_equal(layer.W.data, W)


def test_rnn_random_draws_follow_the_book():
    np.random.seed(5)
    rnn = RNN(3)
    x = np.ones((1, 2), dtype=np.float32)
    rnn(x)
    rnn(x)
    np.random.seed(5)
    np.testing.assert_array_equal(rnn.x2h.W.data, _init(2, 3))
    np.testing.assert_array_equal(rnn.h2h.W.data, _init(3, 3))
    assert [k for k, _ in rnn.named_params()] == ['x2h/W', 'x2h/b', 'h2h/W']


def test_rnn_eager_in_size_uses_hidden_size_for_h2h():
    rnn = RNN(3, in_size=5)
    assert rnn.x2h.W.shape == (5, 3) and rnn.h2h.W.shape == (3, 3)


def test_lstm_matches_numpy_reference():
    np.random.seed(0)
    lstm = LSTM(3, in_size=2)
    for layer in (lstm.x2f, lstm.x2i, lstm.x2o, lstm.x2u):
        layer.b.data = np.random.randn(3).astype(np.float32)
    xs = np.random.randn(4, 2, 2).astype(np.float32)
    W = {k: getattr(lstm, k).W.data for k in
         ('x2f', 'x2i', 'x2o', 'x2u', 'h2f', 'h2i', 'h2o', 'h2u')}
    b = {k: getattr(lstm, k).b.data for k in ('x2f', 'x2i', 'x2o', 'x2u')}
    h = c = None
    for x in xs:
        def pre(g, x=x, h=h):
            a = x @ W['x2' + g] + b['x2' + g]
            return a if h is None else a + h @ W['h2' + g]
        f, i, o, u = _sig(pre('f')), _sig(pre('i')), _sig(pre('o')), np.tanh(pre('u'))
        c = i * u if c is None else f * c + i * u
        h = o * np.tanh(c)
        y = lstm(x)
        np.testing.assert_allclose(y.data, h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lstm.c.data, c, rtol=1e-5, atol=1e-6)


def test_gru_matches_numpy_reference():
    np.random.seed(1)
    gru = GRU(3, in_size=2)
    xs = np.random.randn(3, 2, 2).astype(np.float32)
    W = {k: getattr(gru, k).W.data for k in ('x2r', 'x2z', 'x2n', 'h2r', 'h2z', 'h2n')}
    h = np.zeros((2, 3), dtype=np.float32)
    for x in xs:
        r = _sig(x @ W['x2r'] + h @ W['h2r'])
        z = _sig(x @ W['x2z'] + h @ W['h2z'])
        n = np.tanh(x @ W['x2n'] + r * (h @ W['h2n']))
        h = (1 - z) * n + z * h
        np.testing.assert_allclose(gru(x).data, h, rtol=1e-5, atol=1e-6)
    assert [k for k, _ in gru.named_params()][:6] == ['x2r/W', 'x2r/b', 'x2z/W', 'x2z/b',
                                                      'x2n/W', 'x2n/b']


@pytest.mark.parametrize('cls', [RNN, LSTM, GRU])
def test_gradients_through_two_steps(cls):
    np.random.seed(2)
    layer = cls(3, in_size=2)
    x0 = np.random.randn(2, 2)
    x1 = np.random.randn(2, 2)

    def two_steps(a, b):
        layer.reset_state()
        layer(a)
        return layer(b)
    assert gradient_check(two_steps, x0, Variable(x1), atol=1e-4)


@pytest.mark.parametrize('cls', [RNN, LSTM, GRU])
def test_reset_state_forgets_hidden_state(cls):
    layer = cls(3)
    x = np.ones((1, 2), dtype=np.float32)
    y1 = layer(x).data.copy()
    layer(x)
    layer.reset_state()
    assert layer.h is None
    np.testing.assert_array_equal(layer(x).data, y1)


def test_truncated_bptt_cuts_graph_but_keeps_state():
    lstm = LSTM(4)
    loss = 0
    for _ in range(3):
        loss = loss + F.sum(lstm(np.ones((1, 2), dtype=np.float32)))
    lstm.cleargrads()
    loss.backward()
    loss.unchain_backward()
    assert lstm.h.creator is None and lstm.c.creator is None
    h_before = lstm.h.data.copy()
    y = lstm(np.ones((1, 2), dtype=np.float32))
    F.sum(y).backward()  # the walk stops at the cut state
    assert lstm.h.data.shape == h_before.shape
    assert lstm.x2f.W.grad is not None


def test_lstm_fused_gates_match_the_per_gate_linears():
    """From the second step on, LSTM computes its gates with one lstm_gates Function; the
    values and every gradient equal the book's per-gate Linear composition."""
    from dezero.functions.recurrent import LSTMCell, LSTMGates
    from dezero.layers.rnn import _gate
    np.random.seed(3)
    lstm = LSTM(4, in_size=3)
    for g in (lstm.x2f, lstm.x2i, lstm.x2o, lstm.x2u):
        g.b.data = np.random.randn(4).astype(np.float32)
    xs = np.random.randn(3, 2, 3).astype(np.float32)

    def run(step):
        lstm.reset_state()
        lstm.cleargrads()
        loss = 0
        for x in xs:
            loss = loss + F.sum(step(x) ** 2)
        loss.backward()
        return loss.data, {k: p.grad.data.copy() for k, p in lstm.named_params()}

    def per_gate(x):
        if lstm.h is None:
            return lstm(x)
        pairs = [(lstm.x2f, lstm.h2f), (lstm.x2i, lstm.h2i), (lstm.x2o, lstm.h2o),
                 (lstm.x2u, lstm.h2u)]
        lstm.c, lstm.h = F.lstm_cell(lstm.c, *[_gate(a, b, x, lstm.h) for a, b in pairs])
        return lstm.h

    fused_loss, fused_grads = run(lstm)
    y = lstm(xs[0])
    assert isinstance(y.creator, LSTMCell) and isinstance(y.creator.inputs[1].creator,
                                                          LSTMGates)
    loss, grads = run(per_gate)
    np.testing.assert_allclose(fused_loss, loss, rtol=1e-6)
    for k in grads:
        np.testing.assert_allclose(fused_grads[k], grads[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_lstm_input_of_the_wrong_width_still_names_the_linear_layer():
    lstm = LSTM(4, in_size=3)
    lstm(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match='Linear.forward: input has 5 features'):
        lstm(np.zeros((2, 5), np.float32))
