"""The engine: Variable, Function, backward walk, operators, Config."""
import gc
import math
import threading
import tracemalloc
import weakref

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import dezero
import dezero.functions as F
from dezero import Config, Function, Parameter, Variable, no_grad, using_config
from dezero.core import as_array, as_variable
from dezero.utils import check_double_backward, gradient_check


# -- Variable -----------------------------------------------------------------
@pytest.mark.parametrize('bad, type_name', [(1, 'int'), (1.0, 'float'), ([1, 2], 'list'),
                                            ('a', 'str')])
def test_variable_rejects_non_arrays_naming_the_type(bad, type_name):
    with pytest.raises(TypeError, match=rf"got {type_name}.*np\.array"):
        Variable(bad)


def test_variable_accepts_none_and_arrays():
    assert Variable(None).data is None
    assert Variable(np.array(1.0)).data.shape == ()
    assert Variable(np.zeros((2, 3)), name='w').name == 'w'


def test_variable_properties_and_len():
    v = Variable(np.zeros((2, 3), dtype=np.float32))
    assert v.shape == (2, 3) and v.ndim == 2 and v.size == 6 and v.dtype == np.float32
    assert len(v) == 2
    assert v.T.shape == (3, 2)


def test_repr_indents_continuation_lines_by_nine_spaces():
    assert repr(Variable(None)) == 'variable(None)'
    assert repr(Variable(np.array([1, 2]))) == 'variable([1 2])'
    text = repr(Variable(np.array([[1, 2], [3, 4]])))
    assert text == 'variable([[1 2]\n          [3 4]])'


def test_function_outputs_are_arrays_even_for_zero_d_results():
    x = Variable(np.array(2.0))
    y = F.exp(x) + 1.0
    assert isinstance(y.data, np.ndarray) and y.data.shape == ()
    s = F.sum(Variable(np.ones(3)))
    assert isinstance(s.data, np.ndarray)


def test_base_function_forward_and_backward_raise_not_implemented():
    f = Function()
    with pytest.raises(NotImplementedError, match='Function.forward'):
        f(Variable(np.array(1.0)))
    with pytest.raises(NotImplementedError, match='Function.backward'):
        Function().backward(Variable(np.array(1.0)))


def test_function_accepts_arrays_and_scalars():
    y = F.add(np.array(1.0), 2.0)
    assert isinstance(y, Variable) and y.data == 3.0
    z = F.sin(np.array(0.0))
    assert z.data == 0.0


def test_function_rejects_unsupported_input_types():
    with pytest.raises(TypeError, match=r"Sin: inputs must be .*got str"):
        F.sin('x')


def test_multi_output_function_gets_zero_gradient_for_unused_output():
    class Split2(Function):
        def forward(self, x):
            return x * 2, x * 3

        def backward(self, g0, g1):
            return g0 * 2 + g1 * 3

    x = Variable(np.array([1.0, 2.0]))
    a, b = Split2()(x)
    a.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


# -- the book's first example -------------------------------------------------
def _classes(x):
    return F.Square()(F.Exp()(F.Square()(x)))


def _functions(x):
    return F.square(F.exp(F.square(x)))


def _operators(x):
    return F.exp(x ** 2) ** 2


@pytest.mark.parametrize('build', [_classes, _functions, _operators])
def test_square_exp_square_value_and_gradient(build):
    x = Variable(np.array(0.5))
    y = build(x)
    y.backward()
    assert abs(float(y.data) - 1.648721270700128) < 1e-12
    assert abs(float(x.grad.data) - 3.297442541400256) < 1e-12


def test_backward_seeds_ones_like_data():
    x = Variable(np.array([1.0, 2.0, 3.0]))
    y = x * 2.0
    y.backward(retain_grad=True)
    np.testing.assert_array_equal(y.grad.data, np.ones(3))


# -- the backward walk ------------------------------------------------------------
def test_backward_accumulates_when_input_reused():
    x = Variable(np.array(3.0))
    y = x + x
    y.backward()
    assert x.grad.data == 2.0
    x.cleargrad()
    y = x + x + x
    y.backward()
    assert x.grad.data == 3.0


