"""Keras-style training: fit() on arrays (batch_size, validation_split), EarlyStopping and
ModelCheckpoint, and the state_dict() / load_state_dict() they rely on."""
import os

import numpy as np
import pytest

import dezero.functions as F
from dezero import DataLoader, models, optimizers
from dezero.callbacks import Callback, EarlyStopping, ModelCheckpoint
from dezero.datasets import ArrayDataset, Spiral
from dezero.training import fit


def _data(n=60):
    rng = np.random.RandomState(0)
    x = rng.randn(n, 2).astype(np.float32)
    t = (x[:, 0] > 0).astype(np.int64)
    return x, t


def _model(seed=0):
    np.random.seed(seed)
    model = models.MLP((8, 2), activation=F.relu)
    return model, optimizers.SGD(0.1).setup(model)


class _Script(Callback):
    """Replaces the measured loss with a scripted sequence, to drive the monitors exactly."""

    def __init__(self, values, key='test_loss'):
        self.values, self.key = list(values), key

    def on_epoch_end(self, record):
        record[self.key] = self.values[record['epoch'] - 1]


class _BatchSpy(Callback):
    """Records the batch numbers fit() reports."""

    def __init__(self):
        self.seen = []

    def on_batch_end(self, batch):
        self.seen.append(batch['batch'])


# -- fit on arrays ---------------------------------------------------------------
def test_fit_on_arrays_with_validation_split_holds_out_the_last_samples():
    x, t = _data(50)
    model, opt = _model()
    spy = _BatchSpy()
    history = fit(model, opt, (x, t), epochs=2, batch_size=8, validation_split=0.2,
                  progress=False, callbacks=[spy])
    assert len(history) == 2 and history[-1]['test_loss'] is not None
    assert max(spy.seen) == 5  # 40 training samples in batches of 8
    model2, opt2 = _model()
    np.random.seed(123)
    h1 = fit(model2, opt2, (x, t), epochs=1, batch_size=8, validation_split=0.2, progress=False)
    model3, opt3 = _model()
    np.random.seed(123)
    h2 = fit(model3, opt3, DataLoader((x[:40], t[:40]), 8), (x[40:], t[40:]), epochs=1,
             progress=False)
    assert h1[0]['train_loss'] == h2[0]['train_loss']
    assert h1[0]['test_loss'] == h2[0]['test_loss']


def test_fit_on_arrays_defaults_to_batches_of_32_without_validation():
    x, t = _data(70)
    model, opt = _model()
    spy = _BatchSpy()
    history = fit(model, opt, (x, t), epochs=1, progress=False, callbacks=spy)
    assert spy.seen == [1, 2, 3] and history[0]['test_loss'] is None


@pytest.mark.parametrize('kwargs, msg', [
    (dict(validation_split=1.5), r'fit: validation_split must be a fraction in \(0, 1\), got 1.5'),
    (dict(validation_split=0.99), r'fit: validation_split=0.99 of 60 samples leaves 0 for '
                                  r'training and 60 for validation; both need at least one'),
    (dict(validation_split=0.2, test_loader=(np.zeros((2, 2)), np.zeros(2))),
     r'fit: give either test_loader \(validation data\) or validation_split, not both'),
])
def test_fit_on_arrays_rejects_bad_splits(kwargs, msg):
    model, opt = _model()
    with pytest.raises(ValueError, match=msg):
        fit(model, opt, _data(), progress=False, **kwargs)


@pytest.mark.parametrize('kwargs', [dict(batch_size=10), dict(validation_split=0.2)])
def test_batch_size_and_validation_split_need_arrays(kwargs):
    model, opt = _model()
    loader = DataLoader(ArrayDataset(*_data()), 10)
    with pytest.raises(ValueError, match=r'fit: batch_size and validation_split apply to arrays '
                                         r'given as \(x, t\); train_loader is a DataLoader'):
        fit(model, opt, loader, progress=False, **kwargs)


