"""DLPack: Variables and other libraries' arrays share memory in both directions."""
import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero import Variable, cuda


def test_numpy_round_trip_shares_memory():
    v = Variable(np.arange(6, dtype=np.float32).reshape(2, 3))
    a = np.from_dlpack(v)
    assert a.shape == (2, 3) and a.dtype == np.float32
    assert np.shares_memory(a, v.data)
    w = dezero.from_dlpack(a)
    assert isinstance(w, Variable) and np.shares_memory(w.data, v.data)
    w.data[1, 2] = -1
    assert v.data[1, 2] == -1 and a[1, 2] == -1


def test_from_dlpack_gives_a_differentiable_leaf():
    x = dezero.from_dlpack(np.array([1.0, 2.0]))
    y = F.sum(x * x)
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])


def test_device_is_the_datas():
    v = Variable(np.zeros(3))
    assert tuple(int(d) for d in v.__dlpack_device__()) == (1, 0)


@pytest.mark.parametrize('obj,error', [
    ([1, 2], TypeError),
    (Variable(None), TypeError),
])
def test_bad_inputs_raise_clearly(obj, error):
    with pytest.raises(error, match='dlpack'):
        dezero.from_dlpack(obj)


def test_torch_cpu_sees_writes_both_ways():
    torch = pytest.importorskip('torch', reason='the PyTorch exchange test needs torch')
    v = Variable(np.arange(4, dtype=np.float32))
    t = torch.from_dlpack(v)
    t[0] = 10
    assert v.data[0] == 10
    v.data[1] = 20
    assert float(t[1]) == 20

    src = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    x = dezero.from_dlpack(src)
    assert x.shape == (2, 3) and x.dtype == np.float64
    src[0, 0] = -5
    assert x.data[0, 0] == -5
    x.data[1, 1] = 42
    assert float(src[1, 1]) == 42


@pytest.mark.gpu
def test_cupy_round_trip_shares_memory():
    if not cuda.gpu_available():
        pytest.skip('CuPy with a visible CUDA GPU is not available')
    cp = cuda.require_cupy()
    a = cp.arange(4, dtype=cp.float32)
    v = dezero.from_dlpack(a)
    assert cuda.get_array_module(v) is cp
    v.data[0] = 7
    assert float(a[0]) == 7
    b = cp.from_dlpack(v)
    b[1] = 8
    assert float(v.data[1]) == 8
