"""Downloads into the dezero cache folder, verified and atomic, and safe archive extraction.

The cache folder is `~/.dezero` (the book's) unless the environment variable
DEZERO_CACHE_DIR names another; it is read at every call. A download goes to a
temporary file in the cache folder and is renamed to its final name only once it
is complete (and its SHA-256 / MD5 match, when known), so an interrupted or bad
download never leaves a file that a later run would trust.

Timeouts: connecting to a server may take at most a few seconds (_CONNECT_TIMEOUT);
waiting for data may take `timeout` seconds per read (argument, else the environment
variable DEZERO_DOWNLOAD_TIMEOUT, else 30 s); and no mirror is tried, nor a response
awaited, once `timeout` seconds have passed since get_file started without any mirror
delivering data, so a network that drops packets fails in about `timeout` seconds in all.
"""
import hashlib
import math
import os
import sys
import tempfile
import time
import urllib.parse

# The helpers of archives (and, on first use, of _http) are re-exported for code written
# before the split. http.client and urllib.request load only when a download starts:
# they are a tenth of `import dezero`'s time.
from dezero.download.archives import (
    _MAX_LINK_HOPS, _check_member, _inside, _parts, _resolve, extract_archive)
from dezero.download.errors import CorruptFileError, DownloadError, UnsafeArchiveError
from dezero.progress import progress_bar

_HTTP_NAMES = ('_CONNECT_TIMEOUT', '_connection_class', '_Deadline', '_HTTPHandler',
               '_HTTPSHandler')


def __getattr__(name):  # PEP 562: the _http helpers, imported on first use
    if name in _HTTP_NAMES:
        from dezero.download import _http
        return getattr(_http, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ['DownloadError', 'CorruptFileError', 'UnsafeArchiveError', 'cache_dir',
           'get_file', 'sha256_of', 'extract_archive']

_CHUNK = 1 << 16
_TIMEOUT = 30.0  # default seconds without data before a mirror is given up
_TIMEOUT_ENV = 'DEZERO_DOWNLOAD_TIMEOUT'


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
# get_file
# ---------------------------------------------------------------------------
def _resolve_timeout(timeout):
    source = 'timeout'
    if timeout is None:
        env = os.environ.get(_TIMEOUT_ENV)
        if not env:
            return _TIMEOUT
        source = f'the environment variable {_TIMEOUT_ENV}'
        try:
            timeout = float(env)
        except ValueError:
            timeout = env
    if (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
            or not math.isfinite(timeout) or timeout <= 0):
        raise ValueError(f"get_file: {source} must be a positive number of seconds, got "
                         f"{timeout!r}; e.g. {_TIMEOUT_ENV}=60.")
    return float(timeout)


def _check_digest(value, name, size):
    if value is None:
        return None
    expect = value.lower() if isinstance(value, str) else value
    if not isinstance(expect, str) or len(expect) != size or set(expect) - set('0123456789abcdef'):
        raise ValueError(f"get_file: {name} must be {size} hex digits, got {value!r}.")
    return expect


def _digests_of(path):
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            sha.update(chunk)
            md5.update(chunk)
    return {'SHA-256': sha.hexdigest(), 'MD5': md5.hexdigest()}


def _fetch(url, tmp, expect, desc, progress, deadline):
    """Stream url into the open binary file tmp; return None on success, else the reason.

    expect: {'SHA-256': hex or None, 'MD5': hex or None}.
    """
    import http.client
    import urllib.error
    import urllib.request

    from dezero.download._http import _HTTPHandler, _HTTPSHandler
    req = urllib.request.Request(url, headers={'User-Agent': 'dezero (python urllib)'})
    hashes = {'SHA-256': hashlib.sha256(), 'MD5': hashlib.md5(usedforsecurity=False)}
    received = 0
    total = None
    delimited = True  # the response says where it ends (Content-Length or chunked)
    bar = None
    opener = urllib.request.build_opener(_HTTPHandler(deadline), _HTTPSHandler(deadline))
    deadline.streaming = False
    deadline.sock = None
    if deadline.left() <= 0:
        return f"not tried: the overall deadline of {deadline.timeout:g} s had passed"
    started = None
    try:
        with opener.open(req, timeout=deadline.read_timeout()) as resp:
            deadline.streaming = True
            started = time.monotonic()
            if deadline.sock is not None:
                deadline.sock.settimeout(deadline.timeout)
            length = resp.headers.get('Content-Length')
            total = int(length) if length and length.isdigit() else None
            if total is None and isinstance(resp, http.client.HTTPResponse) and not resp.chunked:
                delimited = False
            bar = progress_bar(total, desc, progress, unit='B')
            while True:
                chunk = resp.read(_CHUNK)
                if not chunk:
                    break
                tmp.write(chunk)
                for h in hashes.values():
                    h.update(chunk)
                received += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
    except urllib.error.HTTPError as e:
        e.close()
        return f"HTTP {e.code} {e.reason}"
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, TimeoutError):
            return f"timed out after {deadline.connect_timeout():g} s connecting or " \
                   f"{deadline.timeout:g} s waiting (set {_TIMEOUT_ENV} or timeout=)"
        return f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) \
            else str(reason)
    except TimeoutError:
        return f"timed out: no data for {deadline.timeout:g} s (set {_TIMEOUT_ENV} or timeout=)"
    except (OSError, http.client.HTTPException, ValueError) as e:
        return f"{type(e).__name__}: {e}"
    finally:
        if started is not None:  # time spent receiving data does not count against the deadline
            deadline.end += time.monotonic() - started
            deadline.streaming = False
        if bar is not None:
            bar.close()
    # http.client does not raise when a server closes before Content-Length bytes arrive.
    if total is not None and received != total:
        return f"incomplete: connection closed after {received} of {total} bytes"
    if received == 0:
        return "empty response (0 bytes)"
    for name, want in expect.items():
        got = hashes[name].hexdigest()
        if want and got != want:
            return f"{name} mismatch: got {got}, expected {want}"
    if not delimited and not any(expect.values()):
        return (f"incomplete or not: the server sent {received} bytes without a Content-Length, "
                "so a cut connection cannot be told from the end of the file; pass sha256= "
                "or md5= to check it")
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


