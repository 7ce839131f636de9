"""A small training loop shared by the examples and `python -m dezero train`.

fit() runs epochs of mini-batch training with a progress bar (tqdm when installed,
a plain fallback otherwise), evaluates on a test loader after each epoch and
returns the history: one dict per epoch with epoch, train_loss, train_acc,
test_loss, test_acc and seconds. save_history() writes it as CSV or JSON and
plot_history() draws the loss and accuracy curves (Matplotlib, imported lazily).
"""
import csv
import io
import json
import math
import os
import time

import dezero.functions as F
from dezero.callbacks import Callback, TensorBoard, as_callbacks  # noqa: F401  (TensorBoard: re-exported)
from dezero.core import no_grad, test_mode
from dezero.dataloaders import DataLoader
from dezero.progress import progress_bar
from dezero.serializers import atomic_path, write_text

HISTORY_KEYS = ('epoch', 'train_loss', 'train_acc', 'test_loss', 'test_acc', 'seconds')
PLOT_EXTRA = "pip install 'dezero[plot]'"

# Refresh the bar's loss/accuracy text every this many batches: formatting it on
# every batch would cost more than the small models' steps themselves.
_POSTFIX_EVERY = 16


def _loader_length(loader):
    n = getattr(loader, 'max_iter', None)
    if n is None and hasattr(loader, '__len__'):
        n = len(loader)
    return n


# ---------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------
def _fmt(loss, acc):
    text = f'loss {loss:.4f}'
    return text if acc is None else f'{text} acc {acc:.4f}'


def evaluate(model, loader, loss_fn=F.softmax_cross_entropy, acc_fn=F.accuracy):
    """Mean loss and accuracy (None without acc_fn) of model over loader, in test mode."""
    return _means(*_evaluate_sums(model, loader, loss_fn, acc_fn), acc_fn, loader)


def _means(sum_loss, sum_acc, count, acc_fn, loader):
    if count == 0:
        raise ValueError(f"evaluate: the loader {type(loader).__name__} yielded no batches; "
                         "check that its data set is not empty.")
    return sum_loss / count, (sum_acc / count if acc_fn is not None else None)


def _evaluate_sums(model, loader, loss_fn, acc_fn, comm=None):
    """(sum of losses, sum of accuracies, number of examples) over loader, summed over the
    ranks of comm (dezero.distributed) when given."""
    sum_loss = sum_acc = 0.0
    count = 0
    with no_grad(), test_mode():
        for x, t in loader:
            y = model(x)
            n = len(t)
            sum_loss += float(loss_fn(y, t).data) * n
            if acc_fn is not None:
                sum_acc += float(acc_fn(y, t).data) * n
            count += n
    if comm is not None:
        sum_loss, sum_acc, count = comm.allreduce_sum([sum_loss, sum_acc, count])
    return sum_loss, sum_acc, count


def _is_array_pair(data):
    return isinstance(data, tuple) and len(data) == 2 and all(
        hasattr(a, 'shape') and hasattr(a, '__len__') for a in data)


def _array_loaders(train, test, batch_size, validation_split):
    """DataLoaders for fit() when it is given arrays: (x, t) tuples, split like Keras's fit."""
    if batch_size is None:
        batch_size = 32
    if validation_split:
        if not isinstance(validation_split, (float, int)) or not 0 < validation_split < 1:
            raise ValueError(f"fit: validation_split must be a fraction in (0, 1), got "
                             f"{validation_split!r}.")
        if test is not None:
            raise ValueError("fit: give either test_loader (validation data) or "
                             "validation_split, not both.")
        x, t = train
        n_train = int(len(x) * (1 - validation_split))
        if n_train < 1 or n_train >= len(x):
            raise ValueError(f"fit: validation_split={validation_split} of {len(x)} samples "
                             f"leaves {n_train} for training and {len(x) - n_train} for "
                             "validation; both need at least one.")
        # The last samples, before any shuffling, are held out (as Keras does).
        train, test = (x[:n_train], t[:n_train]), (x[n_train:], t[n_train:])
    train_loader = DataLoader(train, batch_size, shuffle=True)
    test_loader = None
    if test is not None:
        test_loader = test if not _is_array_pair(test) else DataLoader(
            test, batch_size, shuffle=False)
    return train_loader, test_loader


