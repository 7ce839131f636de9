"""Atomic file output: write to a temporary file beside the target, then os.replace it."""
import contextlib
import os
import tempfile

# mkstemp creates 0600 files; give finished files the usual permissions instead.
_umask = os.umask(0)
os.umask(_umask)
_FILE_MODE = 0o666 & ~_umask


@contextlib.contextmanager
def atomic_path(path, suffix=None):
    """Yield a temporary path next to `path`; on success it replaces `path` in one step.

    A crash or an exception leaves any previous file at `path` untouched and removes
    the temporary file. `suffix` (default: the target's extension) keeps writers that
    look at the extension (np.savez, savefig, dot) happy.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if suffix is None:
        suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix=suffix,
                               dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def write_text(path, text):
    """Write text (UTF-8) to path atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, 'w', encoding='utf-8', newline='') as f:
            f.write(text)


def write_npz(path, arrays):
    """Write arrays (name -> array) to an .npz at exactly `path`, atomically and durably."""
    import numpy as np
    with atomic_path(path, suffix='.tmp') as tmp:
        with open(tmp, 'wb') as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
