"""save_weights / load_weights and optimizer state files: nothing lost, nothing trusted."""
import os

import numpy as np
import pytest

import dezero.functions as F
import dezero.layers as L
from dezero import Parameter, Variable, optimizers
from dezero.layers import Layer
from dezero.models import MLP, Model, Sequential


def _built_mlp(seed=0):
    np.random.seed(seed)
    model = MLP((5, 3))
    model(np.zeros((1, 4), dtype=np.float32))
    return model


def _snapshot(model):
    return {k: p.data.copy() for k, p in model.named_params()}


def test_save_and_load_give_identical_predictions(tmp_path):
    model = _built_mlp(0)
    x = np.random.randn(7, 4).astype(np.float32)
    path = model.save_weights(str(tmp_path / 'w.npz'))
    assert path == str(tmp_path / 'w.npz')
    other = _built_mlp(1)
    other.load_weights(path)
    np.testing.assert_array_equal(other(x).data, model(x).data)
    for p in other.params():
        assert p.dtype == np.float32


def test_file_keys_are_parameter_paths(tmp_path):
    model = _built_mlp()
    path = model.save_weights(tmp_path / 'w.npz')
    with np.load(path) as npz:
        assert sorted(npz.files) == ['l0/W', 'l0/b', 'l1/W', 'l1/b']


def test_path_without_npz_gets_the_extension_like_np_savez(tmp_path):
    model = _built_mlp()
    path = model.save_weights(str(tmp_path / 'weights'))
    assert path.endswith('weights.npz') and os.path.exists(path)
    other = _built_mlp(2)
    other.load_weights(str(tmp_path / 'weights'))  # resolved to weights.npz
    for (_, a), (_, b) in zip(model.named_params(), other.named_params()):
        np.testing.assert_array_equal(a.data, b.data)


def test_save_leaves_no_temporary_files(tmp_path):
    _built_mlp().save_weights(tmp_path / 'w.npz')
    _built_mlp().save_weights(tmp_path / 'w.npz')  # overwrite
    assert os.listdir(tmp_path) == ['w.npz']


def test_interrupted_save_keeps_the_previous_file(tmp_path, monkeypatch):
    model = _built_mlp(0)
    path = model.save_weights(tmp_path / 'w.npz')
    before = open(path, 'rb').read()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt('simulated crash while writing')
    monkeypatch.setattr(np, 'savez', crash)
    with pytest.raises(KeyboardInterrupt):
        _built_mlp(1).save_weights(path)
    assert open(path, 'rb').read() == before
    assert os.listdir(tmp_path) == ['w.npz']


def test_truncated_file_gives_clear_error_and_leaves_model(tmp_path):
    path = _built_mlp(0).save_weights(tmp_path / 'w.npz')
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    model = _built_mlp(1)
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"MLP.load_weights: cannot read .*w\.npz.*truncated"):
        model.load_weights(path)
    for k, p in model.named_params():
        np.testing.assert_array_equal(p.data, before[k])


def test_garbage_file_gives_clear_error(tmp_path):
    path = tmp_path / 'junk.npz'
    path.write_bytes(b'not a zip file at all')
    with pytest.raises(ValueError, match=r'cannot read .*junk\.npz'):
        _built_mlp().load_weights(path)


def test_single_npy_array_is_rejected(tmp_path):
    path = tmp_path / 'one.npz'
    with open(path, 'wb') as f:
        np.save(f, np.zeros(3))
    with pytest.raises(ValueError, match='not an .npz archive'):
        _built_mlp().load_weights(path)


def test_pickled_objects_are_not_trusted(tmp_path):
    path = str(tmp_path / 'evil.npz')
    np.savez(path, **{'l0/W': np.array([object()], dtype=object)})
    with pytest.raises(ValueError, match=r'cannot read .*evil\.npz'):
        _built_mlp().load_weights(path)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match='no such file'):
        _built_mlp().load_weights(tmp_path / 'nope.npz')


