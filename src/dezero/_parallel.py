"""Work split over threads for NumPy kernels that release the GIL (copies, BLAS calls).

A convolution over a batch is many small matrix products: with OpenBLAS threading
each small product, two threads run slower than one. Instead, the batch is cut into
one chunk per thread and each chunk runs the one-thread kernel, BLAS pinned to one
thread meanwhile, in a small thread pool (NumPy releases the GIL inside copies,
ufuncs and BLAS).

The number of threads is DEZERO_NUM_THREADS when set, else the BLAS library's thread
setting (OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / threadpoolctl's limits), read on
every call. The split needs threadpoolctl (to pin BLAS inside the chunks) and is off
for CuPy arrays, for one thread and for batches too small to share.
"""
import os
import threading

import numpy as np

_lock = threading.Lock()
_blas = None          # threadpoolctl controllers of the loaded BLAS libraries, [] if none
_pool = None
_pool_size = 0


def _blas_controllers():
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController
            _blas = list(ThreadpoolController().select(user_api='blas').lib_controllers)
        except Exception:
            _blas = []
    return _blas


def num_threads():
    """Threads a batch may be split over: DEZERO_NUM_THREADS, else BLAS's setting (>= 1)."""
    env = os.environ.get('DEZERO_NUM_THREADS')
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"DEZERO_NUM_THREADS must be a positive integer, got {env!r}") \
                from None
    blas = _blas_controllers()
    return max([lc.get_num_threads() or 1 for lc in blas] + [1])


def _executor(workers):
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < workers:
            from concurrent.futures import ThreadPoolExecutor
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(workers, thread_name_prefix='dezero')
            _pool_size = workers
        return _pool


def chunks(xp, n, min_chunk):
    """[(start, stop)] cutting range(n) into one chunk per thread, or [(0, n)] when the
    split does not apply (CuPy, one thread, no threadpoolctl, fewer than 2*min_chunk)."""
    if xp is not np or n < 2 * min_chunk:
        return [(0, n)]
    threads = min(num_threads(), n // min_chunk)
    if threads < 2 or not _blas_controllers():
        return [(0, n)]
    bounds = [n * i // threads for i in range(threads + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def run(fn, parts):
    """fn(start, stop) for every part, concurrently with BLAS pinned to one thread; the
    results in order. With one part, fn runs here and BLAS is left alone."""
    if len(parts) == 1:
        return [fn(*parts[0])]
    blas = _blas_controllers()
    saved = [lc.get_num_threads() for lc in blas]
    for lc in blas:
        lc.set_num_threads(1)
    try:
        pool = _executor(len(parts) - 1)
        futures = [pool.submit(fn, *part) for part in parts[1:]]
        first = fn(*parts[0])
        return [first] + [f.result() for f in futures]
    finally:
        for lc, n in zip(blas, saved):
            lc.set_num_threads(n)


# Elementwise kernels split only from this many elements on (a thread hand-off costs
# about as much as a ufunc pass over some 10^5 floats).
ELEMENTWISE_MIN = 1 << 18


def elementwise(xp, kernel, out, *arrays):
    """Run kernel(*array_slices, out=out_slice) over flat slices of equally shaped
    C-contiguous arrays, one slice per thread; returns out, or None (nothing run) when the
    split does not apply and the caller should run its one-thread code."""
    if out.size < ELEMENTWISE_MIN or not out.flags.c_contiguous or not all(
            a.shape == out.shape and a.flags.c_contiguous for a in arrays):
        return None
    parts = chunks(xp, out.size, ELEMENTWISE_MIN // 2)
    if len(parts) == 1:
        return None
    flat = [a.reshape(-1) for a in arrays]
    out_flat = out.reshape(-1)
    run(lambda a, b: kernel(*[f[a:b] for f in flat], out=out_flat[a:b]), parts)
    return out
