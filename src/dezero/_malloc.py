"""Allocator tuning for training loops (glibc only).

A training step allocates and frees the same large temporaries (patch matrices,
activations, gradients) every iteration. With glibc's defaults, blocks above a
few MB are mmap-ed fresh each time and every page is faulted in again; on
virtual machines that costs a third of a small CNN's step. Raising the mmap and
trim thresholds lets freed blocks be reused from the heap instead.
"""
import ctypes
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 128 << 20


def tune_allocator(mmap_threshold=MMAP_THRESHOLD, trim_threshold=TRIM_THRESHOLD):
    """Serve blocks up to mmap_threshold bytes from the heap and keep up to trim_threshold
    bytes of freed heap for reuse. Returns True when applied.

    Skipped (False) off glibc, when DEZERO_MALLOC_TUNING=0, or when the process already
    sets MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_ itself.
    """
    if os.environ.get('DEZERO_MALLOC_TUNING', '1') == '0' or not sys.platform.startswith('linux'):
        return False
    if 'MALLOC_MMAP_THRESHOLD_' in os.environ or 'MALLOC_TRIM_THRESHOLD_' in os.environ:
        return False
    try:
        libc = ctypes.CDLL(None)
        _ = libc.gnu_get_libc_version  # glibc only: musl has no such symbol
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold))) and \
        bool(mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)))
