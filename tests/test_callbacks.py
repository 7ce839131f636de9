"""The callback protocol of dezero.training.fit."""
import numpy as np
import pytest

import dezero.functions as F
from dezero import DataLoader, models, optimizers
from dezero.callbacks import Callback, as_callbacks
from dezero.datasets import Spiral
from dezero.training import fit


class Recorder(Callback):
    def __init__(self, stop_at=None):
        self.calls, self.stop_at = [], stop_at

    def on_train_begin(self, model, optimizer):
        self.calls.append(('begin', model is self.model, optimizer is self.optimizer))

    def on_batch_end(self, batch):
        self.calls.append(('batch', batch['epoch'], batch['batch'], type(batch['loss'])))

    def on_epoch_end(self, record):
        self.calls.append(('epoch', record['epoch']))
        return record['epoch'] == self.stop_at

    def on_train_end(self, history):
        self.calls.append(('end', len(history)))


def _fit(**kwargs):
    np.random.seed(0)
    model = models.MLP((8, 3), activation=F.relu)
    opt = optimizers.SGD(0.1).setup(model)
    return fit(model, opt, DataLoader(Spiral(train=True), 100), epochs=3, progress=False,
               **kwargs)


def test_callback_hooks_run_in_order_with_model_and_optimizer_set():
    rec = Recorder()
    history = _fit(callbacks=[rec])
    assert rec.calls[0] == ('begin', True, True)
    assert rec.calls[1] == ('batch', 1, 1, float)
    assert [c for c in rec.calls if c[0] == 'epoch'] == [('epoch', 1), ('epoch', 2), ('epoch', 3)]
    assert rec.calls[-1] == ('end', 3)
    assert rec.history is history


def test_callback_returning_true_stops_training_and_train_end_still_runs():
    rec = Recorder(stop_at=2)
    history = _fit(callbacks=rec)
    assert len(history) == 2
    assert rec.calls[-1] == ('end', 2)


def test_plain_callables_are_epoch_end_callbacks():
    seen = []
    _fit(on_epoch_end=seen.append, callbacks=[lambda r: r['epoch'] == 1])
    assert [r['epoch'] for r in seen] == [1]


def test_a_non_callable_callback_is_a_type_error():
    with pytest.raises(TypeError, match='callback must be a dezero.callbacks.Callback'):
        as_callbacks([3])


# ---------------------------------------------------------------------------
# TerminateOnNaN
# ---------------------------------------------------------------------------
def _spiral_fit(lr, callbacks, epochs=3):
    np.random.seed(0)
    model = models.MLP((10, 3))
    opt = optimizers.SGD(lr).setup(model)
    history = []
    loader = DataLoader(Spiral(), 30, seed=0)
    fit(model, opt, loader, epochs=epochs, progress=False, history=history,
        callbacks=callbacks)
    return history


def test_terminate_on_nan_stops_a_diverging_fit_with_a_clear_error():
    from dezero.callbacks import TerminateOnNaN, TrainingDiverged
    history = []
    with pytest.raises(TrainingDiverged, match=r'TerminateOnNaN: the loss became (nan|inf) at '
                                               r'epoch 1, batch \d+: .*smaller learning rate') as e:
        with np.errstate(all='ignore'):
            history = _spiral_fit(1e300, [TerminateOnNaN()])
    assert isinstance(e.value, FloatingPointError)
    assert e.value.epoch == 1 and e.value.key == 'loss' and not np.isfinite(e.value.value)
    assert history == []


def test_terminate_on_nan_checks_the_epoch_losses():
    from dezero.callbacks import TerminateOnNaN, TrainingDiverged
    cb = TerminateOnNaN()
    assert cb.on_epoch_end({'epoch': 1, 'train_loss': 0.5, 'test_loss': None}) is False
    with pytest.raises(TrainingDiverged, match='the test loss became inf at epoch 2') as e:
        cb.on_epoch_end({'epoch': 2, 'train_loss': 0.5, 'test_loss': float('inf')})
    assert e.value.batch is None and e.value.key == 'test_loss'


def test_terminate_on_nan_lets_a_healthy_fit_finish():
    from dezero.callbacks import TerminateOnNaN
    history = _spiral_fit(1.0, [TerminateOnNaN()], epochs=2)
    assert [r['epoch'] for r in history] == [1, 2]


def test_checkpoint_every_epoch_writes_weights_state_and_extra_each_epoch(tmp_path):
    from dezero.callbacks import CheckpointEveryEpoch
    epochs_seen = []
    cb = CheckpointEveryEpoch(tmp_path / 'model.npz', tmp_path / 'opt.npz',
                              also=lambda: epochs_seen.append(len(cb.history)))
    _fit(callbacks=[cb])
    assert epochs_seen == [1, 2, 3]
    fresh = models.MLP((8, 3), activation=F.relu)
    fresh(np.zeros((1, 2), dtype=np.float32))
    fresh.load_weights(tmp_path / 'model.npz')
    for a, b in zip(fresh.params(), cb.model.params()):
        np.testing.assert_array_equal(a.data, b.data)
    optimizers.SGD(0.1).setup(fresh).load_state(tmp_path / 'opt.npz')


def test_hold_sigint_delivers_ctrl_c_after_the_block():
    import os
    import signal

    from dezero.callbacks import hold_sigint
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with hold_sigint():
            os.kill(os.getpid(), signal.SIGINT)
            steps.append('finished')
    assert steps == ['finished']
