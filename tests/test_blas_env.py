"""OpenBLAS's idle wait, set by `import dezero` before NumPy loads (dezero/_blas_env.py)."""
import os
import subprocess
import sys

import pytest

CODE = ("import sys, os; import dezero; "
        "print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))")


def _run(env_extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ('DEZERO_BLAS_TUNING', 'OPENBLAS_THREAD_TIMEOUT')}
    env.update(env_extra)
    out = subprocess.run([sys.executable, '-c', CODE], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.parametrize('env, expected', [
    ({}, '20'),                                    # dezero's wait: 2^20 cycles
    ({'OPENBLAS_THREAD_TIMEOUT': '7'}, '7'),       # the user's own setting wins
    ({'DEZERO_BLAS_TUNING': '0'}, 'None'),         # opted out: the environment untouched
])
def test_import_sets_openblas_wait_unless_set_or_opted_out(env, expected):
    assert _run(env) == expected


def test_the_setting_comes_before_numpy_loads():
    """_blas_env is the package's first import, and it imports nothing that loads NumPy."""
    import dezero
    path = os.path.join(os.path.dirname(dezero.__file__), '_blas_env.py')
    code = f"import runpy, sys; runpy.run_path({path!r}); print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'False'
    with open(dezero.__file__) as f:
        first_import = next(line for line in f if line.startswith(('import', 'from')))
    assert first_import.startswith('from dezero import _blas_env')
