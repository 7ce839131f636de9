"""Shape operations: values, first/second-order gradients, errors and dtypes."""
import numpy as np
import pytest

import dezero.functions as F
from dezero import Variable
from dezero.utils import check_double_backward, gradient_check
from dezero.utils_array import AxisError


def rand(*shape, seed=0):
    return np.asarray(np.random.RandomState(seed).randn(*shape))


def check(f, x, *args, second=True):
    """First- and (optionally) second-order gradient checks; f(x) is squared so the second
    derivative goes through the op's backward again."""
    assert gradient_check(lambda x, *a: f(x, *a) ** 2, x, *args)
    if second:
        assert check_double_backward(lambda x, *a: f(x, *a) ** 2, x,
                                     *[a.data if isinstance(a, Variable) else a for a in args])


# --- reshape ------------------------------------------------------------------------------
@pytest.mark.parametrize('in_shape,shape', [
    ((), (1,)), ((), (1, 1)), ((6,), (2, 3)), ((6,), (-1, 2)), ((2, 3, 4), (4, -1)),
    ((2, 3, 4), (24,)), ((1,), ()),
])
def test_reshape_values_and_gradients(in_shape, shape):
    x = rand(*in_shape)
    y = F.reshape(x, shape)
    np.testing.assert_array_equal(y.data, x.reshape(shape))
    check(lambda x: F.reshape(x, shape), x)


def test_reshape_same_shape_returns_input_variable():
    x = Variable(rand(2, 3))
    assert F.reshape(x, (2, 3)) is x


def test_variable_reshape_method_forms():
    x = Variable(rand(2, 3))
    assert x.reshape(3, 2).shape == (3, 2)
    assert x.reshape((6,)).shape == (6,)
    assert x.reshape([-1, 1]).shape == (6, 1)


def test_reshape_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\).*\(4,\)"):
        F.reshape(np.ones((2, 3)), (4,))


# --- transpose ----------------------------------------------------------------------------
@pytest.mark.parametrize('in_shape,axes', [
    ((), None), ((4,), None), ((4,), (0,)), ((2, 3), None), ((2, 3), (1, 0)),
    ((2, 3, 4), None), ((2, 3, 4), (2, 0, 1)), ((2, 3, 4), (-1, -3, 1)),
    ((2, 3, 4, 5), (1, 3, 0, 2)),
])
def test_transpose_values_and_gradients(in_shape, axes):
    x = rand(*in_shape)
    np.testing.assert_array_equal(F.transpose(x, axes).data, np.transpose(x, axes))
    check(lambda x: F.transpose(x, axes), x)


def test_variable_transpose_and_T():
    x = Variable(rand(2, 3, 4))
    assert x.T.shape == (4, 3, 2)
    assert x.transpose().shape == (4, 3, 2)
    assert x.transpose(1, 0, 2).shape == (3, 2, 4)
    assert x.transpose((2, 1, 0)).shape == (4, 3, 2)
    y = x.transpose(2, 0, 1)
    y.backward()
    assert x.grad.shape == (2, 3, 4)


def test_transpose_axis_out_of_range_names_axis_and_ndim():
    with pytest.raises(AxisError, match=r"transpose: axis 2 .* 2 dimension"):
        F.transpose(np.ones((2, 3)), (0, 2))


def test_transpose_wrong_number_of_axes():
    with pytest.raises(ValueError, match=r"transpose: axes \(0,\) .* 2 dimension"):
        F.transpose(np.ones((2, 3)), (0,))


def test_transpose_repeated_axes():
    with pytest.raises(ValueError, match=r"transpose: repeated axis"):
        F.transpose(np.ones((2, 3)), (1, 1))


# --- expand_dims, flatten, squeeze --------------------------------------------------------
@pytest.mark.parametrize('in_shape,axis', [
    ((), 0), ((3,), 0), ((3,), 1), ((3,), -1), ((2, 3), (0, 3)), ((2, 3), -2),
])
def test_expand_dims_matches_numpy(in_shape, axis):
    x = rand(*in_shape)
    np.testing.assert_array_equal(F.expand_dims(x, axis).data, np.expand_dims(x, axis))
    check(lambda x: F.expand_dims(x, axis), x)


def test_expand_dims_axis_out_of_range():
    with pytest.raises(AxisError, match=r"expand_dims: axis 3 .* 3 dimension"):
        F.expand_dims(np.ones((2, 3)), 3)


@pytest.mark.parametrize('in_shape,out_shape', [((4,), (4, 1)), ((2, 3, 4), (2, 12)),
                                                ((2, 1, 2, 2), (2, 4))])
