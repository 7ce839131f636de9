"""Generic op tests, all derived from the op registry (tests/op_registry.py).

Every entry is checked the same way on every array backend (the `xp` fixture): forward
against its float64 NumPy reference, first- and second-order gradients, float16/32/64
preserved, integer and bool inputs promoted per NumPy's rules, 0-d and empty samples,
NaN propagation and a bad-shape call naming the op. Hypothesis fuzzes the gradients:
a few hundred cases in the default run, over 10,000 with `-m slow`.
"""
import importlib.util
import inspect
import pathlib
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import dezero.functions as F
from dezero import Variable, cuda
from dezero.functions._variable_methods import VARIABLE_METHODS
from dezero.utils import check_double_backward, gradient_check


def _load_registry():
    if 'op_registry' not in sys.modules:
        path = pathlib.Path(__file__).with_name('op_registry.py')
        spec = importlib.util.spec_from_file_location('op_registry', path)
        module = importlib.util.module_from_spec(spec)
        sys.modules['op_registry'] = module
        spec.loader.exec_module(module)
    return sys.modules['op_registry']


registry = _load_registry()
OPS = registry.OPS
ids = [op.name for op in OPS]

# Variable's operators and methods that the registry must cover as well: the one table
# they are bound from (new entries there need registry entries too).
VARIABLE_API = sorted(VARIABLE_METHODS)


def _public_functions():
    return {n for n, v in vars(F).items()
            if not n.startswith('_') and callable(v) and not inspect.isclass(v)
            and not inspect.ismodule(v)}


def test_every_public_function_and_function_class_has_a_registry_entry(function_classes):
    covered = set()
    for op in OPS:
        covered.update(op.covers)
    wanted = _public_functions() | {c.__name__ for c in function_classes} | {
        'Variable.' + n for n in VARIABLE_API}
    missing = sorted(wanted - covered - set(registry.EXCLUDED))
    assert not missing, (f"no op registry entry covers {missing}: add an OpInfo to "
                         "tests/op_registry.py (or a commented EXCLUDED line)")
    stale = sorted(set(registry.EXCLUDED) - wanted)
    assert not stale, f"EXCLUDED lists names that no longer exist: {stale}"


def test_registry_names_are_unique():
    assert len(ids) == len(set(ids))


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def _rng(op, i=0):
    return np.random.RandomState(abs(hash(op.name)) % (2 ** 31) + i)


def _skip_other_backends(op, xp):
    if op.numpy_only and xp is not np:
        pytest.skip(f'{op.name} is a NumPy-only entry')


def _outputs(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def _as_list(r):
    return list(r) if isinstance(r, (list, tuple)) else [r]


def _run(op, arrays):
    """Forward and backward (weighted sum of the outputs) with fresh Variables."""
    xs = [Variable(a) for a in arrays]
    ys = _outputs(op.op(*xs))
    total = None
    for y in ys:
        if y.size:
            term = F.sum(y * y.data.dtype.type(1.5)) if y.dtype.kind == 'f' else F.sum(y)
            total = term if total is None else total + term
    if total is not None:
        total.backward()
    return xs, ys


def _check_grad_shapes(xs):
    for x in xs:
        if x.grad is not None:
            assert x.grad.shape == x.shape
            assert x.grad.dtype.kind == 'f'


def _sample_ids(op):
    return [f"{op.name}-{'x'.join(map(str, s[0])) or '0d'}" for s in op.shapes]


SAMPLES = [(op, i) for op in OPS for i in range(len(op.shapes))]
SAMPLE_IDS = [f"{op.name}-{i}:{op.shapes[i]}" for op, i in SAMPLES]


# ---------------------------------------------------------------------------
# forward, gradients, second order
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('op,i', SAMPLES, ids=SAMPLE_IDS)
def test_forward_matches_reference_and_backward_shapes(op, i, xp):
    _skip_other_backends(op, xp)
    arrays = op.samples(_rng(op))[i]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)  # empty means
        xs, ys = _run(op, [xp.asarray(a) for a in arrays])
        if op.ref is not None:
            expected = _as_list(op.ref(*[a.copy() for a in arrays]))
            assert len(ys) == len(expected)
            for y, e in zip(ys, expected):
                got = cuda.as_numpy(y.data)
                assert got.shape == np.shape(e), f"{op.name}: shape {got.shape} != {np.shape(e)}"
                np.testing.assert_allclose(got, e, rtol=1e-7, atol=1e-10)
    _check_grad_shapes(xs)


