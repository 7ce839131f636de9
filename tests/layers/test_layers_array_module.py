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


# (layer factory, names of its recurrent state attributes)
RECURRENT_CASES = [
    ('RNN', lambda: L.RNN(4), ('h',)),
    ('LSTM', lambda: L.LSTM(4), ('h', 'c')),
    ('GRU', lambda: L.GRU(4), ('h',)),
]


def _steps(layer, xs):
    return [layer(x) for x in xs]


@pytest.mark.parametrize('name,make,state', RECURRENT_CASES,
                         ids=[c[0] for c in RECURRENT_CASES])
def test_to_gpu_and_to_cpu_move_the_recurrent_state_mid_sequence(standin_gpu, name, make,
                                                                 state):
    rng = np.random.RandomState(0)
    xs = [rng.rand(2, 3).astype(np.float32) for _ in range(3)]
    layer = make()
    expected = _steps(layer, xs)[-1].data  # never moved
    layer.reset_state()
    ys = _steps(layer, xs[:2])
    before = {k: getattr(layer, k).data.copy() for k in state}

    layer.to_gpu()
    for k in state:
        moved = getattr(layer, k)
        assert isinstance(moved.data, standin_gpu.ndarray), f"{name}.{k} stayed on NumPy"
        np.testing.assert_array_equal(moved.data.get(), before[k])
        assert moved.creator is None  # a graph cannot span two devices: the move cuts it
    assert type(ys[-1].data) is np.ndarray and ys[-1].creator is not None  # the output stays
    y = layer(standin_gpu.asarray(xs[2]))  # mixing NumPy state in would raise TypeError
    assert isinstance(y.data, standin_gpu.ndarray)
    F.sum(y).backward()
    np.testing.assert_allclose(y.data.get(), expected, rtol=1e-6)

    layer.reset_state()
    _steps(layer, [standin_gpu.asarray(x) for x in xs[:2]])
    layer.to_cpu()
    assert all(type(getattr(layer, k).data) is np.ndarray for k in state)
    y = layer(xs[2])
    assert type(y.data) is np.ndarray
    np.testing.assert_allclose(y.data, expected, rtol=1e-6)


def test_to_gpu_moves_the_state_of_recurrent_layers_nested_in_a_model(standin_gpu):
    from dezero import models
    model = models.Model()
    model.stack = L.LayerList([L.GRU(4), L.LSTM(4)])
    model.out = L.Linear(2)
    x = np.ones((1, 3), dtype=np.float32)
    for _ in range(2):
        y = model.out(model.stack[1](model.stack[0](x)))
    gru, lstm = model.stack
    model.to_gpu()
    for var in (gru.h, lstm.h, lstm.c):
        assert isinstance(var.data, standin_gpu.ndarray)
    h = lstm.h
    model.to_gpu()  # already there: left alone, not copied again
    assert lstm.h is h
    model.to_cpu()
    assert all(type(v.data) is np.ndarray for v in (gru.h, lstm.h, lstm.c))
    assert type(y.data) is np.ndarray


def test_moving_a_fresh_recurrent_layer_keeps_its_empty_state(standin_gpu):
    layer = L.LSTM(4, in_size=3).to_gpu()
    assert layer.h is None and layer.c is None
    assert isinstance(layer(standin_gpu.ones((2, 3), dtype=np.float32)).data,
                      standin_gpu.ndarray)
    assert layer.to_cpu().h.data.__class__ is np.ndarray


def test_to_gpu_of_a_layer_without_parameters_or_state_needs_no_gpu():
    assert L.Layer().to_gpu().to_cpu() is not None
