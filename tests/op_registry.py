"""The op registry: one declarative entry per public differentiable operation.

Generic tests (tests/test_ops_generic.py) derive everything from it: forward against
the float64 NumPy reference, first- and second-order gradient checks, float dtypes
preserved, integer/bool promotion, 0-d and empty inputs, NaN propagation, bad shapes
naming the op, and Hypothesis fuzzing of the gradients.

Adding an op (models: PyTorch's OpInfo, Chainer's FunctionTestCase)
--------------------------------------------------------------------
Append one `OpInfo(...)` to OPS:

    OpInfo('softmax', lambda x: F.softmax(x, axis=1), _softmax_ref,
           shapes=[((2, 3),), ((2, 0),), ((1, 4, 2),)], covers=('softmax', 'Softmax'))

- name: the test id.
- op(*xs): calls the operation; every x is differentiated (constants such as labels,
  ids or running statistics are built inside op, from the inputs' shapes).
- ref(*xs): the same on float64 NumPy arrays (a NumPy expression or a loop); returns an
  array or a list of arrays; None when there is no independent reference.
- shapes: one tuple of input shapes per sample; include 0-d `()` and empty `(0, ...)`
  shapes where the op takes them (the generic tests run each one).
- covers: the names this entry tests: public functions of dezero.functions and the
  Function classes behind them (a test fails for any name no entry covers and that
  EXCLUDED does not list).
- domain(rng, shape): float64 sample values; pick one that avoids kinks (relu at 0) and
  poles (log at 0), e.g. `positive`, `away_from(0.0)`, `distinct`.
- smooth: second derivatives are checked too (False for max/pooling: not meaningful).
- dtypes: the float dtypes the op must preserve (output and gradients).
- ints: what integer (int64) and bool inputs do: 'promote' (floating result, as NumPy's
  ufuncs), 'keep' (same dtype: shape ops, abs, relu), None (not tested: e.g. float-only).
  bools=False leaves bool inputs out (NumPy itself refuses -bool).
- nan: a NaN in the first input reaches the output as the reference says.
- bad: a call with mismatched shapes; it must raise ValueError whose message starts
  with `bad_name` (the op's public name, defaults to name).
- rtol/atol: tolerances of the gradient checks; fuzz: include in the Hypothesis fuzz.
- numpy_only: the entry is meaningless on CuPy (NumPy constants mixed in, or a reference
  that depends on NumPy's random generator); skipped on other backends.
"""
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import dezero.functions as F
from dezero import Variable, as_variable, cuda

FLOATS = (np.float16, np.float32, np.float64)


# ---------------------------------------------------------------------------
# Sample domains: (rng, shape) -> float64 array
# ---------------------------------------------------------------------------
def real(rng, shape):
    """Uniform in [-2, 2]."""
    return rng.uniform(-2, 2, size=shape)


def positive(rng, shape):
    """Uniform in [0.5, 2] (log, sqrt, divisors)."""
    return rng.uniform(0.5, 2, size=shape)


def unit(rng, shape):
    """Uniform in [0.1, 0.9] (probabilities)."""
    return rng.uniform(0.1, 0.9, size=shape)


def away_from(*points, margin=0.1):
    """Uniform in [-2, 2] but at least `margin` from each kink in points."""
    def domain(rng, shape):
        x = rng.uniform(-2, 2, size=shape)
        for p in points:
            near = np.abs(x - p) < margin
            x = np.where(near, p + np.where(x >= p, margin, -margin) * 2, x)
        return x
    return domain


def distinct(rng, shape):
    """Values at least 0.05 apart (max, min and pooling have no ties to split)."""
    n = int(np.prod(shape, dtype=np.int64))
    return (rng.permutation(n) * 0.1 - n * 0.05 + rng.uniform(0, 0.05)).reshape(shape)


def _xp(x):
    return cuda.get_array_module(x.data if isinstance(x, Variable) else x)


# ---------------------------------------------------------------------------
# The entry
# ---------------------------------------------------------------------------
@dataclass
class OpInfo:
    """One operation and how to test it (see the module docstring)."""
    name: str
    op: Callable
    ref: Callable | None
    shapes: list
    covers: tuple = ()
    domain: Callable = real
    smooth: bool = True
    dtypes: tuple = FLOATS
    ints: str | None = 'promote'
    bools: bool = True
    nan: bool = True
    bad: Callable | None = None
    bad_name: str | None = None
    rtol: float = 1e-4
    atol: float = 1e-5
    fuzz: bool = True
    numpy_only: bool = False
    extra: dict = field(default_factory=dict)

    def samples(self, rng):
        """One list of float64 input arrays per entry of shapes."""
        return [[self.domain(rng, s) for s in shapes] for shapes in self.shapes]

    def __repr__(self):
        return f'OpInfo({self.name})'


# Shape families
UNARY = [((2, 3),), ((),), ((0, 3),), ((4,),)]
BINARY = [((2, 3), (2, 3)), ((2, 3), (3,)), ((), (2, 3)), ((2, 1), (1, 3)), ((0, 3), (3,))]


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softmax(x, axis=1):
    e = np.exp(x - (x.max(axis=axis, keepdims=True) if x.size else 0))
    return e / e.sum(axis=axis, keepdims=True)


