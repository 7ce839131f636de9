"""A few training steps of an MLP, a CNN and an LSTM on each array backend match the same
steps on NumPy (CuPy runs only where a GPU is visible)."""
import numpy as np
import pytest

import dezero
import dezero.functions as F
import dezero.layers as L
from dezero import cuda, optimizers


class SmallCNN(dezero.Model):
    def __init__(self):
        super().__init__()
        self.c1 = L.Conv2d(4, 3, pad=1, in_channels=1)
        self.fc = L.Linear(3, in_size=4 * 4 * 4)

    def forward(self, x):
        h = F.pooling(F.relu(self.c1(x)), 2, 2)
        return self.fc(F.reshape(h, (len(x), -1)))


class SmallLSTM(dezero.Model):
    def __init__(self):
        super().__init__()
        self.rnn = L.LSTM(5, in_size=1)
        self.fc = L.Linear(1, in_size=5)

    def forward(self, x):
        return self.fc(self.rnn(x))


def _train(kind, xp):
    np.random.seed(0)
    if kind == 'lstm':
        model = SmallLSTM()
        opt = optimizers.Adam().setup(model)
        seq = np.sin(np.linspace(0, 3, 9)).astype(np.float32).reshape(9, 1, 1)
    elif kind == 'cnn':
        model = SmallCNN()
        opt = optimizers.MomentumSGD(0.1).setup(model)
        x = np.random.rand(6, 1, 8, 8).astype(np.float32)
    else:
        model = dezero.models.MLP((8, 3), activation=F.relu)
        opt = optimizers.SGD(0.1).setup(model)
        x = np.random.rand(6, 4).astype(np.float32)
    t = np.array([0, 1, 2, 0, 1, 2])
    if kind != 'lstm':
        model(x)  # build lazy weights on NumPy so both backends start alike
    if xp is not np:
        model.to_gpu()
    losses = []
    for _ in range(3):
        if kind == 'lstm':
            model.rnn.reset_state()
            loss = 0
            for i in range(8):
                loss = loss + F.mean_squared_error(model(xp.asarray(seq[i])),
                                                   xp.asarray(seq[i + 1]))
        else:
            loss = F.softmax_cross_entropy(model(xp.asarray(x)), xp.asarray(t))
        model.cleargrads()
        loss.backward()
        if kind == 'lstm':
            loss.unchain_backward()
        opt.update()
        losses.append(float(cuda.as_numpy(loss.data)))
    params = [cuda.as_numpy(p.data) for p in model.params()]
    assert all(cuda.get_array_module(p.data) is xp for p in model.params())
    return losses, params


@pytest.mark.parametrize('kind', ['mlp', 'cnn', 'lstm'])
def test_training_steps_match_numpy(kind, xp):
    losses, params = _train(kind, xp)
    ref_losses, ref_params = _train(kind, np)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-4, atol=1e-5)
    for p, r in zip(params, ref_params):
        np.testing.assert_allclose(p, r, rtol=1e-3, atol=1e-4)
