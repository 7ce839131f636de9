"""Conv2d and Deconv2d layers: lazy W, the book's initialisation, shapes, dtypes, errors,
checkpoints."""
import numpy as np
import pytest

import dezero.functions as F
import dezero.layers as L


def test_conv2d_lazy_init_follows_the_book_draw():
    np.random.seed(0)
    layer = L.Conv2d(4, (3, 2), stride=1, pad=1)
    assert layer.W.data is None
    x = np.random.randn(2, 3, 5, 5).astype(np.float32)
    state = np.random.get_state()
    y = layer(x)
    np.random.set_state(state)
    W = np.random.randn(4, 3, 3, 2).astype(np.float32) * np.float32(np.sqrt(1 / 18))
    np.testing.assert_array_equal(layer.W.data, W)
    assert layer.W.dtype == np.float32 and layer.b.dtype == np.float32
    assert layer.in_channels == 3
    assert y.shape == (2, 4, 5, 6) and y.dtype == np.float32
    np.testing.assert_allclose(y.data, F.conv2d(x, W, np.zeros(4, np.float32), 1, 1).data,
                               rtol=1e-6)


def test_conv2d_eager_init_nobias_and_float64():
    layer = L.Conv2d(2, 3, nobias=True, dtype=np.float64, in_channels=5)
    assert layer.W.shape == (2, 5, 3, 3) and layer.W.dtype == np.float64
    assert layer.b is None and len(list(layer.params())) == 1
    y = layer(np.zeros((1, 5, 4, 4)))
    assert y.shape == (1, 2, 2, 2)


def test_conv2d_backward_reaches_params():
    layer = L.Conv2d(3, 3, pad=1)
    y = layer(np.random.randn(2, 2, 4, 4).astype(np.float32))
    F.sum(y * y).backward()
    assert layer.W.grad.shape == layer.W.shape and layer.b.grad.shape == (3,)
    assert layer.W.grad.dtype == np.float32


def test_deconv2d_layer_shapes_and_init():
    np.random.seed(1)
    layer = L.Deconv2d(3, 4, stride=2, pad=1)
    x = np.random.randn(2, 5, 3, 3).astype(np.float32)
    state = np.random.get_state()
    y = layer(x)
    np.random.set_state(state)
    W = np.random.randn(5, 3, 4, 4).astype(np.float32) * np.float32(np.sqrt(1 / 80))
    np.testing.assert_array_equal(layer.W.data, W)
    assert y.shape == (2, 3, 6, 6) and y.dtype == np.float32
    F.sum(y).backward()
    assert layer.W.grad.shape == (5, 3, 4, 4)


def test_conv_layers_reject_wrong_inputs():
    layer = L.Conv2d(2, 3, in_channels=3)
    with pytest.raises(ValueError, match=r"Conv2d.forward: input has 4 channels \(shape "
                                         r"\(1, 4, 5, 5\)\) but W expects 3 \(W shape "
                                         r"\(2, 3, 3, 3\)\)"):
        layer(np.zeros((1, 4, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"Conv2d.forward: expected a 4-D input"):
        L.Conv2d(2, 3)(np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match=r"Deconv2d.forward: input has 1 channels"):
        L.Deconv2d(2, 3, in_channels=3)(np.zeros((1, 1, 5, 5), np.float32))


def test_conv2d_save_and_load_weights_into_a_lazy_layer(tmp_path):
    a = L.Conv2d(2, 3)
    a(np.random.randn(1, 3, 4, 4).astype(np.float32))
    path = a.save_weights(tmp_path / 'conv.npz')
    b = L.Conv2d(2, 3)
    b.load_weights(path)
    np.testing.assert_array_equal(a.W.data, b.W.data)
    assert b.in_channels == 3
    c = L.Conv2d(2, 5)
    with pytest.raises(ValueError, match='W: shape'):
        c.load_weights(path)
