"""Linear and EmbedID layers."""
import numpy as np
import pytest

import dezero.functions as F
from dezero import Variable
from dezero.layers import EmbedID, Linear
from dezero.utils import gradient_check


def test_linear_eager_init_follows_the_book():
    np.random.seed(3)
    layer = Linear(4, in_size=5)
    np.random.seed(3)
    expected = np.random.randn(5, 4).astype(np.float32) * np.float32(np.sqrt(1 / 5))
    np.testing.assert_array_equal(layer.W.data, expected)
    assert layer.W.dtype == np.float32 and layer.b.dtype == np.float32
    np.testing.assert_array_equal(layer.b.data, np.zeros(4))
    assert [k for k, _ in layer.named_params()] == ['W', 'b']


def test_linear_lazy_init_from_first_input(xp):
    layer = Linear(3)
    assert layer.W.data is None
    x = xp.ones((2, 7), dtype=np.float32)
    y = layer(x)
    assert layer.W.shape == (7, 3) and layer.in_size == 7
    assert layer.W.dtype == np.float32 and y.dtype == np.float32 and y.shape == (2, 3)
    assert isinstance(layer.W.data, xp.ndarray)


def test_linear_float64_dtype_and_nobias():
    layer = Linear(2, nobias=True, dtype=np.float64, in_size=3)
    assert layer.b is None and layer.W.dtype == np.float64
    assert [k for k, _ in layer.named_params()] == ['W']
    y = layer(np.ones((1, 3)))
    np.testing.assert_allclose(y.data, np.ones((1, 3)) @ layer.W.data)


def test_linear_values_and_gradients():
    np.random.seed(0)
    layer = Linear(3, in_size=4, dtype=np.float64)
    layer.b.data = np.random.randn(3)
    x = np.random.randn(5, 4)
    np.testing.assert_allclose(layer(x).data, x @ layer.W.data + layer.b.data)
    assert gradient_check(lambda v: layer(v), x)
    assert gradient_check(lambda W: F.linear(x, W, layer.b), layer.W.data)


def test_linear_keeps_float32_through_training_step():
    layer = Linear(2)
    y = layer(np.ones((3, 4), dtype=np.float32))
    F.sum(y).backward()
    assert layer.W.grad.dtype == np.float32 and layer.b.grad.dtype == np.float32


def test_linear_rejects_wrong_feature_count():
    layer = Linear(2, in_size=3)
    with pytest.raises(ValueError, match=r'Linear.forward: input has 4 features.*expects 3'):
        layer(np.ones((1, 4), dtype=np.float32))


def test_linear_lazy_rejects_non_2d_input():
    with pytest.raises(ValueError, match=r'Linear.forward: expected a 2-D input.*\(2, 3, 4\)'):
        Linear(2)(np.ones((2, 3, 4), dtype=np.float32))


def test_embed_id_rows_and_gradient():
    np.random.seed(1)
    layer = EmbedID(10, 3)
    assert layer.W.shape == (10, 3) and layer.W.dtype == np.float32
    ids = np.array([[1, 4], [4, 9]])
    y = layer(ids)
    assert y.shape == (2, 2, 3)
    np.testing.assert_array_equal(y.data, layer.W.data[ids])
    F.sum(y).backward()
    expected = np.zeros((10, 3), dtype=np.float32)
    np.add.at(expected, ids, 1)
    np.testing.assert_array_equal(layer.W.grad.data, expected)


def test_embed_id_accepts_variable_ids():
    layer = EmbedID(5, 2)
    assert layer(Variable(np.array([0, 3]))).shape == (2, 2)
