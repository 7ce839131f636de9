"""The shared training loop (fit, evaluate) and the history helpers (save, load, plot)."""
import struct
import sys

import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero import Config, models, optimizers, training
from dezero.training import evaluate, fit, load_history, plot_history, save_history


def png_size(path):
    """(width, height) from a PNG's IHDR chunk, after checking the signature."""
    with open(path, 'rb') as f:
        head = f.read(24)
    assert head[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG file'
    assert head[12:16] == b'IHDR'
    return struct.unpack('>II', head[16:24])


class Loader:
    """A minimal loader: shuffled (x, t) batches, restarting at each iteration."""

    def __init__(self, x, t, batch_size, fail_at=None):
        self.x, self.t, self.batch_size = x, t, batch_size
        self.max_iter = -(-len(x) // batch_size)
        self.fail_at = fail_at  # (epoch, batch) that raises KeyboardInterrupt
        self.epoch = 0

    def __iter__(self):
        self.epoch += 1
        order = np.random.permutation(len(self.x))
        for i in range(self.max_iter):
            if self.fail_at == (self.epoch, i):
                raise KeyboardInterrupt
            j = order[i * self.batch_size:(i + 1) * self.batch_size]
            yield self.x[j], self.t[j]


def _quadrants(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2)).astype(np.float32)
    t = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    return x, t


def _setup(lr=0.05):
    np.random.seed(0)
    model = models.MLP((16, 2), activation=F.relu)
    return model, optimizers.Adam(lr).setup(model)


def test_fit_returns_one_record_per_epoch_and_learns():
    x, t = _quadrants()
    model, opt = _setup()
    history = fit(model, opt, Loader(x, t, 20), Loader(x, t, 100), epochs=15, progress=False)
    assert [r['epoch'] for r in history] == list(range(1, 16))
    assert set(history[0]) == set(training.HISTORY_KEYS)
    assert history[-1]['train_loss'] < 0.5 * history[0]['train_loss']
    assert history[-1]['test_acc'] > 0.9
    assert all(r['seconds'] > 0 for r in history)
    assert all(isinstance(r['train_loss'], float) for r in history)


def test_fit_loss_is_the_sample_weighted_mean_over_the_epoch():
    x, t = _quadrants(50)
    model, _ = _setup()
    # SGD with lr 0 leaves the model unchanged, so the epoch mean equals evaluate's.
    history = fit(model, optimizers.SGD(0.0).setup(model), Loader(x, t, 16), epochs=1,
                  progress=False)
    loss, acc = evaluate(model, Loader(x, t, 50))
    assert history[0]['train_loss'] == pytest.approx(loss, rel=1e-5)
    assert history[0]['train_acc'] == pytest.approx(acc)
    assert history[0]['test_loss'] is None and history[0]['test_acc'] is None


def test_fit_continues_a_history_up_to_epochs_in_total():
    x, t = _quadrants()
    model, opt = _setup()
    history = fit(model, opt, Loader(x, t, 50), epochs=2, progress=False)
    same = fit(model, opt, Loader(x, t, 50), epochs=5, progress=False, history=history)
    assert same is history
    assert [r['epoch'] for r in history] == [1, 2, 3, 4, 5]
    assert fit(model, opt, Loader(x, t, 50), epochs=3, history=history) == history  # done


def test_fit_calls_on_epoch_end_and_stops_when_a_callback_returns_true():
    x, t = _quadrants()
    model, opt = _setup()
    seen, also = [], []
    history = fit(model, opt, Loader(x, t, 50), epochs=10, progress=False,
                  on_epoch_end=[lambda r: seen.append(r['epoch']) or r['epoch'] == 3,
                                also.append])
    assert seen == [1, 2, 3] and [r['epoch'] for r in also] == [1, 2, 3]
    assert len(history) == 3


def test_fit_without_accuracy_trains_a_regression():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (100, 1)).astype(np.float32)
    t = (2 * x + 1).astype(np.float32)
    np.random.seed(0)
    model = models.MLP((1,))
    opt = optimizers.SGD(0.1).setup(model)
    history = fit(model, opt, Loader(x, t, 20), Loader(x, t, 100), epochs=30,
                  loss_fn=F.mean_squared_error, acc_fn=None, progress=False)
    assert history[-1]['train_acc'] is None and history[-1]['test_acc'] is None
    assert history[-1]['test_loss'] < 0.01


def test_fit_keeps_complete_epochs_when_interrupted():
    x, t = _quadrants()
    model, opt = _setup()
    history = []
    with pytest.raises(KeyboardInterrupt):
        fit(model, opt, Loader(x, t, 50, fail_at=(3, 2)), epochs=5, progress=False,
            history=history)
    assert [r['epoch'] for r in history] == [1, 2]


def test_fit_rejects_an_empty_loader():
    model, opt = _setup()
    empty = Loader(np.zeros((0, 2), np.float32), np.zeros(0, np.int64), 10)
    with pytest.raises(ValueError, match=r'fit: the train loader Loader yielded no batches'):
        fit(model, opt, empty, epochs=1, progress=False)
    with pytest.raises(ValueError, match=r'evaluate: the loader Loader yielded no batches'):
        evaluate(model, empty)