def _logsumexp(x, axis=1):
    with np.errstate(divide='ignore'):
        return np.log(np.exp(x).sum(axis=axis))


def _labels(x):
    """Deterministic integer labels in [0, C) for logits x of shape (N, C)."""
    n, c = x.shape
    return np.arange(n) % max(c, 1)


def _targets(x):
    """Deterministic 0/1 targets of x's shape."""
    return (np.arange(int(np.prod(x.shape))) % 2).reshape(x.shape)


def _softmax_ce_ref(x):
    p = _softmax(x)
    t = _labels(x)
    return -np.log(p[np.arange(len(x)), t]).sum() / len(x)


def _sigmoid_ce_ref(x):
    t = _targets(x)
    p = _sigmoid(x)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p)).sum() / len(x)


def _bce_ref(p):
    t = _targets(p)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p)).sum() / len(p)


def _batch_norm_op(x, gamma, beta):
    c = x.shape[1]
    xp = _xp(x)
    return F.batch_norm(x, gamma, beta, xp.zeros(c), xp.ones(c))


def _batch_norm_ref(x, gamma, beta):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return gamma.reshape(shape) * (x - mu) / np.sqrt(var + 2e-5) + beta.reshape(shape)


def _dropout_op(x):
    np.random.seed(0)
    return F.dropout(x, 0.3)


def _dropout_ref(x):
    np.random.seed(0)
    return x * (np.random.rand(*x.shape) > 0.3) / 0.7


IDS = np.array([[0, 2], [2, 1]])


def _lstm_gates_ref(x, h, *p):
    return [x @ p[k] + p[4 + k] + h @ p[8 + k] for k in range(4)]


def _lstm_ref(c, a_f, a_i, a_o, a_u):
    c_new = _sigmoid(a_f) * c + _sigmoid(a_i) * np.tanh(a_u)
    return [c_new, _sigmoid(a_o) * np.tanh(c_new)]


def _windows(x, k, s, p):
    """(N, C, KH, KW, OH, OW) windows of x padded with zeros."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    out = np.zeros((n, c, k, k, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, :, :, i, j] = xp[:, :, i * s:i * s + k, j * s:j * s + k]
    return out


def _im2col_ref(x, k, s, p):
    col = _windows(x, k, s, p)
    n, c, _, _, oh, ow = col.shape
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(n * oh * ow, c * col.shape[2] ** 2)


def _conv_ref(x, W, b, s=1, p=0):
    k = W.shape[2]
    col = _windows(x, k, s, p)  # N C K K OH OW
    y = np.einsum('ncijhw,ocij->nohw', col, W)
    return y + b.reshape(1, -1, 1, 1)


def _deconv_ref(x, W, b, s=1, p=0):
    n, _, h, w = x.shape
    _, oc, k, _ = W.shape
    oh, ow = s * (h - 1) + k, s * (w - 1) + k
    y = np.zeros((n, oc, oh, ow))
    for i in range(h):
        for j in range(w):
            y[:, :, i * s:i * s + k, j * s:j * s + k] += np.einsum('nc,coij->noij',
                                                                  x[:, :, i, j], W)
    y = y[:, :, p:oh - p, p:ow - p]
    return y + b.reshape(1, -1, 1, 1)


def _col2im_ref(col, shape, k, s, p):
    n, c, h, w = shape
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    col = col.reshape(n, oh, ow, c, k, k)
    img = np.zeros((n, c, h + 2 * p, w + 2 * p))
    for i in range(oh):
        for j in range(ow):
            img[:, :, i * s:i * s + k, j * s:j * s + k] += col[:, i, j]
    return img[:, :, p:p + h, p:p + w]


def _erf(x):
    import math
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _layer_norm_ref(x, gamma, beta):
    mu = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * gamma + beta


def _huber_ref(a, b):
    d = np.abs(a - b)
    return np.where(d < 1.0, 0.5 * d * d, d - 0.5).mean()


def _probs(x):
    """Deterministic target probabilities of x's shape (rows sum to 1)."""
    p = np.arange(1, int(np.prod(x.shape)) + 1, dtype=np.float64).reshape(x.shape)
    return p / p.sum(axis=-1, keepdims=True)


def _attention_ref(q, k, v, causal=False):
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if causal:
        s = np.where(np.tril(np.ones(s.shape[-2:], bool)), s, -np.inf)
    return _softmax(s, -1) @ v


def _smoothed_ce_ref(x, eps=0.2):
    lp = np.log(_softmax(x))
    q = np.full_like(x, eps / x.shape[1])
    q[np.arange(len(x)), _labels(x)] += 1 - eps
    return -(q * lp).sum() / len(x)


def _bad_binary(f):
    return lambda: f(Variable(np.zeros((2, 3))), Variable(np.zeros((4,))))


