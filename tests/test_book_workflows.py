"""End-to-end workflows in the style of the book's step scripts (steps 23-60), run as a
reader would run them: the same imports, calls and loops, on small sizes."""
import math

import numpy as np
import pytest

import dezero
import dezero.functions as F
import dezero.layers as L
from dezero import Model, Variable, optimizers
from dezero.dataloaders import DataLoader, SeqDataLoader
from dezero.models import MLP


def test_rosenbrock_gradient_descent_converges():
    def rosenbrock(x0, x1):
        return 100 * (x1 - x0 ** 2) ** 2 + (x0 - 1) ** 2

    x0, x1 = Variable(np.array(0.0)), Variable(np.array(2.0))
    lr = 0.001
    for _ in range(10000):
        y = rosenbrock(x0, x1)
        x0.cleargrad()
        x1.cleargrad()
        y.backward()
        x0.data -= lr * x0.grad.data
        x1.data -= lr * x1.grad.data
    assert abs(float(x0.data) - 1) < 0.02 and abs(float(x1.data) - 1) < 0.04


def test_tanh_higher_order_graph_keeps_names():
    x = Variable(np.array(1.0))
    y = F.tanh(x)
    x.name, y.name = 'x', 'y'
    y.backward(create_graph=True)
    for _i in range(3):
        gx = x.grad
        x.cleargrad()
        gx.backward(create_graph=True)
    gx = x.grad
    gx.name = 'gx4'
    text = dezero.utils.get_dot_graph(gx, verbose=False)
    assert 'gx4' in text and 'Tanh' in text


def test_double_backprop_of_gradient_expression():
    x = Variable(np.array(2.0))
    y = x ** 2
    y.backward(create_graph=True)
    gx = x.grad
    x.cleargrad()
    z = gx ** 3 + y
    z.backward()
    assert float(x.grad.data) == 100.0


def test_linear_regression_with_mean_squared_error():
    np.random.seed(0)
    x = np.random.rand(100, 1)
    y = 5 + 2 * x + np.random.rand(100, 1)
    W, b = Variable(np.zeros((1, 1))), Variable(np.zeros(1))
    for _ in range(100):
        y_pred = F.matmul(x, W) + b
        loss = F.mean_squared_error(y, y_pred)
        W.cleargrad()
        b.cleargrad()
        loss.backward()
        W.data -= 0.1 * W.grad.data
        b.data -= 0.1 * b.grad.data
    assert abs(W.data.item() - 2.0) < 0.3 and abs(b.data.item() - 5.5) < 0.2


def test_sine_regression_with_two_layer_net_and_manual_updates():
    np.random.seed(0)
    x = np.random.rand(100, 1)
    y = np.sin(2 * np.pi * x) + np.random.rand(100, 1)
    l1, l2 = L.Linear(10), L.Linear(1)
    first = None
    for _i in range(2000):
        y_pred = l2(F.sigmoid(l1(x)))
        loss = F.mean_squared_error(y, y_pred)
        l1.cleargrads()
        l2.cleargrads()
        loss.backward()
        for layer in [l1, l2]:
            for p in layer.params():
                p.data -= 0.2 * p.grad.data
        first = float(loss.data) if first is None else first
    assert float(loss.data) < 0.5 * first


def test_model_subclass_with_optimizer_and_softmax_helpers():
    class TwoLayerNet(Model):
        def __init__(self, hidden_size, out_size):
            super().__init__()
            self.l1 = L.Linear(hidden_size)
            self.l2 = L.Linear(out_size)

        def forward(self, x):
            return self.l2(F.sigmoid(self.l1(x)))

    model = TwoLayerNet(10, 3)
    x = np.array([[0.2, -0.4], [0.3, 0.5], [1.3, -3.2], [2.1, 0.3]])
    t = np.array([2, 0, 1, 0])
    y = model(x)
    p = F.softmax_simple(y)
    assert p.shape == (4, 3) and np.allclose(p.data.sum(axis=1), 1)
    assert isinstance(y[1], Variable) and y[:, 2].shape == (4,)
    loss = F.softmax_cross_entropy_simple(y, t)
    assert np.isclose(float(loss.data), float(F.softmax_cross_entropy(y, t).data))
    optimizer = optimizers.MomentumSGD().setup(model)
    model.cleargrads()
    loss.backward()
    optimizer.update()


def test_spiral_training_loop_as_in_the_book():
    max_epoch, batch_size, hidden_size, lr = 30, 30, 10, 1.0
    x, t = dezero.datasets.get_spiral(train=True)
    model = MLP((hidden_size, 3))
    optimizer = optimizers.SGD(lr).setup(model)
    data_size = len(x)
    max_iter = math.ceil(data_size / batch_size)
    losses = []
    for _epoch in range(max_epoch):
        index = np.random.permutation(data_size)
        sum_loss = 0
        for i in range(max_iter):
            batch_index = index[i * batch_size:(i + 1) * batch_size]
            batch_x, batch_t = x[batch_index], t[batch_index]
            y = model(batch_x)
            loss = F.softmax_cross_entropy(y, batch_t)
            model.cleargrads()
            loss.backward()
            optimizer.update()
            sum_loss += float(loss.data) * len(batch_t)
        losses.append(sum_loss / data_size)
    assert losses[-1] < losses[0]