def test_diamond_graph_is_exact_and_each_backward_runs_once():
    calls = {}

    class Counting(F.Square):
        def backward(self, gy):
            calls[id(self)] = calls.get(id(self), 0) + 1
            return super().backward(gy)

        def backward_arrays(self, gy):
            calls[id(self)] = calls.get(id(self), 0) + 1
            return super().backward_arrays(gy)

    x = Variable(np.array(2.0))
    a = Counting()(x)
    y = Counting()(a) + Counting()(a)
    y.backward()
    assert x.grad.data == 64.0  # y = 2 x^4, dy/dx = 8 x^3
    assert sorted(calls.values()) == [1, 1, 1]


def test_intermediate_gradients_dropped_unless_retained():
    x = Variable(np.array(1.0))
    a = x * 2.0
    y = a * 3.0
    y.backward()
    assert a.grad is None and y.grad is None and x.grad.data == 6.0
    x.cleargrad()
    a = x * 2.0
    y = a * 3.0
    y.backward(retain_grad=True)
    assert a.grad.data == 3.0 and y.grad.data == 1.0


def test_long_chain_backward_has_no_recursion_limit():
    x = Variable(np.array(1.0))
    y = x
    for _ in range(100_000):
        y = y + 0.0
    y.backward()
    assert x.grad.data == 1.0


def test_dropping_output_frees_graph_without_gc():
    x = Variable(np.array(1.0))
    y = F.exp(F.sin(x) * 2.0)
    creator = weakref.ref(y.creator)
    gc.disable()
    try:
        del y
        assert creator() is None
    finally:
        gc.enable()


def test_repeated_small_graphs_do_not_grow_traced_memory():
    def step():
        x = Variable(np.random.randn(10))
        y = F.sum(F.tanh(x) * x + 1.0)
        y.backward()

    for _ in range(200):
        step()
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    for _ in range(10_000):
        step()
    gc.collect()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert current - base < 256 * 1024


def test_unchain_and_unchain_backward():
    x = Variable(np.array(1.0))
    a = x * 2.0
    y = a * 3.0
    y.unchain_backward()
    assert a.creator is None and y.creator is not None
    y.unchain()
    assert y.creator is None
    y.backward()
    assert x.grad is None


def test_no_grad_records_no_graph():
    x = Variable(np.array(1.0))
    with no_grad():
        y = x * 2.0
    assert y.creator is None
    assert Config.enable_backprop is True


def test_using_config_restores_on_error_and_test_mode():
    with pytest.raises(RuntimeError):
        with using_config('enable_backprop', False):
            raise RuntimeError
    assert Config.enable_backprop
    with dezero.test_mode():
        assert Config.train is False
    assert Config.train is True


def test_unknown_config_name_is_a_clear_error():
    with pytest.raises(AttributeError, match="Config has no setting 'nope'"):
        with using_config('nope', 1):
            pass


def test_no_grad_in_one_thread_leaves_another_threads_graph_intact():
    inside = threading.Event()
    release = threading.Event()

    def worker():
        with no_grad():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    try:
        x = Variable(np.array(2.0))
        y = x * x
        assert y.creator is not None
        y.backward()
        assert x.grad.data == 4.0
    finally:
        release.set()
        t.join()


def test_new_threads_start_with_default_config():
    seen = []
    with no_grad(), dezero.test_mode():
        t = threading.Thread(target=lambda: seen.append((Config.enable_backprop, Config.train)))
        t.start()
        t.join()
    assert seen == [(True, True)]


# -- operators ------------------------------------------------------------------
def test_operators_with_variables_arrays_and_scalars_on_either_side():
    a = Variable(np.array(3.0))
    b = np.array(2.0)
    for y, expected in [(a + b, 5), (b + a, 5), (a - b, 1), (b - a, -1), (a * b, 6), (b * a, 6),
                        (a / b, 1.5), (b / a, 2 / 3), (a ** 2, 9), (2 ** a, 8), (-a, -3),
                        (a + 1, 4), (1 - a, -2), (3 / a, 1), (+a, 3)]:
        assert isinstance(y, Variable)
        assert np.isclose(float(y.data), expected)


def test_ndarray_op_variable_returns_variable():
    a = Variable(np.ones((2, 2)))
    for y in [np.ones((2, 2)) + a, np.ones((2, 2)) * a, np.ones((2, 2)) - a,
              np.ones((2, 2)) / a, np.float64(2.0) * a]:
        assert isinstance(y, Variable)


