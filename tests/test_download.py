"""dezero.download: cache folder, atomic verified downloads (file:// and loopback HTTP), safe tars.

No test touches the network: every URL is file:// or http://127.0.0.1.
"""
import hashlib
import http.server
import io
import os
import socket
import sys
import tarfile
import threading

import pytest

import dezero
from dezero import download
from dezero.download import (
    CorruptFileError,
    DownloadError,
    UnsafeArchiveError,
    extract_archive,
    get_file,
)

PAYLOAD = bytes(range(256)) * 400  # 102400 bytes: several read chunks


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / 'cache'
    monkeypatch.setenv('DEZERO_CACHE_DIR', str(d))
    return d


class _Handler(http.server.BaseHTTPRequestHandler):
    hits = []

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        self.hits.append(self.path)
        if self.path.startswith('/good'):
            self.send_response(200)
            self.send_header('Content-Length', str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        elif self.path.startswith('/truncated'):
            self.send_response(200)
            self.send_header('Content-Length', str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[:len(PAYLOAD) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif self.path.startswith('/nolength'):  # no Content-Length, closes after half
            self.send_response(200)
            self.end_headers()
            self.wfile.write(PAYLOAD[:len(PAYLOAD) // 2])
            self.wfile.flush()
            self.close_connection = True
        else:
            self.send_error(404, 'Not Found')


@pytest.fixture
def server():
    _Handler.hits = []
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{srv.server_address[1]}'
    finally:
        srv.shutdown()
        srv.server_close()


def _closed_port_url():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connection refused
    return f'http://127.0.0.1:{port}/file.bin'


@pytest.fixture
def silent_server():
    """A loopback port that accepts connections (the kernel's backlog) and never answers."""
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    s.listen(8)
    try:
        yield f'http://127.0.0.1:{s.getsockname()[1]}'
    finally:
        s.close()


def _files(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def test_utils_reexports_get_file():
    assert dezero.utils.get_file is download.get_file


def test_cache_dir_reads_env_at_call_time(tmp_path, monkeypatch):
    monkeypatch.setenv('DEZERO_CACHE_DIR', str(tmp_path / 'a'))
    assert download.cache_dir() == str(tmp_path / 'a')
    monkeypatch.setenv('DEZERO_CACHE_DIR', str(tmp_path / 'b'))
    assert download.cache_dir() == str(tmp_path / 'b')
    monkeypatch.delenv('DEZERO_CACHE_DIR')
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    assert download.cache_dir() == str(tmp_path / 'home' / '.dezero')


def test_file_url_download_lands_and_is_verified(cache, tmp_path):
    src = tmp_path / 'src.bin'
    src.write_bytes(PAYLOAD)
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    path = get_file(src.as_uri(), sha256=digest, progress=False)
    assert path == str(cache / 'src.bin')
    assert open(path, 'rb').read() == PAYLOAD
    assert _files(cache) == ['src.bin']  # no temporary file left


def test_http_download_lands_atomically_then_uses_cache(cache, server, capsys):
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    path = get_file(server + '/good/data.bin', sha256=digest)
    assert open(path, 'rb').read() == PAYLOAD
    assert _files(cache) == ['data.bin']
    assert 'data.bin' in capsys.readouterr().err  # progress went to stderr
    n = len(_Handler.hits)
    assert get_file(server + '/good/data.bin', sha256=digest) == path
    assert len(_Handler.hits) == n  # served from the cache


def test_file_name_overrides_url_name(cache, server):
    path = get_file(server + '/good/x?token=1', file_name='renamed.bin', progress=False)
    assert os.path.basename(path) == 'renamed.bin'


def test_interrupted_download_leaves_nothing_and_says_why(cache, server):
    url = server + '/truncated/data.bin'
    with pytest.raises(DownloadError, match=r'(?s)incomplete.*place it at') as e:
        get_file(url, progress=False)
    msg = str(e.value)
    assert url in msg and str(cache / 'data.bin') in msg
    assert e.value.path == str(cache / 'data.bin') and e.value.urls == [url]
    assert _files(cache) == []


def test_checksum_mismatch_raises_and_deletes(cache, server):
    with pytest.raises(DownloadError, match='SHA-256 mismatch'):
        get_file(server + '/good/data.bin', sha256='0' * 64, progress=False)
    assert _files(cache) == []


def test_mirrors_tried_in_order(cache, server):
    path = get_file(server + '/missing/data.bin', mirrors=[server + '/good/data.bin'],
                    progress=False)
    assert open(path, 'rb').read() == PAYLOAD
    assert _Handler.hits == ['/missing/data.bin', '/good/data.bin']


def test_offline_error_names_every_url_and_the_manual_path(cache, server):
    urls = [_closed_port_url(), server + '/missing/file.bin']
    with pytest.raises(DownloadError) as e:
        get_file(urls[0], mirrors=urls[1:], progress=False)
    msg = str(e.value)
    assert all(u in msg for u in urls)
    assert 'HTTP 404' in msg
    assert str(cache / 'file.bin') in msg
    assert isinstance(e.value, OSError)
    assert _files(cache) == []


def test_interrupt_by_keyboard_removes_temporary_file(cache, server, monkeypatch):
    def fetch(url, tmp, *args):
        tmp.write(b'partial')
        raise KeyboardInterrupt
    monkeypatch.setattr(download, '_fetch', fetch)
    with pytest.raises(KeyboardInterrupt):
        get_file(server + '/good/data.bin', progress=False)
    assert _files(cache) == []


def test_corrupt_cached_file_is_reported_by_name(cache):
    cache.mkdir()
    (cache / 'data.bin').write_bytes(b'not the file')
    with pytest.raises(CorruptFileError, match=r'data\.bin has SHA-256 .* expected 0{64}'):
        get_file('http://127.0.0.1:9/data.bin', sha256='0' * 64, progress=False)


def test_bad_file_name_is_a_value_error(cache):
    with pytest.raises(ValueError, match='file_name='):
        get_file('http://127.0.0.1:9/folder/')
    with pytest.raises(ValueError, match='plain name'):
        get_file('http://127.0.0.1:9/x', file_name='../evil')


def test_plain_progress_bar_without_tqdm(cache, server, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, 'tqdm', None)
    monkeypatch.setitem(sys.modules, 'tqdm.auto', None)
    get_file(server + '/good/data.bin')
    err = capsys.readouterr().err
    assert '100.0%' in err and 'data.bin' in err


def test_tqdm_progress_bar_when_installed(cache, server, capsys):
    pytest.importorskip('tqdm')
    get_file(server + '/good/data.bin')
    assert '100%' in capsys.readouterr().err


# ---------------------------------------------------------------------------
# extract_archive
# ---------------------------------------------------------------------------
def _tar(path, entries):
    """entries: list of (TarInfo, bytes or None)."""
    with tarfile.open(path, 'w:gz') as tar:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


def _file(name, data=b'x'):
    return tarfile.TarInfo(name), data


def _link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def test_extract_archive_extracts_a_safe_tar(tmp_path):
    arc = _tar(tmp_path / 'ok.tar.gz', [_file('d/a.txt', b'hello'), _link('d/b', 'a.txt')])
    out = extract_archive(str(arc), str(tmp_path / 'out'))
    assert (tmp_path / 'out' / 'd' / 'a.txt').read_bytes() == b'hello'
    assert out == str(tmp_path / 'out')


@pytest.mark.parametrize('entries, why', [
    ([_file('ok.txt'), _file('../evil.txt')], r"'\.\./evil\.txt' contains '\.\.'"),
    ([_file('d/../../evil.txt')], "contains '..'"),
    ([_file('/tmp/evil.txt')], 'absolute path'),
    ([_link('lnk', '../../etc/passwd')], 'outside'),
    ([_link('lnk', '/etc/passwd')], 'absolute path'),
    ([_link('hard', '../x', tarfile.LNKTYPE)], 'outside'),
    ([(tarfile.TarInfo('fifo'), None)], 'special file'),
])
def test_extract_archive_refuses_members_that_escape(tmp_path, entries, why):
    if entries[0][0].name == 'fifo':
        entries[0][0].type = tarfile.FIFOTYPE
    arc = _tar(tmp_path / 'bad.tar.gz', entries)
    out = tmp_path / 'out'
    with pytest.raises(UnsafeArchiveError, match=why):
        extract_archive(str(arc), str(out))
    assert _files(out) == []  # checked before anything was written
    assert not (tmp_path / 'evil.txt').exists()


def test_extract_archive_reports_a_corrupt_archive(tmp_path):
    arc = tmp_path / 'bad.tar.gz'
    arc.write_bytes(b'\x1f\x8b garbage')
    with pytest.raises(CorruptFileError, match=r'bad\.tar\.gz is not a readable tar archive'):
        extract_archive(str(arc), str(tmp_path / 'out'))


def test_stale_temporary_files_are_cleaned_up(cache, server):
    cache.mkdir()
    old, fresh = cache / '.data.bin.abc.part', cache / '.data.bin.def.part'
    old.write_bytes(b'left by a killed process')
    fresh.write_bytes(b'another download in progress')
    os.utime(old, (0, 0))
    get_file(server + '/good/data.bin', progress=False)
    assert _files(cache) == ['.data.bin.def.part', 'data.bin']


def test_malformed_sha256_is_a_value_error(cache):
    with pytest.raises(ValueError, match="get_file: sha256 must be 64 hex digits, got 'abc'"):
        get_file('http://127.0.0.1:9/x.bin', sha256='abc')


def _dir(name):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info, None


# Each link is judged on its own as pointing inside; only together do they escape.
_CHAIN = [_dir('d'), _link('d/l1', '..'), _link('l2', 'd/l1/../..'),
          _file('l2/ESCAPED.txt', b'owned')]


@pytest.mark.parametrize('with_filter', [True, False], ids=['data-filter', 'no-filter'])
def test_extract_archive_refuses_a_symlink_chain_before_writing(tmp_path, monkeypatch,
                                                                 with_filter):
    if not with_filter:  # as on Python 3.10.0-3.10.11 / 3.11.0-3.11.3: our own check alone
        monkeypatch.delattr(tarfile, 'data_filter', raising=False)
    arc = _tar(tmp_path / 'chain.tar.gz', _CHAIN)
    out = tmp_path / 'a' / 'out'
    with pytest.raises(UnsafeArchiveError, match=r"'l2'.*outside") as e:
        extract_archive(str(arc), str(out))
    assert not isinstance(e.value, CorruptFileError)
    assert 'download afresh' not in str(e.value)
    assert not out.exists()  # refused before anything was written
    assert not list(tmp_path.rglob('ESCAPED.txt'))


@pytest.mark.parametrize('entries, why', [
    # a file written through a link that a later member makes escape
    ([_link('a', 'b/x'), _link('b', '.'), _link('b/x', '..')], 'outside'),
    # a link to a link to the parent
    ([_link('up', '..'), _file('up/evil.txt')], 'outside'),
    ([_dir('d'), _link('d/up', '..'), _link('d/up2', 'up/..'), _file('d/up2/evil.txt')],
     'outside'),
    # a loop of links
    ([_link('p', 'q'), _link('q', 'p'), _file('p/x')], 'loop'),
    # a hard link through a symlink that leaves dest
    ([_dir('d'), _link('d/l1', '..'), _link('h', 'd/l1/../x', tarfile.LNKTYPE)], 'outside'),
])
def test_extract_archive_resolves_links_met_earlier(tmp_path, entries, why):
    arc = _tar(tmp_path / 'bad.tar.gz', entries)
    out = tmp_path / 'a' / 'out'
    with pytest.raises(UnsafeArchiveError, match=why):
        extract_archive(str(arc), str(out))
    assert not out.exists()


def test_extract_archive_writes_through_a_link_that_stays_inside(tmp_path):
    arc = _tar(tmp_path / 'ok.tar.gz', [_dir('sub'), _link('ln', 'sub'), _link('sub/up', '..'),
                                        _file('ln/f.txt', b'data'), _file('sub/up/g.txt', b'g')])
    out = tmp_path / 'out'
    extract_archive(str(arc), str(out))
    assert (out / 'sub' / 'f.txt').read_bytes() == b'data'
    assert (out / 'g.txt').read_bytes() == b'g'


# ---------------------------------------------------------------------------
# timeouts, truncation without Content-Length, MD5
# ---------------------------------------------------------------------------
def test_silent_server_fails_within_the_overall_deadline(cache, silent_server):
    import time
    urls = [silent_server + f'/m{i}/data.bin' for i in range(5)]
    start = time.monotonic()
    with pytest.raises(DownloadError, match='timed out') as e:
        get_file(urls[0], mirrors=urls[1:], progress=False, timeout=0.4)
    assert time.monotonic() - start < 1.5  # one deadline, not five timeouts (2 s)
    assert all(u in str(e.value) for u in urls)
    assert _files(cache) == []


def test_timeout_comes_from_the_environment(cache, silent_server, monkeypatch):
    import time
    monkeypatch.setenv('DEZERO_DOWNLOAD_TIMEOUT', '0.3')
    start = time.monotonic()
    with pytest.raises(DownloadError, match='timed out'):
        get_file(silent_server + '/data.bin', progress=False)
    assert time.monotonic() - start < 2.0


@pytest.mark.parametrize('env, arg', [('abc', None), ('-1', None), ('inf', None),
                                      (None, 0), (None, float('nan')), (None, '5')])
def test_bad_timeout_is_a_value_error(cache, monkeypatch, env, arg):
    if env is not None:
        monkeypatch.setenv('DEZERO_DOWNLOAD_TIMEOUT', env)
    with pytest.raises(ValueError, match='positive number of seconds'):
        get_file('http://127.0.0.1:9/x.bin', progress=False, timeout=arg)


def test_connecting_waits_a_few_seconds_only(cache, monkeypatch):
    seen = []

    def create_connection(address, timeout=None, *args, **kwargs):
        seen.append(timeout)
        raise TimeoutError('timed out')
    monkeypatch.setattr(socket, 'create_connection', create_connection)
    with pytest.raises(DownloadError, match='timed out'):
        get_file('http://127.0.0.1:9/x.bin', progress=False, timeout=120)
    assert seen and all(0 < t <= 5 for t in seen)


def test_early_close_without_content_length_leaves_no_file(cache, server):
    with pytest.raises(DownloadError, match='without a Content-Length'):
        get_file(server + '/nolength/data.bin', progress=False)
    assert _files(cache) == []


def test_early_close_without_content_length_fails_the_digest(cache, server):
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    with pytest.raises(DownloadError, match='MD5 mismatch'):
        get_file(server + '/nolength/data.bin', md5=md5, progress=False)
    assert _files(cache) == []


def test_md5_is_checked_on_download_and_on_the_cached_file(cache, server):
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    path = get_file(server + '/good/data.bin', md5=md5, progress=False)
    with open(path, 'rb') as f:
        assert f.read() == PAYLOAD
    with pytest.raises(CorruptFileError, match=r'has MD5 .* expected 0{32}'):
        get_file(server + '/good/data.bin', md5='0' * 32, progress=False)
    # check_cached=False: digests only guard the download (datasets, whose test fixtures
    # are hand-made files)
    assert get_file(server + '/good/data.bin', md5='0' * 32, progress=False,
                    check_cached=False) == path
    with pytest.raises(ValueError, match='md5 must be 32 hex digits'):
        get_file(server + '/good/data.bin', md5='abc')
