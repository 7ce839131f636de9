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
# The package's names, and (for code written before the split into modules) the private
# helpers that lived here.
from dezero.callbacks.base import Callback, LambdaCallback, as_callbacks
from dezero.callbacks.monitored import (
    _MODES, EarlyStopping, ModelCheckpoint, _check_monitor, _Monitor, _monitored)
from dezero.callbacks.divergence import TerminateOnNaN, TrainingDiverged
from dezero.callbacks.tensorboard import (
    _SPLITS, TENSORBOARD_EXTRA, TensorBoard, _learning_rate, _scalar_tag)
from dezero.callbacks.checkpoint import CheckpointEveryEpoch, hold_sigint
