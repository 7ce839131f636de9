"""A checkpoint after every epoch, with Ctrl-C held while the files are written."""
import contextlib
import signal
import threading

from dezero.callbacks.base import Callback


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
