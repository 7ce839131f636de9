"""Layer: registration order, params(), cleargrads, buffers, device moves."""
import numpy as np
import pytest

import dezero
from dezero import Parameter, Variable
from dezero.layers import Layer, Linear


def test_params_yield_in_assignment_order_nested_included():
    root = Layer()
    root.p2 = Parameter(np.zeros(2))
    root.sub = Layer()
    root.sub.a = Parameter(np.zeros(3))
    root.sub.b = Parameter(np.zeros(4))
    root.p1 = Parameter(np.zeros(1))
    assert [p.shape for p in root.params()] == [(2,), (3,), (4,), (1,)]
    assert [k for k, _ in root.named_params()] == ['p2', 'sub/a', 'sub/b', 'p1']


def test_plain_attributes_are_not_registered_and_reassignment_unregisters():
    layer = Layer()
    layer.x = Variable(np.zeros(1))  # a Variable, not a Parameter
    layer.n = 3
    layer.w = Parameter(np.zeros(1))
    assert [k for k, _ in layer.named_params()] == ['w']
    layer.w = None
    assert list(layer.params()) == []
    layer.w = Parameter(np.ones(1))
    del layer.w
    assert list(layer.params()) == []


def test_reassigning_keeps_first_position():
    layer = Layer()
    layer.a = Parameter(np.zeros(1))
    layer.b = Parameter(np.zeros(2))
    layer.a = Parameter(np.zeros(3))
    assert [p.shape for p in layer.params()] == [(3,), (2,)]


def test_cleargrads_clears_every_parameter():
    layer = Layer()
    layer.sub = Linear(2, in_size=3)
    y = layer.sub(np.ones((1, 3), dtype=np.float32))
    y.backward()
    assert all(p.grad is not None for p in layer.params())
    layer.cleargrads()
    assert all(p.grad is None for p in layer.params())


def test_call_runs_forward_and_keeps_weak_references():
    class Double(Layer):
        def forward(self, x):
            return x * 2
    layer = Double()
    x = Variable(np.array([1.0, 2.0]))
    y = layer(x)
    np.testing.assert_array_equal(y.data, [2.0, 4.0])
    assert layer.inputs[0]() is x and layer.outputs[0]() is y


def test_forward_not_implemented_names_the_class():
    class Empty(Layer):
        pass
    with pytest.raises(NotImplementedError, match='Empty.forward'):
        Empty()(np.zeros(1))


def test_buffers_are_not_params_but_are_listed():
    layer = Layer()
    layer.w = Parameter(np.zeros(1))
    layer.register_buffer('running', np.ones(2))
    layer.sub = Layer()
    layer.sub.register_buffer('stat', None)
    assert len(list(layer.params())) == 1
    assert [k for k, _, _ in layer.named_buffers()] == ['running', 'sub/stat']
    layer.running = np.zeros(2)  # plain reassignment keeps it a buffer
    assert [k for k, _, _ in layer.named_buffers()][0] == 'running'


def test_to_cpu_and_to_gpu_move_parameters_and_buffers(xp):
    layer = Linear(3, in_size=2)
    layer.register_buffer('stat', np.ones(3, dtype=np.float32))
    if xp is np:
        layer.to_cpu()
        assert all(isinstance(p.data, np.ndarray) for p in layer.params())
        return
    layer.to_gpu()
    assert all(isinstance(p.data, xp.ndarray) for p in layer.params())
    # buffers are plain Variables (bn.avg_mean.data, as in the book): check their data
    assert isinstance(layer.stat.data, xp.ndarray)
    y = layer(xp.ones((1, 2), dtype=np.float32))
    assert isinstance(y.data, xp.ndarray)
    layer.to_cpu()
    assert isinstance(layer.W.data, np.ndarray) and isinstance(layer.stat.data, np.ndarray)


def test_to_gpu_without_cupy_raises_clear_error():
    if dezero.cuda.gpu_available():
        pytest.skip('a GPU is available')
    with pytest.raises(RuntimeError, match='GPU backend is unavailable'):
        Linear(2, in_size=2).to_gpu()
