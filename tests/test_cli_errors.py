"""Every bad argument or bad run file at the command line ends in one line on stderr naming
the problem and the fix: exit status 2 for bad arguments, 1 for bad files, no traceback, and
no half-made run folder."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from dezero.__main__ import main

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, 'examples')
SEED_MAX = 2 ** 32 - 1


@pytest.fixture(scope='module')
def good_run(tmp_path_factory):
    """A one-epoch spiral run (and one of another architecture) to damage copies of."""
    base = tmp_path_factory.mktemp('runs')
    for name, hidden in (('run', '8'), ('other', '4,4')):
        assert main(['train', '--epochs', '1', '--hidden', hidden, '--out', str(base / name),
                     '--no-progress']) == 0
    return base


def _edit_json(path, change):
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))


def _truncate(path):
    path.write_bytes(path.read_bytes()[:100])


# (case id, what to do to the copied run folder `r` (tmp is the test's folder), argv, exit
# status, text the one line must hold). argv may name {run}, {tmp} and {file}.
CASES = [
    ('seed-negative', None, ['train', '--seed', '-5', '--out', '{tmp}/new'], 2,
     'expected an integer from 0 to 4294967295'),
    ('seed-overflows', None, ['train', '--seed', str(SEED_MAX), '--epochs', '2',
                              '--out', '{tmp}/new'], 2, 'use a smaller --seed'),
    ('resume-seed-overflows',
     lambda r: _edit_json(r / 'config.json', lambda c: c.update(seed=SEED_MAX - 1)),
     ['train', '--resume', '{run}', '--epochs', '3'], 2, 'use a smaller --seed'),
    ('resume-config-corrupt', lambda r: (r / 'config.json').write_text('{"dataset": '),
     ['train', '--resume', '{run}', '--epochs', '2'], 1, 'config.json is damaged'),
    ('resume-config-missing-key',
     lambda r: _edit_json(r / 'config.json', lambda c: c.pop('hidden')),
     ['train', '--resume', '{run}', '--epochs', '2'], 1, "lacks 'hidden'"),
    ('resume-config-bad-value',
     lambda r: _edit_json(r / 'config.json', lambda c: c.update(lr='fast')),
     ['train', '--resume', '{run}', '--epochs', '2'], 1, "lr = 'fast', not a finite positive"),
    ('resume-history-corrupt', lambda r: (r / 'history.json').write_text('[{"epoch": 1},'),
     ['train', '--resume', '{run}', '--epochs', '2'], 1, 'history.json is damaged'),
    ('resume-history-missing-key', lambda r: (r / 'history.json').write_text('[{"loss": 1}]'),
     ['train', '--resume', '{run}', '--epochs', '2'], 1, 'history.json is damaged'),
    ('resume-model-missing', lambda r: (r / 'model.npz').unlink(),
     ['train', '--resume', '{run}', '--epochs', '2'], 1, 'no such file'),
    ('resume-model-truncated', lambda r: _truncate(r / 'model.npz'),
     ['train', '--resume', '{run}', '--epochs', '2'], 1, 'truncated'),
    ('resume-model-other-architecture',
     lambda r: shutil.copy(r.parent / 'other' / 'model.npz', r / 'model.npz'),
     ['train', '--resume', '{run}', '--epochs', '2'], 1, 'does not match the model'),
    ('resume-optimizer-missing', lambda r: (r / 'optimizer.npz').unlink(),
     ['train', '--resume', '{run}', '--epochs', '2'], 1, 'optimizer.npz'),
    ('resume-optimizer-truncated', lambda r: _truncate(r / 'optimizer.npz'),
     ['train', '--resume', '{run}', '--epochs', '2'], 1, 'optimizer.npz'),
    ('resume-a-file', None, ['train', '--resume', '{file}'], 2, 'is a file; pass a run folder'),
    ('out-is-a-file', None, ['train', '--out', '{file}'], 2, 'is a file; name a folder'),
    ('out-unwritable', None, ['train', '--out', '{file}/run'], 2,
     'cannot create the run folder'),
    ('lr-inf', None, ['train', '--lr', 'inf', '--out', '{tmp}/new'], 2,
     "expected a positive float, got 'inf'"),
    ('graph-run-a-file', None, ['graph', '--run', '{file}', '-o', '{tmp}/g.dot'], 2,
     'is a file; pass a run folder'),
    ('graph-run-without-model', lambda r: (r / 'model.npz').unlink(),
     ['graph', '--run', '{run}', '-o', '{tmp}/g.dot'], 1, 'has no model.npz yet'),
    ('graph-config-corrupt', lambda r: (r / 'config.json').write_text('nope'),
     ['graph', '--run', '{run}', '-o', '{tmp}/g.dot'], 1, 'config.json is damaged'),
    ('graph-model-truncated', lambda r: _truncate(r / 'model.npz'),
     ['graph', '--run', '{run}', '-o', '{tmp}/g.dot'], 1, 'truncated'),
    ('graph-out-unwritable', None, ['graph', '-o', '{file}/g.png'], 2, 'cannot write into'),
    ('graph-out-no-extension', None, ['graph', '-o', '{tmp}/graph'], 2, 'has no extension'),
]


@pytest.mark.parametrize('case, damage, argv, status, text', CASES, ids=[c[0] for c in CASES])
def test_cli_error_is_one_clear_line(case, damage, argv, status, text, good_run, tmp_path,
                                     monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # a default ./runs/ folder would land here
    run = tmp_path / 'run'
    shutil.copytree(good_run / 'run', run)
    shutil.copytree(good_run / 'other', tmp_path / 'other')
    (tmp_path / 'a-file').write_text('not a folder')
    if damage is not None:
        damage(run)
    before = sorted(os.listdir(tmp_path)), sorted(os.listdir(run))
    argv = [a.format(run=run, tmp=tmp_path, file=tmp_path / 'a-file') for a in argv]
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err.strip()
    assert code == status, err
    assert len(err.splitlines()) == 1, err
    assert text in err and 'error' in err and 'Traceback' not in err
    assert (sorted(os.listdir(tmp_path)), sorted(os.listdir(run))) == before  # nothing made


def test_graph_fails_on_a_format_dot_does_not_know_but_keeps_the_dot(tmp_path, monkeypatch,
                                                                      capsys):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    dot = bin_dir / 'dot'
    dot.write_text('#!/bin/sh\necho \'Format: "xyz" not recognized. Use one of: png svg\' >&2\n'
                   'exit 1\n')
    dot.chmod(0o755)
    monkeypatch.setenv('PATH', str(bin_dir))
    with pytest.raises(SystemExit) as e:
        main(['graph', '-o', str(tmp_path / 'g.xyz')])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and len(err.splitlines()) == 1
    assert 'not recognized' in err and 'a format Graphviz knows' in err
    assert (tmp_path / 'g.dot').exists() and not (tmp_path / 'g.xyz').exists()


def test_graph_without_graphviz_exits_1_and_keeps_the_dot(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('PATH', str(tmp_path / 'empty'))
    assert main(['graph', '-o', str(tmp_path / 'g.svg')]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'could not render' in err
    assert sorted(os.listdir(tmp_path)) == ['g.dot']


def test_a_run_that_diverges_in_its_first_epoch_leaves_no_folder(tmp_path, capsys):
    with np.errstate(all='ignore'):
        code = main(['train', '--optimizer', 'sgd', '--lr', '1e30', '--epochs', '2',
                     '--out', str(tmp_path / 'new'), '--no-progress'])
    assert code == 1 and 'nothing was saved' in capsys.readouterr().err
    assert not (tmp_path / 'new').exists()


def _interrupt_at(monkeypatch, epoch):
    """Make the CLI's fit raise KeyboardInterrupt (as Ctrl-C does) at `epoch`'s first batch."""
    from dezero import training
    from dezero.callbacks import Callback
    real_fit = training.fit

    class CtrlC(Callback):
        def on_batch_end(self, batch):
            if batch['epoch'] == epoch:
                raise KeyboardInterrupt

    def fit(*args, callbacks=(), **kwargs):
        return real_fit(*args, callbacks=list(callbacks) + [CtrlC()], **kwargs)
    monkeypatch.setattr(training, 'fit', fit)


# (case id, what is there before, argv, epoch interrupted, what the folder holds after:
# None for no folder, and the text of the one stderr line)
INTERRUPT_CASES = [
    ('new-out', None, ['--out', '{tmp}/new'], 1, None, 'nothing was saved; removed'),
    ('new-nested-out', None, ['--out', '{tmp}/a/b/new'], 1, None, 'nothing was saved'),
    ('existing-out', 'mine.txt', ['--out', '{tmp}/new'], 1, ['mine.txt'],
     'nothing was saved; {tmp}/new is as it was'),
    ('default-runs', None, [], 1, None, 'nothing was saved; removed runs'),
    ('after-one-epoch', None, ['--out', '{tmp}/new'], 2,
     ['config.json', 'history.csv', 'history.json', 'history.png', 'model.npz',
      'optimizer.npz'],
     'keeps the 1 complete epoch(s); continue with: python -m dezero train --resume'),
]


@pytest.mark.parametrize('case, before, argv, epoch, after, text', INTERRUPT_CASES,
                         ids=[c[0] for c in INTERRUPT_CASES])
def test_ctrl_c_in_a_new_run_leaves_no_half_made_folder(case, before, argv, epoch, after, text,
                                                        tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    if before:
        (tmp_path / 'new').mkdir()
        (tmp_path / 'new' / before).write_text('keep me')
    _interrupt_at(monkeypatch, epoch)
    argv = [a.format(tmp=tmp_path) for a in argv]
    code = main(['train', '--epochs', '3', '--hidden', '4', '--no-progress'] + argv)
    err = capsys.readouterr().err.strip()
    assert code == 130
    assert len(err.splitlines()) == 1 and text.format(tmp=tmp_path) in err, err
    assert 'Traceback' not in err
    if after is None:
        assert os.listdir(tmp_path) == []  # nor the parents (a/b/, runs/) it made
    else:
        assert sorted(os.listdir(tmp_path / 'new')) == [
            n for n in after if n != 'history.png' or _have('matplotlib')]


def _have(module):
    import importlib.util
    return importlib.util.find_spec(module) is not None


def test_ctrl_c_in_the_first_epoch_of_a_resumed_run_keeps_its_folder(good_run, tmp_path,
                                                                     monkeypatch, capsys):
    run = tmp_path / 'run'
    shutil.copytree(good_run / 'run', run)
    # config.json takes the new --epochs target (as before); the rest stays as it was.
    before = {n: (run / n).read_bytes() for n in os.listdir(run)
              if n not in ('history.png', 'config.json')}
    _interrupt_at(monkeypatch, 2)
    assert main(['train', '--resume', str(run), '--epochs', '3', '--no-progress']) == 130
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'keeps the 1 complete epoch(s)' in err, err
    assert {n: (run / n).read_bytes() for n in before} == before
    assert json.loads((run / 'config.json').read_text())['epochs'] == 3


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(['--version'])
    assert e.value.code == 0
    from dezero import __version__
    assert capsys.readouterr().out.strip() == f'dezero {__version__}'


EXAMPLE_CASES = [
    ('mnist_mlp.py', ['--epochs', '0'], "argument --epochs: expected a positive int, got '0'"),
    ('mnist_mlp.py', ['--hidden', '0'], "argument --hidden: expected a positive int"),
    ('lstm_sine.py', ['--bptt', '0'], "argument --bptt: expected a positive int, got '0'"),
    ('lstm_sine.py', ['--hidden', '0'], "argument --hidden: expected a positive int"),
    ('spiral.py', ['--epochs', '-3'], "argument --epochs: expected a positive int"),
    ('digits_cnn.py', ['--epochs', '0'], "argument --epochs: expected a positive int"),
]


@pytest.mark.parametrize('script, args, text', EXAMPLE_CASES,
                         ids=[f'{c[0]}{" ".join(c[1])}' for c in EXAMPLE_CASES])
def test_examples_validate_their_arguments(script, args, text, tmp_path):
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and text in proc.stderr, proc.stderr
    assert 'Traceback' not in proc.stderr and os.listdir(tmp_path) == []


def test_examples_refuse_gpu_without_cupy_before_any_download(tmp_path):
    from dezero import cuda
    if cuda.gpu_available():
        pytest.skip('a GPU is available here')
    env = dict(os.environ, DEZERO_CACHE_DIR=str(tmp_path / 'cache'))
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, 'mnist_mlp.py'), '--gpu'],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2 and '--gpu: dezero: the GPU backend is unavailable' in \
        proc.stderr, proc.stderr
    assert 'Downloading' not in proc.stderr and not (tmp_path / 'cache').exists()
