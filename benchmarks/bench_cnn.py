"""One SGD step of a small CNN, dezero against PyTorch CPU: time and peak memory.

    python benchmarks/bench_cnn.py [--threads 1] [--rounds 7] [--batch 64]

Network (both frameworks, same initial weights), float32, batch of 1x28x28 images:
Conv(16, 3x3, pad 1) - ReLU - MaxPool 2 - Conv(32, 3x3, pad 1) - ReLU - MaxPool 2 -
Linear(10), softmax cross entropy, SGD(lr=0.01) update.

Time: the median seconds per step over alternating rounds (benchmarks/_harness.py).
Peak memory: each framework runs in its own fresh subprocess (same thread pinning); the
model, data and optimizer are built first, then the resident set size is read (VmRSS),
the high-water mark is reset (writing 5 to /proc/self/clear_refs) and a few steps run;
peak = VmHWM - VmRSS before the steps, i.e. the extra memory one step needs at its
highest point (activations kept for backward, temporaries, gradients). Both are measured
the same way, with the same allocator. For dezero the tracemalloc peak of one step
(NumPy reports its buffers to tracemalloc) is printed too.
"""
import argparse
import json
import os
import subprocess
import sys

import _harness


def _extra(p):
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--memory-child', choices=['dezero', 'torch'], default=None,
                   help=argparse.SUPPRESS)


args = _harness.parse_args(__doc__, _extra)

import numpy as np

B = args.batch


def make_data():
    rng = np.random.RandomState(0)
    x = rng.rand(B, 1, 28, 28).astype(np.float32)
    t = rng.randint(0, 10, size=B)
    w = {'c1W': (rng.randn(16, 1, 3, 3) * np.sqrt(1 / 9)).astype(np.float32),
         'c1b': np.zeros(16, np.float32),
         'c2W': (rng.randn(32, 16, 3, 3) * np.sqrt(1 / 144)).astype(np.float32),
         'c2b': np.zeros(32, np.float32),
         'fcW': (rng.randn(32 * 7 * 7, 10) * np.sqrt(1 / 1568)).astype(np.float32),
         'fcb': np.zeros(10, np.float32)}
    return x, t, w


def dezero_step():
    from _gpu_workloads import DzCNN  # the same network the GPU benchmarks time

    import dezero.functions as F
    from dezero import optimizers

    x, t, w = make_data()
    model = DzCNN()
    model.c1.W.data, model.c1.b.data = w['c1W'].copy(), w['c1b'].copy()
    model.c2.W.data, model.c2.b.data = w['c2W'].copy(), w['c2b'].copy()
    model.fc.W.data, model.fc.b.data = w['fcW'].copy(), w['fcb'].copy()
    opt = optimizers.SGD(lr=0.01).setup(model)

    def step():
        loss = F.softmax_cross_entropy(model(x), t)
        model.cleargrads()
        loss.backward()
        opt.update()
        return float(loss.data)
    return step


def torch_step(torch):
    from _gpu_workloads import torch_cnn
    nn = torch.nn
    x, t, w = make_data()
    model = torch_cnn(torch)
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(w['c1W']))
        model[0].bias.copy_(torch.from_numpy(w['c1b']))
        model[3].weight.copy_(torch.from_numpy(w['c2W']))
        model[3].bias.copy_(torch.from_numpy(w['c2b']))
        model[7].weight.copy_(torch.from_numpy(w['fcW'].T.copy()))
        model[7].bias.copy_(torch.from_numpy(w['fcb']))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    xt, tt = torch.from_numpy(x), torch.from_numpy(t)
    loss_fn = nn.functional.cross_entropy

    def step():
        opt.zero_grad()
        loss = loss_fn(model(xt), tt)
        loss.backward()
        opt.step()
        return float(loss.detach())
    return step


def _status(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f'{field} not in /proc/self/status')


def memory_child(which):
    if which == 'torch':
        step = torch_step(_harness.pin_torch(args.threads))
    else:
        step = dezero_step()
    result = {}
    base = _status('VmRSS')
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # reset VmHWM to the current RSS
    for _ in range(3):
        step()
    result['peak_rss'] = _status('VmHWM') - base
    if which == 'dezero':
        import tracemalloc
        tracemalloc.start()
        step()
        result['tracemalloc_peak'] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    print(json.dumps(result))


def measure_memory(which):
    cmd = [sys.executable, os.path.abspath(__file__), '--threads', str(args.threads),
           '--batch', str(B), '--memory-child', which]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    if args.memory_child:
        memory_child(args.memory_child)
        return
    torch = _harness.pin_torch(args.threads)
    workloads = {'dezero': dezero_step()}
    if torch is not None:
        workloads['torch'] = torch_step(torch)
        l0, l1 = workloads['dezero'](), workloads['torch']()
        print(f"first-step losses: dezero {l0:.6f}  torch {l1:.6f}")
    medians = _harness.compare(workloads, rounds=args.rounds, repeat=args.repeat)
    _harness.report(f'CNN SGD step, batch {B} of 1x28x28, float32', medians,
                    unit_scale=1e3, unit='ms', threads=args.threads)
    mem = {'dezero': measure_memory('dezero')}
    if torch is not None:
        mem['torch'] = measure_memory('torch')
    print(f"== peak extra memory of a step (RSS high-water in a fresh process, "
          f"threads={args.threads})")
    for name, m in mem.items():
        line = f"  {name:<28} {m['peak_rss'] / 2**20:9.2f} MiB"
        if name == 'dezero' and 'torch' in mem:
            line += f"  ratio {m['peak_rss'] / mem['torch']['peak_rss']:5.2f}x torch"
        if 'tracemalloc_peak' in m:
            line += f"  (tracemalloc peak {m['tracemalloc_peak'] / 2**20:.2f} MiB)"
        print(line)


if __name__ == '__main__':
    main()
