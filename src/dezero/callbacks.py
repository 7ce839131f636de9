"""Callbacks for `dezero.training.fit`: hooks into the training loop.

A callback is a `Callback` subclass overriding any of its methods, or a plain
callable, which is treated as `on_epoch_end(record)`. fit() calls, in order:

    on_train_begin(model, optimizer)        once, before the first epoch
    on_batch_end(batch)                     after each optimizer update; batch is
                                            {'epoch', 'batch', 'loss'} (loss a float)
    on_epoch_end(record) -> stop?           after each epoch's record is appended to
                                            the history; a true return stops training
    on_train_end(history)                   once, after the last epoch (also when a
                                            callback stopped training; not on an error)

`model`, `optimizer` and `history` are also set as attributes on each Callback
object before on_train_begin, so a callback can reach them from any hook.

Ready-made: EarlyStopping (stop when a history key stops improving, optionally
restoring the best weights), ModelCheckpoint (save the weights of the best
epochs, atomically), as in Keras, TerminateOnNaN (raise TrainingDiverged at the
first NaN or inf loss), TensorBoard (scalars, histograms and a model summary in
TensorBoard's event files, through tensorboardX) and CheckpointEveryEpoch (the
weights and optimizer state after every epoch, Ctrl-C held while writing, as
`python -m dezero train` does).
"""
import contextlib
import math
import numbers
import os
import signal
import threading


class Callback:
    """Base class: every hook does nothing. Override the ones you need."""

    model = None
    optimizer = None
    history = None

    def on_train_begin(self, model, optimizer):
        """Called once before the first epoch."""

    def on_batch_end(self, batch):
        """Called after each optimizer update with {'epoch', 'batch', 'loss'}."""

    def on_epoch_end(self, record):
        """Called with each epoch's record; return True to stop training."""
        return False

    def on_train_end(self, history):
        """Called once after the last epoch."""


class LambdaCallback(Callback):
    """Wraps a plain callable `fn(record) -> stop?` as an on_epoch_end callback."""

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"LambdaCallback: expected a callable, got {type(fn).__name__}")
        self.fn = fn

    def on_epoch_end(self, record):
        return self.fn(record)

    def __repr__(self):
        return f'LambdaCallback({self.fn!r})'


def as_callbacks(callbacks):
    """A list of Callback objects from None, one callback, or a list of callbacks/callables."""
    if callbacks is None:
        return []
    if isinstance(callbacks, (Callback,)) or callable(callbacks) and not isinstance(
            callbacks, (list, tuple)):
        callbacks = [callbacks]
    out = []
    for cb in callbacks:
        if isinstance(cb, Callback):
            out.append(cb)
        elif callable(cb):
            out.append(LambdaCallback(cb))
        else:
            raise TypeError(f"fit: a callback must be a dezero.callbacks.Callback or a callable "
                            f"taking the epoch record, got {type(cb).__name__}")
    return out


# ---------------------------------------------------------------------------
# Keras-style callbacks: EarlyStopping, ModelCheckpoint
# ---------------------------------------------------------------------------
_MODES = ('auto', 'min', 'max')


def _check_monitor(who, monitor, mode):
    if not isinstance(monitor, str):
        raise TypeError(f"{who}: monitor must be the name of a history key such as "
                        f"'test_loss', got {type(monitor).__name__}.")
    if mode not in _MODES:
        raise ValueError(f"{who}: mode must be one of {_MODES}, got {mode!r}.")
    if mode == 'auto':
        # Accuracies (and anything else ending in 'acc'/'accuracy') grow; the rest shrink.
        mode = 'max' if monitor.endswith(('acc', 'accuracy')) else 'min'
    return mode


def _monitored(who, record, monitor):
    value = record.get(monitor)
    if value is None:
        measured = sorted(k for k, v in record.items() if v is not None and k != 'epoch')
        raise ValueError(
            f"{who}: the epoch record has no value for {monitor!r} (measured: {measured}). "
            "'test_*' values need a test_loader or validation_split in fit(); otherwise "
            "monitor a 'train_*' key.")
    return float(value)


