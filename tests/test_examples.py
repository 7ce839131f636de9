"""The scripts in examples/ run with tiny settings (they are documentation that must not rot)."""
import os
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'examples')


def have(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def run_example(name, *args, cwd):
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_spiral_example_trains_and_draws_the_boundary(tmp_path):
    out = run_example('spiral.py', '--epochs', '3', '--out', 'b.png', cwd=tmp_path)
    assert 'test accuracy' in out
    if have('matplotlib'):
        assert (tmp_path / 'b.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_tanh_example_prints_the_derivatives_at_half(tmp_path):
    out = run_example('tanh_higher_order.py', '--order', '2', '--out', 't.png', cwd=tmp_path)
    # tanh(0.5), 1 - tanh^2, -2 tanh (1 - tanh^2)
    assert 'order 0: value at x=0.5 is +0.4621' in out
    assert 'order 1: value at x=0.5 is +0.7864' in out
    assert 'order 2: value at x=0.5 is -0.7269' in out


def test_lstm_example_runs_one_epoch(tmp_path):
    out = run_example('lstm_sine.py', '--epochs', '1', '--hidden', '8', '--out', 'l.png',
                      cwd=tmp_path)
    assert 'epoch 1: loss' in out and 'mean squared error on cos' in out


@pytest.mark.skipif(not have('sklearn'), reason='scikit-learn is not installed')
def test_digits_cnn_example_runs_one_epoch(tmp_path):
    out = run_example('digits_cnn.py', '--epochs', '1', cwd=tmp_path)
    assert 'test accuracy' in out


def _load_example(name):
    import importlib.util
    spec = importlib.util.spec_from_file_location(name[:-3], os.path.join(EXAMPLES, name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_transformer_reverse_learns_short_sequences_quickly():
    import contextlib
    reverse = _load_example('transformer_reverse.py')
    try:  # one BLAS thread: small matrices, and a busy machine makes more threads spin
        from threadpoolctl import threadpool_limits
        limit = threadpool_limits(1)
    except ImportError:
        limit = contextlib.nullcontext()
    with limit:
        tok, seq, _ = reverse.train(steps=50, length=6, layers=1, seed=0, log_every=0)
    assert tok >= 0.9, (tok, seq)


# (script, bad arguments, the one stderr line after "<script>: error: ")
BAD_ARGUMENTS = [
    ('spiral.py', ['--epochs', '0'], "argument --epochs: expected a positive int, got '0'"),
    ('spiral.py', ['--nope'], "unrecognized arguments: --nope"),
    ('tanh_higher_order.py', ['--order', '-1'],
     "argument --order: expected an integer >= 0, got '-1'"),
    ('tanh_higher_order.py', ['--order', 'two'], "argument --order: expected an integer >= 0"),
    ('lstm_sine.py', ['--bptt', '0'], "argument --bptt: expected a positive int, got '0'"),
    ('mnist_mlp.py', ['--batch-size', 'x'], "argument --batch-size: expected a positive int"),
    ('digits_cnn.py', ['--epochs'], "argument --epochs: expected one argument"),
    ('transformer_reverse.py', ['--lr', 'inf'],
     "argument --lr: expected a positive float, got 'inf'"),
    ('transformer_reverse.py', ['--seed', '-1'], "argument --seed: expected an integer from 0"),
    ('transformer_reverse.py', ['--steps', '0'], "argument --steps: expected a positive int"),
]


def test_every_argparse_example_is_in_the_bad_argument_table():
    scripts = {name for name in os.listdir(EXAMPLES) if name.endswith('.py')
               and 'ArgumentParser' in open(os.path.join(EXAMPLES, name)).read()}
    assert scripts == {case[0] for case in BAD_ARGUMENTS}


@pytest.mark.parametrize('script, args, text', BAD_ARGUMENTS,
                         ids=[f'{c[0]} {" ".join(c[1])}' for c in BAD_ARGUMENTS])
def test_a_bad_argument_is_one_line_on_stderr_and_exit_2(script, args, text, monkeypatch,
                                                         capsys, tmp_path):
    # In process (parse_args runs before anything else): one subprocess below checks the
    # real exit status and stream.
    main = _load_example(script).main
    monkeypatch.chdir(tmp_path)  # were the arguments taken, nothing lands in the checkout
    monkeypatch.setattr(sys, 'argv', [script, *args])
    with pytest.raises(SystemExit) as e:
        main()
    out, err = capsys.readouterr()
    assert e.value.code == 2 and out == ''
    assert err.endswith('\n') and err.count('\n') == 1, err
    assert err.startswith(f"{script}: error: {text}"), err
    assert err.rstrip().endswith(f"(see {script} --help)")


def test_a_bad_argument_ends_the_process_with_one_line_and_status_2(tmp_path):
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, 'spiral.py'), '--epochs',
                           'many'], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == '' and os.listdir(tmp_path) == []
    assert proc.stderr == ("spiral.py: error: argument --epochs: expected a positive int, got "
                           "'many' (see spiral.py --help)\n")


@pytest.mark.slow
def test_transformer_reverse_reaches_full_accuracy_with_defaults(tmp_path):
    env = dict(os.environ, OPENBLAS_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, 'transformer_reverse.py')],
                          cwd=tmp_path, capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith('test token accuracy 1.0000, test sequence accuracy 1.0000'), last