def test_flatten_keeps_batch_axis(in_shape, out_shape):
    x = rand(*in_shape)
    assert F.flatten(x).shape == out_shape
    check(F.flatten, x)


def test_flatten_rejects_0d():
    with pytest.raises(ValueError, match=r"flatten: the input is 0-d"):
        F.flatten(np.float64(1.0) * np.ones(()))


@pytest.mark.parametrize('in_shape,axis', [
    ((1,), None), ((1, 3, 1), None), ((1, 3, 1), 0), ((1, 3, 1), -1), ((1, 3, 1), (0, 2)),
    ((3,), None),
])
def test_squeeze_matches_numpy(in_shape, axis):
    x = rand(*in_shape)
    np.testing.assert_array_equal(F.squeeze(x, axis).data, np.squeeze(x, axis))
    check(lambda x: F.squeeze(x, axis), x)


def test_squeeze_non_unit_axis():
    with pytest.raises(ValueError, match=r"squeeze: cannot squeeze axis 1 of shape \(1, 3\)"):
        F.squeeze(np.ones((1, 3)), 1)


def test_squeeze_axis_out_of_range():
    with pytest.raises(AxisError, match=r"squeeze: axis 2 .* 2 dimension"):
        F.squeeze(np.ones((1, 3)), 2)


# --- get_item -----------------------------------------------------------------------------
_X3 = (3, 4, 5)
GET_ITEM_CASES = [
    ((), ()),
    ((), None),
    ((), Ellipsis),
    ((5,), 2),
    ((5,), -1),
    ((5,), slice(None, None, 2)),
    ((5,), slice(4, 0, -2)),
    ((5,), np.array([0, 0, 3, 3, 3])),
    ((5,), np.array([True, False, True, True, False])),
    (_X3, 1),
    (_X3, (slice(None), 2)),
    (_X3, (Ellipsis, 1)),
    (_X3, (None, 0, Ellipsis, None)),
    (_X3, (slice(0, 3, 2), slice(None), slice(None, None, -2))),
    (_X3, np.array([2, 0, 2])),
    (_X3, (np.array([0, 0, 1]), slice(None), np.array([4, 4, 4]))),
    (_X3, (np.array([[0, 1], [1, 1]]), np.array([[3, 3], [0, 3]]))),
    (_X3, (Ellipsis, np.array([1, 1]))),
    (_X3, (slice(None), np.array([True, False, True, True]))),
    (_X3, [0, 2, 2]),
]


@pytest.mark.parametrize('in_shape,index', GET_ITEM_CASES)
def test_get_item_values_and_gradients(in_shape, index):
    x = rand(*in_shape)
    np.testing.assert_array_equal(F.get_item(x, index).data,
                                  x[np.asarray(index) if isinstance(index, list) else index])
    check(lambda x: F.get_item(x, index), x)


def test_get_item_repeated_index_accumulates():
    x = Variable(np.array([1.0, 2.0, 3.0]))
    y = x[np.array([0, 0, 1])]
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 1.0, 0.0])


def test_get_item_repeated_pairs_accumulate_nd():
    x = Variable(np.zeros((2, 3)))
    y = x[np.array([1, 1, 0]), np.array([2, 2, 2])]
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 0, 1], [0, 0, 2]])


def test_get_item_backend(xp):
    x = Variable(xp.arange(6.0).reshape(2, 3))
    y = x[xp.array([1, 1]), 1:]
    y.backward()
    expected = np.zeros((2, 3))
    expected[1, 1:] = 2
    np.testing.assert_array_equal(F.get_item(x, 0).data.get() if xp is not np
                                  else F.get_item(x, 0).data, [0, 1, 2])
    grad = x.grad.data
    assert type(grad) is type(x.data)
    np.testing.assert_array_equal(grad if xp is np else grad.get(), expected)


def test_get_item_grad_backward_is_get_item():
    slices = (np.array([0, 0, 2]), slice(None))
    gy = Variable(rand(3, 4))
    gx = F.GetItemGrad(slices, (3, 4))(gy)
    np.testing.assert_array_equal(gx.data[0], gy.data[0] + gy.data[1])
    assert gradient_check(lambda g: F.GetItemGrad(slices, (3, 4))(g) ** 2, gy.data)


def test_get_item_with_variable_index():
    x = rand(4)
    idx = Variable(np.array([3, 1]))
    np.testing.assert_array_equal(F.get_item(x, idx).data, x[[3, 1]])


def test_get_item_out_of_range_error():
    with pytest.raises(IndexError, match=r"get_item: index 5 .* shape \(3,\)"):
        F.get_item(np.ones(3), 5)