def _grad_samples(op):
    return [a for a, shapes in zip(op.samples(_rng(op, 1)), op.shapes)
            if all(int(np.prod(s, dtype=np.int64)) for s in shapes)]


def _gradient_check(op, arrays, xp, double=False):
    check = check_double_backward if double else gradient_check
    arrays = [xp.asarray(a) for a in arrays]
    return check(op.op, arrays[0], *[Variable(a) for a in arrays[1:]], rtol=op.rtol,
                 atol=op.atol)


@pytest.mark.parametrize('op', OPS, ids=ids)
def test_first_order_gradients(op, xp):
    _skip_other_backends(op, xp)
    for arrays in _grad_samples(op):
        assert _gradient_check(op, arrays, xp), f"{op.name} on shapes {[a.shape for a in arrays]}"


@pytest.mark.parametrize('op', [op for op in OPS if op.smooth],
                         ids=[op.name for op in OPS if op.smooth])
def test_second_order_gradients(op, xp):
    _skip_other_backends(op, xp)
    for arrays in _grad_samples(op)[:2]:
        assert _gradient_check(op, arrays, xp, double=True), op.name


# ---------------------------------------------------------------------------
# dtypes
# ---------------------------------------------------------------------------
DTYPE_CASES = [(op, dt) for op in OPS for dt in op.dtypes]


@pytest.mark.parametrize('op,dtype', DTYPE_CASES,
                         ids=[f'{op.name}-{np.dtype(dt).name}' for op, dt in DTYPE_CASES])
def test_float_dtypes_are_preserved(op, dtype, xp):
    _skip_other_backends(op, xp)
    arrays = [xp.asarray(a.astype(dtype)) for a in op.samples(_rng(op))[0]]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)  # float16 overflow in references
        xs, ys = _run(op, arrays)
    for y in ys:
        assert y.dtype == dtype, f"{op.name}: output {y.dtype} for {np.dtype(dtype)} inputs"
    for x in xs:
        if x.grad is not None:
            assert x.grad.dtype == dtype, f"{op.name}: gradient {x.grad.dtype} for {x.dtype}"


INT_CASES = [(op, kind) for op in OPS if op.ints for kind in ('int64', 'bool')
             if kind == 'int64' or op.bools]


@pytest.mark.parametrize('op,kind', INT_CASES, ids=[f'{op.name}-{k}' for op, k in INT_CASES])
def test_integer_and_bool_inputs(op, kind, xp):
    """'promote': a floating result as NumPy's ufuncs give (int64 -> float64); 'keep': the
    input's dtype. Gradients are floating point either way, and nothing is computed in
    place into the integer input."""
    _skip_other_backends(op, xp)
    floats = op.samples(_rng(op))[0]
    if kind == 'bool':
        host = [a > 0 for a in floats]
    else:
        host = [np.round(a * 3).astype(np.int64) for a in floats]
        if op.domain in (registry.positive, registry.unit):
            host = [np.maximum(a, 1) for a in host]
    arrays = [xp.asarray(a) for a in host]
    kept = [a.copy() for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        xs, ys = _run(op, arrays)
        for a, k in zip(arrays, kept):
            assert (cuda.as_numpy(a) == cuda.as_numpy(k)).all(), f"{op.name} changed its input"
        for y in ys:
            if op.ints == 'promote':
                assert y.dtype.kind == 'f', f"{op.name}: {y.dtype} output for {kind} inputs"
                if kind == 'int64':
                    assert y.dtype == np.float64
            else:
                assert y.dtype == arrays[0].dtype, f"{op.name}: {y.dtype} for {kind} inputs"
        if op.ref is not None and op.ints == 'promote':
            expected = _as_list(op.ref(*[a.astype(np.float64) for a in host]))
            for y, e in zip(ys, expected):
                np.testing.assert_allclose(cuda.as_numpy(y.data).astype(np.float64), e,
                                           rtol=2e-3, atol=1e-3)
    _check_grad_shapes(xs)


# ---------------------------------------------------------------------------
# NaN propagation and bad shapes
# ---------------------------------------------------------------------------
NAN_OPS = [op for op in OPS if op.nan and op.ref is not None]


@pytest.mark.parametrize('op', NAN_OPS, ids=[op.name for op in NAN_OPS])
def test_nan_propagates_as_in_the_reference(op, xp):
    _skip_other_backends(op, xp)
    arrays = op.samples(_rng(op))[0]
    arrays[0].reshape(-1)[0] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        ys = _outputs(op.op(*[Variable(xp.asarray(a)) for a in arrays]))
        expected = _as_list(op.ref(*[a.copy() for a in arrays]))
    for y, e in zip(ys, expected):
        got = cuda.as_numpy(y.data)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(e), err_msg=op.name)


