"""Variable where Python or NumPy expects something else: arrays, truth values, scalars, pickles."""
import copy
import pickle

import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero import Variable, layers as L, models, optimizers


# -- NumPy sees a Variable as its data (no graph) -----------------------------
def test_np_asarray_gives_the_data_itself():
    a = np.arange(6.0).reshape(2, 3)
    v = Variable(a)
    assert np.asarray(v) is a
    assert np.array(v).dtype == a.dtype and np.array(v) is not a
    np.testing.assert_array_equal(np.asarray(v, dtype=np.float32), a.astype(np.float32))
    np.testing.assert_array_equal(np.array([Variable(np.ones(2)), Variable(np.zeros(2))]),
                                  [[1, 1], [0, 0]])


@pytest.mark.parametrize('np_fn, expected', [
    (lambda v: np.sum(v), 15.0),
    (lambda v: np.sum(v, axis=0), [3.0, 5.0, 7.0]),
    (lambda v: np.sum(v, axis=1, keepdims=True), [[3.0], [12.0]]),
    (lambda v: np.mean(v), 2.5),
    (lambda v: np.argmax(v), 5),
    (lambda v: np.max(v, axis=1), [2.0, 5.0]),
    (lambda v: np.min(v), 0.0),
    (lambda v: np.reshape(v, (3, 2)), [[0, 1], [2, 3], [4, 5]]),
    (lambda v: np.concatenate([v, v]).shape, (4, 3)),
])
def test_numpy_functions_compute_on_the_data_without_graph(np_fn, expected):
    v = Variable(np.arange(6.0).reshape(2, 3))
    result = np_fn(v)
    assert not isinstance(result, Variable)
    np.testing.assert_array_equal(result, expected)


def test_variable_methods_still_build_graphs():
    v = Variable(np.arange(6.0).reshape(2, 3))
    y = v.sum(axis=0)
    assert isinstance(y, Variable) and y.creator is not None


def test_ndarray_op_variable_still_returns_a_variable():
    v = Variable(np.ones(3))
    for y in (np.ones(3) + v, np.ones(3) * v, np.ones(3) - v, np.ones(3) / v, np.ones(3) ** v):
        assert isinstance(y, Variable)


def test_numpy_ufuncs_refuse_variables():
    # __array_ufunc__ = None keeps `ndarray op Variable` a Variable; np.exp(v) is refused.
    with pytest.raises(TypeError, match="does not support ufuncs"):
        np.exp(Variable(np.ones(2)))


def test_np_asarray_of_an_empty_variable_is_a_type_error():
    with pytest.raises(TypeError, match=r'Variable.__array__: this Variable holds no data'):
        np.asarray(Variable(None))


# -- truth values and Python scalars -----------------------------------------
@pytest.mark.parametrize('data, fn, expected', [
    (np.array(True), bool, True),
    (np.array(0.0), bool, False),
    (np.array([1]), bool, True),
    (np.array([[0.0]]), bool, False),
    (np.array(2.5), float, 2.5),
    (np.array([[2.5]], dtype=np.float32), float, 2.5),
    (np.array(3.7), int, 3),
    (np.array([[7]]), int, 7),
])
def test_one_element_variables_convert(data, fn, expected):
    result = fn(Variable(data))
    assert type(result) is fn and result == expected


@pytest.mark.parametrize('data', [np.zeros(2), np.zeros((2, 2)), np.zeros(0)])
@pytest.mark.parametrize('fn', [bool, float, int])
def test_other_sizes_raise_numpys_own_error(data, fn):
    with pytest.raises(Exception) as numpy_error:
        fn(data)
    with pytest.raises(type(numpy_error.value), match=str(numpy_error.value)[:30]):
        fn(Variable(data))


# -- pickle and deepcopy: parameters and state, never the graph ---------------
class _Net(models.Model):
    def __init__(self):
        super().__init__()
        self.l1 = L.Linear(4)
        self.bn = L.BatchNorm()
        self.l2 = L.Linear(3)

    def forward(self, x):
        return self.l2(F.relu(self.bn(self.l1(x))))


def _trained():
    np.random.seed(0)
    model = _Net()
    opt = optimizers.Adam().setup(model)
    x, t = np.random.randn(8, 2).astype(np.float32), np.array([0, 1, 2, 0, 1, 2, 0, 1])
    loss = F.softmax_cross_entropy(model(x), t)
    loss.backward()
    opt.update()
    return model, opt, x


@pytest.mark.parametrize('clone', [lambda o: pickle.loads(pickle.dumps(o)), copy.deepcopy],
                         ids=['pickle', 'deepcopy'])
def test_models_after_a_forward_pass_clone_with_parameters_and_buffers(clone):
    model, _, x = _trained()
    model2 = clone(model)
    for (k1, p1), (k2, p2) in zip(model.named_params(), model2.named_params()):
        assert k1 == k2 and p1 is not p2
        np.testing.assert_array_equal(p1.data, p2.data)
        np.testing.assert_array_equal(p1.grad.data, p2.grad.data)
        assert p2.grad.creator is None
    np.testing.assert_array_equal(model.bn.avg_mean.data, model2.bn.avg_mean.data)
    assert 'outputs' not in model2.__dict__ and 'inputs' not in model2.l1.__dict__
    with dezero.test_mode():
        np.testing.assert_array_equal(model(x).data, model2(x).data)


@pytest.mark.parametrize('clone', [lambda o: pickle.loads(pickle.dumps(o)), copy.deepcopy],
                         ids=['pickle', 'deepcopy'])
def test_optimizers_clone_with_their_state_tied_to_the_cloned_model(clone):
    model, opt, x = _trained()
    opt2 = clone(opt)
    assert opt2.target is not model and opt2.t == opt.t
    for (_, p1), (_, p2) in zip(model.named_params(), opt2.target.named_params()):
        np.testing.assert_array_equal(opt.state[p1]['m'], opt2.state[p2]['m'])
    opt2.update()  # the clone steps its own model only
    assert not np.array_equal(opt2.target.l1.W.data, model.l1.W.data)


def test_a_variable_in_a_graph_pickles_without_its_creator():
    x = Variable(np.ones(3), name='x')
    y = F.exp(x) * 2
    y.name = 'y'
    y2 = pickle.loads(pickle.dumps(y))
    assert y2.creator is None and y2.generation == 0 and y2.name == 'y'
    np.testing.assert_array_equal(y2.data, y.data)


def test_recurrent_state_is_kept_as_data_without_the_graph():
    rnn = L.RNN(3)
    rnn(np.ones((1, 2), dtype=np.float32))
    rnn(np.ones((1, 2), dtype=np.float32))
    rnn2 = copy.deepcopy(rnn)
    assert rnn2.h.creator is None
    np.testing.assert_array_equal(rnn2.h.data, rnn.h.data)