# -- EarlyStopping ---------------------------------------------------------------
@pytest.mark.parametrize('losses, patience, min_delta, stopped', [
    ([1.0, 0.9, 0.95, 0.96, 0.5], 1, 0.0, 4),   # two epochs without improvement
    ([1.0, 0.9, 0.95, 0.96, 0.5], 2, 0.0, None),
    ([1.0, 0.9, 0.95, 0.85, 0.8], 0, 0.0, 3),
    ([1.0, 0.99, 0.98, 0.97, 0.96], 1, 0.05, 3),  # improvements below min_delta do not count
])
def test_early_stopping_counts_epochs_without_improvement(losses, patience, min_delta, stopped):
    model, opt = _model()
    es = EarlyStopping(monitor='test_loss', patience=patience, min_delta=min_delta)
    history = fit(model, opt, _data(), _data(), epochs=5, progress=False,
                  callbacks=[_Script(losses), es])
    assert es.stopped_epoch == stopped
    assert len(history) == (stopped or 5)
    assert es.best == min(losses[:len(history)]) or min_delta


def test_early_stopping_on_accuracy_maximises():
    model, opt = _model()
    es = EarlyStopping(monitor='test_acc', patience=0)
    fit(model, opt, _data(), _data(), epochs=5, progress=False,
        callbacks=[_Script([0.5, 0.7, 0.6, 0.9, 0.9], 'test_acc'), es])
    assert es.mode == 'max' and es.stopped_epoch == 3 and es.best == 0.7


def test_restore_best_weights_puts_back_the_best_epoch():
    model, opt = _model()
    snapshots = {}

    class Snap(Callback):
        def on_epoch_end(self, record):
            snapshots[record['epoch']] = model.state_dict()

    es = EarlyStopping(patience=1, restore_best_weights=True)
    fit(model, opt, _data(), _data(), epochs=6, progress=False,
        callbacks=[_Script([1.0, 0.5, 0.7, 0.8, 0.1, 0.1]), Snap(), es])
    assert es.best_epoch == 2 and es.stopped_epoch == 4
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, snapshots[2][key])


def test_early_stopping_without_the_monitored_value_says_what_to_do():
    model, opt = _model()
    with pytest.raises(ValueError, match=r"EarlyStopping: the epoch record has no value for "
                                         r"'test_loss' \(measured: \['seconds', 'train_acc', "
                                         r"'train_loss'\]\)\. 'test_\*' values need a "
                                         r"test_loader or validation_split"):
        fit(model, opt, _data(), epochs=1, progress=False, callbacks=[EarlyStopping()])


@pytest.mark.parametrize('kwargs, err, msg', [
    (dict(patience=-1), ValueError, r'EarlyStopping: patience must be an int >= 0, got -1'),
    (dict(patience=1.5), ValueError, r'patience must be an int >= 0, got 1.5'),
    (dict(min_delta=-0.1), ValueError, r'EarlyStopping: min_delta must be a number >= 0'),
    (dict(mode='lowest'), ValueError, r"EarlyStopping: mode must be one of \('auto', 'min', "
                                      r"'max'\), got 'lowest'"),
    (dict(monitor=3), TypeError, r'EarlyStopping: monitor must be the name of a history key'),
])
def test_early_stopping_rejects_bad_arguments(kwargs, err, msg):
    with pytest.raises(err, match=msg):
        EarlyStopping(**kwargs)


# -- ModelCheckpoint ---------------------------------------------------------------
def test_model_checkpoint_saves_the_best_epochs_atomically(tmp_path):
    model, opt = _model()
    path = tmp_path / 'best.npz'
    snapshots = {}

    class Snap(Callback):
        def on_epoch_end(self, record):
            snapshots[record['epoch']] = model.state_dict()

    ckpt = ModelCheckpoint(path)
    fit(model, opt, _data(), _data(), epochs=4, progress=False,
        callbacks=[_Script([1.0, 0.5, 0.7, 0.6]), Snap(), ckpt])
    assert ckpt.saved == [str(path)] * 2 and ckpt.best_epoch == 2
    assert sorted(os.listdir(tmp_path)) == ['best.npz']  # no temporary files left
    fresh, _ = _model(seed=1)
    fresh.load_weights(path)
    for key, value in fresh.state_dict().items():
        np.testing.assert_array_equal(value, snapshots[2][key])