def fit(model, optimizer, train_loader, test_loader=None, epochs=10,
        loss_fn=F.softmax_cross_entropy, acc_fn=F.accuracy, gpu=False, progress=True,
        on_epoch_end=None, history=None, callbacks=None, batch_size=None,
        validation_split=0.0):
    """Train model with optimizer for `epochs` epochs; return the history (a list of dicts).

    Args:
        model: a Layer/Model called as model(x) on a batch.
        optimizer: an Optimizer already set up on model (optimizer.setup(model)).
        train_loader, test_loader: iterables of (x, t) batches that restart each epoch
            (DataLoader). test_loader (optional) is evaluated after every epoch.
            Either may also be a tuple (x, t) of arrays (Keras style): fit then
            batches it itself, shuffling the training samples each epoch.
        batch_size: the batch size for arrays given as (x, t) (default 32); an error
            with loaders, which have their own.
        validation_split: with train_loader=(x, t), the fraction of samples, taken
            from the end before shuffling, held out as the test set (as Keras does).
        epochs: train until the history holds this many epochs.
        loss_fn: loss(y, t) -> Variable (default softmax cross entropy, integer labels).
        acc_fn: accuracy(y, t) -> Variable, or None for no accuracy (regression).
        gpu: move model and loaders to the GPU first (needs CuPy).
        progress: show a progress bar per epoch.
        on_epoch_end: a callable, or a list of them, called with each epoch's record
            after it is appended; a callback returning True stops training.
        callbacks: `dezero.callbacks.Callback` objects (or callables, as on_epoch_end),
            run after those of on_epoch_end; see dezero.callbacks for the hooks.
            `callbacks=[TerminateOnNaN()]` stops at the first NaN or inf loss with
            TrainingDiverged.
        history: a history to continue (resuming); new records are appended to it.

    Each record is {'epoch', 'train_loss', 'train_acc', 'test_loss', 'test_acc',
    'seconds'} (the epoch's wall time, evaluation included), with None for what
    was not measured. On KeyboardInterrupt the
    history keeps every complete epoch and the exception propagates.

    Data-parallel training (dezero.distributed): with an optimizer from
    create_multi_node_optimizer, the losses and accuracies of the records are those of
    all ranks together (so every rank's history, and its callbacks' decisions, agree)
    and only rank 0 shows a progress bar.
    """
    if _is_array_pair(train_loader):
        train_loader, test_loader = _array_loaders(train_loader, test_loader, batch_size,
                                                   validation_split)
    elif batch_size is not None or validation_split:
        raise ValueError(
            "fit: batch_size and validation_split apply to arrays given as (x, t); "
            f"train_loader is a {type(train_loader).__name__}, which batches by itself. "
            "Set them on the DataLoader, or pass fit(model, optimizer, (x, t), ...).")
    elif _is_array_pair(test_loader):
        test_loader = DataLoader(test_loader, getattr(train_loader, 'batch_size', 32),
                                 shuffle=False)
    history = [] if history is None else history
    comm = getattr(optimizer, 'communicator', None)  # a MultiNodeOptimizer's
    if comm is not None and comm.rank != 0:
        progress = False
    callbacks = as_callbacks(on_epoch_end) + as_callbacks(callbacks)
    for cb in callbacks:
        cb.model, cb.optimizer, cb.history = model, optimizer, history
    # Only callbacks that override on_batch_end are called per batch (the hot loop).
    batch_callbacks = [cb for cb in callbacks
                       if type(cb).on_batch_end is not Callback.on_batch_end]
    if gpu:
        model.to_gpu()
        for loader in (train_loader, test_loader):
            if loader is not None:
                loader.to_gpu()
    total = _loader_length(train_loader)
    start = history[-1]['epoch'] if history else 0
    for cb in callbacks:
        cb.on_train_begin(model, optimizer)
    for epoch in range(start + 1, epochs + 1):
        t0 = time.perf_counter()
        bar = progress_bar(total, f'epoch {epoch}/{epochs}', progress)
        sum_loss = sum_acc = 0.0
        count = 0
        try:
            for i, (x, t) in enumerate(train_loader, 1):
                y = model(x)
                loss = loss_fn(y, t)
                model.cleargrads()
                loss.backward()
                optimizer.update()
                n = len(t)
                loss_value = float(loss.data)
                sum_loss += loss_value * n
                if batch_callbacks:
                    batch = {'epoch': epoch, 'batch': i, 'loss': loss_value}
                    for cb in batch_callbacks:
                        cb.on_batch_end(batch)
                if acc_fn is not None:
                    sum_acc += float(acc_fn(y, t).data) * n
                count += n
                bar.update(1)
                if i % _POSTFIX_EVERY == 0:
                    bar.set_postfix_str(_fmt(sum_loss / count,
                                             sum_acc / count if acc_fn else None), refresh=False)
            if comm is not None:
                sum_loss, sum_acc, count = comm.allreduce_sum([sum_loss, sum_acc, count])
            if count == 0:
                raise ValueError(f"fit: the train loader {type(train_loader).__name__} yielded "
                                 "no batches; check that its data set is not empty.")
            record = {'epoch': epoch, 'train_loss': sum_loss / count,
                      'train_acc': sum_acc / count if acc_fn is not None else None,
                      'test_loss': None, 'test_acc': None}
            text = _fmt(record['train_loss'], record['train_acc'])
            if test_loader is not None:
                record['test_loss'], record['test_acc'] = _means(
                    *_evaluate_sums(model, test_loader, loss_fn, acc_fn, comm), acc_fn,
                    test_loader)
                text += ' | test ' + _fmt(record['test_loss'], record['test_acc'])
            record['seconds'] = time.perf_counter() - t0
            bar.set_postfix_str(text, refresh=False)
        finally:
            bar.close()
        history.append(record)
        stop = False
        for cb in callbacks:
            stop = bool(cb.on_epoch_end(record)) or stop
        if stop:
            break
    for cb in callbacks:
        cb.on_train_end(history)
    return history


