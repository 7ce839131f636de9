"""Microseconds per elementwise op, forward + backward, over a chain of ops on a (1,) array.

    python benchmarks/bench_core.py [--threads 1] [--length 1000]
"""
import _harness

args = _harness.parse_args(__doc__, lambda p: p.add_argument('--length', type=int, default=1000))

import numpy as np

import dezero
import dezero.functions as F

torch = _harness.pin_torch(args.threads)
N = args.length


def dezero_chain(op):
    x = dezero.Variable(np.array([0.5], dtype=np.float32))

    def run():
        y = x
        for _ in range(N):
            y = op(y)
        y.backward()
        x.cleargrad()
    return run


def torch_chain(op):
    x = torch.tensor([0.5], dtype=torch.float32, requires_grad=True)

    def run():
        y = x
        for _ in range(N):
            y = op(y)
        y.backward()
        x.grad = None
    return run


cases = {
    'sin': (F.sin, torch.sin if torch else None),
    'tanh': (F.tanh, torch.tanh if torch else None),
    'mul_add': (lambda v: v * 0.999 + 0.001, lambda v: v * 0.999 + 0.001),
}
for name, (dz_op, th_op) in cases.items():
    work = {'dezero': dezero_chain(dz_op)}
    if torch is not None:
        work['torch'] = torch_chain(th_op)
    medians = _harness.compare(work, rounds=args.rounds, repeat=args.repeat or 5)
    ops = N * (2 if name == 'mul_add' else 1)
    per_op = {k: v / ops for k, v in medians.items()}
    _harness.report(f"{name}: per op, forward+backward, chain of {N} on (1,) float32",
                    per_op, threads=args.threads)