class _Monitor(Callback):
    """Tracks the best value of one history key (shared by EarlyStopping, ModelCheckpoint)."""

    def __init__(self, who, monitor, mode, min_delta=0.0):
        self.monitor = monitor
        self.mode = _check_monitor(who, monitor, mode)
        if not isinstance(min_delta, (int, float)) or min_delta < 0:
            raise ValueError(f"{who}: min_delta must be a number >= 0, got {min_delta!r}.")
        self.min_delta = float(min_delta)
        self._who = who
        self.best = None
        self.best_epoch = None

    def _improved(self, record):
        """Read the monitored value; True (and remember it) when it beats the best so far."""
        value = _monitored(self._who, record, self.monitor)
        if self.best is None:
            better = True
        elif self.mode == 'min':
            better = value < self.best - self.min_delta
        else:
            better = value > self.best + self.min_delta
        if better:
            self.best, self.best_epoch = value, record['epoch']
        return better


class EarlyStopping(_Monitor):
    """Stop fit() when `monitor` has not improved for `patience` epochs (Keras's EarlyStopping).

    Args:
        monitor: the history key watched ('test_loss', 'test_acc', 'train_loss', ...).
        patience: epochs without improvement tolerated before stopping (0: stop at the
            first epoch that does not improve).
        min_delta: the smallest change that counts as an improvement.
        mode: 'min', 'max', or 'auto' ('max' for accuracies, 'min' otherwise).
        restore_best_weights: when training ends, put back the model's parameters and
            buffers of the best epoch (kept in memory as NumPy copies).

    After training, `stopped_epoch` is the epoch it stopped at (None if it did not)
    and `best`, `best_epoch` the best value seen and its epoch.
    """

    def __init__(self, monitor='test_loss', patience=0, min_delta=0.0, mode='auto',
                 restore_best_weights=False):
        super().__init__('EarlyStopping', monitor, mode, min_delta)
        if not isinstance(patience, int) or isinstance(patience, bool) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}.")
        self.patience = patience
        self.restore_best_weights = restore_best_weights
        self.stopped_epoch = None
        self._wait = 0
        self._best_state = None

    def on_train_begin(self, model, optimizer):
        self.best = self.best_epoch = self.stopped_epoch = None
        self._wait = 0
        self._best_state = None

    def on_epoch_end(self, record):
        if self._improved(record):
            self._wait = 0
            if self.restore_best_weights:
                self._best_state = self.model.state_dict()
            return False
        self._wait += 1
        if self._wait > self.patience:
            self.stopped_epoch = record['epoch']
            return True
        return False

    def on_train_end(self, history):
        if self._best_state is not None and history and history[-1]['epoch'] != self.best_epoch:
            self.model.load_state_dict(self._best_state)

    def __repr__(self):
        return (f'EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, '
                f'min_delta={self.min_delta}, mode={self.mode!r}, '
                f'restore_best_weights={self.restore_best_weights})')


class ModelCheckpoint(_Monitor):
    """Save the model's weights after epochs (Keras's ModelCheckpoint), atomically.

    Args:
        path: the .npz file written with model.save_weights (atomic: an interrupted
            save leaves the previous file intact). It may contain str.format fields
            filled from the epoch record, e.g. 'ckpt-{epoch:03d}-{test_loss:.3f}.npz'.
        monitor: the history key that decides which epoch is best.
        save_best_only: save only when `monitor` improves (default); False saves
            after every epoch.
        mode: 'min', 'max', or 'auto' ('max' for accuracies, 'min' otherwise).

    `saved` lists the paths written, in order; `best`, `best_epoch` as EarlyStopping.
    Load the weights back with model.load_weights(path).
    """

    def __init__(self, path, monitor='test_loss', save_best_only=True, mode='auto'):
        super().__init__('ModelCheckpoint', monitor, mode)
        self.path = os.fspath(path)
        self.save_best_only = save_best_only
        self.saved = []

    def on_train_begin(self, model, optimizer):
        self.best = self.best_epoch = None
        self.saved = []

    def on_epoch_end(self, record):
        improved = self._improved(record) if self.save_best_only else False
        if improved or not self.save_best_only:
            try:
                path = self.path.format(**record)
            except (KeyError, IndexError, ValueError, TypeError) as e:
                raise ValueError(f"ModelCheckpoint: cannot fill the path {self.path!r} from "
                                 f"the record {sorted(record)}: {type(e).__name__}: {e}") from e
            self.saved.append(self.model.save_weights(path))
        return False

    def __repr__(self):
        return (f'ModelCheckpoint({self.path!r}, monitor={self.monitor!r}, '
                f'save_best_only={self.save_best_only}, mode={self.mode!r})')


