"""Keras-style callbacks that watch a history key: EarlyStopping, ModelCheckpoint."""
import os

from dezero.callbacks.base import Callback

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
