"""Allocator tuning at import: applied on glibc, skipped when opted out or already set."""
import os
import subprocess
import sys

import pytest

CODE = "import dezero._malloc as m; print(m.tune_allocator())"


def _run(env_extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ('DEZERO_MALLOC_TUNING', 'MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_')}
    env.update(env_extra)
    out = subprocess.run([sys.executable, '-c', CODE], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='glibc tuning is Linux-only')
def test_tuning_applies_on_glibc_and_respects_opt_outs():
    import platform
    if platform.libc_ver()[0] != 'glibc':
        pytest.skip('not a glibc system')
    assert _run({}) == 'True'
    assert _run({'DEZERO_MALLOC_TUNING': '0'}) == 'False'
    assert _run({'MALLOC_MMAP_THRESHOLD_': '1048576'}) == 'False'
