"""dezero.cuda: array modules, conversions, and the clear error without a GPU."""
import subprocess
import sys

import numpy as np
import pytest

from dezero import Variable, cuda


def test_get_array_module_of_numpy_data_and_variables():
    a = np.ones(2)
    assert cuda.get_array_module(a) is np
    assert cuda.get_array_module(Variable(a)) is np
    assert cuda.get_array_module(np.float32(1.0)) is np


def test_as_numpy_accepts_scalars_arrays_and_variables():
    assert isinstance(cuda.as_numpy(1.5), np.ndarray)
    a = np.arange(3)
    assert cuda.as_numpy(a) is a
    np.testing.assert_array_equal(cuda.as_numpy(Variable(a)), a)


@pytest.mark.skipif(cuda.gpu_available(), reason='checks the message shown without a GPU')
def test_asking_for_the_gpu_without_cupy_is_a_clear_error():
    with pytest.raises(RuntimeError, match=r"CuPy is not installed or no CUDA GPU is visible"):
        cuda.as_cupy(np.ones(2))
    with pytest.raises(RuntimeError, match=r"pip install 'dezero\[gpu\]'"):
        Variable(np.ones(2)).to_gpu()
    assert not cuda.gpu_enable


def test_round_trip_through_the_backend(xp):
    a = xp.arange(6, dtype=xp.float32).reshape(2, 3)
    v = Variable(a)
    assert cuda.get_array_module(v) is xp
    v.to_cpu()
    assert isinstance(v.data, np.ndarray)
    if xp is not np:
        v.to_gpu()
        assert cuda.get_array_module(v) is xp


def test_backward_runs_on_the_backend(xp):
    import dezero.functions as F
    x = Variable(xp.asarray(np.array([0.1, 0.2, 0.3], dtype=np.float32)))
    y = F.sum(F.tanh(x) * x + 2.0)
    y.backward()
    assert cuda.get_array_module(x.grad) is xp
    assert x.grad.dtype == np.float32
    t = np.tanh(np.array([0.1, 0.2, 0.3]))
    np.testing.assert_allclose(cuda.as_numpy(x.grad.data),
                               t + np.array([0.1, 0.2, 0.3]) * (1 - t * t),
                               rtol=1e-5)


def test_import_dezero_imports_no_optional_heavyweights():
    code = ("import sys, dezero; bad = [m for m in ('cupy', 'PIL', 'matplotlib', 'tqdm', 'torch') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_manual_seed_makes_draws_repeatable():
    import dezero
    dezero.manual_seed(7)
    a = np.random.randn(3)
    dezero.manual_seed(7)
    np.testing.assert_array_equal(np.random.randn(3), a)
    assert dezero.manual_seed is cuda.manual_seed


@pytest.mark.parametrize('seed, err, msg', [
    (1.5, TypeError, r'manual_seed: seed must be an int, got float'),
    (True, TypeError, r'manual_seed: seed must be an int, got bool'),
    (-1, ValueError, r'manual_seed: seed must be in \[0, 2\*\*32 - 1\], got -1'),
    (2 ** 32, ValueError, r'must be in \[0, 2\*\*32 - 1\]'),
])
def test_manual_seed_rejects_bad_seeds(seed, err, msg):
    with pytest.raises(err, match=msg):
        cuda.manual_seed(seed)
