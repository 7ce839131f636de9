"""The errors of downloading and unpacking: DownloadError, CorruptFileError, UnsafeArchiveError."""


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
