"""PyTorch-style Variable methods: item, numpy, tolist, detach, requires_grad, abs, mean, max,
min, exp, log, and comparisons returning plain boolean arrays."""
import operator

import numpy as np
import pytest

import dezero.functions as F
from dezero import Parameter, Variable
from dezero.utils import gradient_check


def _v():
    return Variable(np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.5]]))


# -- conversions ----------------------------------------------------------------
def test_item_numpy_tolist():
    v = _v()
    assert Variable(np.array([[2.5]])).item() == 2.5
    assert type(Variable(np.array(3, dtype=np.int32)).item()) is int
    assert v.numpy() is v.data
    assert v.tolist() == [[1.0, -2.0, 3.0], [0.5, 4.0, -1.5]]


def test_item_of_several_elements_is_numpys_error():
    with pytest.raises(ValueError, match='can only convert an array of size 1'):
        _v().item()


def test_detach_shares_the_data_without_the_graph():
    x = _v()
    y = F.exp(x)
    d = y.detach()
    assert type(d) is Variable and d.creator is None and d.data is y.data
    z = (d * x).sum()
    z.backward()
    np.testing.assert_allclose(x.grad.data, y.data)  # no gradient through d
    assert Parameter(np.ones(2)).detach().__class__ is Variable


def test_requires_grad_is_read_only():
    assert _v().requires_grad and Parameter(np.ones(1)).requires_grad
    with pytest.raises(AttributeError, match=r'Variable.requires_grad is read-only'):
        _v().requires_grad = False


# -- differentiable methods --------------------------------------------------------
@pytest.mark.parametrize('method, fn, kwargs', [
    ('abs', F.abs, {}),
    ('exp', F.exp, {}),
    ('mean', F.mean, {}),
    ('mean', F.mean, dict(axis=1, keepdims=True)),
    ('max', F.max, {}),
    ('max', F.max, dict(axis=0)),
    ('min', F.min, dict(axis=1, keepdims=True)),
])
def test_methods_equal_the_functions_and_are_differentiable(method, fn, kwargs):
    x = _v()
    y = getattr(x, method)(**kwargs)
    assert isinstance(y, Variable) and y.creator is not None
    np.testing.assert_array_equal(y.data, fn(x, **kwargs).data)
    assert gradient_check(lambda a: getattr(a, method)(**kwargs), x.data)


def test_log_method():
    x = Variable(np.array([1.0, 2.0, 4.0]))
    np.testing.assert_allclose(x.log().data, np.log(x.data))
    assert gradient_check(lambda a: a.log(), x.data)


@pytest.mark.parametrize('np_fn, kwargs', [
    (np.mean, {}), (np.max, {}), (np.min, {}), (np.var, {}), (np.var, {'ddof': 1}),
    (np.std, {'axis': 0}), (np.std, {'ddof': 1, 'keepdims': True}),
])
def test_numpy_reductions_on_a_variable_give_arrays(np_fn, kwargs):
    v = _v()
    result = np_fn(v, **kwargs)
    assert not isinstance(result, Variable)
    np.testing.assert_allclose(result, np_fn(v.data, **kwargs))


@pytest.mark.parametrize('ddof, kwargs', [(0, {}), (1, {'axis': 1}), (2, {'axis': (0, 1)})])
def test_var_and_std_methods_take_ddof_like_numpy(ddof, kwargs):
    v = _v()
    for name in ('var', 'std'):
        y = getattr(v, name)(ddof=ddof, **kwargs)
        assert isinstance(y, Variable) and y.creator is not None
        np.testing.assert_allclose(y.data, getattr(v.data, name)(ddof=ddof, **kwargs))


@pytest.mark.parametrize('ddof', [0.5, True, '1', None])
def test_var_refuses_a_ddof_that_is_not_an_int(ddof):
    with pytest.raises(TypeError, match=r'var: ddof must be an int, got'):
        F.var(_v(), ddof=ddof)
    with pytest.raises(TypeError, match=r'var: ddof must be an int, got'):
        _v().std(ddof=ddof)


def test_var_with_no_degrees_of_freedom_is_inf_or_nan_as_in_numpy():
    x = np.array([1.0, 2.0])
    with np.errstate(divide='ignore', invalid='ignore'):
        assert np.isinf(F.var(x, ddof=2).data)
    with pytest.warns(RuntimeWarning, match='Degrees of freedom'), \
            np.errstate(divide='ignore', invalid='ignore'):
        assert np.isinf(np.var(x, ddof=2))


# -- comparisons -------------------------------------------------------------------
OPS = [operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne]


@pytest.mark.parametrize('op', OPS, ids=lambda o: o.__name__)
@pytest.mark.parametrize('other', [Variable(np.array([1.0, 0.0, 3.0])),
                                   np.array([1.0, 0.0, 3.0]), 1.0],
                         ids=['variable', 'ndarray', 'scalar'])
def test_comparisons_return_plain_boolean_arrays(op, other):
    a = np.array([1.0, -2.0, 5.0])
    expected = op(a, other.data if isinstance(other, Variable) else other)
    result = op(Variable(a), other)
    assert type(result) is np.ndarray and result.dtype == bool
    np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize('op', OPS, ids=lambda o: o.__name__)
def test_ndarray_on_the_left_compares_too(op):
    a, b = np.array([1.0, 2.0]), np.array([2.0, 2.0])
    result = op(a, Variable(b))
    assert type(result) is np.ndarray
    np.testing.assert_array_equal(result, op(a, b))


def test_variables_stay_hashable_by_identity():
    a, b = Variable(np.ones(2)), Variable(np.ones(2))
    assert len({a, b}) == 2 and {a: 1}[a] == 1
    assert hash(a) != hash(b)


def test_gpu_data_converts_explicitly_only(xp):
    if xp is np:
        pytest.skip('checks CuPy data')
    import dezero
    from dezero import cuda, models
    v = Variable(xp.arange(3.0))
    assert type(v.numpy()) is np.ndarray and v.tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(TypeError, match=r'Variable.__array__: the data is a cupy\..* use v.numpy'):
        np.asarray(v)
    assert cuda.is_cupy_array(v < 1.0)
    model = models.MLP((3, 2)).to('cuda')
    model(xp.ones((1, 4), dtype=np.float32))
    assert all(cuda.is_cupy_array(p.data) for p in model.params())
    assert all(isinstance(a, np.ndarray) for a in model.state_dict().values())
    dezero.manual_seed(3)
    a = xp.random.rand(2)
    dezero.manual_seed(3)
    assert bool((xp.random.rand(2) == a).all())
