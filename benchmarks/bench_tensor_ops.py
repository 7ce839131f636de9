"""Forward + backward of single tensor ops (linear, matmul, sum, broadcast_to, get_item, max,
logsumexp, transpose), dezero against PyTorch CPU, float32.

    python benchmarks/bench_tensor_ops.py [--threads 1] [--rounds 7]

Each workload builds y = op(x), reduces it with sum and calls backward; the ratio column is
dezero / torch (median of alternating rounds).
"""
import _harness

args = _harness.parse_args(__doc__)

import numpy as np

import dezero
import dezero.functions as F

torch = _harness.pin_torch(args.threads)
rng = np.random.default_rng(0)


def arr(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def dz(op, *arrays):
    vs = [dezero.Variable(a) for a in arrays]

    def run():
        for v in vs:
            v.cleargrad()
        F.sum(op(*vs)).backward()
    return run


def th(op, *arrays):
    ts = [torch.from_numpy(a).requires_grad_() for a in arrays]

    def run():
        for t in ts:
            t.grad = None
        op(*ts).sum().backward()
    return run


labels = rng.integers(0, 10, 100)
idx = np.arange(100)
cases = {
    'linear (32,64)x(64,64)+b': (
        lambda x, W, b: F.linear(x, W, b),
        lambda x, W, b: torch.nn.functional.linear(x, W.T, b),
        (arr(32, 64), arr(64, 64), arr(64))),
    'linear (100,784)x(784,1000)+b': (
        lambda x, W, b: F.linear(x, W, b),
        lambda x, W, b: torch.nn.functional.linear(x, W.T, b),
        (arr(100, 784), arr(784, 1000), arr(1000))),
    'matmul (16,32,32)@(16,32,32)': (F.matmul, torch.matmul, (arr(16, 32, 32), arr(16, 32, 32))),
    'matmul (8,32,64)@(64,16)': (F.matmul, torch.matmul, (arr(8, 32, 64), arr(64, 16))),
    'sum axis=1 (100,1000)': (
        lambda x: F.sum(x, axis=1), lambda x: x.sum(dim=1), (arr(100, 1000),)),
    'broadcast_to (1000,)->(100,1000)': (
        lambda x: F.broadcast_to(x, (100, 1000)), lambda x: x.expand(100, 1000), (arr(1000),)),
    'get_item [arange, t] (100,10)': (
        lambda x: x[idx, labels], lambda x: x[torch.from_numpy(idx), torch.from_numpy(labels)],
        (arr(100, 10),)),
    'get_item [2:50:3] (100,10)': (lambda x: x[2:50:3], lambda x: x[2:50:3], (arr(100, 10),)),
    'max axis=1 (100,10)': (
        lambda x: F.max(x, axis=1), lambda x: x.amax(dim=1), (arr(100, 10),)),
    'logsumexp axis=1 (100,10)': (
        lambda x: F.logsumexp(x, axis=1), lambda x: torch.logsumexp(x, dim=1), (arr(100, 10),)),
    'transpose (64,32,16)': (
        lambda x: F.transpose(x, (2, 0, 1)), lambda x: x.permute(2, 0, 1), (arr(64, 32, 16),)),
}

for name, (dop, top, arrays) in cases.items():
    work = {'dezero': dz(dop, *arrays)}
    if torch is not None:
        work['torch'] = th(top, *arrays)
    medians = _harness.compare(work, rounds=args.rounds, repeat=args.repeat)
    _harness.report(name + ', forward+backward', medians, threads=args.threads)