def test_matmul_operator():
    a = Variable(np.ones((2, 3)))
    w = np.ones((3, 4))
    assert (a @ w).shape == (2, 4)
    assert isinstance(w.T @ Variable(np.ones((3, 1))), Variable)


def test_variable_exponent_is_differentiable_in_both():
    x = Variable(np.array(2.0))
    y = Variable(np.array(3.0))
    z = x ** y
    z.backward()
    assert np.isclose(x.grad.data, 3 * 4.0)
    assert np.isclose(y.grad.data, 8.0 * math.log(2.0))
    assert gradient_check(lambda a, b: a ** b, np.array([1.5, 2.0]), Variable(np.array([2.0, 0.5])))


def test_broadcast_operand_gradient_is_summed_back():
    x = Variable(np.ones((2, 3)))
    b = Variable(np.ones(3))
    y = x * b + b
    y.backward()
    assert b.grad.shape == (3,)
    np.testing.assert_array_equal(b.grad.data, [4.0, 4.0, 4.0])


@pytest.mark.parametrize('op', ['add', 'sub', 'mul', 'div'])
def test_binary_operator_gradients(op):
    fn = {'add': lambda a, b: a + b, 'sub': lambda a, b: a - b,
          'mul': lambda a, b: a * b, 'div': lambda a, b: a / b}[op]
    x = np.random.RandomState(0).rand(2, 3) + 0.5
    w = Variable(np.random.RandomState(1).rand(3) + 0.5)
    assert gradient_check(fn, x, w)
    assert check_double_backward(fn, x, w)


@pytest.mark.parametrize('fn', [lambda v: v + 2, lambda v: 2 - v, lambda v: v * 3,
                                lambda v: v / 3, lambda v: 3 / v, lambda v: v ** 3,
                                lambda v: v ** -1.5, lambda v: 2 ** v, lambda v: -v])
def test_scalar_operator_gradients_first_and_second_order(fn):
    x = np.random.RandomState(0).rand(4) + 0.5
    assert gradient_check(fn, x)
    assert check_double_backward(fn, x)


# -- float32 ---------------------------------------------------------------------
@pytest.mark.parametrize('const', [2, 2.0, np.float64(2.0), np.float32(2.0), np.array(2.0)])
def test_float32_stays_float32_with_any_scalar_constant(const):
    x = Variable(np.ones(3, dtype=np.float32))
    ys = [x + const, const + x, x - const, const - x, x * const, const * x,
          x / const, const / x, x ** const, F.exp(x) * const]
    for y in ys:
        assert y.dtype == np.float32, y
    y = sum(ys[1:], ys[0])
    y.backward()
    assert x.grad.dtype == np.float32


# -- higher-order derivatives ---------------------------------------------------------
def _nth_derivatives(f, x0, n):
    x = Variable(np.array(x0))
    y = f(x)
    y.backward(create_graph=True)
    results = []
    for _ in range(n - 1):
        gx = x.grad
        results.append(float(gx.data))
        x.cleargrad()
        gx.backward(create_graph=True)
    results.append(float(x.grad.data))
    return results


def test_sin_derivatives_up_to_fifth_order():
    x0 = 0.7
    expected = [math.cos(x0), -math.sin(x0), -math.cos(x0), math.sin(x0), math.cos(x0)]
    np.testing.assert_allclose(_nth_derivatives(F.sin, x0, 5), expected, rtol=1e-12)


def test_tanh_derivatives_up_to_fifth_order():
    x0 = 0.4
    t = math.tanh(x0)
    d1 = 1 - t * t
    d2 = -2 * t * d1
    d3 = (6 * t * t - 2) * d1
    d4 = (-24 * t ** 3 + 16 * t) * d1
    d5 = (120 * t ** 4 - 120 * t * t + 16) * d1
    np.testing.assert_allclose(_nth_derivatives(F.tanh, x0, 5), [d1, d2, d3, d4, d5],
                               rtol=1e-10)


def test_x_pow_4_derivatives_up_to_fifth_order():
    x0 = 2.0
    got = _nth_derivatives(lambda x: x ** 4, x0, 5)
    np.testing.assert_allclose(got, [32.0, 48.0, 48.0, 24.0, 0.0], atol=1e-12)


