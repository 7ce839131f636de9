"""Convolution and pooling on every array backend give NumPy's results, gradients included
(CuPy runs only where a GPU is visible)."""
import numpy as np
import pytest

import dezero.functions as F
from dezero import Variable, cuda

RNG = np.random.RandomState(0)
X = RNG.randn(2, 3, 7, 6).astype(np.float32)
W = RNG.randn(4, 3, 3, 2).astype(np.float32)
B = RNG.randn(4).astype(np.float32)
WD = RNG.randn(3, 4, 3, 3).astype(np.float32)

CASES = {
    'conv2d': lambda x, xp: F.conv2d(x, xp.asarray(W), xp.asarray(B), stride=(2, 1), pad=1),
    'deconv2d': lambda x, xp: F.deconv2d(x, xp.asarray(WD), None, stride=2, pad=1),
    'pooling': lambda x, xp: F.pooling(x, 2, stride=2, pad=(1, 0)),
    'average_pooling': lambda x, xp: F.average_pooling(x, 3, stride=2, pad=1),
    'im2col': lambda x, xp: F.im2col(x, (3, 2), stride=1, pad=1, to_matrix=True),
}


def _run(name, xp):
    x = Variable(xp.asarray(X))
    y = CASES[name](x, xp)
    weights = xp.asarray(np.random.RandomState(1).randn(*y.shape).astype(np.float32))
    F.sum(y * weights).backward()
    assert cuda.get_array_module(y) is xp and cuda.get_array_module(x.grad) is xp
    return cuda.as_numpy(y.data), cuda.as_numpy(x.grad.data)


@pytest.mark.parametrize('name', sorted(CASES))
def test_backend_matches_numpy_forward_and_backward(name, xp):
    y, gx = _run(name, xp)
    y_ref, gx_ref = _run(name, np)
    assert y.dtype == np.float32 and gx.dtype == np.float32
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-5, atol=1e-5)
