"""Shared test helpers: the array-backend fixture (NumPy always, CuPy where a GPU is visible)."""
import numpy as np
import pytest

from dezero import cuda


@pytest.fixture(params=['numpy', pytest.param('cupy', marks=pytest.mark.gpu)])
def xp(request):
    """The array module under test; CuPy runs are skipped without CuPy and a CUDA GPU."""
    if request.param == 'cupy':
        if not cuda.gpu_available():
            pytest.skip('CuPy with a visible CUDA GPU is not available')
        return cuda.require_cupy()
    return np
