"""OpenBLAS's idle wait, set before NumPy loads OpenBLAS (dezero/__init__.py imports this
first).

After a threaded product, OpenBLAS's idle worker threads busy-wait for 2^28 cycles (about a
tenth of a second) before they sleep, holding a core. dezero's own thread pool
(dezero._parallel) splits the next convolution, pooling or batch norm onto that core: in a
step that mixes large Linear layers with convolutions (benchmarks/bench_gan.py at two
threads) the splits then gained nothing, 375-387 ms a step against 293-325 ms with a wait
of 2^20 cycles (about 0.4 ms, still long enough for back-to-back products: the MLP's and
the CNN's steps did not change).

It takes effect only when OpenBLAS loads after this module: `python -m dezero`, or a script
that imports dezero before NumPy. A value already in the environment wins, and
DEZERO_BLAS_TUNING=0 leaves the environment alone.
"""
import os

OPENBLAS_WAIT = '20'   # OPENBLAS_THREAD_TIMEOUT: a wait of 2^20 cycles


def tune_openblas_wait():
    """Set OPENBLAS_THREAD_TIMEOUT unless it is set or DEZERO_BLAS_TUNING=0; True if set."""
    if os.environ.get('DEZERO_BLAS_TUNING', '1') == '0' or \
            'OPENBLAS_THREAD_TIMEOUT' in os.environ:
        return False
    os.environ['OPENBLAS_THREAD_TIMEOUT'] = OPENBLAS_WAIT
    return True


tune_openblas_wait()
