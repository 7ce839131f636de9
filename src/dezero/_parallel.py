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

BLAS stays pinned after a split: giving OpenBLAS its threads back wakes its workers, which
then busy-wait for work and take the core from the next split (a CNN step at two threads
ran 48 ms with the restore after every split, 35 ms without). The setting comes back
lazily, through restore_blas(), before a product big enough to gain from BLAS threads
(linear and matmul call it), and num_threads() reports the saved setting meanwhile.
"""
import os
import threading

import numpy as np

_lock = threading.Lock()
_task = threading.local()   # .running: this thread runs one of run_tasks' callables
_blas = None          # threadpoolctl controllers of the loaded BLAS libraries, [] if none
_pool = None
_pool_size = 0
_saved_blas = None    # BLAS thread counts to give back, while a split has left BLAS pinned


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
    current = [lc.get_num_threads() for lc in _blas_controllers()]
    saved = _saved_blas
    if saved is not None and _still_pinned(current):
        current = saved
    return max([n or 1 for n in current] + [1])


def _still_pinned(current):
    """True while BLAS is at the one thread _pin_blas set; else someone (threadpoolctl,
    the user) has set it since, and that setting wins over the saved one."""
    global _saved_blas
    if all(n == 1 for n in current):
        return True
    _saved_blas = None
    return False


def _pin_blas():
    """Pin BLAS to one thread (once; the setting is saved for restore_blas)."""
    global _saved_blas
    with _lock:
        if _saved_blas is None:
            blas = _blas_controllers()
            _saved_blas = [lc.get_num_threads() for lc in blas]
            for lc in blas:
                lc.set_num_threads(1)


def restore_blas():
    """Give BLAS back the thread setting a split pinned to one thread (no-op otherwise)."""
    global _saved_blas
    with _lock:
        blas = _blas_controllers()
        if _saved_blas is not None and _still_pinned([lc.get_num_threads() for lc in blas]):
            for lc, n in zip(blas, _saved_blas):
                lc.set_num_threads(n)
        _saved_blas = None


# Thread counts the user may set; share_cpus leaves BLAS alone when one of them is set.
THREAD_ENV = ('DEZERO_NUM_THREADS', 'OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS',
              'MKL_NUM_THREADS')


def share_cpus(threads):
    """Lower BLAS's thread setting, and so the batch splits', to `threads` (at least 1),
    unless the environment sets a thread count (THREAD_ENV) or BLAS already uses fewer.
    For processes that share a host (ranks of a distributed job): with as many threads
    each as the host has CPUs, two MLP ranks on two CPUs took 78 to 195 ms a step against
    34 ms at one thread each. Returns the setting made, or None when nothing changed."""
    global _saved_blas
    if any(os.environ.get(name) for name in THREAD_ENV):
        return None
    threads = max(1, int(threads))
    with _lock:
        blas = _blas_controllers()
        if _saved_blas is not None:   # pinned by a split: lower what restore_blas gives back
            if all(n <= threads for n in _saved_blas):
                return None
            _saved_blas = [min(n, threads) for n in _saved_blas]
            return threads
        current = [lc.get_num_threads() for lc in blas]
        if all(n <= threads for n in current):
            return None
        for lc, n in zip(blas, current):
            lc.set_num_threads(min(n, threads))
    return threads


# Products of at least this many multiply-adds gain from BLAS threads: before one, a
# BLAS that a split left pinned is given its threads back.
THREADED_PRODUCT_MIN = 1 << 22


def before_product(x, W):
    """Called before the product x @ W (arrays, 1-D or more): gives BLAS its threads back
    when a split left it pinned and the product is big enough to gain from them."""
    if _saved_blas is not None and x.ndim and W.ndim and \
            x.size * W.shape[-1] >= THREADED_PRODUCT_MIN:  # m * k * n multiply-adds
        restore_blas()


def _forget_threads():
    """In a child made by fork: the parent's pool threads do not exist there (a split would
    wait for them forever), a lock may have been held by one of them, and the new threads'
    BLAS buffers are cold."""
    global _lock, _pool, _pool_size, _warmed
    _lock = threading.Lock()
    _pool, _pool_size, _warmed = None, 0, 0


if hasattr(os, 'register_at_fork'):  # POSIX
    os.register_at_fork(after_in_child=_forget_threads)


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


# A chunk carries at least this much work, or handing it to a thread costs more than
# it saves (a digits CNN epoch, 8x8 images in batches of 32, ran 224 ms at one thread
# and 273 ms split over two): multiply-adds for products, elements for passes over memory.
MIN_PRODUCT_WORK = 1 << 21
MIN_ELEMENT_WORK = 1 << 17


def chunks(xp, n, min_chunk, item_work=0, min_work=0):
    """[(start, stop)] cutting range(n) into one chunk per thread, or [(0, n)] when the
    split does not apply (CuPy, one thread, no threadpoolctl, fewer than 2*min_chunk items,
    fewer than 2*min_work units of work at item_work units an item, or inside one of
    run_tasks' callables, which has its thread to itself)."""
    if item_work > 0 and min_work > 0:
        min_chunk = max(min_chunk, -(-min_work // item_work))
    if xp is not np or n < 2 * min_chunk or getattr(_task, 'running', False):
        return [(0, n)]
    threads = min(num_threads(), n // min_chunk)
    if threads < 2 or not _blas_controllers():
        return [(0, n)]
    bounds = [n * i // threads for i in range(threads + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def _with_caller_errstate(fn):
    """fn as the pool's threads should run it: under the calling thread's np.errstate
    (NumPy keeps it per thread; a `with np.errstate(...)` around a call must cover the
    parts that run elsewhere)."""
    err = np.geterr()

    def call(*args):
        with np.errstate(**err):
            return fn(*args)
    return call


def _fan_out(fn, args):
    """fn(*a) for every a in args at once: the first here, the others in the pool (under
    the caller's errstate), BLAS pinned to one thread; the results in order."""
    _pin_blas()
    pool = _executor(len(args) - 1)
    elsewhere = _with_caller_errstate(fn)
    futures = [pool.submit(elsewhere, *a) for a in args[1:]]
    first = fn(*args[0])
    return [first] + [f.result() for f in futures]


def run(fn, parts):
    """fn(start, stop) for every part, concurrently with BLAS pinned to one thread (and left
    pinned: see restore_blas); the results in order. With one part, fn runs here."""
    if len(parts) == 1:
        return [fn(*parts[0])]
    return _fan_out(fn, parts)


# OpenBLAS runs small products up to 2.5x slower from a packing buffer that no large
# product has used yet, for the rest of the process ((16, 288) @ (288, 196): 0.11 ms, and
# 0.06 ms once a (64, 512) @ (512, 512) product has run), and threads that multiply at the
# same time each have a buffer of their own. So before NumPy convolution kernels first run
# on n threads, warm_blas(n) runs such a product in n threads at once (about 1 ms a thread,
# once per process).
_warmed = 0
WARM_SHAPES = ((64, 512), (512, 512))


def _warm_product():
    a, b = (np.ones(shape, dtype=np.float32) for shape in WARM_SHAPES)
    np.matmul(a, b)


def warm_blas(n):
    """Warm n threads' BLAS buffers (the calling thread's and n - 1 pool workers'), unless
    that many are warm already."""
    global _warmed
    if n <= _warmed:
        return
    if n == 1:
        _warm_product()
    else:
        barrier = threading.Barrier(n)

        def warm():
            try:  # all n in BLAS at once: each takes a buffer of its own
                barrier.wait(timeout=1.0)
            except threading.BrokenBarrierError:  # pool workers busy elsewhere: warm anyway
                pass
            _warm_product()
        _fan_out(warm, [()] * n)
    _warmed = n


def run_tasks(xp, fns):
    """Independent callables at once, one a thread (BLAS pinned to one thread, kernels
    inside not split again); their results in order. One after the other on CuPy, with
    one thread, one callable, or no threadpoolctl. Two halves of a backward that need each
    other's nothing (a convolution's input and weight gradients) gain this way over
    splitting each one's batch, which passes over memory share badly."""
    if xp is not np or len(fns) < 2 or num_threads() < 2 or not _blas_controllers() or \
            getattr(_task, 'running', False):
        return [f() for f in fns]
    warm_blas(len(fns))

    def task(f):
        _task.running = True
        try:
            return f()
        finally:
            _task.running = False
    return _fan_out(task, [(f,) for f in fns])


def run_products(xp, fn, parts):
    """run() for kernels built on BLAS products: on NumPy, warm_blas(len(parts)) first."""
    if xp is np:
        warm_blas(len(parts))
    return run(fn, parts)


# Elementwise kernels split only from this many elements on: a thread hand-off costs about
# as much as a ufunc pass over some 10^5 floats, and below this size two cores sharing the
# memory bandwidth gained nothing (the CNN of benchmarks/bench_cnn.py at two threads:
# ReLU over 401,408 floats 0.36 ms split, 0.30 ms not; over 802,816 0.55 ms split, 0.62 not).
ELEMENTWISE_MIN = 1 << 19


# Transcendental ufuncs (exp, log, tanh, sin, cos) cost NumPy 4-8 ns an element here, 10
# times a plain pass: splitting them pays from fewer elements on (exp over 131,072 floats
# at two threads 0.76x the time, tanh 0.66x; over 65,536 0.78x and 1.13x for a sigmoid).
TRANSCENDENTAL_MIN = 1 << 17


def elementwise(xp, kernel, out, *arrays, min_size=ELEMENTWISE_MIN):
    """Run kernel(*array_slices, out=out_slice) over flat slices of equally shaped
    C-contiguous arrays, one slice per thread, when out has min_size elements or more;
    returns out, or None (nothing run) when the split does not apply and the caller should
    run its one-thread code."""
    if out.size < min_size or not out.flags.c_contiguous or not all(
            a.shape == out.shape and a.flags.c_contiguous for a in arrays):
        return None
    parts = chunks(xp, out.size, min_size // 2)
    if len(parts) == 1:
        return None
    flat = [a.reshape(-1) for a in arrays]
    out_flat = out.reshape(-1)
    run(lambda a, b: kernel(*[f[a:b] for f in flat], out=out_flat[a:b]), parts)
    return out


def transcendental(xp, ufunc, x, out=None):
    """ufunc(x, out=out) for a costly one-input ufunc (exp, tanh, ...): split over threads
    when x is a large float NumPy array (out may be x itself, or None for a new array)."""
    if xp is np and x.size >= TRANSCENDENTAL_MIN and x.dtype.kind == 'f':
        dest = np.empty(x.shape, dtype=x.dtype) if out is None else out
        if elementwise(xp, ufunc, dest, x, min_size=TRANSCENDENTAL_MIN) is not None:
            return dest
    return ufunc(x) if out is None else ufunc(x, out=out)