# --- broadcast_to and sum_to --------------------------------------------------------------
@pytest.mark.parametrize('in_shape,shape', [
    ((), (3,)), ((), (2, 3)), ((1,), (4,)), ((3,), (2, 3)), ((2, 1), (2, 3)),
    ((1, 3, 1), (2, 3, 4)), ((3, 1), (2, 3, 4)),
])
def test_broadcast_to_and_sum_to_gradients(in_shape, shape):
    x = rand(*in_shape)
    np.testing.assert_array_equal(F.broadcast_to(x, shape).data, np.broadcast_to(x, shape))
    check(lambda x: F.broadcast_to(x, shape), x)
    big = rand(*shape, seed=1)
    y = F.sum_to(big, in_shape)
    assert y.shape == in_shape
    np.testing.assert_allclose(y.data.sum(), big.sum())
    check(lambda b: F.sum_to(b, in_shape), big)


def test_sum_to_values():
    x = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(F.sum_to(x, (3, 1)).data, x.sum(axis=(0, 2)).reshape(3, 1))
    np.testing.assert_array_equal(F.sum_to(x, ()).data, x.sum())


def test_broadcast_to_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"broadcast_to: .*\(2, 3\) to \(3, 3\)"):
        F.broadcast_to(np.ones((2, 3)), (3, 3))


def test_broadcast_to_refuses_fewer_dimensions():
    with pytest.raises(ValueError, match=r"broadcast_to: .*\(2, 3\) to \(3,\)"):
        F.broadcast_to(np.ones((2, 3)), (3,))


@pytest.mark.parametrize('shape', [(2,), (3, 3), (1, 2, 3, 4)])
def test_sum_to_error_names_both_shapes(shape):
    with pytest.raises(ValueError, match=r"sum_to: .*\(2, 3\) to shape " + re_shape(shape)):
        F.sum_to(np.ones((2, 3)), shape)


def re_shape(shape):
    return str(shape).replace('(', r'\(').replace(')', r'\)')


# --- concat, stack, split -----------------------------------------------------------------
@pytest.mark.parametrize('shapes,axis', [
    ([(3,), (2,)], 0), ([(2, 1, 3), (2, 2, 3), (2, 3, 3)], 1), ([(2, 3), (2, 1)], -1),
    ([(4, 2)], 0),
])
def test_concat_values_and_gradients(shapes, axis):
    xs = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    np.testing.assert_array_equal(F.concat(xs, axis).data, np.concatenate(xs, axis))
    assert gradient_check(lambda *v: F.concat(v, axis) ** 2, xs[0],
                          *[Variable(x) for x in xs[1:]])
    assert check_double_backward(lambda x0, *rest: F.concat([x0, *rest], axis) ** 2, xs[0],
                                 *xs[1:])


def test_concat_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"concat: shapes \(2, 3\) and \(3, 4\)"):
        F.concat([np.ones((2, 3)), np.ones((3, 4))], 0)


def test_concat_ndim_mismatch():
    with pytest.raises(ValueError, match=r"concat: shapes \(2, 3\) and \(3,\)"):
        F.concat([np.ones((2, 3)), np.ones(3)], 0)


def test_concat_axis_out_of_range():
    with pytest.raises(AxisError, match=r"concat: axis 2 .* 2 dimension"):
        F.concat([np.ones((2, 3)), np.ones((2, 3))], 2)


def test_concat_rejects_0d():
    with pytest.raises(ValueError, match=r"concat: 0-d arrays cannot be concatenated"):
        F.concat([np.ones(()), np.ones(())])


def test_concat_empty():
    with pytest.raises(ValueError, match=r"concat: needs at least one input"):
        F.concat([], 0)


@pytest.mark.parametrize('shape,axis', [((), 0), ((3,), 0), ((3,), 1), ((2, 3), -1)])
def test_stack_values_and_gradients(shape, axis):
    xs = [rand(*shape, seed=i) for i in range(3)]
    np.testing.assert_array_equal(F.stack(xs, axis).data, np.stack(xs, axis))
    assert gradient_check(lambda *v: F.stack(v, axis) ** 2, xs[0],
                          *[Variable(x) for x in xs[1:]])
    assert check_double_backward(lambda x0, *rest: F.stack([x0, *rest], axis) ** 2, xs[0],
                                 *xs[1:])


def test_stack_empty():
    with pytest.raises(ValueError, match=r"stack: needs at least one input"):
        F.stack([])


def test_stack_shape_mismatch():
    with pytest.raises(ValueError, match=r"stack: .*\(2, 3\) and \(3, 2\)"):
        F.stack([np.ones((2, 3)), np.ones((3, 2))])


