"""Forward + backward of single layers beyond the book's CNN, against PyTorch CPU: strided,
valid-padded, 1x1, 5x5 and 7x7 convolutions, transposed convolutions, overlapping max
pooling, average pooling, batch norm and layer norm (bench_conv.py covers 3x3 stride-1
layers).

    python benchmarks/bench_layers.py [--threads 1] [--rounds 7] [--only SUBSTRING]

Each workload runs the layer's function on fresh leaves (input, weights and bias all need
gradients) and backpropagates the sum of its output; float32 throughout. Prints median
milliseconds per forward+backward and the ratio dezero / torch.
"""
import _harness


def _extra(p):
    p.add_argument('--only', default='', help='run the workloads whose name contains this')


args = _harness.parse_args(__doc__, _extra)

import numpy as np  # noqa: E402

import dezero.functions as F  # noqa: E402
from dezero import Variable  # noqa: E402

torch = _harness.pin_torch(args.threads)
nnf = torch.nn.functional if torch is not None else None
rng = np.random.default_rng(0)


def _arrays(*shapes):
    return [(rng.standard_normal(s) * (0.1 if i else 1)).astype(np.float32)
            for i, s in enumerate(shapes)]


def _pair(dezero_op, torch_op, arrays):
    """dezero and torch callables: op on fresh leaves of arrays, then sum().backward()."""
    def dezero_run():
        F.sum(dezero_op(*[Variable(a) for a in arrays])).backward()

    if torch is None:
        return dezero_run, None
    leaves = [torch.from_numpy(a).requires_grad_() for a in arrays]

    def torch_run():
        for t in leaves:
            t.grad = None
        torch_op(*leaves).sum().backward()
    return dezero_run, torch_run


def conv(N, C, OC, H, k, s, p):
    return _pair(lambda x, W, b: F.conv2d(x, W, b, stride=s, pad=p),
                 lambda x, W, b: nnf.conv2d(x, W, b, stride=s, padding=p),
                 _arrays((N, C, H, H), (OC, C, k, k), (OC,)))


def deconv(N, C, OC, H, k, s, p):
    return _pair(lambda x, W, b: F.deconv2d(x, W, b, stride=s, pad=p),
                 lambda x, W, b: nnf.conv_transpose2d(x, W, b, stride=s, padding=p),
                 _arrays((N, C, H, H), (C, OC, k, k), (OC,)))


def max_pool(N, C, H, k, s, p):
    return _pair(lambda x: F.pooling(x, k, s, p), lambda x: nnf.max_pool2d(x, k, s, p),
                 _arrays((N, C, H, H)))


def avg_pool(N, C, H, k, s, p):
    return _pair(lambda x: F.average_pooling(x, k, s, p),
                 lambda x: nnf.avg_pool2d(x, k, s, p, count_include_pad=True),
                 _arrays((N, C, H, H)))


def batch_norm(N, C, H):
    mean, var = np.zeros(C, np.float32), np.ones(C, np.float32)
    t_mean, t_var = (torch.zeros(C), torch.ones(C)) if torch is not None else (None, None)
    return _pair(lambda x, g, b: F.batch_norm(x, g, b, mean, var),
                 lambda x, g, b: nnf.batch_norm(x, t_mean, t_var, g, b, training=True,
                                                eps=2e-5),
                 [rng.standard_normal((N, C, H, H)).astype(np.float32),
                  np.ones(C, np.float32), np.zeros(C, np.float32)])


def layer_norm(N, T, D):
    return _pair(lambda x, g, b: F.layer_norm(x, g, b),
                 lambda x, g, b: nnf.layer_norm(x, (D,), g, b, eps=1e-5),
                 [rng.standard_normal((N, T, D)).astype(np.float32),
                  np.ones(D, np.float32), np.zeros(D, np.float32)])


WORKLOADS = [
    # name, maker, arguments
    ('conv 3x3 stride 2, 64 -> 128 channels, 16x16', conv, (64, 64, 128, 16, 3, 2, 1)),
    ('conv 5x5 valid, 1 -> 20 channels, 28x28 (LeNet)', conv, (64, 1, 20, 28, 5, 1, 0)),
    ('conv 5x5 valid, 20 -> 50 channels, 12x12 (LeNet)', conv, (64, 20, 50, 12, 5, 1, 0)),
    ('conv 1x1, 64 -> 256 channels, 14x14', conv, (64, 64, 256, 14, 1, 1, 0)),
    ('conv 7x7 stride 2 pad 3, 3 -> 64 channels, 64x64', conv, (32, 3, 64, 64, 7, 2, 3)),
    ('deconv 4x4 stride 2 pad 1, 64 -> 32 channels, 7x7 (DCGAN)', deconv,
     (64, 64, 32, 7, 4, 2, 1)),
    ('deconv 4x4 stride 2 pad 1, 32 -> 1 channel, 14x14 (DCGAN)', deconv,
     (64, 32, 1, 14, 4, 2, 1)),
    ('max pooling 3x3 stride 2 pad 1, 64 channels, 56x56 (ResNet)', max_pool,
     (32, 64, 56, 3, 2, 1)),
    ('max pooling 3x3 stride 1 pad 1, 32 channels, 28x28', max_pool, (64, 32, 28, 3, 1, 1)),
    ('average pooling 2x2, 32 channels, 28x28', avg_pool, (64, 32, 28, 2, 2, 0)),
    ('average pooling 3x3 stride 2 pad 1, 64 channels, 56x56', avg_pool,
     (32, 64, 56, 3, 2, 1)),
    ('batch norm, 64 channels, 28x28', batch_norm, (64, 64, 28)),
    ('batch norm, 128 channels, 4x4 (DCGAN discriminator)', batch_norm, (64, 128, 4)),
    ('batch norm, 64 channels, 7x7 (DCGAN discriminator)', batch_norm, (64, 64, 7)),
    ('layer norm, 64 tokens of 256 (a transformer block)', layer_norm, (32, 64, 256)),
]

for name, maker, shape in WORKLOADS:
    if args.only not in name:
        continue
    dezero_run, torch_run = maker(*shape)
    work = {'dezero': dezero_run}
    if torch_run is not None:
        work['torch'] = torch_run
    medians = _harness.compare(work, rounds=args.rounds, repeat=args.repeat)
    _harness.report(f'{name}, batch {shape[0]}, forward+backward, float32', medians,
                    unit_scale=1e3, unit='ms', threads=args.threads)
