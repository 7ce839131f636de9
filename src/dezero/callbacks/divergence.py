"""Stopping at the first NaN or inf loss: TerminateOnNaN and TrainingDiverged."""
import math

from dezero.callbacks.base import Callback


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
