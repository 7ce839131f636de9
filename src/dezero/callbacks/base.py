"""The Callback base class, LambdaCallback for plain callables, and as_callbacks."""


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
