"""The book's first-stage engine (steps 1-32): Variable, Function and the arithmetic.

A separate, self-contained engine, kept as small as the book's: gradients are plain
ndarrays (so the book's `x.data -= lr * x.grad` works), backward functions compute on
arrays, and there is no create_graph (no higher-order derivatives: that is what
`dezero.core` adds from step 33 on). It imports nothing but NumPy and the standard library.

    from dezero.core_simple import Variable
    x = Variable(np.array(2.0))
    y = x ** 2 + 3 * x
    y.backward()
    x.grad            # array(7.)

Its Variables and Functions do not mix with dezero.core's (as in the book, a script uses
one engine or the other); `dezero.functions` belongs to the full engine.
"""
import contextlib
import heapq
import weakref

import numpy as np


class Config:
    """enable_backprop (default True): record the graph for backward."""
    enable_backprop = True


@contextlib.contextmanager
def using_config(name, value):
    """Set Config.<name> to value inside a `with` block, restoring it afterwards."""
    old = getattr(Config, name)
    setattr(Config, name, value)
    try:
        yield
    finally:
        setattr(Config, name, old)


def no_grad():
    """Context manager that turns graph recording off (Config.enable_backprop = False)."""
    return using_config('enable_backprop', False)


def as_array(x, array_module=np):
    """Turn a Python or NumPy scalar into a 0-d array; arrays pass through."""
    if np.isscalar(x):
        return array_module.array(x)
    return x


def as_variable(obj):
    """obj if it is a Variable of this engine, else obj (an array, or a Variable of
    dezero.core, whose data is taken) wrapped in one."""
    if isinstance(obj, Variable):
        return obj
    data = getattr(obj, 'data', obj) if not isinstance(obj, np.ndarray) else obj
    return Variable(data)


class Variable:
    """An array with the gradient (a plain ndarray) and the Function that created it.

    Args:
        data: None or an ndarray; anything else raises TypeError.
        name: optional label.
    """
    __array_priority__ = 200  # ndarray op Variable uses Variable's reflected operators

    def __init__(self, data, name=None):
        if data is not None and not isinstance(data, np.ndarray):
            raise TypeError(f"Variable: data must be None or an ndarray, got "
                            f"{type(data).__name__}; wrap it first, e.g. Variable(np.array(...)).")
        self.data = data
        self.name = name
        self.grad = None
        self.creator = None
        self.generation = 0

    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    @property
    def dtype(self):
        return self.data.dtype

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        if self.data is None:
            return 'variable(None)'
        return 'variable(' + str(self.data).replace('\n', '\n' + ' ' * 9) + ')'

    def set_creator(self, func):
        """Record func as this Variable's creator (one generation after it)."""
        self.creator = func
        self.generation = func.generation + 1

    def cleargrad(self):
        """Forget the accumulated gradient."""
        self.grad = None

    def backward(self, retain_grad=False):
        """Accumulate d(self)/d(leaf) into each leaf's `grad` (an ndarray).

        Functions run newest generation first, each once, without recursion; intermediate
        gradients are dropped unless retain_grad.
        """
        if self.grad is None:
            data = self.data
            self.grad = (np.ones_like(data) if data.dtype.kind in 'fc'
                         else np.ones(data.shape, dtype=np.float64))
        if self.creator is None:
            return
        heap, seen, order = [], set(), 0

        def push(f):
            nonlocal order
            if f not in seen:
                seen.add(f)
                heapq.heappush(heap, (-f.generation, order, f))
                order += 1

        push(self.creator)
        while heap:
            f = heapq.heappop(heap)[2]
            gys = [y().grad for y in f.outputs]
            gxs = f.backward(*gys)
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
            for x, gx in zip(f.inputs, gxs):
                if gx is None:
                    continue
                gx = as_array(gx)
                x.grad = gx if x.grad is None else as_array(x.grad + gx)
                if x.creator is not None:
                    push(x.creator)
            if not retain_grad:
                for ref in f.outputs:
                    y = ref()
                    if y is not None:
                        y.grad = None