def test_evaluate_runs_in_test_mode_without_a_graph():
    seen = []

    class Probe(models.Model):
        def forward(self, x):
            seen.append((Config.train, Config.enable_backprop))
            return dezero.Variable(np.tile(np.array([[0.0, 1.0]], np.float32), (len(x), 1)))

    x, t = _quadrants(10)
    loss, acc = evaluate(Probe(), Loader(x, t, 5))
    assert seen == [(False, False), (False, False)]
    assert acc == pytest.approx(t.mean())
    assert loss == pytest.approx(float(F.softmax_cross_entropy(
        np.tile(np.array([[0.0, 1.0]], np.float32), (10, 1)), t).data), rel=1e-6)


def test_fit_formats_the_bar_text_only_every_few_batches(monkeypatch):
    calls = []

    class Bar:
        def update(self, n=1):
            calls.append('update')

        def set_postfix_str(self, text, refresh=True):
            calls.append(text)

        def close(self):
            calls.append('close')

    monkeypatch.setattr(training, 'progress_bar', lambda total, desc, enabled: Bar())
    x, t = _quadrants(400)
    model, opt = _setup()
    fit(model, opt, Loader(x, t, 10), epochs=1)
    assert calls.count('update') == 40
    texts = [c for c in calls if c.startswith('loss')]
    assert len(texts) == 40 // training._POSTFIX_EVERY + 1
    assert calls[-1] == 'close'


def test_fit_shows_a_tqdm_bar_per_epoch(capsys):
    pytest.importorskip('tqdm')
    x, t = _quadrants()
    model, opt = _setup()
    fit(model, opt, Loader(x, t, 50), Loader(x, t, 200), epochs=2)
    err = capsys.readouterr().err
    assert 'epoch 1/2' in err and 'epoch 2/2' in err
    assert 'test loss' in err and 'acc' in err


def test_fit_falls_back_to_a_plain_bar_without_tqdm(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, 'tqdm', None)  # `import tqdm` now raises ImportError
    x, t = _quadrants()
    model, opt = _setup()
    fit(model, opt, Loader(x, t, 50), Loader(x, t, 200), epochs=2)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith('epoch 1/2 [####################] 4/4 loss ')
    assert '| test loss' in lines[1] and ' acc ' in lines[1]


def test_fit_without_progress_prints_nothing(capsys):
    x, t = _quadrants()
    model, opt = _setup()
    fit(model, opt, Loader(x, t, 50), epochs=2, progress=False)
    assert capsys.readouterr() == ('', '')


def _history():
    return [{'epoch': 1, 'train_loss': 0.9, 'train_acc': 0.5, 'test_loss': None,
             'test_acc': None, 'seconds': 0.1},
            {'epoch': 2, 'train_loss': 0.5, 'train_acc': 0.75, 'test_loss': None,
             'test_acc': None, 'seconds': 0.1}]


@pytest.mark.parametrize('ext', ['csv', 'json'])
def test_save_history_round_trips(tmp_path, ext):
    path = tmp_path / f'h.{ext}'
    save_history(_history(), path)
    assert load_history(path) == _history()


def test_save_history_writes_a_header_and_one_csv_row_per_epoch(tmp_path):
    as_dict = {k: [r[k] for r in _history()] for k in training.HISTORY_KEYS}
    save_history(as_dict, tmp_path / 'h.csv')
    lines = (tmp_path / 'h.csv').read_text().splitlines()
    assert lines == ['epoch,train_loss,train_acc,test_loss,test_acc,seconds',
                     '1,0.9,0.5,,,0.1', '2,0.5,0.75,,,0.1']


def test_save_history_needs_a_known_extension(tmp_path):
    with pytest.raises(ValueError, match=r"save_history: cannot tell the format of .*h\.txt"):
        save_history(_history(), tmp_path / 'h.txt')


def test_plot_history_draws_a_png_of_sensible_size(tmp_path):
    pytest.importorskip('matplotlib')
    out = plot_history(_history(), tmp_path / 'h.png')
    width, height = png_size(out)
    assert (width, height) == (900, 340)  # two panels of 4.5 x 3.4 inches at 100 dpi
    loss_only = [{k: v for k, v in r.items() if k != 'train_acc'} for r in _history()]
    assert png_size(plot_history(loss_only, tmp_path / 'l.png')) == (450, 340)


def test_plot_history_names_the_extra_without_matplotlib(tmp_path, monkeypatch):
    for name in ('matplotlib', 'matplotlib.figure', 'matplotlib.backends.backend_agg'):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"plot_history needs Matplotlib: pip install "
                                          r"'dezero\[plot\]'"):
        plot_history(_history(), tmp_path / 'h.png')
    assert list(tmp_path.iterdir()) == []


def test_plot_history_rejects_an_empty_history(tmp_path):
    pytest.importorskip('matplotlib')
    with pytest.raises(ValueError, match='plot_history: the history is empty'):
        plot_history([], tmp_path / 'h.png')


def test_history_json_is_strict_json_with_null_for_nan_and_inf(tmp_path):
    import json
    history = [{'epoch': 1, 'train_loss': float('nan'), 'train_acc': 0.5,
                'test_loss': float('inf'), 'test_acc': None, 'seconds': 1.0}]
    path = save_history(history, tmp_path / 'h.json')

    def refuse(name):
        raise ValueError(f'not strict JSON: {name}')
    records = json.loads(open(path).read(), parse_constant=refuse)
    assert records[0]['train_loss'] is None and records[0]['test_loss'] is None
    assert records[0]['train_acc'] == 0.5
    assert load_history(path)[0]['test_loss'] is None