def test_newton_method_minimises_quartic():
    x = Variable(np.array(2.0))
    for _ in range(10):
        y = x ** 4 - 2 * x ** 2
        x.cleargrad()
        y.backward(create_graph=True)
        gx = x.grad
        x.cleargrad()
        gx.backward()
        x.data = x.data - gx.data / x.grad.data
    assert abs(float(x.data) - 1.0) < 1e-10


# -- optimisation benchmarks' gradients ---------------------------------------------------
def test_sphere_matyas_goldstein_gradients_at_one_one():
    def sphere(x, y):
        return x ** 2 + y ** 2

    def matyas(x, y):
        return 0.26 * (x ** 2 + y ** 2) - 0.48 * x * y

    def goldstein(x, y):
        return (1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x ** 2 - 14 * y + 6 * x * y
                                        + 3 * y ** 2)) * \
            (30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x ** 2 + 48 * y - 36 * x * y
                                          + 27 * y ** 2))

    for fn, expected in [(sphere, (2.0, 2.0)), (matyas, (0.04, 0.04)),
                         (goldstein, (-5376.0, 8064.0))]:
        x, y = Variable(np.array(1.0)), Variable(np.array(1.0))
        fn(x, y).backward()
        np.testing.assert_allclose([x.grad.data, y.grad.data], expected, rtol=1e-12, atol=1e-12)


# -- hypothesis: broadcasting gradients -------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_broadcast_binary_gradients_match_numerical(data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                         max_side=3))
    a_shape, b_shape = shapes.input_shapes
    rng = np.random.RandomState(0)
    a = np.asarray(rng.rand(*a_shape) + 0.5)
    b = Variable(np.asarray(rng.rand(*b_shape) + 0.5))
    op = data.draw(st.sampled_from(['add', 'sub', 'mul', 'div']))
    fn = {'add': lambda p, q: p + q, 'sub': lambda p, q: p - q,
          'mul': lambda p, q: p * q, 'div': lambda p, q: p / q}[op]
    assert gradient_check(fn, a, b)


# -- helpers ------------------------------------------------------------------------
def test_as_array_and_as_variable():
    assert isinstance(as_array(1.0), np.ndarray)
    arr = np.ones(2)
    assert as_array(arr) is arr
    v = Variable(arr)
    assert as_variable(v) is v
    assert isinstance(as_variable(arr), Variable)


def test_parameter_is_a_variable():
    p = Parameter(np.ones(2))
    assert isinstance(p, Variable)
    assert isinstance(p * 2.0, Variable) and not isinstance(p * 2.0, Parameter)


def test_top_level_names():
    for name in ['Variable', 'Parameter', 'Function', 'Config', 'using_config', 'no_grad',
                 'test_mode', 'as_array', 'as_variable', 'setup_variable']:
        assert hasattr(dezero, name), name
    dezero.setup_variable()
    assert (Variable(np.array(1.0)) + 1.0).data == 2.0


def test_arrays_wrapped_by_a_call_are_marked_as_not_needing_gradients():
    from dezero.core import needs_grad

    seen = {}

    class Probe(Function):
        def forward(self, a, b):
            return a * b

        def backward(self, gy):
            a, b = self.inputs
            seen['flags'] = (needs_grad(a), needs_grad(b))
            return gy * b, gy * a

    w = Variable(np.array([2.0]))
    Probe()(np.array([3.0]), w).backward()
    assert seen['flags'] == (False, True)
    assert w.grad.data == 3.0


def test_float_of_a_one_element_output_works_as_on_old_numpy():
    x = Variable(np.array([[0.5]]))
    y = F.sin(x) * 2.0
    assert float(y.data) == pytest.approx(2 * math.sin(0.5))
    assert int((Variable(np.array([[[3.0]]])) * 1.0).data) == 3
    with pytest.raises(TypeError):
        float((Variable(np.array([1.0, 2.0])) * 1.0).data)
    assert isinstance(y.data, np.ndarray) and y.data.shape == (1, 1)


