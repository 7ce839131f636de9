"""PyTorch-style names on Layer and Optimizer: parameters(), zero_grad(), train()/eval(), to(),
repr and summary(), step()."""
import threading

import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero import Config, cuda, layers as L, models, optimizers


class _DropNet(models.Model):
    def __init__(self):
        super().__init__()
        self.fc = L.Linear(3, in_size=2)
        self.bn = L.BatchNorm()

    def forward(self, x):
        return self.bn(F.dropout(self.fc(x)))


def _built_mlp():
    np.random.seed(0)
    model = models.MLP((4, 3))
    model(np.zeros((1, 2), dtype=np.float32))
    return model


def test_parameter_aliases_match_the_books_names():
    model = _built_mlp()
    assert list(model.parameters()) == list(model.params())
    assert [k for k, _ in model.named_parameters()] == ['l0/W', 'l0/b', 'l1/W', 'l1/b']
    assert [k for k, _ in model.named_parameters('net')][0] == 'net/l0/W'


def test_zero_grad_and_step_are_cleargrads_and_update():
    model = _built_mlp()
    opt = optimizers.SGD(0.1).setup(model)
    x = np.ones((2, 2), dtype=np.float32)
    F.sum(model(x)).backward()
    before = model.l0.W.data.copy()
    opt.step()
    assert not np.array_equal(before, model.l0.W.data)
    opt.zero_grad()
    assert all(p.grad is None for p in model.params())
    F.sum(model(x)).backward()
    model.zero_grad()
    assert all(p.grad is None for p in model.params())


def test_optimizer_zero_grad_needs_setup():
    with pytest.raises(RuntimeError, match=r'SGD.zero_grad: call setup\(model\) first'):
        optimizers.SGD().zero_grad()


def test_eval_scopes_test_behaviour_to_the_models_calls():
    model = _DropNet()
    x = np.random.randn(50, 2).astype(np.float32)
    assert model.training and model.fc.training
    assert model.eval() is model
    assert not model.training and not model.bn.training
    y1, y2 = model(x), model(x)
    np.testing.assert_array_equal(y1.data, y2.data)  # no dropout mask: deterministic
    assert Config.train is True  # the thread's setting is untouched
    other = _DropNet()
    assert other.training
    model.train()
    assert model.training and model.fc.training
    assert not np.array_equal(model(x).data, model(x).data)  # dropout is back


def test_a_model_in_the_default_mode_follows_test_mode():
    model = _DropNet()
    with dezero.test_mode():
        assert not model.training
        np.testing.assert_array_equal(model(np.ones((4, 2), np.float32)).data,
                                      model(np.ones((4, 2), np.float32)).data)
    assert model.training


def test_eval_holds_in_other_threads_too():
    model = _DropNet().eval()
    seen = []
    t = threading.Thread(target=lambda: seen.append(model.training))
    t.start()
    t.join()
    assert seen == [False]


def test_eval_mode_uses_batch_norm_running_statistics():
    model = _DropNet()
    x = np.random.randn(20, 2).astype(np.float32)
    model(x)  # builds the running statistics
    model.eval()
    with dezero.test_mode():
        expected = model.bn(model.fc(x)).data
    np.testing.assert_allclose(model(x).data, expected)


@pytest.mark.parametrize('mode', [0, 'eval', None])
def test_train_mode_must_be_a_bool(mode):
    with pytest.raises(TypeError, match=r'_DropNet.train: mode must be a bool, got'):
        _DropNet().train(mode)


def test_to_cpu_and_bad_device_names():
    model = _built_mlp()
    assert model.to('cpu') is model and model.to('CPU') is model
    with pytest.raises(ValueError, match=r"MLP.to: device must be 'cpu', 'cuda' or 'gpu', "
                                         r"got 'tpu'"):
        model.to('tpu')
    if not cuda.gpu_available():
        with pytest.raises(RuntimeError, match='GPU backend is unavailable'):
            model.to('cuda')


def test_repr_shows_the_tree_with_shapes_counts_and_lazy_parameters():
    model = models.MLP((4, 3))
    assert repr(model) == (
        'MLP(  # 7 parameters, 2 uninitialised\n'
        '  (l0): Linear(W=uninitialised, b=(4,))  # 4 parameters, 1 uninitialised\n'
        '  (l1): Linear(W=uninitialised, b=(3,))  # 3 parameters, 1 uninitialised\n'
        ')')
    model(np.zeros((1, 2), dtype=np.float32))
    assert repr(model).splitlines()[1] == '  (l0): Linear(W=(2, 4), b=(4,))  # 12 parameters'
    assert repr(L.Linear(2, in_size=3)) == 'Linear(W=(3, 2), b=(2,))  # 8 parameters'


def test_summary_lists_every_parameter_and_the_total():
    text = models.MLP((4, 3)).summary(print_fn=None)
    lines = text.splitlines()
    assert lines[0] == 'MLP'
    assert lines[2].split() == ['Parameter', 'Layer', 'Shape', 'Dtype', 'Size']
    assert lines[4].split() == ['l0/W', 'Linear', 'uninitialised', '-', '-']
    assert lines[5].split() == ['l0/b', 'Linear', '(4,)', 'float32', '4']
    assert lines[-2:] == ['Total parameters: 7', 'Uninitialised: 2 (created on the first call)']
    printed = []
    _built_mlp().summary(print_fn=printed.append)
    assert printed[0].splitlines()[-1] == 'Total parameters: 27'
