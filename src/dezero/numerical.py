"""Numerical differentiation and gradient checks (first and second order)."""
import numpy as np

from dezero import cuda
from dezero.core import Variable, as_variable


def numerical_diff(f, x, eps=1e-4):
    """Central difference (f(x + eps) - f(x - eps)) / 2eps of a one-input function of a Variable."""
    xp = cuda.get_array_module(x.data)
    cls = type(x)  # a Variable of dezero.core or of the book's dezero.core_simple
    x0 = cls(xp.asarray(x.data - eps))
    x1 = cls(xp.asarray(x.data + eps))
    y0 = f(x0)
    y1 = f(x1)
    return (y1.data - y0.data) / (2 * eps)


def _scalar_output(y, weights):
    """Sum of every output weighted by fixed arrays (Variables or raw arrays)."""
    ys = y if isinstance(y, (list, tuple)) else [y]
    total = 0.0
    for out, w in zip(ys, weights):
        data = out.data if isinstance(out, Variable) else out
        total = total + float((cuda.as_numpy(data).astype(np.float64) * w).sum())
    return total


def numerical_grad(f, x, *args, **kwargs):
    """Gradient of sum(f(x, *args, **kwargs)) with respect to x (a Variable or array) by central
    differences, one element at a time."""
    return _numerical_grad(f, x, args, kwargs, None)


def _numerical_grad(f, x, args, kwargs, weights, eps=1e-4):
    data = x.data if isinstance(x, Variable) else x
    xp = cuda.get_array_module(data)
    # C order: `flat` below must be a view (a transposed input would give a copy)
    host = np.array(cuda.as_numpy(data), dtype=np.float64, order='C')
    grad = np.zeros_like(host)
    flat, gflat = host.reshape(-1), grad.reshape(-1)

    # an integer or bool x is evaluated in float64: eps steps must not be rounded away
    dtype = data.dtype if data.dtype.kind in 'fc' else np.float64

    def evaluate():
        value = xp.asarray(host.astype(dtype, copy=False))
        if isinstance(x, Variable):
            x.data = value
            y = f(x, *args, **kwargs)
        else:
            y = f(value, *args, **kwargs)
        ys = y if isinstance(y, (list, tuple)) else [y]
        w = weights if weights is not None else [1.0] * len(ys)
        return _scalar_output(ys, w)

    try:
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + eps
            plus = evaluate()
            flat[i] = original - eps
            minus = evaluate()
            flat[i] = original
            gflat[i] = (plus - minus) / (2 * eps)
    finally:
        if isinstance(x, Variable):
            x.data = data
    return grad


def _weights_for(y, rng):
    ys = y if isinstance(y, (list, tuple)) else [y]
    return [rng.standard_normal(np.shape(out.data if isinstance(out, Variable) else out))
            for out in ys]


def _backward_with_weights(y, weights, create_graph=False):
    ys = y if isinstance(y, (list, tuple)) else [y]
    total = None
    for out, w in zip(ys, weights):
        xp = cuda.get_array_module(out.data)
        term = (out * xp.asarray(w.astype(out.data.dtype))).sum()
        total = term if total is None else total + term
    total.backward(create_graph=create_graph)


def _report(name, num, bp, rtol, atol):
    ok = num.shape == bp.shape and np.allclose(num, bp, rtol=rtol, atol=atol)
    if not ok:
        print(f"gradient_check failed for {name}:")
        print(f"  numerical   (shape {num.shape}): {num.ravel()[:10]}")
        print(f"  backprop    (shape {bp.shape}): {bp.ravel()[:10]}")
        if num.shape == bp.shape:
            print(f"  max abs diff: {np.max(np.abs(num - bp)) if num.size else 0.0}")
    return ok


def _float64(v):
    """A differentiated input cast to float64 whatever its dtype (int, bool, float16...),
    as the book's gradient_check does; complex data and non-Variables are left alone."""
    if isinstance(v, Variable) and v.data is not None and v.data.dtype.kind in 'biuf':
        v.data = v.data.astype(np.float64)
    return v


def gradient_check(f, x, *args, rtol=1e-4, atol=1e-5, **kwargs):
    """Compare backprop gradients of f with numerical ones; True when they agree.

    x is checked always; any of *args that is a Variable is checked as well
    (ndarray args are constants, as in the book). Inputs are cast to float64
    for the check. Outputs are weighted by fixed random arrays rather than
    summed, so that gradients which vanish for a plain sum (softmax) are still
    tested. NumPy's global random state is left untouched.
    """
    inputs = [_float64(as_variable(x))] + [_float64(a) for a in args]
    checked = [i for i, v in enumerate(inputs) if i == 0 or isinstance(v, Variable)]
    for i in checked:
        inputs[i].cleargrad()
    y = f(*inputs, **kwargs)
    weights = _weights_for(y, np.random.RandomState(0))
    _backward_with_weights(y, weights)
    backprop = {}
    for i in checked:
        grad = inputs[i].grad
        backprop[i] = (np.zeros(inputs[i].shape) if grad is None
                       else cuda.as_numpy(grad.data).astype(np.float64))
    ok = True
    for i in checked:
        def with_input(v, _i=i, **kw):
            return f(*inputs[:_i], v, *inputs[_i + 1:], **kw)
        num = _numerical_grad(with_input, inputs[i], (), kwargs, weights)
        name = 'x' if i == 0 else f'args[{i - 1}]'
        ok = _report(name, num, backprop[i], rtol, atol) and ok
    return ok


def check_double_backward(f, x, *args, rtol=1e-4, atol=1e-5, **kwargs):
    """Check second derivatives: the gradients of f, built with create_graph=True, must
    themselves have correct gradients. Returns True when they do.

    Like gradient_check, x and every Variable in args are differentiated (so mixed
    second derivatives such as d2/dx dW are checked too); ndarray args are constants.
    """
    inputs = [_float64(as_variable(x))] + [_float64(a) for a in args]
    checked = [i for i, v in enumerate(inputs) if i == 0 or isinstance(v, Variable)]
    weights = _weights_for(f(*inputs, **kwargs), np.random.RandomState(1))

    def first_grads(*vs, **kw):
        for i in checked:
            vs[i].cleargrad()
        _backward_with_weights(f(*vs, **kw), weights, create_graph=True)
        grads = []
        for i in checked:
            g = vs[i].grad
            if g is None:
                g = Variable(cuda.get_array_module(vs[i].data).zeros_like(vs[i].data))
            grads.append(g)
            vs[i].cleargrad()
        return grads

    return gradient_check(first_grads, *inputs, rtol=rtol, atol=atol, **kwargs)


def array_equal(a, b):
    """True when a and b (Variables or arrays, either backend) hold equal arrays."""
    a = cuda.as_numpy(a)
    b = cuda.as_numpy(b)
    return np.array_equal(a, b)


def array_allclose(a, b, rtol=1e-4, atol=1e-5):
    """True when a and b (Variables or arrays, either backend) are close elementwise."""
    a = cuda.as_numpy(a)
    b = cuda.as_numpy(b)
    return np.allclose(a, b, atol=atol, rtol=rtol)
