"""End-to-end training: the book's spiral, scikit-learn's digits, an LSTM on the sine curve."""
import math

import numpy as np
import pytest

import dezero
import dezero.functions as F
import dezero.layers as L
from dezero import optimizers
from dezero.datasets import SinCurve, get_spiral
from dezero.models import MLP, Model


def _accuracy(y, t):
    return float((y.data.argmax(axis=1) == t).mean())


def test_spiral_mlp_sgd_reaches_95_percent_training_accuracy():
    # The book's step 48 set-up: MLP((10, 3)), sigmoid, SGD lr 1.0, batch 30, 300 epochs.
    x, t = get_spiral(train=True)
    model = MLP((10, 3))
    optimizer = optimizers.SGD(1.0).setup(model)
    data_size, batch_size = len(x), 30
    max_iter = math.ceil(data_size / batch_size)
    for _epoch in range(300):
        index = np.random.permutation(data_size)
        for i in range(max_iter):
            batch = index[i * batch_size:(i + 1) * batch_size]
            loss = F.softmax_cross_entropy(model(x[batch]), t[batch])
            model.cleargrads()
            loss.backward()
            optimizer.update()
    assert all(p.dtype == np.float32 for p in model.params())
    with dezero.no_grad():
        acc = _accuracy(model(x), t)
    assert acc >= 0.95, acc


def test_digits_mlp_reaches_95_percent_test_accuracy():
    datasets = pytest.importorskip('sklearn.datasets')
    digits = datasets.load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    t = digits.target
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    x, t = x[order], t[order]
    x_train, t_train, x_test, t_test = x[:1400], t[:1400], x[1400:], t[1400:]

    np.random.seed(0)
    model = MLP((100, 10), activation=F.relu)
    optimizer = optimizers.MomentumSGD(lr=0.1).setup(model)
    for _epoch in range(20):
        index = np.random.permutation(len(x_train))
        for i in range(0, len(x_train), 50):
            batch = index[i:i + 50]
            loss = F.softmax_cross_entropy(model(x_train[batch]), t_train[batch])
            model.cleargrads()
            loss.backward()
            optimizer.update()
    with dezero.test_mode(), dezero.no_grad():
        acc = _accuracy(model(x_test), t_test)
    assert acc >= 0.95, acc


class SimpleRNN(Model):
    def __init__(self, hidden_size, out_size):
        super().__init__()
        self.rnn = L.LSTM(hidden_size)
        self.fc = L.Linear(out_size)

    def reset_state(self):
        self.rnn.reset_state()

    def forward(self, x):
        return self.fc(self.rnn(x))


def test_lstm_fits_the_sine_curve():
    # Hidden 100, truncated BPTT over 30 steps, Adam; batches of 30 parallel streams
    # (the book's SeqDataLoader arrangement), kept short so the test stays fast.
    np.random.seed(0)
    train = SinCurve(train=True)
    data = train.data.astype(np.float32)
    label = train.label.astype(np.float32)
    n, batch_size, bptt = len(data), 30, 30
    jump = n // batch_size
    model = SimpleRNN(100, 1)
    optimizer = optimizers.Adam().setup(model)
    for _epoch in range(30):
        model.reset_state()
        loss, count = 0, 0
        for it in range(jump):
            idx = (np.arange(batch_size) * jump + it) % n
            loss += F.mean_squared_error(model(data[idx]), label[idx])
            count += 1
            if count % bptt == 0 or it == jump - 1:
                model.cleargrads()
                loss.backward()
                loss.unchain_backward()
                optimizer.update()
                loss = 0

    # Predict the next value along the clean cosine curve (the test set).
    test = SinCurve(train=False)
    model.reset_state()
    preds = []
    with dezero.no_grad():
        for x in test.data.astype(np.float32):
            preds.append(float(model(x.reshape(1, 1)).data[0, 0]))
    mse = float(np.mean((np.array(preds) - test.label[:, 0]) ** 2))
    assert mse < 0.01, mse
    assert all(p.dtype == np.float32 for p in model.params())
