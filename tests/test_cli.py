"""`python -m dezero`: train and graph end to end (subprocesses), option errors (in process)."""
import csv
import gzip
import json
import os
import signal
import struct
import subprocess
import sys
import time

import numpy as np
import pytest

from dezero import datasets
from dezero.__main__ import main
from dezero.cli import nets
from dezero.training import evaluate

ENV = dict(os.environ, PYTHONUNBUFFERED='1')


def png_size(path):
    """(width, height) from a PNG's IHDR chunk, after checking the signature."""
    with open(path, 'rb') as f:
        head = f.read(24)
    assert head[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG file'
    assert head[12:16] == b'IHDR'
    return struct.unpack('>II', head[16:24])


def dezero_cli(*args, env=ENV, cwd=None):
    return subprocess.run([sys.executable, '-m', 'dezero', *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120)


def read_run(run):
    with open(run / 'history.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    with open(run / 'history.json') as f:
        records = json.load(f)
    with open(run / 'config.json') as f:
        config = json.load(f)
    return rows, records, config


def have(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """One 2-epoch spiral run shared by the tests that only read it."""
    run = tmp_path_factory.mktemp('cli') / 'run'
    proc = dezero_cli('train', '--epochs', '2', '--out', str(run))
    return run, proc


# ---------------------------------------------------------------------------
# train, end to end
# ---------------------------------------------------------------------------
def test_train_runs_end_to_end_and_says_where_it_saved(trained):
    run, proc = trained
    assert proc.returncode == 0, proc.stderr
    assert f'run folder: {run}' in proc.stdout
    assert 'test: loss ' in proc.stdout and 'accuracy' in proc.stdout
    assert f'saved in {run}: model.npz' in proc.stdout
    # not a terminal: one plain line per epoch on stdout, no progress bars
    assert 'epoch 1/2: loss ' in proc.stdout and 'epoch 2/2: loss ' in proc.stdout
    assert 'batch' not in proc.stderr
    expected = {'config.json', 'model.npz', 'optimizer.npz', 'history.csv', 'history.json'}
    assert expected <= set(os.listdir(run))


def test_train_history_has_one_row_per_epoch_in_csv_and_json(trained):
    run, _ = trained
    rows, records, config = read_run(run)
    assert [r['epoch'] for r in rows] == ['1', '2']
    assert [r['epoch'] for r in records] == [1, 2]
    assert list(rows[0]) == ['epoch', 'train_loss', 'train_acc', 'test_loss', 'test_acc',
                             'seconds']
    assert float(rows[1]['test_acc']) == pytest.approx(records[1]['test_acc'])
    assert config['dataset'] == 'spiral' and config['epochs'] == 2
    assert config['input_shape'] == [2] and config['n_classes'] == 3


def test_train_weights_load_back_into_a_fresh_model(trained):
    run, _ = trained
    _, records, config = read_run(run)
    model = nets.build_model(config)
    model.load_weights(str(run / 'model.npz'))
    from dezero.dataloaders import DataLoader
    loss, acc = evaluate(model, DataLoader(datasets.Spiral(train=False), 300, shuffle=False))
    assert loss == pytest.approx(records[-1]['test_loss'], rel=1e-5)
    assert acc == pytest.approx(records[-1]['test_acc'])


@pytest.mark.skipif(not have('matplotlib'), reason='Matplotlib is not installed')
def test_train_plots_the_learning_curves(trained):
    run, _ = trained
    width, height = png_size(run / 'history.png')
    assert 400 <= width <= 2000 and 200 <= height <= 1200


def test_train_resume_continues_from_the_saved_epoch(tmp_path):
    run = tmp_path / 'run'
    assert dezero_cli('train', '--epochs', '2', '--out', str(run),
                      '--no-progress').returncode == 0
    before, _, _ = read_run(run)
    proc = dezero_cli('train', '--resume', str(run), '--epochs', '4', '--no-progress')
    assert proc.returncode == 0, proc.stderr
    assert 'resuming from epoch 2' in proc.stdout
    rows, records, config = read_run(run)
    assert [r['epoch'] for r in records] == [1, 2, 3, 4]
    assert rows[:2] == before
    assert config['epochs'] == 4
    # Resumed from the trained weights: epoch 3 starts where epoch 2 left off, not at chance.
    assert records[2]['train_loss'] < records[0]['train_loss']


def test_train_ctrl_c_keeps_the_complete_epochs_and_exits_130(tmp_path):
    run = tmp_path / 'run'
    proc = subprocess.Popen([sys.executable, '-m', 'dezero', 'train', '--epochs', '100000',
                             '--out', str(run), '--no-progress'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.monotonic() + 60
    while not (run / 'history.json').exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert 'interrupted' in err and f'--resume {run}' in err
    rows, records, _ = read_run(run)
    assert len(rows) == len(records) >= 1
    assert [r['epoch'] for r in records] == list(range(1, len(records) + 1))
    done = len(records)
    proc = dezero_cli('train', '--resume', str(run), '--epochs', str(done + 1), '--no-progress')
    assert proc.returncode == 0, proc.stderr
    assert len(read_run(run)[1]) == done + 1


def test_checkpoint_saving_holds_ctrl_c_until_it_is_done():
    from dezero.callbacks import hold_sigint
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with hold_sigint():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)
            steps.append('finished')
    assert steps == ['finished']
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_train_unknown_dataset_lists_the_valid_ones():
    proc = dezero_cli('train', '--dataset', 'imagenet')
    assert proc.returncode == 2
    assert "invalid choice: 'imagenet'" in proc.stderr
    for name in ('spiral', 'digits', 'mnist', 'fashion-mnist', 'cifar10'):
        assert f"'{name}'" in proc.stderr


def test_train_without_matplotlib_and_tqdm_still_trains(tmp_path):
    # Packages that fail to import stand in for uninstalled ones.
    blocked = tmp_path / 'blocked'
    for name in ('matplotlib', 'tqdm'):
        (blocked / name).mkdir(parents=True)
        (blocked / name / '__init__.py').write_text(f"raise ImportError('no {name} here')\n")
    env = dict(ENV, PYTHONPATH=os.pathsep.join([str(blocked), ENV.get('PYTHONPATH', '')]))
    run = tmp_path / 'run'
    proc = dezero_cli('train', '--epochs', '2', '--out', str(run), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "skipped the plot: Matplotlib is not installed (pip install 'dezero[plot]')" \
        in proc.stdout
    assert not (run / 'history.png').exists()
    assert len(read_run(run)[1]) == 2
    lines = [line for line in proc.stdout.splitlines() if line.startswith('epoch ')]
    assert len(lines) == 2 and '| test loss' in lines[1]


# ---------------------------------------------------------------------------
# train, option errors (in process: fast)
# ---------------------------------------------------------------------------
def _usage_error(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


def test_train_cnn_needs_an_image_dataset(capsys):
    err = _usage_error(capsys, ['train', '--model', 'cnn'])
    assert '--model cnn needs images, and spiral holds 2-D points' in err


@pytest.mark.parametrize('argv, message', [
    (['--hidden', '64,x'], "argument --hidden: expected positive layer sizes"),
    (['--epochs', '0'], "argument --epochs: expected a positive int, got '0'"),
    (['--lr', '-1'], "argument --lr: expected a positive float, got '-1'"),
    (['--optimizer', 'rmsprop'], "invalid choice: 'rmsprop' (choose from 'sgd', 'momentum', "
                                 "'adam', 'adamw')"),
])
def test_train_rejects_bad_option_values(capsys, argv, message):
    assert message in _usage_error(capsys, ['train'] + argv)


def test_train_resume_needs_a_run_folder(capsys, tmp_path):
    err = _usage_error(capsys, ['train', '--resume', str(tmp_path)])
    assert f'--resume: {tmp_path} has no config.json' in err


def test_train_resume_refuses_other_settings_and_out_refuses_an_old_run(capsys, trained):
    run, _ = trained
    err = _usage_error(capsys, ['train', '--resume', str(run), '--hidden', '8'])
    assert "its --hidden is [32, 32], not [8]" in err
    err = _usage_error(capsys, ['train', '--out', str(run)])
    assert f'--out {run} already holds a run; continue it with --resume {run}' in err


def test_train_resume_of_a_finished_run_does_nothing(capsys, trained):
    run, _ = trained
    before = (run / 'history.json').read_text()
    assert main(['train', '--resume', str(run)]) == 0
    assert 'already holds 2 epochs (target 2)' in capsys.readouterr().out
    assert (run / 'history.json').read_text() == before


def test_train_default_out_is_a_timestamped_folder_under_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(['train', '--epochs', '1', '--no-progress']) == 0
    assert main(['train', '--epochs', '1', '--no-progress']) == 0
    runs = sorted(os.listdir(tmp_path / 'runs'))
    assert len(runs) == 2 and runs[0][:8].isdigit()
    assert f"run folder: {os.path.join('runs', runs[0])}" in capsys.readouterr().out


def test_train_digits_without_scikit_learn_names_the_package(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, 'sklearn', None)
    monkeypatch.setitem(sys.modules, 'sklearn.datasets', None)
    assert main(['train', '--dataset', 'digits', '--out', str(tmp_path / 'r')]) == 1
    err = capsys.readouterr().err
    assert 'cannot load the digits data set' in err and 'pip install scikit-learn' in err
    assert not (tmp_path / 'r').exists()


def test_train_reports_a_failed_download(capsys, monkeypatch):
    from dezero.download import DownloadError

    def offline(*args, **kwargs):
        raise DownloadError('get_file: cannot download train-images-idx3-ubyte.gz (offline?)')

    monkeypatch.setattr(datasets.MNIST, 'prepare', offline)
    assert main(['train', '--dataset', 'mnist']) == 1
    assert 'error: cannot load the mnist data set: get_file: cannot download' in \
        capsys.readouterr().err


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f'>{array.ndim}I', *array.shape)
    with gzip.open(path, 'wb') as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def tiny_mnist(tmp_path, monkeypatch):
    """A 40 + 20 image MNIST in a private cache: class k is an image of brightness 25 k."""
    cache = tmp_path / 'cache'
    cache.mkdir()
    rng = np.random.default_rng(0)
    for prefix, n in (('train', 40), ('t10k', 20)):
        labels = np.arange(n) % 10
        images = labels[:, None, None] * 25 + rng.integers(0, 5, (n, 28, 28))
        _write_idx(cache / f'{prefix}-images-idx3-ubyte.gz', images)
        _write_idx(cache / f'{prefix}-labels-idx1-ubyte.gz', labels)
    monkeypatch.setenv('DEZERO_CACHE_DIR', str(cache))
    return cache


def test_train_mnist_mlp_flattens_and_scales_the_images(tiny_mnist, tmp_path, capsys):
    run = tmp_path / 'run'
    assert main(['train', '--dataset', 'mnist', '--epochs', '1', '--batch-size', '20',
                 '--hidden', '16', '--out', str(run), '--no-progress']) == 0
    _, records, config = read_run(run)
    assert config['input_shape'] == [784] and config['n_classes'] == 10
    assert len(records) == 1 and np.isfinite(records[0]['test_loss'])


def test_train_cnn_keeps_the_image_shape_and_resumes(tiny_mnist, tmp_path, capsys):
    run = tmp_path / 'run'
    common = ['--no-progress']
    assert main(['train', '--dataset', 'mnist', '--model', 'cnn', '--epochs', '1',
                 '--batch-size', '20', '--hidden', '8', '--out', str(run)] + common) == 0
    assert read_run(run)[2]['input_shape'] == [1, 28, 28]
    assert main(['train', '--resume', str(run), '--epochs', '2'] + common) == 0
    assert [r['epoch'] for r in read_run(run)[1]] == [1, 2]
    out = tmp_path / 'cnn.dot'
    assert main(['graph', '--run', str(run), '-o', str(out)]) == 0
    dot = out.read_text()
    assert dot.count('"Conv2d"') == 2 and '"x: (1, 1, 28, 28) float32"' in dot
    assert '"y: (1, 10) float32"' in dot


@pytest.mark.skipif(not have('sklearn'), reason='scikit-learn is not installed')
def test_train_digits_mlp_learns(tmp_path, capsys):
    run = tmp_path / 'run'
    assert main(['train', '--dataset', 'digits', '--epochs', '2', '--out', str(run),
                 '--no-progress']) == 0
    _, records, config = read_run(run)
    assert config['input_shape'] == [64] and config['n_classes'] == 10
    assert records[-1]['test_acc'] > 0.8


# ---------------------------------------------------------------------------
# graph and the bare command
# ---------------------------------------------------------------------------
def test_graph_writes_a_dot_file_naming_the_functions_of_the_expression(tmp_path):
    proc = dezero_cli('graph', '--out', str(tmp_path / 'gp.dot'))
    assert proc.returncode == 0, proc.stderr
    dot = (tmp_path / 'gp.dot').read_text()
    for name in ('"Mul"', '"Add"', '"Pow"', '"MulConstant"', '"z: () float64"', '"x: () float64"'):
        assert name in dot
    assert f"wrote {tmp_path / 'gp.dot'}" in proc.stdout


def test_graph_of_tanh_derivatives_grows_with_the_order(tmp_path, capsys):
    sizes = []
    for order in (0, 1, 2):
        out = tmp_path / f't{order}.dot'
        assert main(['graph', '--expr', 'tanh', '--order', str(order), '-o', str(out)]) == 0
        dot = out.read_text()
        assert '"Tanh"' in dot
        sizes.append(dot.count('->'))
    assert sizes[0] == 2 and sizes[0] < sizes[1] < sizes[2]
    assert '"gx2: () float64"' in (tmp_path / 't2.dot').read_text()


def test_graph_of_a_saved_model_shows_its_layers(trained, tmp_path, capsys):
    run, _ = trained
    out = tmp_path / 'model.dot'
    assert main(['graph', '--run', str(run), '-o', str(out), '--no-verbose']) == 0
    dot = out.read_text()
    assert dot.count('"Linear"') == 3 and dot.count('"ReLU"') == 2
    assert '"y"' in dot and '"x"' in dot


def test_graph_without_graphviz_writes_the_dot_file_and_says_how_to_install(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('PATH', str(tmp_path / 'empty'))
    assert main(['graph', '-o', str(tmp_path / 'g.png')]) == 1  # g.png was not made
    captured = capsys.readouterr()
    assert f"wrote {tmp_path / 'g.dot'}" in captured.out
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and 'apt-get install graphviz' in err
    assert f"dot -Tpng {tmp_path / 'g.dot'} -o {tmp_path / 'g.png'}" in err
    assert os.listdir(tmp_path) == ['g.dot']


def test_graph_with_a_missing_run_folder_fails_clearly(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(['graph', '--run', str(tmp_path / 'nope')])
    assert e.value.code == 2
    assert 'nope is not there; pass a run folder' in capsys.readouterr().err


def test_bare_command_prints_help_and_a_demo(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert 'usage: python -m dezero' in out and '{train,graph,export}' in out
    assert 'd2y/dx2  = -0.639700' in out  # tanh'' (1) = -2 tanh(1) (1 - tanh(1)^2)
    assert np.isclose(-2 * np.tanh(1) * (1 - np.tanh(1) ** 2), -0.639700, atol=1e-6)


@pytest.mark.parametrize('lr', ['inf', '1e999', 'nan', '0', '-1', 'fast'])
def test_train_refuses_a_non_finite_or_non_positive_lr(lr, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(['train', '--lr', lr, '--out', str(tmp_path / 'r')])
    assert e.value.code == 2
    assert f"argument --lr: expected a positive float, got '{lr}'" in capsys.readouterr().err
    assert not (tmp_path / 'r').exists()


def test_train_stops_with_one_line_when_the_loss_diverges(tmp_path, capsys):
    run = tmp_path / 'run'
    with np.errstate(all='ignore'):
        code = main(['train', '--optimizer', 'sgd', '--lr', '1e30', '--epochs', '3',
                     '--out', str(run), '--no-progress'])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: training diverged: the loss became')
    assert 'smaller --lr (it was 1e+30)' in err[0]
