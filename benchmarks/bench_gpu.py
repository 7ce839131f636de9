"""dezero on CuPy against PyTorch on CUDA: MLP, CNN and LSTM training steps.

    python benchmarks/bench_gpu.py [--rounds 5] [--device gpu|cpu]

--device cpu is a dry run of the same workloads (dezero on NumPy, PyTorch on
the CPU) for machines without a GPU. Timers are read only after both
libraries have synchronised with the device. The dezero step is also run under
a guard that counts host<->device copies made through CuPy's module functions
(none are expected: the batch lives on the device and the loss is not read).
"""
import _harness

args = _harness.parse_args(__doc__, lambda p: (
    p.add_argument('--device', choices=['gpu', 'cpu'], default='gpu'),
    p.add_argument('--only', default='', help='comma-separated subset: mlp,cnn,lstm')))

import numpy as np  # noqa: E402

import dezero  # noqa: E402
import dezero.functions as F  # noqa: E402
import dezero.layers as L  # noqa: E402
from dezero import optimizers  # noqa: E402

torch = _harness.pin_torch(args.threads)
ON_GPU = args.device == 'gpu'
if ON_GPU:
    import cupy
    xp = cupy
    tdev = 'cuda'
    dz_sync = cupy.cuda.Device().synchronize
    th_sync = torch.cuda.synchronize
    device_name = torch.cuda.get_device_name(0)
else:
    xp = np
    tdev = 'cpu'
    dz_sync = th_sync = None
    device_name = 'CPU (dry run)'


class CopyCounter:
    """Counts calls that move data between host and device through CuPy's module API."""

    def __init__(self):
        self.count = 0
        self.saved = {}

    def __enter__(self):
        if ON_GPU:
            for name in ('asnumpy', 'asarray', 'array'):
                original = getattr(cupy, name)
                self.saved[name] = original

                def wrapped(*a, _original=original, _name=name, **k):
                    if _name == 'asnumpy' or (a and isinstance(a[0], np.ndarray)):
                        self.count += 1
                    return _original(*a, **k)
                setattr(cupy, name, wrapped)
        return self

    def __exit__(self, *exc):
        for name, original in self.saved.items():
            setattr(cupy, name, original)


# -- models -------------------------------------------------------------------------
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


def torch_mlp():
    nn = torch.nn
    return nn.Sequential(nn.Linear(784, 1000), nn.ReLU(), nn.Linear(1000, 1000), nn.ReLU(),
                         nn.Linear(1000, 10))


def torch_cnn():
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 7 * 7, 10))


def classifier_steps(dz_model, th_model, x_shape, classes=10, lr=0.01):
    rng = np.random.RandomState(0)
    x = rng.rand(*x_shape).astype(np.float32)
    t = rng.randint(0, classes, size=x_shape[0])
    dz_model.to_gpu() if ON_GPU else None
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


def lstm_steps(bptt=30):
    series = np.sin(np.linspace(0, 2 * np.pi, bptt + 1)).astype(np.float32)
    xs = series[:-1].reshape(bptt, 1, 1)
    ts = series[1:].reshape(bptt, 1, 1)
    model = DzLSTM()
    if ON_GPU:
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


def main():
    print(f"device: {device_name}; numpy {np.__version__}; torch {torch.__version__}"
          + (f"; cupy {cupy.__version__}" if ON_GPU else ''))
    only = set(filter(None, args.only.split(','))) or {'mlp', 'cnn', 'lstm'}
    cases = []
    if 'mlp' in only:
        for batch in (100, 1000):
            cases.append((f"MLP 784-1000-1000-10 batch {batch}",
                          lambda b=batch: classifier_steps(DzMLP(), torch_mlp(), (b, 784))))
    if 'cnn' in only:
        for batch in (64, 256):
            cases.append((f"CNN 16c-32c batch {batch}",
                          lambda b=batch: classifier_steps(DzCNN(), torch_cnn(), (b, 1, 28, 28))))
    if 'lstm' in only:
        cases.append(("LSTM hidden 100 BPTT 30 batch 1", lstm_steps))
    for title, build in cases:
        dz_step, th_step = build()
        dz_step()
        with CopyCounter() as copies:
            dz_step()
            if dz_sync:
                dz_sync()
        syncs = {'dezero': dz_sync, 'torch': th_sync} if ON_GPU else None
        medians = _harness.compare({'dezero': dz_step, 'torch': th_step}, rounds=args.rounds,
                                   repeat=args.repeat, syncs=syncs)
        _harness.report(f"{title}: ms per training step on {device_name}", medians,
                        unit_scale=1e3, unit='ms', threads=args.threads)
        print(f"  host<->device copies made by one dezero step: {copies.count}")


if __name__ == '__main__':
    main()
