"""Downloads into the dezero cache folder, verified and atomic, and safe archive extraction.

The cache folder is `~/.dezero` (the book's) unless the environment variable
DEZERO_CACHE_DIR names another; it is read at every call. A download goes to a
temporary file in the cache folder and is renamed to its final name only once it
is complete (and its SHA-256 matches, when one is known), so an interrupted or bad
download never leaves a file that a later run would trust.
"""
import gzip
import hashlib
import http.client
import os
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

__all__ = ['DownloadError', 'CorruptFileError', 'UnsafeArchiveError', 'cache_dir',
           'get_file', 'sha256_of', 'extract_archive']

_CHUNK = 1 << 16
_TIMEOUT = 60.0  # seconds without data before a mirror is given up


class DownloadError(OSError):
    """No URL could deliver a file; the message names each URL tried and where to put it by hand."""

    def __init__(self, message, urls=(), path=None):
        super().__init__(message)
        self.urls = list(urls)
        self.path = path

    def __str__(self):
        return self.args[0]


class CorruptFileError(OSError):
    """A cached file is damaged (bad checksum, bad gzip, truncated data); the message names it."""

    def __init__(self, message, path=None):
        super().__init__(message)
        self.path = path

    def __str__(self):
        return self.args[0]


class UnsafeArchiveError(OSError):
    """An archive member would write outside the target folder (or is a link or device file)."""

    def __str__(self):
        return self.args[0]


def cache_dir():
    """The cache folder: $DEZERO_CACHE_DIR when set and non-empty, else ~/.dezero."""
    path = os.environ.get('DEZERO_CACHE_DIR')
    if not path:
        path = os.path.join(os.path.expanduser('~'), '.dezero')
    return os.path.abspath(os.path.expanduser(path))