def test_model_checkpoint_every_epoch_with_a_formatted_path(tmp_path):
    model, opt = _model()
    ckpt = ModelCheckpoint(str(tmp_path / 'ep{epoch:02d}.npz'), save_best_only=False)
    fit(model, opt, _data(), epochs=3, progress=False, callbacks=[ckpt])
    assert sorted(os.listdir(tmp_path)) == ['ep01.npz', 'ep02.npz', 'ep03.npz']


def test_model_checkpoint_with_an_unknown_path_field_is_a_clear_error(tmp_path):
    model, opt = _model()
    ckpt = ModelCheckpoint(str(tmp_path / '{val_loss}.npz'), monitor='train_loss')
    with pytest.raises(ValueError, match=r"ModelCheckpoint: cannot fill the path .*\{val_loss\}"
                                         r"\.npz' from the record"):
        fit(model, opt, _data(), epochs=1, progress=False, callbacks=[ckpt])


# -- state_dict / load_state_dict ---------------------------------------------------
def test_state_dict_is_a_snapshot_of_parameters_and_buffers():
    model, opt = _model()
    fit(model, opt, _data(), epochs=1, progress=False)
    sd = model.state_dict()
    assert list(sd) == ['l0/W', 'l0/b', 'l1/W', 'l1/b']
    model.l0.W.data += 1
    assert not np.array_equal(sd['l0/W'], model.l0.W.data)
    result = model.load_state_dict(sd)
    np.testing.assert_array_equal(model.l0.W.data, sd['l0/W'])
    assert result.missing_keys == [] and result.unexpected_keys == []
    sd['l0/W'] += 5  # the model holds a copy
    assert not np.array_equal(sd['l0/W'], model.l0.W.data)


def test_load_state_dict_builds_lazy_parameters_of_a_fresh_model():
    model, opt = _model()
    fit(model, opt, _data(), epochs=1, progress=False)
    fresh = models.MLP((8, 2), activation=F.relu)
    fresh.load_state_dict(model.state_dict())
    x = _data()[0]
    np.testing.assert_array_equal(fresh(x).data, model(x).data)


def test_load_state_dict_strict_and_lenient():
    model, opt = _model()
    fit(model, opt, _data(), epochs=1, progress=False)
    sd = model.state_dict()
    partial = {k: v for k, v in sd.items() if k != 'l1/b'}
    partial['extra'] = np.zeros(1)
    before = model.l0.W.data.copy()
    with pytest.raises(ValueError, match=r"MLP.load_state_dict: the state dict does not match the "
                                         r"model \(nothing was loaded\): missing keys \['l1/b'\], "
                                         r"unexpected keys \['extra'\]"):
        model.load_state_dict(partial)
    np.testing.assert_array_equal(model.l0.W.data, before)
    partial['l0/W'] = partial['l0/W'] + 1
    result = model.load_state_dict(partial, strict=False)
    assert result == (['l1/b'], ['extra'])
    np.testing.assert_array_equal(model.l0.W.data, before + 1)
    with pytest.raises(ValueError, match=r"mismatched \[l0/W: shape \(3, 8\) in file, model "
                                         r"expects \(2, 8\)\]"):
        model.load_state_dict({'l0/W': np.zeros((3, 8), np.float32)}, strict=False)


def test_load_state_dict_needs_a_dict():
    with pytest.raises(TypeError, match=r'MLP.load_state_dict: expected a dict of arrays as '
                                        r'returned by state_dict\(\), got list'):
        models.MLP((2,)).load_state_dict([1])


def test_state_dict_of_an_unbuilt_model_says_to_call_it_first():
    with pytest.raises(ValueError, match=r"MLP.state_dict: parameters \['l0/W'\] have not been "
                                         r"created yet"):
        models.MLP((2,)).state_dict()


def test_spiral_trains_with_keras_style_calls():
    np.random.seed(0)
    ds = Spiral()
    model = models.MLP((30, 3), activation=F.relu)
    opt = optimizers.Adam(0.05).setup(model)
    history = fit(model, opt, (ds.data, ds.label), epochs=60, batch_size=30,
                  validation_split=0.2, progress=False,
                  callbacks=[EarlyStopping(monitor='test_acc', patience=15,
                                           restore_best_weights=True)])
    assert max(r['test_acc'] for r in history) > 0.85