def get_file(url, file_name=None, *, sha256=None, md5=None, mirrors=(), progress=True,
             timeout=None, check_cached=True):
    """Return the local path of url's file in the cache folder, downloading it first if absent.

    file_name: the name in the cache folder (default: the last part of url's path).
    sha256, md5: expected hex digests, checked on download (and on an already cached
    file when check_cached is true).
    mirrors: further URLs tried in order after url when it fails.
    progress: show a progress bar on stderr (tqdm when installed).
    timeout: seconds to wait for data (default: $DEZERO_DOWNLOAD_TIMEOUT, else 30); it is
    also the overall deadline for reaching a mirror that delivers, and connecting takes at
    most 5 s. A response without Content-Length is accepted only when a digest checks it.
    Raises DownloadError (an OSError) naming every URL tried and the path where the file
    can be placed by hand, and CorruptFileError when a cached file fails its checksum.
    """
    urls = [url] + [m for m in (mirrors or ()) if m]
    if file_name is None:
        file_name = _file_name_from_url(url)
    _check_file_name(file_name, url)
    expect = {'SHA-256': _check_digest(sha256, 'sha256', 64),
              'MD5': _check_digest(md5, 'md5', 32)}
    timeout = _resolve_timeout(timeout)
    folder = cache_dir()
    path = os.path.join(folder, file_name)

    if os.path.exists(path):
        if check_cached and any(expect.values()):
            got = _digests_of(path)
            for name, want in expect.items():
                if want and got[name] != want:
                    raise CorruptFileError(
                        f"get_file: the cached file {path} has {name} {got[name]}, expected "
                        f"{want}: it is damaged or not the right file. Delete it and run again "
                        "to download it afresh.", path)
        return path

    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise DownloadError(
            f"get_file: cannot create the cache folder {folder} ({e}); set DEZERO_CACHE_DIR to a "
            "writable folder.", urls, path) from e

    _remove_stale_parts(folder, file_name)
    from dezero.download._http import _Deadline
    deadline = _Deadline(timeout)
    failures = []
    for u in urls:
        if progress:
            print(f"Downloading: {file_name} from {u}", file=sys.stderr)
        fd, tmp_path = tempfile.mkstemp(prefix=f'.{file_name}.', suffix='.part', dir=folder)
        done = False
        try:
            with os.fdopen(fd, 'wb') as tmp:
                reason = _fetch(u, tmp, expect, file_name, progress, deadline)
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