# ---------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------
OPS = [
    # --- elementwise math ---------------------------------------------------------------
    OpInfo('exp', F.exp, np.exp, UNARY, covers=('exp', 'Exp')),
    OpInfo('log', F.log, np.log, UNARY, covers=('log', 'Log'), domain=positive),
    OpInfo('sin', F.sin, np.sin, UNARY, covers=('sin', 'Sin')),
    OpInfo('cos', F.cos, np.cos, UNARY, covers=('cos', 'Cos')),
    OpInfo('tanh', F.tanh, np.tanh, UNARY, covers=('tanh', 'Tanh', 'TanhGrad')),
    OpInfo('sqrt', F.sqrt, np.sqrt, UNARY, covers=('sqrt', 'Sqrt'), domain=positive),
    OpInfo('square', F.square, np.square, UNARY, covers=('square', 'Square'), ints='keep',
           bools=False),
    OpInfo('abs', F.abs, np.abs, UNARY, covers=('abs', 'Abs'), domain=away_from(0.0),
           ints='keep'),
    OpInfo('neg', F.neg, np.negative, UNARY, covers=('neg', 'Neg'), ints='keep', bools=False),
    OpInfo('pow_scalar', lambda x: F.pow(x, 3), lambda x: x ** 3, UNARY,
           covers=('pow', 'Pow'), ints='keep', bools=False),
    OpInfo('pow_fraction', lambda x: x ** 0.5, np.sqrt, UNARY, domain=positive),
    OpInfo('pow_array', lambda x: x ** np.array([1., 2., 0.5]), lambda x: x ** np.array(
        [1., 2., 0.5]), [((2, 3),), ((),), ((0, 3),)], domain=positive,
        bad=lambda: Variable(np.ones(3)) ** np.ones(2), bad_name='pow'),
    OpInfo('pow_variable', lambda x, y: x ** y, lambda x, y: x ** y,
           [((2, 3), (2, 3)), ((2, 3), (3,)), ((), (2,)), ((0, 3), (3,))],
           covers=('PowVariable',), domain=positive, ints=None,
           bad=_bad_binary(lambda a, b: a ** b), bad_name='pow'),
    OpInfo('rpow', lambda x: 2.0 ** x, lambda x: 2.0 ** x, UNARY, ints=None),
    # --- arithmetic (F.add ... and the operators) ----------------------------------------
    OpInfo('add', F.add, np.add, BINARY, covers=('add', 'Add'), ints='keep', bools=False,
           bad=_bad_binary(F.add)),
    OpInfo('sub', F.sub, np.subtract, BINARY, covers=('sub', 'Sub'), ints='keep',
           bools=False, bad=_bad_binary(F.sub)),
    OpInfo('rsub', F.rsub, lambda a, b: b - a, BINARY, covers=('rsub',), ints='keep',
           bools=False),
    OpInfo('mul', F.mul, np.multiply, BINARY, covers=('mul', 'Mul'), ints='keep',
           bools=False, bad=_bad_binary(F.mul)),
    OpInfo('div', F.div, np.divide, BINARY, covers=('div', 'Div'), domain=positive,
           bad=_bad_binary(F.div)),
    OpInfo('rdiv', F.rdiv, lambda a, b: b / a, BINARY, covers=('rdiv',), domain=positive),
    OpInfo('operators', lambda a, b: (a + b) * a - b / (a * 1.0) + (-a) ** 2 + (+a) * 0.0,
           lambda a, b: (a + b) * a - b / a + a ** 2, BINARY, domain=positive,
           covers=('Variable.__add__', 'Variable.__radd__', 'Variable.__sub__',
                   'Variable.__mul__', 'Variable.__truediv__', 'Variable.__neg__',
                   'Variable.__pow__', 'Variable.__pos__'), bools=False),
    OpInfo('constants', lambda x: (2.0 - x * 3.0 + 1.5) / 2.0 + 3.0 / x - 1.0,
           lambda x: (2.0 - x * 3.0 + 1.5) / 2.0 + 3.0 / x - 1.0, UNARY, domain=positive,
           covers=('AddConstant', 'MulConstant', 'RSubConstant', 'DivConstant',
                   'RDivConstant', 'Variable.__rsub__', 'Variable.__rmul__',
                   'Variable.__rtruediv__', 'Variable.__rpow__')),
    OpInfo('array_left', lambda x: np.full(x.shape, 2.0) * x - np.ones(x.shape) / x,
           lambda x: 2.0 * x - 1.0 / x, UNARY, domain=positive, ints=None, fuzz=False,
           numpy_only=True,
           dtypes=(np.float64,)),  # float64 arrays promote float32 Variables, as in NumPy
    # --- activations -----------------------------------------------------------------
    OpInfo('sigmoid', F.sigmoid, _sigmoid, UNARY, covers=('sigmoid', 'Sigmoid')),
    OpInfo('sigmoid_simple', F.sigmoid_simple, _sigmoid, UNARY, covers=('sigmoid_simple',),
           bools=False),
    OpInfo('relu', F.relu, lambda x: np.maximum(x, 0), UNARY, covers=('relu', 'ReLU'),
           domain=away_from(0.0), ints='keep', bools=False),
    OpInfo('leaky_relu', lambda x: F.leaky_relu(x, 0.1), lambda x: np.where(x > 0, x, 0.1 * x),
           UNARY, covers=('leaky_relu', 'LeakyReLU'), domain=away_from(0.0)),
    OpInfo('leaky_relu_default', F.leaky_relu, lambda x: np.where(x > 0, x, 0.2 * x),
           [((3, 4),), ((2, 3, 2),)], domain=away_from(0.0)),
    OpInfo('softmax', F.softmax, _softmax, [((2, 3),), ((2, 0),), ((1, 4, 2),)],
           covers=('softmax', 'Softmax'),
           bad=lambda: F.softmax(np.zeros(3)), bad_name='softmax'),
    OpInfo('softmax_axis', lambda x: F.softmax(x, axis=-1), lambda x: _softmax(x, -1),
           [((4,),), ((2, 3, 2),)]),
    OpInfo('softmax_simple', F.softmax_simple, _softmax, [((2, 3),), ((1, 4, 2),)],
           covers=('softmax_simple',), bools=False),
    OpInfo('log_softmax', F.log_softmax, lambda x: np.log(_softmax(x)),
           [((2, 3),), ((2, 0),), ((1, 4, 2),)], covers=('log_softmax', 'LogSoftmax')),
    # --- shape ---------------------------------------------------------------------------
    OpInfo('reshape', lambda x: F.reshape(x, (-1,)), lambda x: x.reshape(-1), UNARY,
           covers=('reshape', 'Reshape', 'Variable.reshape'), ints='keep',
           bad=lambda: F.reshape(np.zeros((2, 3)), (4,)), bad_name='reshape'),
    OpInfo('transpose', F.transpose, np.transpose, UNARY + [((2, 3, 4),)],
           covers=('transpose', 'Transpose', 'Variable.T', 'Variable.transpose'),
           ints='keep'),
    OpInfo('transpose_axes', lambda x: x.transpose(1, 0, 2), lambda x: x.transpose(1, 0, 2),
           [((2, 3, 4),), ((0, 2, 1),)], ints='keep'),
    OpInfo('expand_dims', lambda x: F.expand_dims(x, 0), lambda x: x[None], UNARY,
           covers=('expand_dims',), ints='keep'),
    OpInfo('flatten', F.flatten, lambda x: x.reshape(len(x), int(np.prod(x.shape[1:]))),
           [((2, 3, 2),), ((0, 3),)],
           covers=('flatten',), ints='keep'),
    OpInfo('squeeze', F.squeeze, np.squeeze, [((2, 1, 3),), ((1,),), ((0, 1),)],
           covers=('squeeze',), ints='keep'),
    OpInfo('get_item', lambda x: x[1], lambda x: x[1], [((3, 2),), ((2,),)],
           covers=('get_item', 'GetItem', 'GetItemGrad', 'Variable.__getitem__'),
           ints='keep'),
    OpInfo('get_item_fancy', lambda x: F.get_item(x, np.array([0, 0, 2])),
           lambda x: x[np.array([0, 0, 2])], [((3, 2),), ((3,),)], ints='keep'),
    OpInfo('get_item_slices', lambda x: x[:, ::2], lambda x: x[:, ::2],
           [((2, 5),), ((0, 3),)], ints='keep'),
    OpInfo('broadcast_to', lambda x: F.broadcast_to(x, (2,) + x.shape),
           lambda x: np.broadcast_to(x, (2,) + x.shape), UNARY,
           covers=('broadcast_to', 'BroadcastTo'), ints='keep',
           bad=lambda: F.broadcast_to(np.zeros(3), (2, 4)), bad_name='broadcast_to'),
    OpInfo('sum_to', lambda x: F.sum_to(x, (1,) + x.shape[1:]),
           lambda x: x.sum(axis=0, keepdims=True), [((2, 3),), ((4,),), ((0, 3),)],
           covers=('sum_to', 'SumTo'), ints='keep', bools=False),
    OpInfo('concat', lambda a, b: F.concat([a, b], axis=0), lambda a, b: np.concatenate(
        [a, b]), [((2, 3), (1, 3)), ((0, 3), (2, 3))], covers=('concat', 'Concat'),
        ints='keep', bad=lambda: F.concat([np.zeros((2, 3)), np.zeros((2, 4))]),
        bad_name='concat'),
    OpInfo('stack', lambda a, b: F.stack([a, b], axis=1), lambda a, b: np.stack([a, b], 1),
           [((2, 3), (2, 3)), ((0, 3), (0, 3))], covers=('stack',), ints='keep',
           bad=lambda: F.stack([np.zeros(3), np.zeros(2)]), bad_name='stack'),
    OpInfo('split', lambda x: F.split(x, 2, axis=1), lambda x: np.split(x, 2, axis=1),
           [((2, 4),), ((0, 2),)], covers=('split', 'Split'), ints='keep'),
    OpInfo('where', lambda x, y: F.where(_xp(x).arange(x.size).reshape(x.shape) % 2 == 0,
                                         x, y),
           lambda x, y: np.where(np.arange(x.size).reshape(x.shape) % 2 == 0, x, y),
           [((2, 3), (2, 3)), ((2, 3), (3,)), ((0, 3), (0, 3))], covers=('where', 'Where'),
           ints='keep'),
    # --- reductions ------------------------------------------------------------------
    OpInfo('sum', F.sum, np.sum, UNARY, covers=('sum', 'Sum', 'Variable.sum'), ints='keep',
           bools=False),
    OpInfo('sum_axis', lambda x: x.sum(axis=1, keepdims=True),
           lambda x: x.sum(axis=1, keepdims=True), [((2, 3),), ((0, 3),), ((2, 0),)],
           ints='keep', bools=False,
           bad=lambda: F.sum(np.zeros((2, 3)), axis=2), bad_name='sum'),
    OpInfo('average', F.average, np.mean, [((2, 3),), ((),), ((4,),)],
           covers=('average', 'mean', 'Average')),
    OpInfo('mean_axis', lambda x: F.mean(x, axis=(0, 2)), lambda x: x.mean(axis=(0, 2)),
           [((2, 3, 2),), ((2, 0, 3),)]),
    OpInfo('var', F.var, np.var, [((2, 3),), ((),), ((4,),)], covers=('var',)),
    OpInfo('var_axis_ddof', lambda x: F.var(x, axis=(0, 2), keepdims=True, ddof=1),
           lambda x: x.var(axis=(0, 2), keepdims=True, ddof=1), [((2, 3, 2),), ((3, 1, 4),)],
           bad=lambda: F.var(np.zeros((2, 3)), axis=2), bad_name='var'),
    OpInfo('std', lambda x: F.std(x, axis=1), lambda x: x.std(axis=1),
           [((2, 3),), ((1, 4, 2),)], covers=('std',), domain=distinct),
    OpInfo('norm', F.norm, lambda x: np.sqrt((x * x).sum()), [((2, 3),), ((4,),), ((0, 3),)],
           covers=('norm', 'Norm'), domain=away_from(0.0)),
    OpInfo('norm_axis', lambda x: F.norm(x, axis=(0, 2), keepdims=True),
           lambda x: np.sqrt((x * x).sum(axis=(0, 2), keepdims=True)),
           [((2, 3, 2),), ((3, 1, 4),)],
           domain=away_from(0.0), bad=lambda: F.norm(np.zeros((2, 3)), axis=2), bad_name='norm'),
    OpInfo('max', F.max, np.max, [((2, 3),), ((),), ((4,),)], covers=('max', 'Max'),
           domain=distinct, smooth=False, ints='keep'),
    OpInfo('max_axis', lambda x: F.max(x, axis=1), lambda x: x.max(axis=1),
           [((2, 3),), ((0, 3),)], domain=distinct, smooth=False, ints='keep'),
    OpInfo('min', lambda x: F.min(x, axis=0, keepdims=True),
           lambda x: x.min(axis=0, keepdims=True), [((2, 3),), ((3,),), ((2, 0),)],
           covers=('min', 'Min'), domain=distinct, smooth=False, ints='keep'),
    # --- Variable's PyTorch-style methods: the same Functions, reached as v.abs() ... ------
    OpInfo('method_abs', lambda x: as_variable(x).abs(), np.abs, UNARY,
           covers=('Variable.abs',), domain=away_from(0.0), ints='keep'),
    OpInfo('method_exp', lambda x: as_variable(x).exp(), np.exp, UNARY,
           covers=('Variable.exp',)),
    OpInfo('method_log', lambda x: as_variable(x).log(), np.log, UNARY,
           covers=('Variable.log',), domain=positive),
    OpInfo('method_mean', lambda x: as_variable(x).mean(axis=1, keepdims=True),
           lambda x: x.mean(axis=1, keepdims=True), [((2, 3),), ((1, 4, 2),)],
           covers=('Variable.mean',)),
    OpInfo('method_sqrt', lambda x: as_variable(x).sqrt(), np.sqrt, UNARY,
           covers=('Variable.sqrt',), domain=positive),
    OpInfo('method_sin', lambda x: as_variable(x).sin(), np.sin, UNARY, covers=('Variable.sin',)),
    OpInfo('method_cos', lambda x: as_variable(x).cos(), np.cos, UNARY, covers=('Variable.cos',)),
    OpInfo('method_tanh', lambda x: as_variable(x).tanh(), np.tanh, UNARY,
           covers=('Variable.tanh',)),
    OpInfo('method_sigmoid', lambda x: as_variable(x).sigmoid(), _sigmoid, UNARY,
           covers=('Variable.sigmoid',)),
    OpInfo('method_relu', lambda x: as_variable(x).relu(), lambda x: np.maximum(x, 0), UNARY,
           covers=('Variable.relu',), domain=away_from(0.0), smooth=False, ints='keep',
           bools=False),
    OpInfo('method_clamp', lambda x: as_variable(x).clamp(-0.5, 1.0), lambda x: x.clip(-0.5, 1.0),
           UNARY, covers=('Variable.clamp',), domain=away_from(-0.5, 1.0), smooth=False,
           ints=None),
    OpInfo('method_clamp_min', lambda x: as_variable(x).clamp(min=0.5),
           lambda x: np.maximum(x, 0.5), [((2, 3),), ((4,),)], domain=away_from(0.5),
           smooth=False, ints=None),
    OpInfo('method_norm', lambda x: as_variable(x).norm(axis=1), lambda x: np.sqrt((x * x).sum(1)),
           [((2, 3),), ((3, 4, 2),)], covers=('Variable.norm',), domain=away_from(0.0)),
    OpInfo('method_var', lambda x: as_variable(x).var(axis=1, ddof=1),
           lambda x: x.var(axis=1, ddof=1), [((2, 3),), ((3, 4, 2),)],
           covers=('Variable.var',)),
    OpInfo('method_std', lambda x: as_variable(x).std(axis=0, keepdims=True),
           lambda x: x.std(axis=0, keepdims=True), [((3, 2),), ((4,),)],
           covers=('Variable.std',), domain=distinct),
    OpInfo('method_max', lambda x: as_variable(x).max(axis=0), lambda x: x.max(axis=0),
           [((2, 3),), ((4,),)], covers=('Variable.max',), domain=distinct, smooth=False,
           ints='keep'),
    OpInfo('method_min', lambda x: as_variable(x).min(), np.min, [((2, 3),), ((),)],
           covers=('Variable.min',), domain=distinct, smooth=False, ints='keep'),
    OpInfo('logsumexp', F.logsumexp, _logsumexp, [((2, 3),), ((2, 0),), ((1, 3, 2),)],
           covers=('logsumexp', 'LogSumExp')),
    OpInfo('clip', lambda x: F.clip(x, -0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5), UNARY,
           covers=('clip', 'Clip'), domain=away_from(-0.5, 0.5), ints=None),
    # --- linear algebra --------------------------------------------------------------
    OpInfo('matmul', F.matmul, np.matmul,
           [((2, 3), (3, 4)), ((3,), (3, 2)), ((2, 2, 3), (3, 4)), ((0, 3), (3, 2))],
           covers=('matmul', 'MatMul', 'Variable.__matmul__', 'Variable.__rmatmul__'),
           ints='keep', bools=False, bad=lambda: F.matmul(np.zeros((2, 3)), np.zeros((2, 3))),
           bad_name='matmul'),
    OpInfo('linear', F.linear, lambda x, W, b: x @ W + b,
           [((4, 3), (3, 2), (2,)), ((0, 3), (3, 2), (2,)), ((2, 4, 3), (3, 2), (2,))],
           covers=('linear', 'Linear'), ints='keep', bools=False,
           bad=lambda: F.linear(np.zeros((2, 3)), np.zeros((4, 2))), bad_name='linear'),
    OpInfo('linear_nobias', F.linear, np.matmul, [((4, 3), (3, 2))], ints='keep', bools=False),
    OpInfo('linear_simple', F.linear_simple, lambda x, W, b: x @ W + b,
           [((4, 3), (3, 2), (2,))], covers=('linear_simple',), ints='keep', bools=False),
    # --- losses ---------------------------------------------------------------------
    OpInfo('mean_squared_error', F.mean_squared_error,
           lambda a, b: ((a - b) ** 2).sum() / len(a),
           [((4, 2), (4, 2)), ((3,), (3,)), ((0, 2), (0, 2))],
           covers=('mean_squared_error', 'MeanSquaredError'),
           bools=False,
           bad=lambda: F.mean_squared_error(np.zeros((4, 2)), np.zeros(3)),
           bad_name='mean_squared_error'),
    OpInfo('mean_squared_error_simple', F.mean_squared_error_simple,
           lambda a, b: ((a - b) ** 2).sum() / len(a), [((4, 2), (4, 2))],
           covers=('mean_squared_error_simple',), bools=False),
    OpInfo('softmax_cross_entropy', lambda x: F.softmax_cross_entropy(x, _labels(x)),
           _softmax_ce_ref, [((3, 4),), ((1, 2),)],
           covers=('softmax_cross_entropy', 'SoftmaxCrossEntropy'), ints=None,
           bad=lambda: F.softmax_cross_entropy(np.zeros((3, 4)), np.zeros(2, np.int64)),
           bad_name='softmax_cross_entropy'),
    OpInfo('softmax_cross_entropy_simple',
           lambda x: F.softmax_cross_entropy_simple(x, _labels(x)), _softmax_ce_ref,
           [((3, 4),)], covers=('softmax_cross_entropy_simple',), ints=None),
    OpInfo('sigmoid_cross_entropy', lambda x: F.sigmoid_cross_entropy(x, _targets(x)),
           _sigmoid_ce_ref, [((3, 2),), ((4,),), ((0, 2),)],
           covers=('sigmoid_cross_entropy', 'SigmoidCrossEntropy'), ints=None),
    OpInfo('binary_cross_entropy', lambda p: F.binary_cross_entropy(p, _targets(p)),
           _bce_ref, [((3, 2),), ((4,),), ((0, 2),)], domain=unit,
           covers=('binary_cross_entropy', 'BinaryCrossEntropy'), ints=None, nan=False),
    # --- normalisation, embeddings, recurrent ---------------------------------------
    OpInfo('batch_norm', _batch_norm_op, _batch_norm_ref,
           [((4, 3), (3,), (3,)), ((2, 2, 3, 3), (2,), (2,))],
           covers=('batch_norm', 'batch_nrom', 'BatchNorm'), ints=None, rtol=1e-3,
           bad=lambda: F.batch_norm(np.zeros((4, 3)), np.ones(2), np.zeros(2), np.zeros(2),
                                    np.ones(2)), bad_name='batch_norm'),
    OpInfo('dropout', _dropout_op, _dropout_ref, UNARY, covers=('dropout', 'Dropout'),
           numpy_only=True),  # the reference replays NumPy's global generator
    OpInfo('embed_id', lambda W: F.embed_id(_xp(W).asarray(IDS), W), lambda W: W[IDS],
           [((3, 4),)], covers=('embed_id', 'EmbedID', 'EmbedIDGrad'), ints='keep'),
    OpInfo('lstm_gates', lambda x, h, *p: F.lstm_gates(x, h, p[:4], p[4:8], p[8:]),
           _lstm_gates_ref, [((2, 3), (2, 4)) + ((3, 4),) * 4 + ((4,),) * 4 + ((4, 4),) * 4,
                             ((0, 3), (0, 4)) + ((3, 4),) * 4 + ((4,),) * 4 + ((4, 4),) * 4],
           covers=('lstm_gates', 'LSTMGates'), ints=None,
           bad=lambda: F.lstm_gates(np.zeros((2, 3)), np.zeros((2, 4)), [np.zeros((3, 4))] * 4,
                                    [np.zeros(4)] * 4, [np.zeros((5, 4))] * 4),
           bad_name='lstm_gates'),
    OpInfo('lstm_cell', F.lstm_cell, _lstm_ref, [((2, 3),) * 5, ((0, 3),) * 5],
           covers=('lstm_cell', 'LSTMCell'),
           bad=lambda: F.lstm_cell(*[np.zeros((2, 4))] * 4, np.zeros((2, 3))),
           bad_name='lstm_cell'),
    # --- convolution and pooling ---------------------------------------------------------
    OpInfo('conv2d', lambda x, W, b: F.conv2d(x, W, b, stride=1, pad=1),
           lambda x, W, b: _conv_ref(x, W, b, 1, 1),
           [((1, 2, 4, 4), (3, 2, 3, 3), (3,)), ((0, 2, 4, 4), (3, 2, 3, 3), (3,))],
           covers=('conv2d', 'Conv2d', 'Conv2DGradW'), ints=None,
           bad=lambda: F.conv2d(np.zeros((1, 2, 4, 4)), np.zeros((3, 4, 3, 3))),
           bad_name='conv2d'),
    OpInfo('conv2d_stride', lambda x, W, b: F.conv2d(x, W, b, stride=2),
           lambda x, W, b: _conv_ref(x, W, b, 2, 0), [((2, 1, 5, 5), (2, 1, 3, 3), (2,))],
           ints=None),
    OpInfo('conv2d_simple', lambda x, W, b: F.conv2d_simple(x, W, b, pad=1),
           lambda x, W, b: _conv_ref(x, W, b, 1, 1), [((1, 2, 4, 4), (3, 2, 3, 3), (3,))],
           covers=('conv2d_simple',), ints=None),
    OpInfo('deconv2d', lambda x, W, b: F.deconv2d(x, W, b, stride=2, pad=1),
           lambda x, W, b: _deconv_ref(x, W, b, 2, 1), [((1, 2, 3, 3), (2, 3, 3, 3), (3,))],
           covers=('deconv2d', 'Deconv2d'), ints=None),
    OpInfo('im2col', lambda x: F.im2col(x, 2, stride=1, pad=1),
           lambda x: _im2col_ref(x, 2, 1, 1), [((1, 2, 3, 3),), ((0, 2, 3, 3),)],
           covers=('im2col', 'Im2col'), ints='keep'),
    OpInfo('col2im', lambda c: F.col2im(c, (1, 2, 3, 3), 2, stride=1, pad=1),
           lambda c: _col2im_ref(c, (1, 2, 3, 3), 2, 1, 1), [((16, 8),)],
           covers=('col2im', 'Col2im'), ints='keep', bools=False),
    OpInfo('pooling', lambda x: F.pooling(x, 2, stride=2),
           lambda x: _windows(x, 2, 2, 0).max(axis=(2, 3)),
           [((1, 2, 4, 4),), ((2, 1, 4, 6),), ((0, 1, 4, 4),)],
           covers=('pooling', 'Pooling2D', 'Pooling2DGrad', 'Pooling2DWithIndexes'),
           domain=distinct, smooth=False, ints='keep'),
    OpInfo('pooling_overlap', lambda x: F.pooling(x, 3, stride=1, pad=1),
           lambda x: _windows(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)),
                                     constant_values=-np.inf), 3, 1, 0).max(axis=(2, 3)),
           [((1, 2, 4, 4),)], domain=distinct, smooth=False, ints=None),
    OpInfo('pooling_simple', lambda x: F.pooling_simple(x, 2, stride=2),
           lambda x: _windows(x, 2, 2, 0).max(axis=(2, 3)), [((1, 2, 4, 4),)],
           covers=('pooling_simple',), domain=distinct, smooth=False, ints='keep'),
    OpInfo('average_pooling', lambda x: F.average_pooling(x, 2, stride=1, pad=1),
           lambda x: _windows(x, 2, 1, 1).mean(axis=(2, 3)),
           [((1, 2, 4, 4),), ((0, 1, 3, 3),)],
           covers=('average_pooling', 'AveragePooling2D', 'AveragePooling2DGrad')),
    # --- activations and losses added beside PyTorch's names -----------------------------
    OpInfo('elu', lambda x: F.elu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)),
           UNARY, covers=('elu', 'ELU'), domain=away_from(0.0)),
    OpInfo('erf', F.erf, _erf, UNARY, covers=('erf', 'Erf')),
    OpInfo('gelu', F.gelu, lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))), UNARY,
           covers=('gelu', 'GELU')),
    OpInfo('gelu_tanh', lambda x: F.gelu(x, approximate='tanh'),
           lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))),
           UNARY),
    OpInfo('softplus', lambda x: F.softplus(x, beta=2.0),
           lambda x: np.log1p(np.exp(2.0 * x)) / 2.0, UNARY, covers=('softplus', 'Softplus')),
    OpInfo('silu', F.silu, lambda x: x * _sigmoid(x), UNARY, covers=('silu',)),
    OpInfo('hardtanh', F.hardtanh, lambda x: np.clip(x, -1.0, 1.0), UNARY,
           covers=('hardtanh',), domain=away_from(-1.0, 1.0), ints=None),
    OpInfo('layer_norm', F.layer_norm, _layer_norm_ref,
           [((4, 3), (3,), (3,)), ((2, 2, 3), (3,), (3,)), ((0, 3), (3,), (3,))],
           covers=('layer_norm', 'LayerNorm'), ints=None, rtol=1e-3),
    OpInfo('huber_loss', F.huber_loss, _huber_ref, [((4, 2), (4, 2)), ((3,), (3,))],
           covers=('huber_loss', 'Huber'), smooth=False, ints=None),
    OpInfo('kl_div', lambda x: F.kl_div(x, _probs(x)),
           lambda x: (_probs(x) * (np.log(_probs(x)) - x)).sum() / len(x),
           [((3, 4),), ((2, 2),)], covers=('kl_div',), ints=None),
    OpInfo('nll_loss', lambda x: F.nll_loss(x, _labels(x)),
           lambda x: -x[np.arange(len(x)), _labels(x)].sum() / len(x), [((3, 4),), ((1, 2),)],
           covers=('nll_loss',), ints=None),
    OpInfo('scaled_dot_product_attention', F.scaled_dot_product_attention, _attention_ref,
           [((2, 3, 4), (2, 5, 4), (2, 5, 2)), ((3, 4), (5, 4), (5, 2))],
           covers=('scaled_dot_product_attention',), ints=None),
    OpInfo('attention_causal', lambda q, k, v: F.scaled_dot_product_attention(
        q, k, v, mask=F.causal_mask(q.shape[-2], k.shape[-2], xp=_xp(q))),
        lambda q, k, v: _attention_ref(q, k, v, causal=True),
        [((2, 3, 4), (2, 3, 4), (2, 3, 2))], covers=('causal_mask',), ints=None),
    OpInfo('softmax_cross_entropy_smoothing',
           lambda x: F.softmax_cross_entropy(x, _labels(x), label_smoothing=0.2),
           _smoothed_ce_ref, [((3, 4),), ((1, 2),)], ints=None),
]

