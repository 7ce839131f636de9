"""Which array module a layer's parameters land on: lazy building and to_cpu/to_gpu.

Run against the NumPy-backed stand-in for CuPy (`standin_gpu` in conftest.py),
so the bookkeeping is checked on every machine, GPU or not.
"""
import numpy as np
import pytest

import dezero.functions as F
import dezero.layers as L
from dezero import optimizers

# (layer factory, input shape, steps): each layer builds some parameters lazily from
# its first input and others at construction (a bias, hidden-to-hidden weights).
LAZY_CASES = [
    ('Linear', lambda: L.Linear(3), (2, 5), 1),
    ('Conv2d', lambda: L.Conv2d(4, 3, pad=1), (2, 3, 5, 5), 1),
    ('Deconv2d', lambda: L.Deconv2d(4, 3), (2, 3, 4, 4), 1),
    ('BatchNorm', lambda: L.BatchNorm(), (4, 3), 1),
    ('RNN', lambda: L.RNN(4), (2, 3), 3),
    ('LSTM', lambda: L.LSTM(4), (2, 3), 3),
    ('GRU', lambda: L.GRU(4), (2, 3), 3),
]


def _arrays(layer):
    out = [(k, p.data) for k, p in layer.named_params()]
    out += [(k, owner.__dict__[name].data) for k, owner, name in layer.named_buffers()]
    return out


@pytest.mark.parametrize('name,make,shape,steps', LAZY_CASES, ids=[c[0] for c in LAZY_CASES])
def test_lazy_build_puts_every_parameter_on_the_input_module(standin_gpu, name, make, shape,
                                                             steps):
    layer = make()
    x = standin_gpu.asarray(np.random.RandomState(0).rand(*shape).astype(np.float32))
    for _ in range(steps):  # recurrent layers use the hidden-to-hidden weights from step 2
        y = layer(x)
    assert isinstance(y.data, standin_gpu.ndarray)
    misplaced = [k for k, a in _arrays(layer) if not isinstance(a, standin_gpu.ndarray)]
    assert misplaced == [], f"{name}: parameters left on NumPy: {misplaced}"
    layer.cleargrads()
    F.sum(y).backward()
    optimizers.Adam().setup(layer).update()
    misplaced = [k for k, a in _arrays(layer) if not isinstance(a, standin_gpu.ndarray)]
    assert misplaced == []


def test_lazy_build_from_numpy_moves_parameters_back_from_the_device(standin_gpu):
    layer = L.Linear(3)
    layer.to_gpu()  # b is on the device, W not built yet
    assert isinstance(layer.b.data, standin_gpu.ndarray)
    layer(np.ones((2, 4), dtype=np.float32))
    assert type(layer.W.data) is np.ndarray and type(layer.b.data) is np.ndarray


def test_standin_rejects_mixing_like_cupy(standin_gpu):
    with pytest.raises(TypeError, match='Unsupported type'):
        standin_gpu.ones(3) + np.ones(3)


def test_to_gpu_and_to_cpu_move_parameters_buffers_and_grads(standin_gpu):
    model = L.Layer()
    model.fc = L.Linear(3, in_size=2)
    model.bn = L.BatchNorm()
    model.register_buffer('stat', np.ones(3, dtype=np.float32))
    model.bn(np.ones((2, 3), dtype=np.float32))  # builds gamma, beta, avg_mean, avg_var
    y = F.sum(model.bn(model.fc(np.ones((2, 2), dtype=np.float32))))
    y.backward()
    model.to_gpu()
    keys = [k for k, _ in _arrays(model)]
    assert keys == ['fc/W', 'fc/b', 'bn/gamma', 'bn/beta', 'stat', 'bn/avg_mean', 'bn/avg_var']
    assert all(isinstance(a, standin_gpu.ndarray) for _, a in _arrays(model))
    assert all(isinstance(p.grad.data, standin_gpu.ndarray) for p in model.params())
    y = model.bn(model.fc(standin_gpu.ones((2, 2), dtype=np.float32)))
    assert isinstance(y.data, standin_gpu.ndarray)
    model.to_cpu()
    assert all(type(a) is np.ndarray for _, a in _arrays(model))
    assert all(type(p.grad.data) is np.ndarray for p in model.params())