# ---------------------------------------------------------------------------
# Divergence
# ---------------------------------------------------------------------------
class TrainingDiverged(FloatingPointError):
    """The loss became NaN or inf (raised by TerminateOnNaN); the message says where.

    Attributes: epoch, batch (None for an epoch's test loss), key ('loss',
    'train_loss', 'test_loss') and value.
    """

    def __init__(self, message, epoch=None, batch=None, key=None, value=None):
        super().__init__(message)
        self.epoch, self.batch, self.key, self.value = epoch, batch, key, value


class TerminateOnNaN(Callback):
    """Stop fit() at the first batch loss, or epoch train/test loss, that is NaN or inf.

    It raises TrainingDiverged (a FloatingPointError) from the hook that saw it, so the
    epoch in progress is not recorded (for a NaN batch loss) and callbacks listed after
    it do not run for that epoch (put it before a checkpoint callback so that diverged
    weights are never saved). The history keeps every complete epoch, as on Ctrl-C.
    The usual cure is a smaller learning rate.

    batches=False checks only the epoch losses: in data-parallel training those are
    summed over the ranks, so every rank stops at the same epoch (a batch loss is one
    rank's own, and a rank stopping alone would leave the others waiting).
    """

    def __init__(self, batches=True):
        self.batches = bool(batches)

    def on_batch_end(self, batch):
        if not self.batches:
            return
        value = batch.get('loss')
        if value is not None and not math.isfinite(value):
            raise TrainingDiverged(
                f"TerminateOnNaN: the loss became {value} at epoch {batch.get('epoch')}, batch "
                f"{batch.get('batch')}: training diverged; try a smaller learning rate.",
                batch.get('epoch'), batch.get('batch'), 'loss', value)

    def on_epoch_end(self, record):
        for key in ('train_loss', 'test_loss'):
            value = record.get(key)
            if value is not None and not math.isfinite(value):
                raise TrainingDiverged(
                    f"TerminateOnNaN: the {key.replace('_', ' ')} became {value} at epoch "
                    f"{record.get('epoch')}: training diverged; try a smaller learning rate.",
                    record.get('epoch'), None, key, value)
        return False

    def __repr__(self):
        return f'TerminateOnNaN(batches={self.batches})'


# ---------------------------------------------------------------------------
# TensorBoard (through tensorboardX, imported when the first event is written)
# ---------------------------------------------------------------------------
TENSORBOARD_EXTRA = "pip install 'dezero[tensorboard]'"
_SPLITS = ('train_', 'test_', 'val_')


def _scalar_tag(key):
    """'train_loss' -> 'loss/train' (so TensorBoard groups the splits); others unchanged."""
    for prefix in _SPLITS:
        if key.startswith(prefix) and len(key) > len(prefix):
            return f'{key[len(prefix):]}/{prefix[:-1]}'
    return 'time/seconds' if key == 'seconds' else key


def _learning_rate(optimizer):
    """The optimizer's configured rate (Adam's `alpha`, otherwise `lr`), or None."""
    for name in ('alpha', 'lr'):
        value = getattr(optimizer, name, None)
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return float(value)
    return None