@pytest.mark.parametrize('shape,ios,axis', [
    ((6,), 3, 0), ((6,), [1, 4], 0), ((2, 4, 3), 2, 1), ((2, 4, 3), [1], -1), ((4,), 1, 0),
])
def test_split_values_and_gradients(shape, ios, axis):
    x = rand(*shape)
    ys = F.split(x, ios, axis)
    expected = np.split(x, ios, axis)
    assert isinstance(ys, list) and len(ys) == len(expected)
    for y, e in zip(ys, expected):
        np.testing.assert_array_equal(y.data, e)
    # only some outputs used: the others get zero gradients
    check(lambda x: F.split(x, ios, axis)[-1], x)
    check(lambda x: F.concat(F.split(x, ios, axis)[::-1], axis), x)


def test_split_unequal_sections():
    with pytest.raises(ValueError, match=r"split: cannot split length 5 of axis 0"):
        F.split(np.ones(5), 2)


# --- where --------------------------------------------------------------------------------
@pytest.mark.parametrize('cshape,xshape,yshape', [
    ((), (), ()), ((4,), (4,), (4,)), ((2, 3), (2, 3), (3,)), ((2, 1), (3,), (2, 3)),
])
def test_where_values_and_gradients(cshape, xshape, yshape):
    cond = np.random.RandomState(3).rand(*cshape) > 0.5
    x, y = rand(*xshape, seed=1), rand(*yshape, seed=2)
    np.testing.assert_array_equal(F.where(cond, x, y).data, np.where(cond, x, y))
    assert gradient_check(lambda a, b: F.where(cond, a, b) ** 2, x, Variable(y))
    assert check_double_backward(lambda a, b: F.where(cond, a, b) ** 2, x, y)
    assert check_double_backward(lambda b, a: F.where(cond, a, b) ** 2, y, x)


def test_where_scalar_keeps_float32():
    x = Variable(np.ones(3, dtype=np.float32))
    y = F.where(np.array([True, False, True]), x, 0.0)
    assert y.dtype == np.float32
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [1, 0, 1])
    assert x.grad.dtype == np.float32


def test_where_shape_mismatch():
    with pytest.raises(ValueError, match=r"where: .*\(2,\).*\(3,\)"):
        F.where(np.ones(2, bool), np.ones(3), np.ones(3))


# --- dtype --------------------------------------------------------------------------------
@pytest.mark.parametrize('op', [
    lambda x: F.reshape(x, (6, 4)), lambda x: F.transpose(x, (1, 2, 0)),
    lambda x: F.expand_dims(x, 1), F.flatten, lambda x: F.squeeze(F.expand_dims(x, 0)),
    lambda x: x[np.array([0, 0, 1]), ::2], lambda x: x[x.data > 0],
    lambda x: F.broadcast_to(x, (3, 2, 3, 4)), lambda x: F.sum_to(x, (3, 1)),
    lambda x: F.concat([x, x], 1), lambda x: F.stack([x, x], 0), lambda x: F.split(x, 3, 1)[1],
    lambda x: F.where(x.data > 0, x, 0.5),
])
def test_float32_in_float32_out_and_grad(op):
    x = Variable(rand(2, 3, 4).astype(np.float32))
    y = op(x)
    assert y.dtype == np.float32
    y.backward(create_graph=True)
    assert x.grad.dtype == np.float32


# --- the rows scatter-add behind x[ids] and embed_id's gradients -------------------------
@pytest.mark.parametrize('rows, vocab, width, ids_shape', [
    (512, 512, 64, (512,)),        # level by level: a third of the ids repeat
    (300, 40, 1000, (20, 15)),     # 2-D ids, up to ~15 repeats
    (2000, 3, 16, (2000,)),        # a tiny vocabulary: add.at's path
    (30, 10, 5, (30,)),            # small: add.at's path
    (0, 4, 8, (0,)),               # no ids
])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_add_rows_at_gives_the_bits_of_numpys_add_at(rows, vocab, width, ids_shape, dtype):
    from dezero.utils_array import add_rows_at
    rng = np.random.default_rng(rows + vocab)
    ids = rng.integers(-vocab, vocab, ids_shape)             # negative ids too
    values = rng.standard_normal(ids_shape + (width,)).astype(dtype)
    start = rng.standard_normal((vocab, width)).astype(dtype)
    got, expected = start.copy(), start.copy()
    add_rows_at(got, ids, values)
    np.add.at(expected, ids, values)
    np.testing.assert_array_equal(got, expected)
    row = values[(0,) * len(ids_shape)] if values.size else np.ones(width, dtype)
    got, expected = start.copy(), start.copy()                # one row broadcast to all ids
    add_rows_at(got, ids, row)
    np.add.at(expected, ids, row)
    np.testing.assert_array_equal(got, expected)
