"""Progress bars for downloads, fit() and the CLI: tqdm when installed, else a plain text bar.

`progress_bar(total, desc, enabled)` returns an object with update(n), set_postfix_str(text)
and close(): a tqdm bar, the plain fallback (one line, redrawn in place on a terminal,
written once when done elsewhere), or a silent one when disabled.
"""
import sys
import time


class _PlainBar:
    """The fallback when tqdm is missing.

    unit='B' shows bytes ("desc: [###   ]  42.0% 1.2/3.0 MiB"); otherwise steps
    ("desc [####....] 3/8 postfix").
    """

    def __init__(self, total, desc, file=None, unit=''):
        self.total, self.desc, self.n, self.postfix, self.unit = total, desc, 0, '', unit
        self.file = sys.stderr if file is None else file
        self.tty = hasattr(self.file, 'isatty') and self.file.isatty()
        self._last = 0.0

    def update(self, n=1):
        self.n += n
        if self.tty:
            now = time.perf_counter()
            if now - self._last > 0.1:
                self._last = now
                self._draw('\r')

    def set_postfix_str(self, text, refresh=True):
        self.postfix = text

    def _text(self):
        total = self.total
        if self.unit == 'B':
            mb = self.n / 2 ** 20
            if not total:
                return f"{self.desc}: {mb:.1f} MiB"
            frac = min(self.n / total, 1.0)
            bar = '#' * int(frac * 30)
            return (f"{self.desc}: [{bar:<30}] {frac * 100:5.1f}% {mb:.1f}/"
                    f"{total / 2 ** 20:.1f} MiB")
        if total:
            filled = int(20 * min(self.n, total) / total)
            bar = f' [{"#" * filled}{"." * (20 - filled)}] {self.n}/{total}'
        else:
            bar = f' {self.n}'
        return f'{self.desc}{bar} {self.postfix}'

    def _draw(self, start, end=''):
        self.file.write(start + self._text() + end)
        self.file.flush()

    def close(self):
        self._draw('\r' if self.tty else '', '\n')


class _NoBar:
    """A bar that shows nothing (progress turned off)."""

    def update(self, n=1):
        pass

    def set_postfix_str(self, text, refresh=True):
        pass

    def close(self):
        pass


def progress_bar(total, desc, enabled=True, unit='batch'):
    """A progress bar over `total` steps (None when unknown) on stderr.

    unit='B' counts bytes (downloads: tqdm.auto with binary prefixes); any other unit
    counts steps (fit's batches). The returned object has update(n),
    set_postfix_str(text) and close().
    """
    if not enabled:
        return _NoBar()
    try:
        if unit == 'B':
            from tqdm.auto import tqdm
        else:
            from tqdm import tqdm
    except ImportError:
        return _PlainBar(total, desc, unit=unit)
    if unit == 'B':
        return tqdm(total=total, desc=desc, unit='B', unit_scale=True, unit_divisor=1024,
                    file=sys.stderr, leave=True)
    return tqdm(total=total, desc=desc, unit=unit, leave=True, dynamic_ncols=True)
