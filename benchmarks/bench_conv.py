"""One 3x3 convolution alone, forward and backward: dezero's column path, its Winograd path
and PyTorch, per layer shape.

    python benchmarks/bench_conv.py [--threads 1] [--rounds 7] [--batch 64]
                                    [--shapes 16x32x14,32x64x14]

Each shape CxOCxH is conv2d of a (batch, C, H, H) float32 input with (OC, C, 3, 3) weights,
stride 1, pad 1, plus bias; one call is the forward and the backward from a fixed random
output gradient (input, weight and bias gradients). 'column' forces the im2col path
(dezero.functions._winograd off), 'winograd' forces Winograd F(2x2, 3x3) for every
channel count and thread split, 'auto' is what dezero picks by default; all against
torch.nn.functional.conv2d on the same arrays. Medians of alternating rounds
(benchmarks/_harness.py); the last column says which path 'auto' took for the forward.
"""
import _harness

SHAPES = '1x16x28,16x32x14,32x16x14,32x32x14,32x64x14,64x64x14,64x128x7'


def _extra(p):
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--shapes', default=SHAPES, help='comma-separated CxOCxH')


args = _harness.parse_args(__doc__, _extra)

import numpy as np  # noqa: E402

import dezero.functions as F  # noqa: E402
from dezero import Variable  # noqa: E402
from dezero.functions import _winograd  # noqa: E402

FORCED = {'column': dict(MIN_CHANNELS=1 << 30),
          'winograd': dict(MIN_CHANNELS=0, MIN_SPLIT_CHANNELS=0, MIN_SPLIT_FORWARD_WORK=0,
                           MIN_SPLIT_CHANNEL_PRODUCT=0),
          'auto': {}}


def dezero_call(x, W, b, gy, settings):
    saved = {k: getattr(_winograd, k) for k in FORCED['winograd']}
    vx, vW, vb = Variable(x), Variable(W), Variable(b)

    def call():
        for k, v in settings.items():
            setattr(_winograd, k, v)
        try:
            for v in (vx, vW, vb):
                v.cleargrad()
            y = F.conv2d(vx, vW, vb, stride=1, pad=1)
            y.grad = Variable(gy)
            y.backward()
        finally:
            for k, v in saved.items():
                setattr(_winograd, k, v)
    return call


def torch_call(torch, x, W, b, gy):
    tx, tW, tb = (torch.from_numpy(a).requires_grad_() for a in (x, W, b))
    tgy = torch.from_numpy(gy)

    def call():
        for t in (tx, tW, tb):
            t.grad = None
        torch.nn.functional.conv2d(tx, tW, tb, stride=1, padding=1).backward(tgy)
    return call


def main():
    torch = _harness.pin_torch(args.threads)
    print(f"== conv2d 3x3 pad 1 forward + backward, batch {args.batch}, float32, ms a call  "
          f"({_harness.threads_line(args.threads)})")
    names = list(FORCED) + (['torch'] if torch is not None else [])
    print(f"  {'C x OC x H':<14}" + ''.join(f"{n:>10}" for n in names) +
          ('   auto/torch' if torch is not None else '') + '  auto forward')
    rng = np.random.RandomState(0)
    for shape in args.shapes.split(','):
        C, OC, H = (int(v) for v in shape.split('x'))
        x = rng.rand(args.batch, C, H, H).astype(np.float32)
        W = (rng.randn(OC, C, 3, 3) * np.sqrt(1 / (9 * C))).astype(np.float32)
        b = np.zeros(OC, np.float32)
        gy = rng.randn(args.batch, OC, H, H).astype(np.float32)
        work = {name: dezero_call(x, W, b, gy, settings) for name, settings in FORCED.items()}
        if torch is not None:
            work['torch'] = torch_call(torch, x, W, b, gy)
        med = _harness.compare(work, rounds=args.rounds, repeat=args.repeat)
        took = 'winograd' if _winograd.applies(np, x, W, OC, (3, 3), (1, 1), (1, 1)) \
            else 'column'
        line = f"  {shape:<14}" + ''.join(f"{med[n] * 1e3:10.2f}" for n in names)
        if torch is not None:
            line += f"   {med['auto'] / med['torch']:9.2f}x"
        print(line + f"  {took}")


if __name__ == '__main__':
    main()
