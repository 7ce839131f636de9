"""One truncated-BPTT step of LSTM(hidden 100) + Linear(1): batch 1, 30 time steps, Adam.

    python benchmarks/bench_lstm.py [--threads 1] [--rounds 7] [--profile]

A step is 30 forward time steps summing an MSE loss, backward, unchain_backward
and one Adam update. PyTorch runs the same model written the same way (eight
Linear layers, explicit gates: 'torch'), and the fused nn.LSTMCell for reference
('torch_lstmcell'). The ratio that counts is dezero / torch. float32 throughout.
"""
import _harness

args = _harness.parse_args(
    __doc__, lambda p: p.add_argument('--profile', action='store_true',
                                      help='also print a cProfile of 20 dezero steps'))

import numpy as np

import dezero
import dezero.functions as F
import dezero.layers as L
from dezero import optimizers

torch = _harness.pin_torch(args.threads)

H, BPTT = 100, 30
xs = np.sin(np.linspace(0, 2 * np.pi, BPTT + 1)).astype(np.float32).reshape(-1, 1, 1)


class Net(dezero.Model):
    def __init__(self):
        super().__init__()
        self.rnn = L.LSTM(H)
        self.fc = L.Linear(1)

    def reset_state(self):
        self.rnn.reset_state()

    def forward(self, x):
        return self.fc(self.rnn(x))


np.random.seed(0)
model = Net()
opt = optimizers.Adam().setup(model)


def dezero_step():
    model.reset_state()
    loss = 0
    for i in range(BPTT):
        y = model(xs[i])
        loss += F.mean_squared_error(y, xs[i + 1])
    model.cleargrads()
    loss.backward()
    loss.unchain_backward()
    opt.update()


work = {'dezero': dezero_step}

if torch is not None:
    nn = torch.nn

    class TorchLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.x2f, self.x2i, self.x2o, self.x2u = (nn.Linear(1, H) for _ in range(4))
            self.h2f, self.h2i, self.h2o, self.h2u = (nn.Linear(H, H, bias=False)
                                                      for _ in range(4))
            self.fc = nn.Linear(H, 1)

        def forward(self, x, h, c):
            if h is None:
                f = torch.sigmoid(self.x2f(x))
                i = torch.sigmoid(self.x2i(x))
                o = torch.sigmoid(self.x2o(x))
                u = torch.tanh(self.x2u(x))
                c = i * u
            else:
                f = torch.sigmoid(self.x2f(x) + self.h2f(h))
                i = torch.sigmoid(self.x2i(x) + self.h2i(h))
                o = torch.sigmoid(self.x2o(x) + self.h2o(h))
                u = torch.tanh(self.x2u(x) + self.h2u(h))
                c = f * c + i * u
            h = o * torch.tanh(c)
            return self.fc(h), h, c

    tnet = TorchLSTM()
    topt = torch.optim.Adam(tnet.parameters(), lr=0.001)
    txs = torch.from_numpy(xs)
    mse = nn.functional.mse_loss

    def torch_step():
        h = c = None
        loss = 0
        for i in range(BPTT):
            y, h, c = tnet(txs[i], h, c)
            loss = loss + mse(y, txs[i + 1])
        topt.zero_grad(set_to_none=True)
        loss.backward()
        topt.step()

    cell = nn.LSTMCell(1, H)
    fc = nn.Linear(H, 1)
    copt = torch.optim.Adam(list(cell.parameters()) + list(fc.parameters()), lr=0.001)

    def torch_cell_step():
        state = None
        loss = 0
        for i in range(BPTT):
            state = cell(txs[i], state)
            loss = loss + mse(fc(state[0]), txs[i + 1])
        copt.zero_grad(set_to_none=True)
        loss.backward()
        copt.step()

    work['torch'] = torch_step
    work['torch_lstmcell'] = torch_cell_step

medians = _harness.compare(work, rounds=args.rounds, repeat=args.repeat)
_harness.report(f'LSTM {H} + Linear, batch 1, BPTT {BPTT}, Adam step, float32', medians,
                unit_scale=1e3, unit='ms', threads=args.threads)
if 'torch_lstmcell' in medians:
    print(f"  dezero / torch_lstmcell (PyTorch's fused cell): "
          f"{medians['dezero'] / medians['torch_lstmcell']:.2f}x")

if args.profile:
    import cProfile
    import pstats
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(20):
        dezero_step()
    prof.disable()
    pstats.Stats(prof).sort_stats('tottime').print_stats(25)
