"""Forward + backward of the training hot-path activations and losses against PyTorch CPU.

    python benchmarks/bench_activation_loss.py [--threads 1] [--rounds 7]

Each workload builds the op on a fresh leaf, then calls backward; float32 throughout.
Prints median microseconds per forward+backward and the ratio dezero / torch.
"""
import _harness

args = _harness.parse_args(__doc__)

import numpy as np

import dezero.functions as F
from dezero import Variable

torch = _harness.pin_torch(args.threads)

rng = np.random.default_rng(0)
nnf = torch.nn.functional if torch is not None else None
CASES = [
    # (name, shape, second argument: 'labels', 'target' or None, dezero op, torch op)
    ('softmax_cross_entropy', (100, 10), 'labels',
     F.softmax_cross_entropy, lambda x, t: nnf.cross_entropy(x, t)),
    ('softmax_cross_entropy', (1000, 1000), 'labels',
     F.softmax_cross_entropy, lambda x, t: nnf.cross_entropy(x, t)),
    ('relu', (100, 1000), None, F.relu, torch.relu if torch else None),
    ('relu', (1000, 1000), None, F.relu, torch.relu if torch else None),
    ('sigmoid', (100, 1000), None, F.sigmoid, torch.sigmoid if torch else None),
    ('softmax', (100, 1000), None, F.softmax, lambda x: torch.softmax(x, 1)),
    ('log_softmax', (100, 1000), None, F.log_softmax, lambda x: torch.log_softmax(x, 1)),
    ('mean_squared_error', (100, 1000), 'target', F.mean_squared_error,
     lambda x, t: nnf.mse_loss(x, t, reduction='sum') / len(x)),
    ('batch_norm train', (100, 1000), None, lambda x: _bn(x, 1000), lambda x: _tbn(x, 1000)),
    ('batch_norm train', (32, 16, 16, 16), None, lambda x: _bn(x, 16), lambda x: _tbn(x, 16)),
    ('dropout 0.5', (100, 1000), None, F.dropout, lambda x: nnf.dropout(x, 0.5)),
]


def _bn(x, c, _cache={}):  # noqa: B006 (a deliberate per-process cache)
    if c not in _cache:
        _cache[c] = (Variable(np.ones(c, np.float32)), Variable(np.zeros(c, np.float32)),
                     np.zeros(c, np.float32), np.ones(c, np.float32))
    gamma, beta, mean, var = _cache[c]
    return F.batch_norm(x, gamma, beta, mean, var)


def _tbn(x, c, _cache={}):  # noqa: B006 (a deliberate per-process cache)
    if c not in _cache:
        _cache[c] = (torch.ones(c, requires_grad=True), torch.zeros(c, requires_grad=True),
                     torch.zeros(c), torch.ones(c))
    gamma, beta, mean, var = _cache[c]
    return nnf.batch_norm(x, mean, var, gamma, beta, training=True, momentum=0.1, eps=2e-5)


def make(shape, second, op, top):
    """Two zero-argument callables: dezero and torch forward + backward on the same data."""
    x_np = rng.standard_normal(shape).astype(np.float32)
    if second == 'labels':
        extra = (rng.integers(0, shape[1], shape[0]),)
    elif second == 'target':
        extra = (rng.standard_normal(shape).astype(np.float32),)
    else:
        extra = ()
    out_shape = op(x_np, *extra).shape
    gy_np = rng.standard_normal(out_shape).astype(np.float32)

    def dezero_run():
        x = Variable(x_np)
        y = op(x, *extra)
        y.grad = Variable(gy_np)
        y.backward()

    if torch is None:
        return dezero_run, None
    x_t = torch.from_numpy(x_np).requires_grad_()
    extra_t = tuple(torch.from_numpy(e) for e in extra)
    gy_t = torch.from_numpy(gy_np)

    def torch_run():
        x_t.grad = None
        top(x_t, *extra_t).backward(gy_t)

    return dezero_run, torch_run


for name, shape, second, op, top in CASES:
    dezero_run, torch_run = make(shape, second, op, top)
    work = {'dezero': dezero_run}
    if torch_run is not None:
        work['torch'] = torch_run
    medians = _harness.compare(work, rounds=args.rounds, repeat=args.repeat)
    _harness.report(f'{name} {shape} forward+backward, float32', medians, threads=args.threads)
