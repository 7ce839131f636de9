"""TensorBoard event files through tensorboardX, imported when the first event is written."""
import numbers
import os

from dezero.callbacks.base import Callback

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
