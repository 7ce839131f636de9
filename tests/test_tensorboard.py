"""dezero.training.TensorBoard: the event files it writes, read back record by record."""
import glob
import os
import struct
import sys

import numpy as np
import pytest

from dezero import models, optimizers
from dezero.training import TensorBoard, fit

pytest.importorskip('tensorboardX', reason="TensorBoard needs tensorboardX (pip install "
                                           "'dezero[tensorboard]')")
from tensorboardX.proto import event_pb2


def read_events(log_dir):
    """Every Event of every event file under log_dir, parsed from the TFRecord framing
    (u64 length, u32 crc, payload, u32 crc) with tensorboardX's Event proto."""
    events = []
    for path in sorted(glob.glob(os.path.join(log_dir, '**', 'events.out.tfevents.*'),
                                 recursive=True)):
        with open(path, 'rb') as f:
            data = f.read()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack('<Q', data[pos:pos + 8])
            pos += 12
            event = event_pb2.Event()
            event.ParseFromString(data[pos:pos + length])
            events.append(event)
            pos += length + 4
    return events


def scalars(log_dir):
    """{tag: [(step, value), ...]} of the simple-value summaries."""
    out = {}
    for e in read_events(log_dir):
        for v in e.summary.value:
            if v.HasField('simple_value'):
                out.setdefault(v.tag, []).append((e.step, v.simple_value))
    return out


def spiral_like(n=60, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.randn(n, 2).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def test_fit_writes_losses_accuracies_and_learning_rate(tmp_path):
    np.random.seed(0)
    x, t = spiral_like()
    model = models.MLP((8, 2))
    opt = optimizers.SGD(lr=0.25).setup(model)
    tb = TensorBoard(tmp_path / 'tb')
    history = fit(model, opt, (x, t), (x, t), epochs=3, progress=False, callbacks=[tb])
    got = scalars(tmp_path / 'tb')
    for key, tag in [('train_loss', 'loss/train'), ('test_loss', 'loss/test'),
                     ('train_acc', 'acc/train'), ('test_acc', 'acc/test'),
                     ('seconds', 'time/seconds')]:
        assert [s for s, _ in got[tag]] == [1, 2, 3]
        np.testing.assert_allclose([v for _, v in got[tag]], [r[key] for r in history],
                                   rtol=1e-6)
    assert got['learning_rate'] == [(1, 0.25), (2, 0.25), (3, 0.25)]


def test_histograms_every_n_epochs_for_params_and_grads(tmp_path):
    np.random.seed(1)
    x, t = spiral_like()
    model = models.MLP((4, 2))
    opt = optimizers.Adam(alpha=0.01).setup(model)
    fit(model, opt, (x, t), epochs=4, progress=False,
        callbacks=[TensorBoard(tmp_path, model=model, histogram_every=2)])
    hist_steps = {}
    for e in read_events(tmp_path):
        for v in e.summary.value:
            if v.HasField('histo'):
                hist_steps.setdefault(v.tag, []).append(e.step)
    names = [k for k, _ in model.named_params()]
    assert set(hist_steps) == {f'{kind}/{n}' for kind in ('params', 'grads') for n in names}
    assert all(steps == [2, 4] for steps in hist_steps.values())
    assert scalars(tmp_path)['learning_rate'][0] == (1, pytest.approx(0.01))  # Adam's alpha


def test_model_summary_is_written_as_text(tmp_path):
    model = models.MLP((3, 2))
    x, t = spiral_like(10)
    fit(model, optimizers.SGD().setup(model), (x, t), epochs=1, progress=False,
        callbacks=[TensorBoard(tmp_path)])
    texts = [b''.join(v.tensor.string_val).decode() for e in read_events(tmp_path)
             for v in e.summary.value if v.tag == 'model/text_summary']
    assert len(texts) == 1
    assert 'MLP' in texts[0] and 'Total parameters: 17' in texts[0]  # 2*3+3 + 3*2+2


def test_plain_on_epoch_end_use_without_fit(tmp_path):
    tb = TensorBoard(tmp_path)
    tb.on_epoch_end({'epoch': 1, 'train_loss': 0.5, 'train_acc': None, 'note': 'x'})
    tb.on_epoch_end({'epoch': 2, 'train_loss': np.float32(0.25), 'train_acc': 0.75})
    tb.close()
    assert scalars(tmp_path) == {'loss/train': [(1, 0.5), (2, 0.25)], 'acc/train': [(2, 0.75)]}


@pytest.mark.parametrize('bad', [-1, 1.5, True])
def test_histogram_every_must_be_a_count(bad):
    with pytest.raises(ValueError, match='histogram_every'):
        TensorBoard('x', histogram_every=bad)


def test_missing_tensorboardx_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, 'tensorboardX', None)
    with pytest.raises(ImportError, match=r"pip install 'dezero\[tensorboard\]'"):
        TensorBoard(tmp_path).on_epoch_end({'epoch': 1, 'train_loss': 1.0})


def test_cli_train_tensorboard_flag(tmp_path, capsys):
    from dezero.__main__ import main
    run = tmp_path / 'run'
    assert main(['train', '--epochs', '2', '--no-progress', '--out', str(run),
                 '--tensorboard']) == 0
    assert 'tensorboard --logdir' in capsys.readouterr().out
    got = scalars(run / 'tensorboard')
    assert [s for s, _ in got['loss/test']] == [1, 2]
    assert 'learning_rate' in got