def test_mismatch_lists_missing_unexpected_and_mismatched_keys(tmp_path):
    path = str(tmp_path / 'bad.npz')
    np.savez(path, **{
        'l0/W': np.zeros((4, 5), dtype=np.float32),          # fine
        'l0/b': np.zeros(6, dtype=np.float32),                # wrong shape
        'l1/W': np.zeros((5, 3), dtype=np.float64),           # wrong dtype
        'extra/W': np.zeros(1, dtype=np.float32),             # unexpected
    })                                                        # l1/b missing
    model = _built_mlp()
    before = _snapshot(model)
    with pytest.raises(ValueError) as info:
        model.load_weights(path)
    msg = str(info.value)
    assert "missing keys ['l1/b']" in msg
    assert "unexpected keys ['extra/W']" in msg
    assert 'l0/b: shape (6,) in file, model expects (5,)' in msg
    assert 'l1/W: dtype float64 in file, model expects float32' in msg
    assert 'nothing was loaded' in msg
    for k, p in model.named_params():  # l0/W was valid but must not have been assigned
        np.testing.assert_array_equal(p.data, before[k])


def test_lazy_parameters_are_built_from_the_file(tmp_path):
    src = _built_mlp(0)
    path = src.save_weights(tmp_path / 'w.npz')
    fresh = MLP((5, 3))
    assert fresh.l0.W.data is None
    fresh.load_weights(path)
    assert fresh.l0.W.shape == (4, 5) and fresh.l0.in_size == 4
    x = np.random.randn(2, 4).astype(np.float32)
    np.testing.assert_array_equal(fresh(x).data, src(x).data)


def test_lazy_parameters_still_check_known_sizes(tmp_path):
    path = _built_mlp(0).save_weights(tmp_path / 'w.npz')
    wrong = MLP((6, 3))  # l0 out_size 6, file has 5
    with pytest.raises(ValueError, match=r'l0/W: shape \(4, 5\) in file, model expects \(\?, 6\)'):
        wrong.load_weights(path)
    assert wrong.l0.W.data is None


def test_saving_unbuilt_lazy_parameters_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"save_weights: parameters \['l0/W', 'l1/W'\] have "
                                         r"not been created yet"):
        MLP((5, 3)).save_weights(tmp_path / 'w.npz')
    assert not os.path.exists(tmp_path / 'w.npz')


def test_batchnorm_running_statistics_are_saved_and_loaded(tmp_path):
    class Net(Model):
        def __init__(self):
            super().__init__()
            self.fc = L.Linear(3)
            self.bn = L.BatchNorm()

        def forward(self, x):
            return self.bn(self.fc(x))
    np.random.seed(0)
    net = Net()
    for _ in range(3):
        net(np.random.randn(8, 2).astype(np.float32) * 3 + 1)
    path = net.save_weights(tmp_path / 'bn.npz')
    with np.load(path) as npz:
        assert set(npz.files) == {'fc/W', 'fc/b', 'bn/gamma', 'bn/beta', 'bn/avg_mean',
                                  'bn/avg_var'}
    fresh = Net()
    fresh.load_weights(path)
    np.testing.assert_array_equal(fresh.bn.avg_mean.data, net.bn.avg_mean.data)
    np.testing.assert_array_equal(fresh.bn.avg_var.data, net.bn.avg_var.data)
    import dezero
    x = np.random.randn(4, 2).astype(np.float32)
    with dezero.test_mode():
        np.testing.assert_array_equal(fresh(x).data, net(x).data)


def test_lstm_and_sequential_round_trip(tmp_path):
    np.random.seed(0)
    seq = Sequential(L.LSTM(4), L.Linear(2))
    x = np.random.randn(1, 3).astype(np.float32)
    seq(x)
    path = seq.save_weights(tmp_path / 's')
    other = Sequential(L.LSTM(4), L.Linear(2))
    other.load_weights(path)
    seq.l0.reset_state()
    np.testing.assert_array_equal(other(x).data, seq(x).data)


def test_gpu_weights_load_on_cpu(tmp_path, xp):
    model = _built_mlp(0)
    if xp is not np:
        model.to_gpu()
    path = model.save_weights(tmp_path / 'w.npz')
    assert isinstance(model.l0.W.data, xp.ndarray)  # save does not move the model
    cpu = MLP((5, 3))
    cpu.load_weights(path)
    assert isinstance(cpu.l0.W.data, np.ndarray)
    model.to_cpu()
    np.testing.assert_array_equal(cpu.l0.W.data, model.l0.W.data)