class Function:
    """An operation on Variables that remembers its inputs for backward.

    Subclasses implement forward(*xs) and backward(*gys) on ndarrays (backward returns
    one gradient per input).
    """

    def __call__(self, *inputs):
        inputs = [as_variable(as_array(x)) for x in inputs]
        ys = self.forward(*[x.data for x in inputs])
        if not isinstance(ys, tuple):
            ys = (ys,)
        outputs = [Variable(as_array(y)) for y in ys]
        if Config.enable_backprop:
            self.generation = max(x.generation for x in inputs)
            for y in outputs:
                y.set_creator(self)
            self.inputs = inputs
            self.outputs = [weakref.ref(y) for y in outputs]
        return outputs if len(outputs) > 1 else outputs[0]

    def forward(self, *xs):
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, *gys):
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")


def _sum_to(g, shape):
    """Sum a broadcast gradient back to an input's shape."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape)
                                      if n == 1 and g.shape[i + lead] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


def _constant(c, x):
    """A scalar operand as an array; a float Variable keeps its dtype (float32 + 2.0 stays
    float32, as Python scalars do in NumPy)."""
    if np.isscalar(c):
        dtype = x.data.dtype if isinstance(x, Variable) and x.data.dtype.kind == 'f' and \
            isinstance(c, (int, float)) else None
        return np.array(c, dtype=dtype)
    return c


def _binary_grads(f, g0, g1):
    x0, x1 = f.inputs
    return _sum_to(g0, x0.shape), _sum_to(g1, x1.shape)


class Add(Function):
    """x0 + x1."""

    def forward(self, x0, x1):
        return x0 + x1

    def backward(self, gy):
        return _binary_grads(self, gy, gy)


class Mul(Function):
    """x0 * x1."""

    def forward(self, x0, x1):
        return x0 * x1

    def backward(self, gy):
        x0, x1 = self.inputs[0].data, self.inputs[1].data
        return _binary_grads(self, gy * x1, gy * x0)


class Neg(Function):
    """-x."""

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Sub(Function):
    """x0 - x1."""

    def forward(self, x0, x1):
        return x0 - x1

    def backward(self, gy):
        return _binary_grads(self, gy, -gy)


class Div(Function):
    """x0 / x1."""

    def forward(self, x0, x1):
        return x0 / x1

    def backward(self, gy):
        x0, x1 = self.inputs[0].data, self.inputs[1].data
        gx0 = gy / x1
        return _binary_grads(self, gx0, -(gx0 * x0 / x1))


class Pow(Function):
    """x ** c for a constant c."""

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x ** self.c

    def backward(self, gy):
        x, c = self.inputs[0].data, self.c
        if np.ndim(c) == 0 and c == 0:
            return gy * 0.0  # x ** 0 is constant, even at x = 0
        return gy * c * x ** (c - 1.0)


class Square(Function):
    """x ** 2."""

    def forward(self, x):
        return x ** 2

    def backward(self, gy):
        return 2 * self.inputs[0].data * gy


class Exp(Function):
    """e ** x."""

    def forward(self, x):
        return np.exp(x)

    def backward(self, gy):
        return np.exp(self.inputs[0].data) * gy


def add(x0, x1):
    """x0 + x1."""
    return Add()(x0, _constant(x1, x0))


def mul(x0, x1):
    """x0 * x1."""
    return Mul()(x0, _constant(x1, x0))


def neg(x):
    """-x."""
    return Neg()(x)


def sub(x0, x1):
    """x0 - x1."""
    return Sub()(x0, _constant(x1, x0))


def rsub(x0, x1):
    """x1 - x0 (the reflected `-`)."""
    return Sub()(_constant(x1, x0), x0)


def div(x0, x1):
    """x0 / x1."""
    return Div()(x0, _constant(x1, x0))


def rdiv(x0, x1):
    """x1 / x0 (the reflected `/`)."""
    return Div()(_constant(x1, x0), x0)


def pow(x, c):
    """x ** c for a constant c."""
    return Pow(c)(x)


def square(x):
    """x ** 2."""
    return Square()(x)


def exp(x):
    """e ** x."""
    return Exp()(x)


def setup_variable():
    """Install the operators on this engine's Variable (done on import; kept for the book)."""
    Variable.__add__ = add
    Variable.__radd__ = add
    Variable.__mul__ = mul
    Variable.__rmul__ = mul
    Variable.__neg__ = neg
    Variable.__sub__ = sub
    Variable.__rsub__ = rsub
    Variable.__truediv__ = div
    Variable.__rtruediv__ = rdiv
    Variable.__pow__ = pow


setup_variable()
