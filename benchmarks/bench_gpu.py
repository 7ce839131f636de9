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

import _gpu_workloads
import numpy as np

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


def main():
    print(f"device: {device_name}; numpy {np.__version__}; torch {torch.__version__}"
          + (f"; cupy {cupy.__version__}" if ON_GPU else ''))
    only = set(filter(None, args.only.split(','))) or {'mlp', 'cnn', 'lstm'}
    cases = _gpu_workloads.cases(only, xp, torch, tdev)
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
