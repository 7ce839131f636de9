"""Kernels per training step: dezero on CuPy beside PyTorch CUDA, counted by torch.profiler.

    python benchmarks/gpu_profile.py [--device gpu|cpu] [--steps 5] [--only mlp,cnn,lstm]
                                     [--out DIR] [--top 8] [--keep-traces]

For each workload of bench_gpu.py (MLP batch 100 and 1000, CNN batch 64 and 256,
LSTM 100 with BPTT 30) and each library, a few warm-up steps run, then `--steps`
steps run under torch.profiler with CUDA activity. CUPTI records every kernel the
process launches, CuPy's included, so both columns are counted the same way:

- kernels/step: device kernels launched per training step;
- copies/step: host<->device (and device-to-device) memcpy and memset operations;
- busy ms/step: the union of the kernel and copy intervals on the device, per step;
- wall ms/step: host time of the profiled steps (synchronised at the end), per step;
  busy/wall says how much of a step the GPU is working (low = launch/Python bound);
- syncs: calls to cudaDeviceSynchronize/cudaStreamSynchronize/cudaEventSynchronize
  during the profiled steps (one is ours, at the end);
- the top kernels of each library by device time, with their count per step.

Output: a table on stdout and in DIR/gpu_profile.txt, the figures in DIR/gpu_profile.json
(DIR: --out, else $OUT, else ./gpu_out). --keep-traces also leaves the Chrome traces there.
--device cpu is a dry run without a GPU (CPU activity only: no kernels are counted) that
checks the arguments, the workloads and the report's structure.
"""
import json
import os
import tempfile
import time

import _harness

args = _harness.parse_args(__doc__, lambda p: (
    p.add_argument('--device', choices=['gpu', 'cpu'], default='gpu'),
    p.add_argument('--only', default='', help='comma-separated subset: mlp,cnn,lstm'),
    p.add_argument('--steps', type=int, default=5, help='profiled steps per library'),
    p.add_argument('--warmup', type=int, default=3, help='unprofiled steps first'),
    p.add_argument('--top', type=int, default=8, help='top kernels listed per library'),
    p.add_argument('--out', default=None, help='output folder (default $OUT or ./gpu_out)'),
    p.add_argument('--keep-traces', action='store_true', help='keep the Chrome traces')))

import _gpu_workloads
import numpy as np

torch = _harness.pin_torch(args.threads)
if torch is None:
    raise SystemExit("gpu_profile.py: PyTorch is needed (pip install 'dezero[bench]')")
ON_GPU = args.device == 'gpu'
if ON_GPU:
    import cupy
    xp, tdev = cupy, 'cuda'
    syncs = {'dezero': cupy.cuda.Device().synchronize, 'torch': torch.cuda.synchronize}
    device_name = torch.cuda.get_device_name(0)
    versions = f"cupy {cupy.__version__}"
else:
    xp, tdev = np, 'cpu'
    syncs = {'dezero': lambda: None, 'torch': lambda: None}
    device_name = 'CPU (dry run: no kernels are counted)'
    versions = ''

DEVICE_CATS = {'kernel', 'gpu_memcpy', 'gpu_memset'}
SYNC_NAMES = ('cudaDeviceSynchronize', 'cudaStreamSynchronize', 'cudaEventSynchronize',
              'cuCtxSynchronize', 'cuStreamSynchronize', 'cuEventSynchronize')


def _union_us(intervals):
    total, end = 0.0, None
    for start, stop in sorted(intervals):
        if end is None or start > end:
            total += stop - start
            end = stop
        elif stop > end:
            total += stop - end
            end = stop
    return total