# ---------------------------------------------------------------------------
# Saving and plotting the history
# ---------------------------------------------------------------------------
def _records(history):
    """History as a list of dicts, whether given as that or as a dict of lists."""
    if isinstance(history, dict):
        n = len(history.get('epoch', ()))
        return [{k: history[k][i] for k in history} for i in range(n)]
    return list(history)


def load_history(path):
    """Read a history written by save_history (.json or .csv) back as a list of dicts."""
    path = os.fspath(path)
    if path.endswith('.json'):
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    with open(path, newline='', encoding='utf-8') as f:
        rows = list(csv.DictReader(f))
    return [{k: (None if v == '' else int(v) if k == 'epoch' else float(v))
             for k, v in row.items()} for row in rows]


def save_history(history, path):
    """Write the history (one row per epoch) to path, as JSON or CSV after its extension."""
    path = os.fspath(path)
    records = _records(history)
    if path.endswith('.json'):
        # Strict JSON has no NaN or Infinity: a diverged epoch's losses are written as null.
        records = [{k: None if isinstance(v, float) and not math.isfinite(v) else v
                    for k, v in r.items()} for r in records]
        write_text(path, json.dumps(records, indent=1, allow_nan=False) + '\n')
    elif path.endswith('.csv'):
        keys = list(HISTORY_KEYS) + [k for r in records[:1] for k in r if k not in HISTORY_KEYS]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys, extrasaction='ignore', lineterminator='\n')
        writer.writeheader()
        for r in records:
            writer.writerow({k: '' if r.get(k) is None else r[k] for k in keys})
        write_text(path, buf.getvalue())
    else:
        raise ValueError(f"save_history: cannot tell the format of {path!r}; use a .csv or "
                         ".json extension.")
    return path


def plot_history(history, to_file='history.png'):
    """Draw the loss (and accuracy, when measured) curves of a history into an image file.

    Uses Matplotlib's Agg canvas directly (no pyplot, no global backend change).
    Raises ImportError naming the extra to install when Matplotlib is missing.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError as e:
        raise ImportError(f"plot_history needs Matplotlib: {PLOT_EXTRA} "
                          f"(or pip install matplotlib); {e}") from e
    records = _records(history)
    if not records:
        raise ValueError("plot_history: the history is empty; train at least one epoch.")
    epochs = [r['epoch'] for r in records]

    def series(key):
        values = [r.get(key) for r in records]
        if all(v is None for v in values):
            return None
        return [math.nan if v is None else v for v in values]

    panels = [('loss', 'train_loss', 'test_loss'), ('accuracy', 'train_acc', 'test_acc')]
    panels = [p for p in panels if series(p[1]) is not None or series(p[2]) is not None]
    fig = Figure(figsize=(4.5 * len(panels), 3.4), dpi=100, layout='tight')
    FigureCanvasAgg(fig)
    for k, (title, train_key, test_key) in enumerate(panels, 1):
        ax = fig.add_subplot(1, len(panels), k)
        for key, label in ((train_key, 'train'), (test_key, 'test')):
            values = series(key)
            if values is not None:
                ax.plot(epochs, values, marker='.' if len(epochs) < 30 else None, label=label)
        ax.set_xlabel('epoch')
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    to_file = os.fspath(to_file)
    ext = os.path.splitext(to_file)[1][1:].lower() or 'png'
    with atomic_path(to_file) as tmp:
        fig.savefig(tmp, format=ext)
    return to_file