def test_optimizer_state_file_round_trip_and_corrupt_file(tmp_path):
    m = Layer()
    m.w = Parameter(np.ones(3, dtype=np.float32))
    opt = optimizers.Adam().setup(m)
    for _ in range(2):
        m.w.grad = Variable(np.array([0.1, -0.2, 0.3], dtype=np.float32))
        opt.update()
    path = opt.save_state(tmp_path / 'opt')
    assert path.endswith('opt.npz')
    m2 = Layer()
    m2.w = Parameter(m.w.data.copy())
    opt2 = optimizers.Adam().setup(m2)
    opt2.load_state(tmp_path / 'opt')
    assert opt2.t == 2
    for mm, oo in ((m, opt), (m2, opt2)):
        mm.w.grad = Variable(np.array([0.3, 0.2, 0.1], dtype=np.float32))
        oo.update()
    np.testing.assert_array_equal(m.w.data, m2.w.data)
    with open(path, 'r+b') as f:
        f.truncate(40)
    with pytest.raises(ValueError, match=r'Adam.load_state: cannot read .*opt\.npz'):
        opt2.load_state(path)


def test_weights_file_is_not_an_optimizer_state(tmp_path):
    path = _built_mlp().save_weights(tmp_path / 'w.npz')
    with pytest.raises(ValueError, match='not an optimizer state file'):
        optimizers.SGD().setup(_built_mlp()).load_state(path)


def test_resume_gives_bit_identical_parameters(tmp_path):
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((6, 16, 4)).astype(np.float32)
    ts = rng.integers(0, 3, (6, 16))

    def train(model, opt, batches):
        for i in batches:
            loss = F.softmax_cross_entropy(model(xs[i]), ts[i])
            model.cleargrads()
            loss.backward()
            opt.update()

    def make():
        np.random.seed(42)
        model = MLP((8, 3), activation=F.relu)
        model(xs[0])
        opt = optimizers.Adam(alpha=0.01).setup(model)
        opt.add_hook(optimizers.WeightDecay(1e-3))
        return model, opt

    straight, opt = make()
    train(straight, opt, range(6))

    first, opt1 = make()
    train(first, opt1, range(3))
    first.save_weights(tmp_path / 'model.npz')
    opt1.save_state(tmp_path / 'opt.npz')

    np.random.seed(7)  # a fresh process would start from other weights
    resumed = MLP((8, 3), activation=F.relu)
    resumed.load_weights(tmp_path / 'model.npz')
    opt2 = optimizers.Adam(alpha=0.01).setup(resumed)
    opt2.add_hook(optimizers.WeightDecay(1e-3))
    opt2.load_state(tmp_path / 'opt.npz')
    train(resumed, opt2, range(3, 6))

    for (k, a), (_, b) in zip(straight.named_params(), resumed.named_params()):
        assert np.array_equal(a.data, b.data), k


def test_unbuilt_batchnorm_rejects_inconsistent_sizes(tmp_path):
    path = str(tmp_path / 'bn.npz')
    np.savez(path, **{'gamma': np.ones(3, np.float32), 'beta': np.zeros(3, np.float32),
                      'avg_mean': np.zeros(4, np.float32), 'avg_var': np.ones(3, np.float64)})
    bn = L.BatchNorm()
    with pytest.raises(ValueError) as info:
        bn.load_weights(path)
    msg = str(info.value)
    assert 'avg_mean: shape (4,) in file, model expects (3,)' in msg
    assert 'avg_var: dtype float64 in file, model expects float32' in msg
    assert bn.gamma.data is None and bn.avg_mean.data is None


def test_unbuilt_batchnorm_is_built_from_file(tmp_path):
    src = L.BatchNorm()
    src(np.random.randn(6, 3).astype(np.float32))
    path = src.save_weights(tmp_path / 'bn.npz')
    bn = L.BatchNorm()
    bn.load_weights(path)
    assert bn.size == 3 and bn.avg_var.dtype == np.float32
    np.testing.assert_array_equal(bn.avg_mean.data, src.avg_mean.data)


def test_lazy_parameters_are_created_on_the_models_device(tmp_path, xp):
    np.random.seed(0)
    src = Sequential(L.Linear(3, in_size=2), L.Linear(2))
    src(np.ones((1, 2), dtype=np.float32))
    path = src.save_weights(tmp_path / 'w.npz')
    dst = Sequential(L.Linear(3, in_size=2), L.Linear(2))  # l1/W not built
    if xp is not np:
        dst.to_gpu()
    dst.load_weights(path)
    assert isinstance(dst.l1.W.data, xp.ndarray) and isinstance(dst.l0.W.data, xp.ndarray)
    y = dst(xp.ones((1, 2), dtype=np.float32))
    np.testing.assert_allclose(np.asarray(y.data.tolist()),
                               src(np.ones((1, 2), dtype=np.float32)).data, rtol=1e-6)