class TensorBoard(Callback):
    """Write each epoch's record to TensorBoard event files in log_dir (tensorboardX).

    Scalars, at step = the record's epoch: every number of the record, tagged
    '<metric>/<split>' ('loss/train', 'loss/test', 'acc/train', ...; 'time/seconds'),
    and 'learning_rate' when the optimizer has one (`alpha` for Adam, else `lr`).
    With histogram_every=N > 0, every N epochs: histograms of each parameter
    ('params/<path>') and of its gradient from the epoch's last update
    ('grads/<path>'), for the model given here or, in fit(), the one being trained.
    The "graph": tensorboardX's add_graph traces PyTorch modules only, so the model is
    written as text instead (its tree and parameter table, under 'model' in the TEXT
    tab) after the first epoch, once lazily built layers have their shapes.

    Use it in fit(..., callbacks=[TensorBoard('runs/tb')]) (or on_epoch_end=), or call
    on_epoch_end(record) yourself; events are flushed after every epoch and the file
    is closed when training ends (close() does it by hand). In data-parallel training
    only rank 0 writes. Needs tensorboardX: pip install 'dezero[tensorboard]'.
    View with `tensorboard --logdir <log_dir>`.
    """

    def __init__(self, log_dir, model=None, histogram_every=0):
        if isinstance(histogram_every, bool) or not isinstance(histogram_every, int) \
                or histogram_every < 0:
            raise ValueError(f"TensorBoard: histogram_every must be an int >= 0 (0: no "
                             f"histograms), got {histogram_every!r}.")
        self.log_dir = os.fspath(log_dir)
        self.histogram_every = histogram_every
        self._model = model
        self._writer = None
        self._summary_written = False

    # -- the writer ------------------------------------------------------------
    def _writing(self):
        comm = getattr(self.optimizer, 'communicator', None)
        return comm is None or comm.rank == 0

    @property
    def writer(self):
        """The tensorboardX SummaryWriter, opened on first use."""
        if self._writer is None:
            try:
                from tensorboardX import SummaryWriter
            except ImportError as e:
                raise ImportError(f"TensorBoard needs tensorboardX: {TENSORBOARD_EXTRA} (or "
                                  f"pip install tensorboardX); {e}") from e
            self._writer = SummaryWriter(logdir=self.log_dir)
        return self._writer

    def close(self):
        """Flush and close the event file (a later epoch opens a new one)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # -- hooks -------------------------------------------------------------------
    def _write_summary(self, writer, model):
        text = f'{model!r}\n\n{model.summary(print_fn=None)}'
        # four-space indentation: TensorBoard renders the text as Markdown
        writer.add_text('model', '\n'.join('    ' + line for line in text.splitlines()))
        self._summary_written = True

    def on_epoch_end(self, record):
        if not self._writing():
            return False
        writer = self.writer
        step = int(record.get('epoch', 0))
        for key, value in record.items():
            if key == 'epoch' or isinstance(value, bool) or not isinstance(value, numbers.Real):
                continue
            writer.add_scalar(_scalar_tag(key), float(value), step)
        lr = _learning_rate(self.optimizer)
        if lr is not None:
            writer.add_scalar('learning_rate', lr, step)
        model = self._model if self._model is not None else self.model
        if model is not None and not self._summary_written and hasattr(model, 'summary'):
            self._write_summary(writer, model)  # after one epoch: lazy layers are built
        if self.histogram_every and model is not None and step % self.histogram_every == 0:
            self._histograms(writer, model, step)
        writer.flush()
        return False

    def _histograms(self, writer, model, step):
        from dezero.cuda import as_numpy
        for path, param in model.named_params():
            if param.data is not None:
                writer.add_histogram(f'params/{path}', as_numpy(param.data), step)
            if param.grad is not None and param.grad.data is not None:
                writer.add_histogram(f'grads/{path}', as_numpy(param.grad.data), step)

    def on_train_end(self, history):
        self.close()

    def __repr__(self):
        return (f'TensorBoard({self.log_dir!r}, histogram_every={self.histogram_every})')


# ---------------------------------------------------------------------------
# Checkpoint every epoch, safe against Ctrl-C
# ---------------------------------------------------------------------------
@contextlib.contextmanager
def hold_sigint():
    """Hold Ctrl-C (SIGINT) until the block ends, then raise KeyboardInterrupt if one came.

    Files written inside the block are never left half written by an interrupt. Outside
    the main thread (where signal handlers cannot be set) the block runs unprotected.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


class CheckpointEveryEpoch(Callback):
    """After every epoch, save the model's weights and the optimizer's state, Ctrl-C held.

    Args:
        weights_path: where model.save_weights writes (an .npz, atomically).
        optimizer_path: where optimizer.save_state writes, or None for the weights only.
        also: an optional callable run inside the same protected block after the saves
            (`python -m dezero train` writes its history files with it).

    An interrupt during the saves is delivered (as KeyboardInterrupt) once they are all
    done, so the files on disk always belong to one complete epoch.
    """

    def __init__(self, weights_path, optimizer_path=None, also=None):
        self.weights_path = weights_path
        self.optimizer_path = optimizer_path
        self.also = also

    def on_epoch_end(self, record):
        with hold_sigint():
            self.model.save_weights(self.weights_path)
            if self.optimizer_path is not None:
                self.optimizer.save_state(self.optimizer_path)
            if self.also is not None:
                self.also()
        return False

    def __repr__(self):
        return (f"CheckpointEveryEpoch({self.weights_path!r}, "
                f"optimizer_path={self.optimizer_path!r})")
