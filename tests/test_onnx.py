"""dezero.onnx.export: exported files run in onnxruntime and match dezero's outputs."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import dezero
import dezero.functions as F
import dezero.layers as L
from dezero import models

onnx = pytest.importorskip('onnx', reason="ONNX export needs onnx (pip install 'dezero[onnx]')")
ort = pytest.importorskip('onnxruntime', reason='the export tests run files in onnxruntime')
import dezero.onnx as donnx  # noqa: E402 (imported only once onnx is known to be installed)

TOL = 1e-5


def run_onnx(path, *xs):
    sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    feeds = {i.name: x for i, x in zip(sess.get_inputs(), xs)}
    return sess.run(None, feeds)


def dezero_out(model, *xs):
    with dezero.test_mode(), dezero.no_grad():
        if hasattr(model, 'reset_state'):
            model.reset_state()
        y = model(*xs)
    return [v.data for v in (y if isinstance(y, (tuple, list)) else (y,))]


def max_diff(model, path, *xs):
    """Largest |onnxruntime - dezero| over the outputs, relative to max(1, |y|)."""
    worst = 0.0
    for got, want in zip(run_onnx(path, *xs), dezero_out(model, *xs)):
        assert got.shape == want.shape and got.dtype == want.dtype
        worst = max(worst, float(np.abs(got - want).max() / max(1.0, np.abs(want).max())))
    return worst


def export_and_check(model, x, tmp_path, other_batch=None, **kwargs):
    path = str(tmp_path / 'model.onnx')
    assert donnx.export(model, x, path, **kwargs) == path
    onnx.checker.check_model(onnx.load(path))
    assert max_diff(model, path, x) <= TOL
    if other_batch is not None:
        assert max_diff(model, path, other_batch) <= TOL
    return path


def randn(*shape):
    return np.random.randn(*shape).astype(np.float32)


# ---------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------
class CNNWithBatchNorm(models.Model):
    """Conv + BatchNorm + pooling (max and average) + deconv + dropout + linear head."""

    def __init__(self):
        super().__init__()
        self.conv1 = L.Conv2d(8, 3, pad=1)
        self.bn1 = L.BatchNorm()
        self.up = L.Deconv2d(8, 3, stride=2, pad=1)
        self.conv2 = L.Conv2d(6, 3, stride=2, pad=1)
        self.bn2 = L.BatchNorm()
        self.fc = L.Linear(5)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.average_pooling(x, 2, 2)
        x = self.up(x)
        x = F.pooling(F.relu(self.bn2(self.conv2(x))), 2, 2)
        x = F.dropout(F.reshape(x, (x.shape[0], -1)))
        return F.log_softmax(self.fc(x))


class SmallVGG(models.Model):
    """A VGG-like stack (3x3 convs, ReLU, 2x2 max pooling, fc with dropout), small."""

    def __init__(self):
        super().__init__()
        self.convs = [L.Conv2d(c, 3, 1, 1) for c in (8, 8, 16, 16)]
        for i, c in enumerate(self.convs):
            setattr(self, f'conv{i}', c)
        self.fc1 = L.Linear(32)
        self.fc2 = L.Linear(10)

    def forward(self, x):
        for k in range(0, 4, 2):
            x = F.relu(self.convs[k](x))
            x = F.pooling(F.relu(self.convs[k + 1](x)), 2, 2)
        x = F.reshape(x, (x.shape[0], -1))
        x = F.dropout(F.relu(self.fc1(x)))
        return F.softmax(self.fc2(x))


class UnrolledLSTM(models.Model):
    """An LSTM over (N, T, D) sequences, unrolled; the last h goes through a linear head."""

    def __init__(self):
        super().__init__()
        self.lstm = L.LSTM(6)
        self.fc = L.Linear(3)

    def reset_state(self):
        self.lstm.reset_state()

    def forward(self, x):
        self.reset_state()
        for t in range(x.shape[1]):
            h = self.lstm(x[:, t, :])
        return self.fc(h)


def test_mlp_matches_onnxruntime_at_another_batch_size(tmp_path):
    np.random.seed(0)
    model = models.MLP((16, 8, 3))
    export_and_check(model, randn(4, 2), tmp_path, other_batch=randn(9, 2))


def test_cnn_with_batchnorm_uses_running_statistics(tmp_path):
    np.random.seed(1)
    model = CNNWithBatchNorm()
    x = randn(4, 3, 12, 12)
    for _ in range(3):  # training steps move the running statistics away from (0, 1)
        model(x * 2 + 1)
    export_and_check(model, x, tmp_path, other_batch=randn(2, 3, 12, 12))


def test_small_vgg_stack_matches(tmp_path):
    np.random.seed(2)
    export_and_check(SmallVGG(), randn(2, 3, 16, 16), tmp_path, other_batch=randn(3, 3, 16, 16))


@pytest.mark.slow
def test_vgg16_with_random_weights_matches(tmp_path):
    np.random.seed(3)
    export_and_check(models.VGG16(), randn(1, 3, 32, 32), tmp_path,
                     other_batch=randn(2, 3, 32, 32))


def test_unrolled_lstm_matches(tmp_path):
    np.random.seed(4)
    path = export_and_check(UnrolledLSTM(), randn(3, 4, 5), tmp_path,
                            other_batch=randn(5, 4, 5))
    ops = [n.op_type for n in onnx.load(path).graph.node]
    assert ops.count('Tanh') >= 4  # one cell per step: the first in plain ops, then fused


@pytest.mark.slow
@pytest.mark.parametrize('build', [models.ResNet50, models.SqueezeNet],
                         ids=['resnet50', 'squeezenet'])
def test_resnet_and_squeezenet_with_random_weights_match(build, tmp_path):
    np.random.seed(10)
    export_and_check(build(), randn(1, 3, 64, 64), tmp_path, other_batch=randn(2, 3, 64, 64))


class UnrolledGRU(models.Model):
    """A GRU over (N, T, D) sequences, unrolled, with a linear head."""

    def __init__(self):
        super().__init__()
        self.gru = L.GRU(5)
        self.fc = L.Linear(2)

    def forward(self, x):
        self.gru.reset_state()
        for t in range(x.shape[1]):
            h = self.gru(x[:, t])
        return self.fc(h)


def test_unrolled_gru_matches(tmp_path):
    np.random.seed(11)
    export_and_check(UnrolledGRU(), randn(3, 4, 6), tmp_path, other_batch=randn(5, 4, 6))


def test_static_batch_keeps_the_sample_shape(tmp_path):
    path = str(tmp_path / 'm.onnx')
    donnx.export(models.MLP((4, 2)), randn(3, 5), path, dynamic_batch=False,
                 input_names=['x'], output_names=['y'])
    graph = onnx.load(path).graph
    assert [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim] == [3, 5]
    assert (graph.input[0].name, graph.output[0].name) == ('x', 'y')
    dyn = str(tmp_path / 'd.onnx')
    donnx.export(models.MLP((4, 2)), randn(3, 5), dyn)
    assert onnx.load(dyn).graph.input[0].type.tensor_type.shape.dim[0].dim_param == 'batch'


def test_parameters_are_initializers_named_by_path(tmp_path):
    model = models.MLP((4, 2))
    path = str(tmp_path / 'm.onnx')
    donnx.export(model, randn(3, 5), path)
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer}
    for key, p in model.named_params():
        np.testing.assert_array_equal(inits[key], p.data)


# ---------------------------------------------------------------------------
# single functions: (name, input shapes, fn) run through export and onnxruntime
# ---------------------------------------------------------------------------
W34 = np.random.RandomState(5).randn(3, 4).astype(np.float32)
EMB = np.random.RandomState(6).randn(10, 3).astype(np.float32)
CASES = [
    ('add_sub_mul_div', [(2, 3), (2, 3)], lambda a, b: (a + b) * (a - b) / (b * b + 1)),
    ('constants', [(2, 3)], lambda a: 2.0 - (3 * a + 1) / 2 + 1 / (a * a + 1) - 0.5),
    ('broadcast_binary', [(2, 3), (3,)], lambda a, b: a * b + b - a / (b * b + 1)),
    ('neg_pow', [(2, 3)], lambda a: -(a ** 2) + (a * a + 1) ** 0.5),
    ('math', [(2, 3)], lambda a: F.exp(a) + F.log(a * a + 1) + F.tanh(a) + F.sin(a)
     + F.cos(a) + F.sqrt(a * a + 1) + F.abs(a) + F.square(a)),
    ('activations', [(2, 3)], lambda a: F.sigmoid(a) + F.relu(a) + F.leaky_relu(a, 0.1)
     + F.softmax(a) + F.log_softmax(a, axis=0)),
    ('softmax_two_axes', [(2, 3, 4)], lambda a: F.softmax(a, axis=(1, 2))
     + F.log_softmax(a, axis=(1, 2))),
    ('reshape_transpose', [(2, 3, 4)], lambda a: F.transpose(F.reshape(a, (2, 12)))
     + 0 * F.transpose(a, (1, 0, 2))[0, 0, 0]),
    ('get_item', [(4, 5, 6)], lambda a: F.concat(
        [F.reshape(a[1:3, ::2, -1], (2, -1)), F.reshape(a[..., 2], (2, -1)),
         F.reshape(a[::-1, None, 1:4, 0], (2, -1))], axis=1)),
    ('get_item_int_array', [(5, 3)], lambda a: a[np.array([4, 0, 0, 2])]),
    ('concat_split', [(2, 6)], lambda a: F.concat(F.split(a, 3, axis=1)[::-1], axis=1)),
    ('broadcast_sum_to', [(1, 3)], lambda a: F.sum_to(F.broadcast_to(a, (2, 4, 3)) * 2,
                                                      (4, 1))),
    ('reductions', [(2, 3, 4)], lambda a: (F.sum(a, axis=1) + F.mean(a, axis=1)
     + F.max(a, axis=1) + F.min(a, axis=1) + F.sum(a) + F.mean(a, axis=-1, keepdims=True)[:, 0],
     F.sum(a, axis=(0, 2), keepdims=True))),
    ('clip', [(2, 3)], lambda a: F.clip(a, -0.5, 0.5)),
    ('matmul_linear', [(2, 3)], lambda a: F.matmul(a, W34) + F.linear(a, W34)
     + F.linear(a, W34, np.ones(4, np.float32))),
    ('batched_linear', [(2, 5, 3)], lambda a: F.linear(a, W34, np.ones(4, np.float32))),
    ('embed_id', [(2, 4)], lambda a: F.embed_id(np.array([[1, 2], [9, 0]]), EMB)
     + F.sum(a)),
    ('lstm_cell', [(2, 3)] * 5, lambda c, f, i, o, u: F.lstm_cell(c, f, i, o, u)),
]


@pytest.mark.parametrize('name,shapes,fn', CASES, ids=[c[0] for c in CASES])
def test_function_matches_onnxruntime(name, shapes, fn, tmp_path):
    rng = np.random.RandomState(7)
    xs = [rng.randn(*s).astype(np.float32) for s in shapes]
    path = str(tmp_path / f'{name}.onnx')
    donnx.export(fn, tuple(xs), path, dynamic_batch=False)
    onnx.checker.check_model(onnx.load(path))
    got = run_onnx(path, *xs)
    want = fn(*[dezero.Variable(x) for x in xs])
    want = [w.data for w in (want if isinstance(want, (list, tuple)) else (want,))]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=TOL, atol=TOL)


def test_embed_id_of_a_graph_input_gathers_from_it(tmp_path):
    class Tagger(models.Model):
        def __init__(self):
            super().__init__()
            self.embed = L.EmbedID(10, 4)
            self.fc = L.Linear(2)

        def forward(self, ids):
            return self.fc(F.reshape(self.embed(ids), (ids.shape[0], -1)))

    np.random.seed(8)
    model = Tagger()
    ids = np.array([[1, 2, 3], [9, 0, 0]], dtype=np.int64)
    path = export_and_check(model, ids, tmp_path, other_batch=np.array([[4, 4, 4]]))
    assert 'Gather' in [n.op_type for n in onnx.load(path).graph.node]


# ---------------------------------------------------------------------------
# errors and the file
# ---------------------------------------------------------------------------
def test_unsupported_function_names_it_and_the_supported_ones(tmp_path):
    path = tmp_path / 'm.onnx'
    with pytest.raises(NotImplementedError, match=r"Where.*supported: .*Conv2d"):
        donnx.export(lambda a: F.where(np.array([True, False]), a, a * 2), randn(2), path)
    assert not path.exists()
    assert isinstance(donnx.UnsupportedFunctionError('x'), NotImplementedError)
    assert 'LSTMCell' in donnx.supported_functions()


def test_write_is_atomic_and_keeps_the_old_file_on_error(tmp_path):
    path = tmp_path / 'm.onnx'
    path.write_bytes(b'old')
    with pytest.raises(NotImplementedError):
        donnx.export(lambda a: F.softmax_cross_entropy(a, np.array([0, 1])), randn(2, 3), path)
    assert path.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['m.onnx']


def test_export_traces_in_test_mode_and_restores_the_config(tmp_path):
    model = models.MLP((3,))
    donnx.export(model, randn(2, 2), tmp_path / 'm.onnx')
    assert dezero.Config.train and dezero.Config.enable_backprop


def fake_run(run, config):
    """A run folder as `train` leaves it (config.json and model.npz), without training."""
    from dezero.cli import nets
    run.mkdir()
    settings = {'dataset': 'spiral' if config['model'] == 'mlp' else 'digits',
                'optimizer': 'sgd', 'lr': 0.1, 'batch_size': 8, 'epochs': 1, 'seed': 0}
    (run / 'config.json').write_text(json.dumps({**settings, **config}))
    model = nets.build_model(config)
    model(np.zeros((1, *config['input_shape']), np.float32))
    model.save_weights(str(run / 'model.npz'))


@pytest.mark.parametrize('config', [
    {'model': 'mlp', 'hidden': [8, 8], 'n_classes': 3, 'input_shape': [2]},
    {'model': 'cnn', 'hidden': [8], 'n_classes': 10, 'input_shape': [1, 8, 8]},
], ids=['mlp', 'cnn'])
def test_cli_export_writes_a_runnable_file(config, tmp_path, capsys):
    from dezero.__main__ import main
    from dezero.cli.graph import load_run_model
    np.random.seed(9)
    run, out = tmp_path / 'run', tmp_path / 'model.onnx'
    fake_run(run, config)
    assert main(['export', '--run', str(run), '-o', str(out)]) == 0
    assert 'wrote' in capsys.readouterr().out
    model, _ = load_run_model(str(run))
    assert max_diff(model, str(out), randn(5, *config['input_shape'])) <= TOL


@pytest.mark.parametrize('args,code,message', [
    (['--run', 'no-such-run'], 2, 'is not there'),
    (['--run', '.', '--opset', '12'], 2, 'opset must be 17 or newer'),
])
def test_cli_export_errors_are_one_line(args, code, message, tmp_path):
    proc = subprocess.run([sys.executable, '-m', 'dezero', 'export', *args, '-o',
                           str(tmp_path / 'x.onnx')], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60, check=False)
    assert proc.returncode == code
    assert message in proc.stderr and 'Traceback' not in proc.stderr
    if code == 1:
        assert len(proc.stderr.strip().splitlines()) == 1


def test_import_dezero_loads_none_of_the_interop_packages():
    code = ("import sys, dezero, dezero.training, dezero.callbacks\n"
            "assert callable(dezero.onnx.export)\n"
            "bad = [m for m in ('onnx', 'onnxruntime', 'tensorboardX', 'tensorboard', "
            "'safetensors', 'torch') if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, '-c', code], check=True)


def test_missing_onnx_package_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, 'onnx', None)
    with pytest.raises(ImportError, match=r"pip install 'dezero\[onnx\]'"):
        donnx.export(models.MLP((2,)), randn(1, 2), tmp_path / 'm.onnx')


@pytest.mark.parametrize('kwargs, message', [
    ({'input_names': ['a', 'b']}, '2 input names for 1 inputs'),
    ({'output_names': []}, '0 output names for 1 outputs'),
])
def test_export_names_must_match_the_inputs_and_outputs(kwargs, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        donnx.export(models.MLP((3,)), randn(2, 2), tmp_path / 'm.onnx', **kwargs)
    assert not (tmp_path / 'm.onnx').exists()
