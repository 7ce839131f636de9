"""Shared timing harness for the benchmarks: pinned threads, alternating rounds, medians.

Import this module BEFORE numpy or torch: it pins the BLAS/OpenMP thread count
from --threads (default 1) through environment variables, which only take
effect before those libraries load.
"""
import argparse
import os
import statistics
import sys
import time


def parse_args(description, extra=None, argv=None):
    """Parse --threads/--rounds/--repeat (plus `extra(parser)` options) and pin threads."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--threads', type=int, default=1, help='threads for NumPy and PyTorch')
    parser.add_argument('--rounds', type=int, default=7, help='alternating rounds (median taken)')
    parser.add_argument('--repeat', type=int, default=0,
                        help='calls per round (0: calibrate to about 0.2 s per round)')
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    for name in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS',
                 'NUMEXPR_NUM_THREADS'):
        os.environ[name] = str(args.threads)
    # OpenBLAS's idle wait as dezero sets it when imported before NumPy (dezero/_blas_env.py):
    # the scripts load NumPy first. It also keeps dezero's idle BLAS workers off the cores
    # during PyTorch's rounds.
    os.environ.setdefault('OPENBLAS_THREAD_TIMEOUT', '20')
    return args


def pin_blas(threads):
    """Limit NumPy's BLAS to `threads` through threadpoolctl (when installed) as well as the
    environment variables set by parse_args; returns the thread counts now in effect."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        return {}
    import numpy  # noqa: F401 (load the BLAS so that threadpoolctl sees it)
    threadpool_limits(threads, user_api='blas')
    return {i['internal_api']: i['num_threads'] for i in threadpool_info()
            if i['user_api'] == 'blas'}


def threads_line(threads):
    """One line naming the thread settings in effect (BLAS, PyTorch, DEZERO_NUM_THREADS)."""
    parts = [f"threads={threads}"]
    blas = pin_blas(threads)
    if blas:
        parts.append('blas ' + ', '.join(f"{k}={v}" for k, v in blas.items()))
    torch = sys.modules.get('torch')
    if torch is not None:
        parts.append(f"torch={torch.get_num_threads()}")
    if os.environ.get('DEZERO_NUM_THREADS'):
        parts.append(f"DEZERO_NUM_THREADS={os.environ['DEZERO_NUM_THREADS']}")
    return ' '.join(parts)


def pin_torch(threads):
    """Pin BLAS (pin_blas) and import torch with the given thread count; None when torch
    is not installed."""
    pin_blas(threads)
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:
        pass
    return torch


def _calibrate(fn, target=0.2, sync=None):
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        if sync is not None:
            sync()
        elapsed = time.perf_counter() - start
        if elapsed >= target or n >= 1 << 20:
            return max(1, int(n * target / max(elapsed, 1e-9)))
        n *= 2


def compare(workloads, rounds=7, repeat=0, warmup=2, syncs=None, round_warmup=1):
    """Time each named callable in alternating rounds; return {name: median seconds per call}.

    workloads: dict name -> zero-argument callable (one step / one op chain).
    syncs: optional dict name -> callable run before each timer read (GPU synchronisation).
    round_warmup: untimed calls at the start of every round. The first call after the other
    framework's round runs cold (caches, idle cores woken; a dezero CNN step at 2 threads:
    36 ms against 24 ms for the next ones), which is a cost of the alternation, not of
    either framework's steady training loop.
    """
    syncs = syncs or {}
    for name, fn in workloads.items():
        for _ in range(warmup):
            fn()
        if name in syncs:
            syncs[name]()
    counts = {name: repeat or _calibrate(fn, sync=syncs.get(name))
              for name, fn in workloads.items()}
    samples = {name: [] for name in workloads}
    for _ in range(rounds):
        for name, fn in workloads.items():
            n = counts[name]
            for _ in range(round_warmup):
                fn()
            if name in syncs:
                syncs[name]()
            start = time.perf_counter()
            for _ in range(n):
                fn()
            if name in syncs:
                syncs[name]()
            samples[name].append((time.perf_counter() - start) / n)
    return {name: statistics.median(values) for name, values in samples.items()}


def report(title, medians, baseline='torch', unit_scale=1e6, unit='us', threads=1):
    """Print a small table of medians and the ratio of every entry to the baseline."""
    print(f"== {title}  ({threads_line(threads)}, python {sys.version.split()[0]})")
    base = medians.get(baseline)
    for name, value in medians.items():
        ratio = f"  ratio {value / base:5.2f}x {baseline}" if base and name != baseline else ''
        print(f"  {name:<28} {value * unit_scale:12.2f} {unit}{ratio}")