def test_unchain_backward_also_cuts_sibling_outputs():
    class Two(Function):
        def forward(self, x):
            return x * 2, x * 3

        def backward(self, g0, g1):
            return g0 * 2 + g1 * 3

    x = Variable(np.array(1.0))
    a, b = Two()(x * 1.0)
    loss = a * 1.0
    loss.unchain_backward()
    assert a.creator is None and b.creator is None and loss.creator is not None


@pytest.mark.parametrize('op, name', [(lambda a, b: a + b, 'add'), (lambda a, b: a * b, 'mul'),
                                      (lambda a, b: a - b, 'sub'), (lambda a, b: a / b, 'div')])
def test_binary_shape_mismatch_names_the_operation_and_shapes(op, name):
    with pytest.raises(ValueError, match=rf"{name}: shapes \(3,\) and \(4,\) do not broadcast"):
        op(Variable(np.ones(3)), Variable(np.ones(4)))


# PyTorch's y.backward(g): an array or Variable passed first (or as gradient=) is the
# gradient the walk starts from; bools keep the book's meaning (retain_grad).
_X = np.array([1.0, 2.0, 3.0])
_G = np.array([1.0, 0.5, 0.0])


@pytest.mark.parametrize('call,expected_gx', [
    (lambda y: y.backward(_G), 2 * _X * _G),
    (lambda y: y.backward(Variable(_G)), 2 * _X * _G),
    (lambda y: y.backward(gradient=_G), 2 * _X * _G),
    (lambda y: y.backward(np.array([1, 0, 2])), 2 * _X * [1, 0, 2]),   # ints: as floats
    (lambda y: y.backward(), 2 * _X),                                    # the book's ones
    (lambda y: y.backward(True), 2 * _X),                                # retain_grad
    (lambda y: y.backward(np.True_), 2 * _X),
], ids=['array', 'variable', 'keyword', 'int array', 'none', 'True', 'np.True_'])
def test_backward_starts_from_a_given_gradient(call, expected_gx):
    x = Variable(_X.copy())
    y = x * x
    call(y)
    np.testing.assert_array_equal(x.grad.data, expected_gx)
    assert x.grad.dtype == np.float64


def test_backward_from_a_gradient_keeps_the_book_flags():
    x = Variable(_X.copy())
    y = x * x * x
    y.backward(_G, create_graph=True)          # d/dx (x^3 . g) = 3 x^2 g, differentiable
    np.testing.assert_allclose(x.grad.data, 3 * _X ** 2 * _G)
    gx = x.grad
    x.cleargrad()
    gx.backward()
    np.testing.assert_allclose(x.grad.data, 6 * _X * _G)
    h = Variable(_X.copy())
    t = h * h
    y = t * 2
    y.backward(_G)                             # as the book: only leaves keep gradients
    assert y.grad is None and t.grad is None
    np.testing.assert_array_equal(h.grad.data, 4 * _X * _G)
    h.cleargrad()
    y = (h * h) * 2
    y.backward(gradient=_G, retain_grad=True)
    np.testing.assert_array_equal(y.grad.data, _G)


def test_backward_from_a_gradient_on_a_leaf_accumulates():
    x = Variable(_X.copy())
    x.backward(_G)
    x.backward(_G)
    np.testing.assert_array_equal(x.grad.data, 2 * _G)


@pytest.mark.parametrize('arg,exc,message', [
    (np.ones(2), ValueError, r'backward: gradient has shape \(2,\) but the output has shape '
                             r'\(3,\); pass one value per output element'),
    ([1.0, 1.0, 1.0], TypeError, r'backward: retain_grad must be a bool, got list; to start '
                                 r'from a gradient, pass an array or Variable of shape \(3,\)'),
    ('yes', TypeError, r'retain_grad must be a bool, got str'),
])
def test_backward_with_a_bad_gradient_says_what_to_pass(arg, exc, message):
    x = Variable(_X.copy())
    y = x * x
    with pytest.raises(exc, match=message):
        y.backward(arg)
    assert x.grad is None


def test_backward_gradient_keyword_refuses_non_arrays():
    y = Variable(_X.copy()) * 2
    with pytest.raises(TypeError, match=r'backward: gradient must be an array or Variable of '
                                        r'shape \(3,\), got list'):
        y.backward(gradient=[1.0, 1.0, 1.0])