# Public names of dezero.functions (and Function classes) without an entry, and why.
EXCLUDED = {
    # not differentiable: a metric returning a Variable with no graph
    'accuracy': 'metric, no gradient',
    # raw-array helpers (ndarray in, ndarray out): tested through im2col/col2im's entries
    'im2col_array': 'array helper behind im2col',
    'col2im_array': 'array helper behind col2im',
    # abstract base shared by Max and Min
    '_MaxMin': 'base class of Max/Min',
    # not differentiable: integer indices
    'argmax': 'indices, no gradient',
    'argmin': 'indices, no gradient',
    # not differentiable: comparisons give plain boolean arrays (tests/test_variable_methods.py)
    'Variable.__lt__': 'comparison, boolean array',
    'Variable.__le__': 'comparison, boolean array',
    'Variable.__gt__': 'comparison, boolean array',
    'Variable.__ge__': 'comparison, boolean array',
    'Variable.__eq__': 'comparison, boolean array',
    'Variable.__ne__': 'comparison, boolean array',
}

BY_NAME = {op.name: op for op in OPS}

# Counts of the Hypothesis gradient fuzz (tests/test_ops_generic.py), printed at the end of
# a pytest run by tests/conftest.py.
FUZZ_STATS = {'cases': 0, 'mismatches': 0, 'failed': []}