def sha256_of(path):
    """Hex SHA-256 digest of the file at path."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def _file_name_from_url(url):
    name = os.path.basename(urllib.parse.urlsplit(url).path)
    return urllib.parse.unquote(name)


def _check_file_name(file_name, url):
    if (not isinstance(file_name, str) or not file_name or file_name in ('.', '..')
            or '/' in file_name or '\\' in file_name or '\0' in file_name):
        raise ValueError(
            f"get_file: cannot use {file_name!r} as the cached file name for {url!r}; pass "
            "file_name='something.ext' (a plain name, no folders).")


# ---------------------------------------------------------------------------
# progress bars
# ---------------------------------------------------------------------------
class _PlainBar:
    """A minimal text progress bar on stderr, used when tqdm is not installed."""

    def __init__(self, total, desc, stream=None):
        self.total, self.desc, self.n = total, desc, 0
        self.stream = stream if stream is not None else sys.stderr
        self._last = 0.0

    def update(self, n):
        self.n += n
        now = time.monotonic()
        if now - self._last >= 0.1:
            self._last = now
            self._draw()

    def _draw(self):
        mb = self.n / 2 ** 20
        if self.total:
            frac = min(self.n / self.total, 1.0)
            bar = '#' * int(frac * 30)
            total_mb = self.total / 2 ** 20
            text = f"\r{self.desc}: [{bar:<30}] {frac * 100:5.1f}% {mb:.1f}/{total_mb:.1f} MiB"
        else:
            text = f"\r{self.desc}: {mb:.1f} MiB"
        self.stream.write(text)
        self.stream.flush()

    def close(self):
        self._draw()
        self.stream.write('\n')
        self.stream.flush()


def _make_bar(total, desc, progress):
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _PlainBar(total, desc)
    return tqdm(total=total, desc=desc, unit='B', unit_scale=True, unit_divisor=1024,
                file=sys.stderr, leave=True)


# ---------------------------------------------------------------------------
# get_file
# ---------------------------------------------------------------------------
def _fetch(url, tmp, expect_sha256, desc, progress, timeout):
    """Stream url into the open binary file tmp; return None on success, else the reason."""
    req = urllib.request.Request(url, headers={'User-Agent': 'dezero (python urllib)'})
    h = hashlib.sha256()
    received = 0
    bar = None
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            length = resp.headers.get('Content-Length')
            total = int(length) if length and length.isdigit() else None
            bar = _make_bar(total, desc, progress)
            while True:
                chunk = resp.read(_CHUNK)
                if not chunk:
                    break
                tmp.write(chunk)
                h.update(chunk)
                received += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
    except urllib.error.HTTPError as e:
        e.close()
        return f"HTTP {e.code} {e.reason}"
    except urllib.error.URLError as e:
        return f"{type(e.reason).__name__}: {e.reason}" if isinstance(e.reason, BaseException) \
            else str(e.reason)
    except (OSError, http.client.HTTPException, ValueError) as e:
        return f"{type(e).__name__}: {e}"
    finally:
        if bar is not None:
            bar.close()
    # http.client does not raise when a server closes before Content-Length bytes arrive.
    if total is not None and received != total:
        return f"incomplete: connection closed after {received} of {total} bytes"
    if received == 0:
        return "empty response (0 bytes)"
    digest = h.hexdigest()
    if expect_sha256 and digest != expect_sha256:
        return f"SHA-256 mismatch: got {digest}, expected {expect_sha256}"
    return None


def _remove_stale_parts(folder, file_name, max_age=24 * 3600):
    # A killed process (SIGKILL, power loss) cannot clean up its temporary file; a day-old
    # one is certainly not a download in progress.
    prefix = f'.{file_name}.'
    now = time.time()
    for name in os.listdir(folder):
        if name.startswith(prefix) and name.endswith('.part'):
            p = os.path.join(folder, name)
            try:
                if now - os.path.getmtime(p) > max_age:
                    os.remove(p)
            except OSError:
                pass


def get_file(url, file_name=None, *, sha256=None, mirrors=(), progress=True, timeout=_TIMEOUT):
    """Return the local path of url's file in the cache folder, downloading it first if absent.

    file_name: the name in the cache folder (default: the last part of url's path).
    sha256: expected hex digest; checked on download and on an already cached file.
    mirrors: further URLs tried in order after url when it fails.
    progress: show a progress bar on stderr (tqdm when installed).
    Raises DownloadError (an OSError) naming every URL tried and the path where the file
    can be placed by hand, and CorruptFileError when a cached file fails its checksum.
    """
    urls = [url] + [m for m in (mirrors or ()) if m]
    if file_name is None:
        file_name = _file_name_from_url(url)
    _check_file_name(file_name, url)
    expect = sha256.lower() if sha256 else None
    if expect is not None and (len(expect) != 64 or set(expect) - set('0123456789abcdef')):
        raise ValueError(f"get_file: sha256 must be 64 hex digits, got {sha256!r}.")
    folder = cache_dir()
    path = os.path.join(folder, file_name)

    if os.path.exists(path):
        if expect:
            digest = sha256_of(path)
            if digest != expect:
                raise CorruptFileError(
                    f"get_file: the cached file {path} has SHA-256 {digest}, expected {expect}: it "
                    "is damaged or not the right file. Delete it and run again to download it "
                    "afresh.", path)
        return path

    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise DownloadError(
            f"get_file: cannot create the cache folder {folder} ({e}); set DEZERO_CACHE_DIR to a "
            "writable folder.", urls, path) from e

    _remove_stale_parts(folder, file_name)
    failures = []
    for u in urls:
        if progress:
            print(f"Downloading: {file_name} from {u}", file=sys.stderr)
        fd, tmp_path = tempfile.mkstemp(prefix=f'.{file_name}.', suffix='.part', dir=folder)
        done = False
        try:
            with os.fdopen(fd, 'wb') as tmp:
                reason = _fetch(u, tmp, expect, file_name, progress, timeout)
                if reason is None:
                    tmp.flush()
                    os.fsync(tmp.fileno())
            if reason is None:
                os.replace(tmp_path, path)
                done = True
                return path
            failures.append((u, reason))
        finally:
            if not done:  # also on KeyboardInterrupt: never leave a partial file behind
                try:
                    os.remove(tmp_path)
                except FileNotFoundError:
                    pass

    tried = '\n'.join(f"  {u}: {r}" for u, r in failures)
    raise DownloadError(
        f"get_file: could not download {file_name!r}. Tried:\n{tried}\n"
        f"If you are offline, fetch the file another way and place it at:\n  {path}\n"
        "(or set DEZERO_CACHE_DIR to the folder that holds it).", urls, path)


# ---------------------------------------------------------------------------
# safe extraction
# ---------------------------------------------------------------------------
def _inside(base, target):
    base = os.path.realpath(base)
    target = os.path.realpath(target)
    return target == base or target.startswith(base + os.sep)


def _check_member(archive, member, dest):
    name = member.name
    where = f"extract_archive: refusing {archive}: member {name!r}"
    if os.path.isabs(name) or name.startswith(('/', '\\')) or (len(name) > 1 and name[1] == ':'):
        raise UnsafeArchiveError(f"{where} has an absolute path.")
    if '..' in name.replace('\\', '/').split('/'):
        raise UnsafeArchiveError(f"{where} contains '..' and would write outside {dest}.")
    target = os.path.join(dest, name)
    if not _inside(dest, target):
        raise UnsafeArchiveError(f"{where} would write outside {dest}.")
    if member.issym() or member.islnk():
        link = member.linkname
        if os.path.isabs(link):
            raise UnsafeArchiveError(f"{where} is a link to the absolute path {link!r}.")
        base = os.path.dirname(target) if member.issym() else dest
        if not _inside(dest, os.path.join(base, link)):
            raise UnsafeArchiveError(f"{where} is a link to {link!r}, outside {dest}.")
    elif not (member.isfile() or member.isdir()):
        raise UnsafeArchiveError(f"{where} is a device, FIFO or other special file.")


def extract_archive(path, dest=None):
    """Extract the tar archive at path (gzip/bz2/xz allowed) into dest (default: its folder).

    Every member is checked before anything is written: absolute paths, '..' parts and
    links pointing outside dest raise UnsafeArchiveError; tarfile's 'data' filter is also
    applied where Python has it. Returns dest.
    """
    dest = os.path.abspath(dest if dest is not None else os.path.dirname(os.path.abspath(path)))
    try:
        with tarfile.open(path, 'r:*') as tar:
            members = tar.getmembers()
            for m in members:
                _check_member(path, m, dest)
            os.makedirs(dest, exist_ok=True)
            if hasattr(tarfile, 'data_filter'):
                tar.extractall(dest, members=members, filter='data')
            else:  # pragma: no cover - Python without extraction filters
                tar.extractall(dest, members=members)
    except UnsafeArchiveError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise CorruptFileError(f"extract_archive: {path} is not a readable tar archive ({e}); "
                               "delete it and run again to download it afresh.", path) from e
    return dest
