"""Dataset caches: parsed-data files that are rebuilt from the sources when damaged."""
import contextlib
import os

import numpy as np

from dezero.serializers.files import write_npz


def load_array_cache(path, keys):
    """Arrays `keys` from a parsed-data cache, or None when absent or unreadable.

    A damaged or stale cache is deleted, so that the caller rebuilds it from the sources.
    """
    if not os.path.exists(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in keys}
    except Exception:  # any failure means a damaged or stale derived cache: rebuild it
        with contextlib.suppress(OSError):
            os.remove(path)
        return None


def save_array_cache(path, arrays):
    """Write a parsed-data cache atomically; a read-only cache folder only costs the speed-up."""
    with contextlib.suppress(OSError):
        write_npz(path, arrays)
