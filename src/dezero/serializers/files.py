"""Atomic output (a temporary file beside the target, then os.replace) and header-first
reading of .npz files (names, shapes and dtypes checked before any data is read)."""
import contextlib
import math
import os
import re
import socket
import tempfile
import time
import zipfile

import numpy as np

# ---------------------------------------------------------------------------
# Atomic output
# ---------------------------------------------------------------------------
# mkstemp creates 0600 files; give finished files the usual permissions instead.
_umask = os.umask(0)
os.umask(_umask)
_FILE_MODE = 0o666 & ~_umask


# Temporary files are named `.<target>.dezero-tmp-<host>-<pid>-<random><suffix>`: a name no
# user file has, that says which process on which machine wrote it. A process killed with
# SIGKILL (preemption, the OOM killer) cannot remove its own; the next write of the same
# target removes those whose writer is gone (same host, pid not alive) or a day old.
_TMP_MARK = '.dezero-tmp-'
_STALE_AGE = 24 * 3600
_HOST = re.sub(r'[^A-Za-z0-9]', '_', socket.gethostname())[:32] or 'host'


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # exists (another user's) or cannot tell: keep the file
    return True


def remove_stale_temporaries(path):
    """Remove temporary files that killed writes of `path` left in its folder; return them."""
    folder = os.path.dirname(os.path.abspath(path))
    pattern = re.compile(re.escape('.' + os.path.basename(path) + _TMP_MARK)
                         + r'(?P<host>[A-Za-z0-9_]+)-(?P<pid>[0-9]+)-[A-Za-z0-9_]+(\.[^/]*)?$')
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    now = time.time()
    for name in names:
        m = pattern.match(name)
        if m is None:
            continue
        full = os.path.join(folder, name)
        try:
            dead = m['host'] == _HOST and not _pid_alive(int(m['pid']))
            if dead or now - os.path.getmtime(full) > _STALE_AGE:
                os.remove(full)
                removed.append(full)
        except OSError:
            pass
    return removed


@contextlib.contextmanager
def atomic_path(path, suffix=None):
    """Yield a temporary path next to `path`; on success it replaces `path` in one step.

    A crash or an exception leaves any previous file at `path` untouched and removes
    the temporary file; temporary files of `path` left by killed processes are removed
    first. `suffix` (default: the target's extension) keeps writers that look at the
    extension (np.savez, savefig, dot) happy.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if suffix is None:
        suffix = os.path.splitext(path)[1]
    remove_stale_temporaries(path)
    prefix = f'.{os.path.basename(path)}{_TMP_MARK}{_HOST}-{os.getpid()}-'
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
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
    with atomic_path(path, suffix='.tmp') as tmp:
        with open(tmp, 'wb') as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())


def save_npz_atomic(path, arrays):
    """Write arrays (name -> NumPy array) to `path` (+'.npz' if missing) atomically; return it."""
    path = os.fspath(path)
    if not path.endswith('.npz'):
        path += '.npz'
    write_npz(path, arrays)
    return path


def resolve_npz_path(path):
    """`path`, or `path + '.npz'` when only that exists (mirrors save_npz_atomic)."""
    path = os.fspath(path)
    if not os.path.exists(path) and not path.endswith('.npz') and os.path.exists(path + '.npz'):
        return path + '.npz'
    return path


def load_npz(path, who='load_npz'):
    """Read every array of an .npz (no pickles) into a dict, headers first (read_npz_headers);
    ValueError naming a corrupt file."""
    specs = read_npz_headers(path, who=who)
    return _read_arrays(os.fspath(path), list(specs), who)


# ---------------------------------------------------------------------------
# Header-first reading
# ---------------------------------------------------------------------------
class ArraySpec:
    """Shape and dtype of an array in an .npz, read from its .npy header (no data read)."""

    __slots__ = ('shape', 'dtype')

    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype

    def __repr__(self):
        return f"ArraySpec({self.shape}, {self.dtype})"


def _checked_path(path, who, what):
    """(path as str, bad(why) -> ValueError naming the file); FileNotFoundError if missing."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{who}: no such file {path!r}")

    def bad(why):
        return ValueError(f"{who}: cannot read {path!r}: the file is truncated, corrupt or not "
                          f"{what} ({why}).")
    return path, bad


def read_npz_headers(path, who='read_npz_headers'):
    """{key: ArraySpec} of an .npz from the .npy headers inside it, reading no array data.

    Cheap whatever the file claims (a zip bomb or a header announcing 80 GB costs a few
    bytes of reading). ValueError naming the file when it is not an .npz of plain numeric
    arrays, or when a header announces more (or less) data than its member holds.
    """
    path, bad = _checked_path(path, who, 'an .npz written by dezero')

    specs = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith('.npy'):
                    raise bad(f"member {info.filename!r} is not an .npy array")
                key = info.filename[:-4]
                with zf.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    if version == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
                    elif version == (2, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
                    else:
                        raise bad(f"{key!r} has .npy version {version}")
                    header_len = f.tell()
                if dtype.hasobject or dtype.kind not in 'biufcSU':
                    raise bad(f"{key!r} holds {dtype} data, not plain numbers")
                nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
                if header_len + nbytes != info.file_size:
                    raise bad(f"{key!r} announces shape {shape} {dtype} ({nbytes} bytes) but "
                              f"holds {info.file_size - header_len} bytes")
                specs[key] = ArraySpec(tuple(shape), dtype)
    except ValueError as e:
        if str(e).startswith(who):
            raise
        raise bad(f"{type(e).__name__}: {e}") from e
    except zipfile.BadZipFile as e:
        raise bad(f"it is not an .npz archive: {e}") from e
    except (OSError, EOFError, KeyError, RuntimeError) as e:
        raise bad(f"{type(e).__name__}: {e}") from e
    return specs


def _read_arrays(path, keys, who):
    """Arrays `keys` of an .npz whose headers were checked; ValueError for damaged data."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in keys}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise ValueError(
            f"{who}: cannot read {os.fspath(path)!r}: the file is truncated or corrupt "
            f"({type(e).__name__}: {e})") from e
