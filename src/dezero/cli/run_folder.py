"""The run folder of `python -m dezero train`: its file names, reading and checking its
config.json and history, creating a new folder and removing an unfinished one."""
import contextlib
import json
import math
import os
import time

from dezero.cli import data, nets
from dezero.cli.options import SEED_MAX, is_positive_int, is_size_list

CONFIG = 'config.json'
WEIGHTS = 'model.npz'
OPTIMIZER_STATE = 'optimizer.npz'
HISTORY_CSV, HISTORY_JSON, HISTORY_PNG = 'history.csv', 'history.json', 'history.png'


class UsageError(Exception):
    """A bad combination of options: reported like argparse's errors (exit code 2)."""


class RunFileError(Exception):
    """A run folder's file is missing, damaged or of another model: one line, exit code 1."""


_CONFIG_CHECKS = {  # key -> (test, what it must be)
    'dataset': (lambda v: v in data.DATASETS, f"one of {list(data.DATASETS)}"),
    'model': (lambda v: v in nets.MODELS, f"one of {list(nets.MODELS)}"),
    'optimizer': (lambda v: v in nets.OPTIMIZERS, f"one of {list(nets.OPTIMIZERS)}"),
    'hidden': (is_size_list, "a list of positive integers"),
    'lr': (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
           and math.isfinite(v) and v > 0, "a finite positive number"),
    'batch_size': (is_positive_int, "a positive integer"),
    'epochs': (is_positive_int, "a positive integer"),
    'seed': (lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= SEED_MAX,
             f"an integer from 0 to {SEED_MAX}"),
}


def read_config(run_dir, option='--resume'):
    """The checked config.json of a run folder; RunFileError naming what is wrong."""
    path = os.path.join(run_dir, CONFIG)
    try:
        with open(path, encoding='utf-8') as f:
            config = json.load(f)
    except FileNotFoundError:
        raise UsageError(f"{option}: {run_dir} has no {CONFIG}; pass a run folder written "
                         "by python -m dezero train") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise RunFileError(f"{option}: {path} is damaged ({type(e).__name__}: {e}); restore it "
                           "or start a new run") from None
    if not isinstance(config, dict):
        raise RunFileError(f"{option}: {path} holds a {type(config).__name__}, not a run's "
                           "settings; restore it or start a new run")
    for key, (ok, what) in _CONFIG_CHECKS.items():
        if key not in config:
            raise RunFileError(f"{option}: {path} lacks {key!r}; restore it or start a new run")
        if not ok(config[key]):
            raise RunFileError(f"{option}: {path} has {key} = {config[key]!r}, not {what}; "
                               "restore it or start a new run")
    return config


def _first_missing(path):
    """The outermost folder that os.makedirs(path) would create, or None if path exists."""
    path = os.path.abspath(path)
    missing = None
    while not os.path.exists(path):
        missing, path = path, os.path.dirname(path)
    return missing


def _new_run_dir(out):
    """(folder, the outermost folder this call created or None) for a new run."""
    if out is not None:
        if os.path.exists(out) and not os.path.isdir(out):
            raise UsageError(f"--out {out} is a file; name a folder for the run")
        if os.path.exists(os.path.join(out, CONFIG)):
            raise UsageError(f"--out {out} already holds a run; continue it with --resume {out} "
                             "or choose another folder")
        created = _first_missing(out)
        try:
            os.makedirs(out, exist_ok=True)
        except OSError as e:
            raise UsageError(f"--out {out}: cannot create the run folder ({e.strerror}); choose "
                             "a writable place") from None
        if not os.access(out, os.W_OK):
            raise UsageError(f"--out {out} is not writable; choose a writable place")
        return out, created
    base = os.path.join('runs', time.strftime('%Y%m%d-%H%M%S'))
    for k in range(1000):
        path = base if k == 0 else f'{base}-{k}'
        created = _first_missing(path)  # runs/ too, the first time
        try:
            os.makedirs(path)
            return path, created
        except FileExistsError:
            continue
        except OSError as e:
            raise UsageError(f"cannot create the run folder {path} ({e.strerror}); choose a "
                             "writable place with --out") from None
    raise UsageError(f"cannot find a free run folder name next to {base}; use --out")


def _save_histories(run_dir, history):
    from dezero.training import save_history
    save_history(history, os.path.join(run_dir, HISTORY_CSV))
    save_history(history, os.path.join(run_dir, HISTORY_JSON))


def _plot(run_dir, history):
    from dezero.training import plot_history
    if not history:
        return None
    try:
        return plot_history(history, os.path.join(run_dir, HISTORY_PNG))
    except ImportError:
        print("skipped the plot: Matplotlib is not installed (pip install 'dezero[plot]')")
        return None


def _resumed_history(run_dir):
    from dezero.training import load_history
    path = os.path.join(run_dir, HISTORY_JSON)
    if not os.path.exists(path):
        return []
    try:
        history = load_history(path)
        epochs = [r['epoch'] for r in history]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise RunFileError(f"--resume: {path} is damaged ({type(e).__name__}: {e}); restore it "
                           "or start a new run") from None
    if epochs != list(range(1, len(epochs) + 1)):
        raise RunFileError(f"--resume: {path} holds epochs {epochs}, not 1, 2, ...; restore it "
                           "or start a new run")
    return history


def _discard_new_run(run_dir, created):
    """Remove what a new run wrote before its first checkpoint, and the folders it created.

    That is config.json only (_new_run_dir made sure it was not there before), so a
    folder given with --out keeps whatever else it held; `created` is the outermost
    folder _new_run_dir made (None: none), removed with those inside it while empty.
    """
    with contextlib.suppress(OSError):
        os.remove(os.path.join(run_dir, CONFIG))
    folder = os.path.abspath(run_dir)
    while created is not None and (folder == created or folder.startswith(created + os.sep)):
        try:
            os.rmdir(folder)
        except OSError:
            return
        folder = os.path.dirname(folder)
