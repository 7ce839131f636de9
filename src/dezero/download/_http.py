"""urllib handlers whose connections keep get_file's deadline: a short connect timeout, then
reads that wait the per-read timeout."""
import http.client
import time
import urllib.request

_CONNECT_TIMEOUT = 5.0  # seconds to establish a connection (clipped to the timeout)


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
