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
import gzip
import hashlib
import http.client
import math
import os
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

from dezero.progress import progress_bar

__all__ = ['DownloadError', 'CorruptFileError', 'UnsafeArchiveError', 'cache_dir',
           'get_file', 'sha256_of', 'extract_archive']

_CHUNK = 1 << 16
_TIMEOUT = 30.0  # default seconds without data before a mirror is given up
_CONNECT_TIMEOUT = 5.0  # seconds to establish a connection (clipped to the timeout)
_TIMEOUT_ENV = 'DEZERO_DOWNLOAD_TIMEOUT'


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
    """An archive would write outside its target folder (absolute or '..' names, escaping
    links or link chains) or holds device files; nothing of it is extracted."""

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
# get_file
# ---------------------------------------------------------------------------
class _Deadline:
    """Connect / read timeouts for one get_file call, with its overall deadline."""

    def __init__(self, timeout):
        self.timeout = timeout
        self.end = time.monotonic() + timeout
        self.streaming = False  # once a response arrives, reads wait `timeout` each

    def left(self):
        return self.end - time.monotonic()

    def connect_timeout(self):
        return max(min(_CONNECT_TIMEOUT, self.timeout, self.left()), 0.01)

    def read_timeout(self):
        return self.timeout if self.streaming else max(min(self.timeout, self.left()), 0.01)


def _connection_class(base, deadline):
    """An http.client connection class whose connect() uses the short connect timeout."""

    class Connection(base):
        def connect(self):
            self.timeout = deadline.connect_timeout()
            super().connect()  # TCP (and TLS handshake for HTTPS) under the connect timeout
            self.timeout = deadline.read_timeout()
            self.sock.settimeout(self.timeout)
            deadline.sock = self.sock

    return Connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline):
        super().__init__()
        self._deadline = deadline

    def http_open(self, req):
        return self.do_open(_connection_class(http.client.HTTPConnection, self._deadline), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline):
        super().__init__()
        self._deadline = deadline

    def https_open(self, req):
        cls = _connection_class(http.client.HTTPSConnection, self._deadline)
        return self.do_open(cls, req, context=self._context)


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


# ---------------------------------------------------------------------------
# safe extraction
# ---------------------------------------------------------------------------
def _inside(base, target):
    base = os.path.realpath(base)
    target = os.path.realpath(target)
    return target == base or target.startswith(base + os.sep)


_MAX_LINK_HOPS = 40  # as the kernel's ELOOP limit


def _parts(name):
    return [p for p in name.replace('\\', '/').split('/') if p not in ('', '.')]


def _resolve(parts, links, where):
    """The path (a list of names under dest) that `parts` reaches once every symbolic link
    recorded in links ({'a/b': 'target'}) by earlier members is followed, as the OS would;
    UnsafeArchiveError when it climbs above dest or loops."""
    todo = list(reversed(parts))  # a stack: next name on top
    out = []
    hops = 0
    while todo:
        part = todo.pop()
        if part == '..':
            if not out:
                raise UnsafeArchiveError(f"{where} resolves, through the links before it, to a "
                                         "path outside the destination.")
            out.pop()
            continue
        out.append(part)
        target = links.get('/'.join(out))
        if target is not None:
            hops += 1
            if hops > _MAX_LINK_HOPS:
                raise UnsafeArchiveError(f"{where} goes through a loop of links.")
            out.pop()  # the link's target is relative to the folder holding it
            todo.extend(reversed(_parts(target)))
    return out


def _check_member(archive, member, dest, links):
    """Refuse a member that could write outside dest, given the links met so far (links is
    updated with this member when it is a symbolic link)."""
    name = member.name
    where = f"extract_archive: refusing {archive}: member {name!r}"
    if os.path.isabs(name) or name.startswith(('/', '\\')) or (len(name) > 1 and name[1] == ':'):
        raise UnsafeArchiveError(f"{where} has an absolute path.")
    if '..' in name.replace('\\', '/').split('/'):
        raise UnsafeArchiveError(f"{where} contains '..' and would write outside {dest}.")
    if not _inside(dest, os.path.join(dest, name)):
        raise UnsafeArchiveError(f"{where} would write outside {dest}.")
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise UnsafeArchiveError(f"{where} is a device, FIFO or other special file.")
    # Where the member really lands once the earlier links exist (a file written through a
    # link lands where the link points).
    parts = _parts(name)
    if member.issym():
        folder = _resolve(parts[:-1], links, where)
        link = member.linkname
        if not link or os.path.isabs(link) or (len(link) > 1 and link[1] == ':'):
            raise UnsafeArchiveError(f"{where} is a link to the absolute path {link!r}.")
        try:
            _resolve(folder + _parts(link), links, where)
        except UnsafeArchiveError:
            raise UnsafeArchiveError(f"{where} is a link to {link!r}, outside {dest} (once "
                                     "the links before it are followed).") from None
        links['/'.join(folder + parts[-1:])] = link
        return
    _resolve(parts, links, where)
    if member.islnk():
        link = member.linkname
        if not link or os.path.isabs(link) or (len(link) > 1 and link[1] == ':'):
            raise UnsafeArchiveError(f"{where} is a link to the absolute path {link!r}.")
        try:
            _resolve(_parts(link), links, where)
        except UnsafeArchiveError:
            raise UnsafeArchiveError(f"{where} is a link to {link!r}, outside {dest}.") from None


def extract_archive(path, dest=None):
    """Extract the tar archive at path (gzip/bz2/xz allowed) into dest (default: its folder).

    The whole archive is checked before anything is written: absolute paths, '..' parts,
    special files, and links or chains of links that lead outside dest (each member's
    final place is resolved with every earlier link applied) raise UnsafeArchiveError
    naming the member; tarfile's 'data' filter is also applied where Python has it.
    A damaged archive raises CorruptFileError. Returns dest.
    """
    dest = os.path.abspath(dest if dest is not None else os.path.dirname(os.path.abspath(path)))
    try:
        with tarfile.open(path, 'r:*') as tar:
            members = tar.getmembers()
            links = {}
            for m in members:
                _check_member(path, m, dest, links)
            for place, link in links.items():  # a later link may change where an earlier one leads
                where = f"extract_archive: refusing {path}: the link {place!r} -> {link!r}"
                _resolve(_parts(place)[:-1] + _parts(link), links, where)
            os.makedirs(dest, exist_ok=True)
            if hasattr(tarfile, 'data_filter'):
                tar.extractall(dest, members=members, filter='data')
            else:  # pragma: no cover - Python without extraction filters
                tar.extractall(dest, members=members)
    except UnsafeArchiveError:
        raise
    except getattr(tarfile, 'FilterError', UnsafeArchiveError) as e:
        raise UnsafeArchiveError(f"extract_archive: refusing {path}: {e}.") from e
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise CorruptFileError(f"extract_archive: {path} is not a readable tar archive ({e}); "
                               "delete it and run again to download it afresh.", path) from e
    return dest