def test_dataloader_loop_with_accuracy_and_test_split():
    train_set = dezero.datasets.Spiral(train=True)
    test_set = dezero.datasets.Spiral(train=False)
    train_loader = DataLoader(train_set, 30)
    test_loader = DataLoader(test_set, 30, shuffle=False)
    model = MLP((10, 3))
    optimizer = optimizers.SGD(1.0).setup(model)
    for _epoch in range(2):
        sum_loss, sum_acc = 0, 0
        for x, t in train_loader:
            y = model(x)
            loss = F.softmax_cross_entropy(y, t)
            acc = F.accuracy(y, t)
            model.cleargrads()
            loss.backward()
            optimizer.update()
            sum_loss += float(loss.data) * len(t)
            sum_acc += float(acc.data) * len(t)
        assert 0 <= sum_acc / len(train_set) <= 1
        with dezero.no_grad():
            n = 0
            for x, t in test_loader:
                y = model(x)
                n += len(t)
                assert y.creator is None
        assert n == len(test_set)


def test_save_and_load_weights_like_step_53(tmp_path):
    model = MLP((10, 3))
    x = np.random.rand(5, 2).astype(np.float32)
    y0 = model(x)
    path = str(tmp_path / 'my_mlp.npz')
    model.save_weights(path)
    fresh = MLP((10, 3))
    fresh.load_weights(path)
    np.testing.assert_array_equal(fresh(x).data, y0.data)


def test_dropout_in_train_and_test_mode():
    x = np.ones(5, dtype=np.float32)
    y = F.dropout(x)
    assert set(np.unique(y.data)) <= {0.0, 2.0}
    with dezero.test_mode():
        y = F.dropout(x)
    np.testing.assert_array_equal(y.data, x)


def test_convolution_helpers_like_step_57():
    from dezero.utils import get_conv_outsize
    assert get_conv_outsize(4, 3, 1, 1) == 4
    x1 = np.random.rand(1, 3, 7, 7)
    col1 = F.im2col(x1, kernel_size=5, stride=1, pad=0, to_matrix=True)
    assert col1.shape == (9, 75)
    x = Variable(np.random.randn(1, 5, 15, 15))
    W = np.random.randn(8, 5, 3, 3)
    y = F.conv2d(x, W, b=None, stride=1, pad=1)
    y.backward()
    assert y.shape == (1, 8, 15, 15) and x.grad.shape == x.shape
    assert F.pooling(y, 2, 2).shape == (1, 8, 7, 7)


def test_simple_rnn_on_sin_curve_with_truncated_bptt():
    class SimpleRNN(Model):
        def __init__(self, hidden_size, out_size):
            super().__init__()
            self.rnn = L.RNN(hidden_size)
            self.fc = L.Linear(out_size)

        def reset_state(self):
            self.rnn.reset_state()

        def forward(self, x):
            return self.fc(self.rnn(x))

    train_set = dezero.datasets.SinCurve(train=True)
    seqlen = len(train_set)
    model = SimpleRNN(10, 1)
    optimizer = optimizers.Adam().setup(model)
    bptt_length, count, loss = 30, 0, 0
    model.reset_state()
    for x, t in list(train_set)[:120]:
        x, t = x.reshape(1, 1), t.reshape(1, 1)
        y = model(x)
        loss += F.mean_squared_error(y, t)
        count += 1
        if count % bptt_length == 0 or count == seqlen:
            model.cleargrads()
            loss.backward()
            loss.unchain_backward()
            optimizer.update()
    model.reset_state()
    with dezero.no_grad():
        preds = [float(model(np.array(v).reshape(1, 1)).data)
                 for v in np.cos(np.linspace(0, 4 * np.pi, 20))]
    assert len(preds) == 20


def test_lstm_with_seq_dataloader_like_step_60():
    train_set = dezero.datasets.SinCurve(train=True)
    loader = SeqDataLoader(train_set, batch_size=30)
    rnn, fc = L.LSTM(20), L.Linear(1)
    x, t = next(loader)
    assert x.shape == (30, 1) and t.shape == (30, 1)
    y = fc(rnn(x))
    loss = F.mean_squared_error(y, t)
    loss.backward()
    loss.unchain_backward()
    assert rnn.x2i.W.grad is not None and rnn.x2f.W.grad is None  # no f gate at step 1


@pytest.mark.parametrize('name', ['VGG16', 'ResNet50', 'SqueezeNet'])
def test_pretrained_models_are_importable_from_dezero_models(name):
    import dezero.models as models
    assert hasattr(models, name)


def test_the_books_module_names_resolve():
    import dezero.core_simple as cs
    import dezero.functions_conv as fc
    import dezero.utils as utils
    assert cs.Variable is not Variable and dezero.is_simple_core is False  # its own engine
    assert fc.Pooling is fc.Pooling2D and fc.AveragePooling is fc.AveragePooling2D
    assert isinstance(utils.cache_dir, str) and utils.cache_dir
