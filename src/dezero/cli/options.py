"""The argument parser, types and checks shared by `python -m dezero` and the example scripts.

Each type raises argparse.ArgumentTypeError (or the check calls parser.error), and
ArgumentParser reports it as one line on stderr with exit status 2, before any download
or training starts.
"""
import argparse
import math

SEED_MAX = 2 ** 32 - 1  # NumPy's legacy seeding range


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: `prog: error: message (see prog --help)`, exit 2.

    argparse's own error() prints the whole usage block first; a bad option is easier
    to spot on one line, and --help still shows the usage. Subcommand parsers made
    with add_subparsers() are of this class too.
    """

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} "
                     f"(see {self.prog} --help)\n")


def is_positive_int(value):
    """Whether a value read from a run's JSON is an int greater than 0 (bool excluded)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def is_size_list(value):
    """Whether a value read from a run's JSON is a non-empty list of positive ints."""
    return isinstance(value, list) and bool(value) and all(map(is_positive_int, value))


def positive(kind):
    """An argparse type: a finite number of `kind` (int or float) greater than 0."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not (value > 0 and math.isfinite(value)):  # also refuses nan and inf
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return value
    parse.__name__ = f'positive_{kind.__name__}'
    return parse


positive_int = positive(int)
positive_float = positive(float)


def non_negative_int(text):
    """An argparse type: an integer >= 0 (a count that may be zero, like a derivative order)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def seed(text):
    """An argparse type: an integer seed from 0 to 2**32 - 1 (what np.random.seed takes)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to {SEED_MAX}, got {text!r}")
    return value


def check_gpu(parser, args):
    """With --gpu, stop with a one-line usage error unless CuPy and a CUDA GPU are there."""
    if getattr(args, 'gpu', False):
        from dezero import cuda
        try:
            cuda.require_cupy()
        except RuntimeError as e:
            parser.error(f"--gpu: {e}")
