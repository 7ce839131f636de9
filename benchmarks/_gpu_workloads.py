"""The GPU benchmarks' workloads: MLP, CNN and LSTM training steps for dezero and PyTorch.

Shared by bench_gpu.py (timing) and gpu_profile.py (kernel counts). Each builder
returns (dezero_step, torch_step), two zero-argument callables that run one
training step on the given device: dezero on `xp` (cupy, or numpy for the CPU
dry run), PyTorch on `tdev` ('cuda' or 'cpu').
"""
import numpy as np

import dezero
import dezero.functions as F
import dezero.layers as L
from dezero import optimizers


class DzMLP(dezero.Model):
    def __init__(self):
        super().__init__()
        self.l1 = L.Linear(1000, in_size=784)
        self.l2 = L.Linear(1000, in_size=1000)
        self.l3 = L.Linear(10, in_size=1000)

    def forward(self, x):
        return self.l3(F.relu(self.l2(F.relu(self.l1(x)))))


class DzCNN(dezero.Model):
    def __init__(self):
        super().__init__()
        self.c1 = L.Conv2d(16, 3, pad=1, in_channels=1)
        self.c2 = L.Conv2d(32, 3, pad=1, in_channels=16)
        self.fc = L.Linear(10, in_size=32 * 7 * 7)

    def forward(self, x):
        h = F.pooling(F.relu(self.c1(x)), 2, 2)
        h = F.pooling(F.relu(self.c2(h)), 2, 2)
        return self.fc(F.reshape(h, (h.shape[0], -1)))


class DzLSTM(dezero.Model):
    def __init__(self):
        super().__init__()
        self.rnn = L.LSTM(100, in_size=1)
        self.fc = L.Linear(1, in_size=100)

    def forward(self, x):
        return self.fc(self.rnn(x))


def torch_mlp(torch):
    nn = torch.nn
    return nn.Sequential(nn.Linear(784, 1000), nn.ReLU(), nn.Linear(1000, 1000), nn.ReLU(),
                         nn.Linear(1000, 10))


def torch_cnn(torch):
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 7 * 7, 10))


def classifier_steps(dz_model, th_model, x_shape, xp, torch, tdev, classes=10, lr=0.01):
    """One SGD step of softmax cross entropy on a fixed random batch of shape x_shape."""
    rng = np.random.RandomState(0)
    x = rng.rand(*x_shape).astype(np.float32)
    t = rng.randint(0, classes, size=x_shape[0])
    if xp is not np:
        dz_model.to_gpu()
    opt = optimizers.SGD(lr).setup(dz_model)
    xd, td = xp.asarray(x), xp.asarray(t)

    def dz_step():
        loss = F.softmax_cross_entropy(dz_model(xd), td)
        dz_model.cleargrads()
        loss.backward()
        opt.update()

    th_model = th_model.to(tdev)
    th_opt = torch.optim.SGD(th_model.parameters(), lr=lr)
    xt = torch.from_numpy(x).to(tdev)
    tt = torch.from_numpy(t).to(tdev)
    loss_fn = torch.nn.CrossEntropyLoss()

    def th_step():
        th_opt.zero_grad(set_to_none=True)
        loss = loss_fn(th_model(xt), tt)
        loss.backward()
        th_opt.step()
    return dz_step, th_step


def lstm_steps(xp, torch, tdev, bptt=30):
    """One Adam step of an LSTM(100) regressor over a BPTT window of `bptt` sine values."""
    series = np.sin(np.linspace(0, 2 * np.pi, bptt + 1)).astype(np.float32)
    xs = series[:-1].reshape(bptt, 1, 1)
    ts = series[1:].reshape(bptt, 1, 1)
    model = DzLSTM()
    if xp is not np:
        model.to_gpu()
    opt = optimizers.Adam().setup(model)
    xd, td = xp.asarray(xs), xp.asarray(ts)

    def dz_step():
        model.rnn.reset_state()
        loss = 0
        for i in range(bptt):
            loss = loss + F.mean_squared_error(model(xd[i]), td[i])
        model.cleargrads()
        loss.backward()
        loss.unchain_backward()
        opt.update()

    nn = torch.nn
    cell = nn.LSTMCell(1, 100).to(tdev)
    head = nn.Linear(100, 1).to(tdev)
    th_opt = torch.optim.Adam(list(cell.parameters()) + list(head.parameters()))
    xt, tt = torch.from_numpy(xs).to(tdev), torch.from_numpy(ts).to(tdev)

    def th_step():
        h = c = None
        loss = 0
        for i in range(bptt):
            h, c = cell(xt[i]) if h is None else cell(xt[i], (h, c))
            loss = loss + torch.nn.functional.mse_loss(head(h), tt[i])
        th_opt.zero_grad(set_to_none=True)
        loss.backward()
        th_opt.step()
    return dz_step, th_step


def cases(only, xp, torch, tdev):
    """[(title, builder)] for the selected workloads ('mlp', 'cnn', 'lstm')."""
    out = []
    if 'mlp' in only:
        for batch in (100, 1000):
            out.append((f"MLP 784-1000-1000-10 batch {batch}",
                        lambda b=batch: classifier_steps(DzMLP(), torch_mlp(torch), (b, 784),
                                                         xp, torch, tdev)))
    if 'cnn' in only:
        for batch in (64, 256):
            out.append((f"CNN 16c-32c batch {batch}",
                        lambda b=batch: classifier_steps(DzCNN(), torch_cnn(torch),
                                                         (b, 1, 28, 28), xp, torch, tdev)))
    if 'lstm' in only:
        out.append(("LSTM hidden 100 BPTT 30 batch 1", lambda: lstm_steps(xp, torch, tdev)))
    return out
