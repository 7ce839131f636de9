"""One training step of an MLP 784-1000-1000-10 (ReLU, softmax cross entropy, SGD), batch 100.

    python benchmarks/bench_mlp.py [--threads 1] [--rounds 7] [--profile]

Prints dezero and PyTorch step times (median of alternating rounds) and the ratio.
Both sides use float32, the same initial weights and the same batch.
"""
import _harness

args = _harness.parse_args(
    __doc__, lambda p: p.add_argument('--profile', action='store_true',
                                      help='also print a cProfile of 50 dezero steps'))

import numpy as np

import dezero.functions as F
from dezero import optimizers
from dezero.models import MLP

torch = _harness.pin_torch(args.threads)

N, D, H, C = 100, 784, 1000, 10
rng = np.random.default_rng(0)
x = rng.standard_normal((N, D)).astype(np.float32)
t = rng.integers(0, C, N)

np.random.seed(0)
model = MLP((H, H, C), activation=F.relu)
model(x)  # build the lazy weights
opt = optimizers.SGD(lr=0.01).setup(model)


def dezero_step():
    y = model(x)
    loss = F.softmax_cross_entropy(y, t)
    model.cleargrads()
    loss.backward()
    opt.update()


work = {'dezero': dezero_step}
if torch is not None:
    tmodel = torch.nn.Sequential(
        torch.nn.Linear(D, H), torch.nn.ReLU(), torch.nn.Linear(H, H), torch.nn.ReLU(),
        torch.nn.Linear(H, C))
    with torch.no_grad():
        for tl, dl in zip([tmodel[0], tmodel[2], tmodel[4]], model.layers):
            tl.weight.copy_(torch.from_numpy(dl.W.data.T.copy()))
            tl.bias.copy_(torch.from_numpy(dl.b.data))
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.01)
    tx, tt = torch.from_numpy(x), torch.from_numpy(t)

    def torch_step():
        y = tmodel(tx)
        loss = torch.nn.functional.cross_entropy(y, tt)
        topt.zero_grad(set_to_none=True)
        loss.backward()
        topt.step()

    work['torch'] = torch_step

medians = _harness.compare(work, rounds=args.rounds, repeat=args.repeat)
_harness.report('MLP 784-1000-1000-10 ReLU + SGD step, batch 100, float32', medians,
                unit_scale=1e3, unit='ms', threads=args.threads)

if args.profile:
    import cProfile
    import pstats
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(50):
        dezero_step()
    prof.disable()
    pstats.Stats(prof).sort_stats('tottime').print_stats(15)