def summarise_trace(path, steps, wall_s, top):
    """Kernel statistics of a Chrome trace written by torch.profiler, per training step."""
    with open(path) as f:
        trace = json.load(f)
    events = trace['traceEvents'] if isinstance(trace, dict) else trace
    kernels, copies, intervals, syncs_seen = {}, 0, [], 0
    for e in events:
        if e.get('ph') != 'X':
            continue
        cat, name = e.get('cat', ''), e.get('name', '')
        if cat in DEVICE_CATS:
            ts, dur = float(e['ts']), float(e.get('dur', 0))
            intervals.append((ts, ts + dur))
            if cat == 'kernel':
                n, t = kernels.get(name, (0, 0.0))
                kernels[name] = (n + 1, t + dur)
            else:
                copies += 1
        elif cat in ('cuda_runtime', 'cuda_driver') and name.startswith(SYNC_NAMES):
            syncs_seen += 1
    launched = sum(n for n, _ in kernels.values())
    ranked = sorted(kernels.items(), key=lambda kv: -kv[1][1])[:top]
    return {
        'kernels_per_step': launched / steps,
        'copies_per_step': copies / steps,
        'busy_ms_per_step': _union_us(intervals) / steps / 1e3,
        'wall_ms_per_step': wall_s / steps * 1e3,
        'syncs': syncs_seen,
        'top_kernels': [{'name': name, 'per_step': n / steps, 'us_per_step': t / steps}
                        for name, (n, t) in ranked],
    }


def profile_step(step, sync, steps, warmup, trace_path):
    """Run `step` warmup times, then `steps` times under the profiler; write the trace."""
    from torch.profiler import ProfilerActivity, profile
    for _ in range(warmup):
        step()
    sync()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if ON_GPU else [])
    with profile(activities=activities) as prof:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        wall = time.perf_counter() - start
    prof.export_chrome_trace(trace_path)
    return wall


def _short(name, width=70):
    return name if len(name) <= width else name[:width - 3] + '...'


def format_case(title, stats):
    dz, th = stats['dezero'], stats['torch']
    lines = [f"== {title}"]
    lines.append(f"  {'':<22}{'dezero':>12}{'torch':>12}{'ratio':>8}")
    for key, label in (('kernels_per_step', 'kernels/step'), ('copies_per_step', 'copies/step'),
                       ('busy_ms_per_step', 'busy ms/step'), ('wall_ms_per_step', 'wall ms/step'),
                       ('syncs', 'syncs (1 is ours)')):
        a, b = dz[key], th[key]
        ratio = f"{a / b:7.2f}x" if b else '      -'
        lines.append(f"  {label:<22}{a:12.3f}{b:12.3f} {ratio}")
    for name, s in (('dezero', dz), ('torch', th)):
        busy = s['busy_ms_per_step'] / s['wall_ms_per_step'] if s['wall_ms_per_step'] else 0
        lines.append(f"  {name}: GPU busy {busy:6.1%} of the step; top kernels "
                     "(per step: count, us):")
        for k in s['top_kernels']:
            lines.append(f"    {k['per_step']:6.1f} {k['us_per_step']:9.1f}  {_short(k['name'])}")
        if not s['top_kernels']:
            lines.append("    (none recorded)")
    return '\n'.join(lines)


def main():
    out_dir = args.out or os.environ.get('OUT') or './gpu_out'
    os.makedirs(out_dir, exist_ok=True)
    header = (f"device: {device_name}; numpy {np.__version__}; torch {torch.__version__}"
              f"{'; ' + versions if versions else ''}; threads={args.threads}; "
              f"{args.steps} profiled steps after {args.warmup} warm-up steps")
    print(header, flush=True)
    report, results = [header], {'header': header, 'cases': {}}
    only = set(filter(None, args.only.split(','))) or {'mlp', 'cnn', 'lstm'}
    trace_dir = out_dir if args.keep_traces else tempfile.mkdtemp(prefix='gpu_profile_')
    for index, (title, build) in enumerate(_gpu_workloads.cases(only, xp, torch, tdev)):
        steps = dict(zip(('dezero', 'torch'), build()))
        stats = {}
        for name, step in steps.items():
            path = os.path.join(trace_dir, f"trace_{index}_{name}.json")
            wall = profile_step(step, syncs[name], args.steps, args.warmup, path)
            stats[name] = summarise_trace(path, args.steps, wall, args.top)
            if not args.keep_traces:
                os.remove(path)
        text = format_case(title, stats)
        print(text, flush=True)
        report.append(text)
        results['cases'][title] = stats
    if not args.keep_traces:
        os.rmdir(trace_dir)
    _write(os.path.join(out_dir, 'gpu_profile.txt'), '\n'.join(report) + '\n')
    _write(os.path.join(out_dir, 'gpu_profile.json'), json.dumps(results, indent=1))
    print(f"written: {out_dir}/gpu_profile.txt, {out_dir}/gpu_profile.json")


def _write(path, text):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


if __name__ == '__main__':
    main()
