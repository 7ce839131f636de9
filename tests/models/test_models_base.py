"""Model, Sequential and MLP."""
import inspect

import numpy as np
import pytest

import dezero
import dezero.functions as F
import dezero.layers as L
from dezero.models import MLP, Model, Sequential


def test_model_is_exported_at_top_level_and_is_a_layer():
    assert dezero.Model is Model and issubclass(Model, dezero.Layer)


def test_mlp_default_activation_is_sigmoid_and_layers_are_named_l0_l1():
    assert inspect.signature(MLP).parameters['activation'].default is F.sigmoid
    model = MLP((5, 2))
    y = model(np.ones((3, 4), dtype=np.float32))
    assert y.shape == (3, 2) and y.dtype == np.float32
    assert [k for k, _ in model.named_params()] == ['l0/W', 'l0/b', 'l1/W', 'l1/b']


def test_mlp_forward_equals_manual_composition():
    np.random.seed(0)
    model = MLP((4, 3, 2), activation=F.relu)
    x = np.random.randn(6, 5).astype(np.float32)
    y = model(x)
    h = x
    for i, layer in enumerate(model.layers):
        h = h @ layer.W.data + layer.b.data
        if i < 2:
            h = np.maximum(h, 0)
    np.testing.assert_allclose(y.data, h, rtol=1e-5, atol=1e-6)


def test_sequential_chains_layers_and_functions():
    np.random.seed(0)
    model = Sequential(L.Linear(4), F.relu, L.Linear(2))
    x = np.random.randn(3, 5).astype(np.float32)
    y = model(x)
    expected = np.maximum(x @ model.l0.W.data + model.l0.b.data, 0) @ model.l2.W.data \
        + model.l2.b.data
    np.testing.assert_allclose(y.data, expected, rtol=1e-5, atol=1e-6)
    assert [k for k, _ in model.named_params()] == ['l0/W', 'l0/b', 'l2/W', 'l2/b']


def test_sequential_rejects_non_callables():
    with pytest.raises(TypeError, match=r'Sequential: item 1 is a int'):
        Sequential(L.Linear(2), 3)


def test_plot_writes_graph(tmp_path):
    model = MLP((3, 2))
    out = model.plot(np.ones((1, 2), dtype=np.float32), to_file=str(tmp_path / 'm.dot'))
    text = open(out).read()
    assert 'digraph' in text and 'Linear' in text


def test_plot_default_file_name_is_model_png():
    assert inspect.signature(Model.plot).parameters['to_file'].default == 'model.png'