BAD_OPS = [op for op in OPS if op.bad is not None]


@pytest.mark.parametrize('op', BAD_OPS, ids=[op.name for op in BAD_OPS])
def test_bad_shapes_raise_a_value_error_naming_the_op(op):
    name = op.bad_name or op.name
    with pytest.raises(ValueError) as info:
        op.bad()
    assert str(info.value).startswith(name), f"message does not start with {name!r}: {info.value}"


# ---------------------------------------------------------------------------
# Hypothesis fuzzing of the gradients
# ---------------------------------------------------------------------------
FUZZ_OPS = [op for op in OPS if op.fuzz]
DEFAULT_EXAMPLES = 4     # x 78 fuzzed entries: about 300 cases in the default run
SLOW_EXAMPLES = 140      # x 78 fuzzed entries: about 10,900 cases with -m slow


def _fuzz_case(op, seed, index, scale, shape=None):
    """Gradient check of op on sample `index` drawn with `seed`, values scaled by `scale`
    (domains keep their kinks and poles out, so the scale only multiplies real-valued
    domains); elementwise entries (shapes UNARY) take the drawn `shape` instead. Records
    the case in registry.FUZZ_STATS."""
    rng = np.random.RandomState(seed)
    if op.shapes is registry.UNARY and shape is not None:
        shapes = (tuple(shape),)
    else:
        shapes = op.shapes[index % len(op.shapes)]
    arrays = [op.domain(rng, s) for s in shapes]
    if op.domain is registry.real:
        arrays = [a * scale for a in arrays]
    stats = registry.FUZZ_STATS
    stats['cases'] += 1
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        ok = _gradient_check(op, arrays, np)
    if not ok:
        stats['mismatches'] += 1
        stats['failed'].append((op.name, seed, index, scale))
    return ok


def _fuzz(op, examples):
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(seed=st.integers(0, 2 ** 31 - 1), index=st.integers(0, 7),
           scale=st.sampled_from([0.25, 0.5, 1.0, 1.5]),
           shape=st.lists(st.integers(0, 3), max_size=3))
    def run(seed, index, scale, shape):
        assert _fuzz_case(op, seed, index, scale, shape), \
            f"{op.name} seed={seed} index={index} scale={scale} shape={shape}"
    run()


@pytest.mark.parametrize('op', FUZZ_OPS, ids=[op.name for op in FUZZ_OPS])
def test_fuzz_gradients(op):
    _fuzz(op, DEFAULT_EXAMPLES)


@pytest.mark.slow
@pytest.mark.parametrize('op', FUZZ_OPS, ids=[op.name for op in FUZZ_OPS])
def test_fuzz_gradients_many(op, request):
    if 'slow' not in (request.config.option.markexpr or ''):
        pytest.skip("the long fuzz run: python -m pytest -m slow tests/test_ops_generic.py")
    _fuzz(op, SLOW_EXAMPLES)

