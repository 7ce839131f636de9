"""The define-by-run engine: Variable, Function, Config and the backward walk.

Data flows one way: an array enters a Variable, Functions make new Variables
and record themselves as their creators, and `Variable.backward()` walks the
creators back to the leaves. A Function keeps its outputs by weak reference,
so dropping the last output frees the whole graph without the cycle collector.
"""
import contextlib
import heapq
import threading
import weakref

import numpy as np

from dezero import cuda

_ndarray = np.ndarray
_new_object = object.__new__
_weakref = weakref.ref


# ---------------------------------------------------------------------------
# Config: per-thread settings read as class attributes (Config.enable_backprop)
# ---------------------------------------------------------------------------
class _ThreadSettings(threading.local):
    def __init__(self):
        self.enable_backprop = True
        self.train = True
        self.detect_anomaly = False  # see dezero.anomaly; set through set_detect_anomaly
        self.anomaly_backward = None  # the Function whose backward runs, while detecting
        self.arrays_walk = False  # a backward walk on arrays runs (no graph, no kept grads)


_settings = _ThreadSettings()

# dezero.anomaly is built on this module, so the engine reaches it through these hooks,
# which it fills in when it is imported (as `import dezero` does).
_anomaly_hooks = {'set_detect_anomaly': None, 'check_backward': None}


class _ConfigMeta(type):
    # Settings live in a threading.local so that `no_grad()` in one thread
    # never switches off gradients in another.
    def __getattr__(cls, name):
        try:
            return getattr(_settings, name)
        except AttributeError:
            raise AttributeError(f"Config has no setting {name!r}; known settings: "
                                 f"{sorted(vars(_settings))}") from None

    def __setattr__(cls, name, value):
        if name == 'detect_anomaly':  # installs / removes the checking Function.__call__
            _anomaly_hooks['set_detect_anomaly'](value)
            return
        setattr(_settings, name, value)


class Config(metaclass=_ConfigMeta):
    """Global switches, one copy per thread.

    enable_backprop (default True): record graphs for backward.
    train (default True): training behaviour of dropout and batch_norm.
    detect_anomaly (default False): stop at the first NaN/inf output or gradient
        (dezero.anomaly.AnomalyError); see dezero.detect_anomaly().
    """


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
    """Context manager that turns off graph recording (Config.enable_backprop = False)."""
    return using_config('enable_backprop', False)


def test_mode():
    """Context manager that turns off training behaviour (Config.train = False)."""
    return using_config('train', False)


# ---------------------------------------------------------------------------
# Variable
# ---------------------------------------------------------------------------
def _is_array(data):
    return isinstance(data, _ndarray) or cuda.is_cupy_array(data)


class Variable:
    """A node of the graph: an array, its gradient and the Function that created it.

    Args:
        data: None or an ndarray (NumPy or CuPy). Anything else raises TypeError.
        name: optional label shown in graph pictures.
    """
    __slots__ = ('data', 'name', 'grad', 'creator', 'generation', '__weakref__')
    # `ndarray op Variable` must defer to Variable's reflected operators.
    __array_priority__ = 200
    __array_ufunc__ = None

    def __init__(self, data, name=None):
        if data is not None and not _is_array(data):
            raise TypeError(
                f"Variable: data must be None or an ndarray (NumPy or CuPy), got "
                f"{type(data).__name__} ({data!r:.60}). Wrap it first, e.g. "
                f"Variable(np.array({data!r:.40})).")
        self.data = data
        self.name = name
        self.grad = None
        self.creator = None
        self.generation = 0

    # -- array-like properties -------------------------------------------
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

    # -- conversions: NumPy, Python scalars, pickling ------------------------
    def __array__(self, dtype=None, copy=None):
        """np.asarray(v) is v.data (no graph): NumPy functions see the Variable as its array.

        Ufuncs (np.exp(v)) still refuse Variables, so that `ndarray op Variable` keeps
        returning a Variable; use F.exp(v) for a graph or np.exp(v.data) for an array.
        """
        data = self.data
        if data is None:
            raise TypeError("Variable.__array__: this Variable holds no data (None).")
        if not isinstance(data, _ndarray):
            raise TypeError(
                f"Variable.__array__: the data is a {type(data).__module__}."
                f"{type(data).__name__} (on the GPU), which NumPy cannot read implicitly; "
                "use v.numpy() or cuda.as_numpy(v.data).")
        if dtype is not None and dtype != data.dtype:
            return data.astype(dtype)
        return data.copy() if copy else data

    def __dlpack__(self, *args, **kwargs):
        """The data's DLPack capsule (shared memory): torch.from_dlpack(v) and
        cupy.from_dlpack(v) read the Variable without a copy."""
        if self.data is None:
            raise TypeError("Variable.__dlpack__: this Variable holds no data (None).")
        return self.data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        """The data's DLPack (device type, device id), e.g. (1, 0) for host memory."""
        if self.data is None:
            raise TypeError("Variable.__dlpack_device__: this Variable holds no data (None).")
        return self.data.__dlpack_device__()

    # Comparisons (bound by setup_variable) are elementwise, so identity must be restated
    # as the hash: Variables key the engine's sets and dicts (optimizer state, seen sets).
    __hash__ = object.__hash__

    def item(self):
        """The one element as a Python scalar (NumPy's ValueError for other sizes)."""
        return self.data.item()

    def numpy(self):
        """The data as a NumPy array: v.data itself on the CPU, a copy from the GPU."""
        return cuda.as_numpy(self.data)

    def tolist(self):
        """The data as (nested) Python lists of scalars."""
        return self.data.tolist()

    def detach(self):
        """A new Variable sharing this one's data, outside the graph (no creator, no grad)."""
        return Variable(self.data)

    @property
    def requires_grad(self):
        """Whether backward() gives this Variable a gradient (read-only).

        True for every Variable you create or compute, Parameters included: dezero has
        no per-Variable switch. Use no_grad() to record nothing, or detach() /
        unchain() to cut a Variable from the graph behind it.
        """
        return needs_grad(self)

    @requires_grad.setter
    def requires_grad(self, value):
        raise AttributeError(
            "Variable.requires_grad is read-only: dezero has no per-Variable switch. Use "
            "`with dezero.no_grad():` to record no graph, v.detach() for a copy outside the "
            "graph, or optimizers.FreezeParam(layer) to keep parameters fixed.")

    def __bool__(self):
        """The truth of a one-element Variable; NumPy's ValueError for several elements."""
        return bool(self.data)

    def __float__(self):
        """float(v) for a one-element Variable (any shape); NumPy's TypeError otherwise."""
        data = self.data
        return float(data.item()) if data.size == 1 else float(data)

    def __int__(self):
        """int(v) for a one-element Variable (any shape); NumPy's TypeError otherwise."""
        data = self.data
        return int(data.item()) if data.size == 1 else int(data)

    def __getstate__(self):
        # Pickling and deepcopy keep the array, the name and the gradient, never the graph
        # (the creator holds weak references and would pull the whole history along).
        return {'data': self.data, 'name': self.name, 'grad': self.grad}

    def __setstate__(self, state):
        self.data = state['data']
        self.name = state['name']
        self.grad = state['grad']
        self.creator = None
        self.generation = 0

    def __repr__(self):
        if self.data is None:
            return 'variable(None)'
        text = str(self.data).replace('\n', '\n' + ' ' * 9)
        return 'variable(' + text + ')'

    # -- graph bookkeeping -------------------------------------------------
    def set_creator(self, func):
        """Record func as the Function that produced this Variable."""
        self.creator = func
        self.generation = func.generation + 1

    def cleargrad(self):
        """Forget the accumulated gradient."""
        self.grad = None

    def unchain(self):
        """Cut this Variable from its creator (it becomes a leaf)."""
        self.creator = None

    def unchain_backward(self):
        """Cut every creator link behind this Variable, iteratively (any depth).

        Sibling outputs of the Functions behind it are cut too (an LSTM cell's c
        beside its h), so truncated backpropagation leaves no half-cut graph.
        """
        stack = [self.creator] if self.creator is not None else []
        seen = set()
        while stack:
            f = stack.pop()
            if f in seen:
                continue
            seen.add(f)
            for x in f.inputs:
                if x.creator is not None:
                    stack.append(x.creator)
                    x.unchain()
            if len(f.outputs) > 1:
                for ref in f.outputs:
                    y = ref()
                    if y is not None and y is not self:
                        y.unchain()

    def backward(self, retain_grad=False, create_graph=False, gradient=None):
        """Accumulate d(self)/d(leaf) into every leaf's `grad`.

        Walks the graph with a heap (newest generation first, never recursion),
        so each Function's backward runs once, after all its outputs' gradients
        are complete.

        Args:
            retain_grad: keep the gradients of intermediate Variables too.
            create_graph: record the backward pass itself as a graph, so the
                gradients can be differentiated again (higher-order derivatives).
            gradient: the gradient to start from (an array or Variable of self's
                shape), as in PyTorch's `y.backward(g)`: an array or Variable passed
                first is taken as this, not as retain_grad. It becomes self.grad (added
                to it when self is a leaf). Without it, the walk starts from self.grad,
                or from ones when that is None.
        """
        if gradient is None and _is_gradient_like(retain_grad):
            gradient, retain_grad = retain_grad, False
        elif not isinstance(retain_grad, (bool, int, np.bool_, np.integer, type(None))):
            raise TypeError(f"backward: retain_grad must be a bool, got "
                            f"{type(retain_grad).__name__}; to start from a gradient, pass an "
                            f"array or Variable of shape {self.shape} (gradient=...).")
        if gradient is not None:
            self._seed(gradient)
        if self.grad is None:
            xp = cuda.get_array_module(self.data)
            data = self.data
            # gradients are floating point, even for an integer or bool output
            self.grad = Variable(xp.ones_like(data) if data.dtype.kind in 'fc'
                                 else xp.ones(data.shape, dtype=np.float64))
        creator = self.creator
        if creator is None:
            return

        heap = [(-creator.generation, 0, creator)]
        seen = {creator}
        order = 1
        heappush, heappop = heapq.heappush, heapq.heappop
        settings = _settings
        saved = settings.enable_backprop
        saved_walk = settings.arrays_walk
        settings.enable_backprop = create_graph
        on_arrays = not create_graph
        settings.arrays_walk = on_arrays and not retain_grad
        check = settings.detect_anomaly
        if check:
            check_backward = _anomaly_hooks['check_backward']
        try:
            while heap:
                f = heappop(heap)[2]
                if check:
                    settings.anomaly_backward = f
                outputs = f.outputs
                raw = on_arrays and f.backward_arrays is not None
                if raw:
                    if len(outputs) == 1:
                        gxs = f.backward_arrays(outputs[0]().grad.data)
                    else:
                        gxs = f.backward_arrays(*[g.data for g in _output_grads(f)])
                elif len(outputs) == 1:
                    gxs = f.backward(outputs[0]().grad)
                else:
                    gxs = f.backward(*_output_grads(f))
                if gxs.__class__ is not tuple:
                    gxs = (gxs,)
                if check:
                    check_backward(f, gxs)
                for x, gx in zip(f.inputs, gxs):
                    if gx is None:
                        continue
                    g = x.grad
                    if raw:
                        if gx.__class__ is not _ndarray:
                            gx = _to_output_array(gx)
                        if g is not None:
                            gx = g.data + gx
                            if gx.__class__ is not _ndarray:
                                gx = _to_output_array(gx)
                        x.grad = _wrap(gx)
                    elif g is None:
                        x.grad = gx
                    else:
                        x.grad = g + gx
                    c = x.creator
                    if c is not None and c not in seen:
                        seen.add(c)
                        heappush(heap, (-c.generation, order, c))
                        order += 1
                if not retain_grad:
                    for y in outputs:
                        y = y()
                        if y is not None:
                            y.grad = None
        finally:
            settings.enable_backprop = saved
            settings.arrays_walk = saved_walk
            if check:
                settings.anomaly_backward = None

    def _seed(self, gradient):
        g = gradient.data if isinstance(gradient, Variable) else gradient
        if not _is_gradient_like(g):
            raise TypeError(f"backward: gradient must be an array or Variable of shape "
                            f"{self.shape}, got {type(gradient).__name__}.")
        if g.shape != self.data.shape:
            raise ValueError(f"backward: gradient has shape {g.shape} but the output has "
                             f"shape {self.data.shape}; pass one value per output element.")
        if g.dtype.kind not in 'fc':  # gradients are floating point, as the ones seed is
            g = g.astype(self.data.dtype if self.data.dtype.kind in 'fc' else np.float64)
        if self.creator is None and self.grad is not None:  # a leaf accumulates
            self.grad = Variable(self.grad.data + g)
        else:
            self.grad = Variable(g)

    def to_cpu(self):
        """Move data (and grad) to NumPy, in place."""
        if self.data is not None:
            self.data = cuda.as_numpy(self.data)
        if self.grad is not None:
            self.grad.to_cpu()

    def to_gpu(self):
        """Move data (and grad) to CuPy, in place; raises when CuPy is unavailable."""
        if self.data is not None:
            self.data = cuda.as_cupy(self.data)
        if self.grad is not None:
            self.grad.to_gpu()


class Parameter(Variable):
    """A Variable that layers collect as a trainable parameter.

    grad_out: None, or an array of the parameter's shape and dtype that a Function may
    write this parameter's gradient into when the parameter has no gradient yet (Linear
    does); dezero.distributed points it into its communication buffer, which then needs
    no packing.
    """
    __slots__ = ('grad_out',)

    def __init__(self, data, name=None):
        super().__init__(data, name)
        self.grad_out = None

    def __setstate__(self, state):
        super().__setstate__(state)
        self.grad_out = None


def _output_grads(f):
    """Gradients of a multi-output Function's outputs, zeros for unused or dropped ones."""
    gys = []
    for ref, (shape, dtype) in zip(f.outputs, f.output_specs):
        y = ref()
        gy = None if y is None else y.grad
        if gy is None:
            xp = cuda.get_array_module(f.inputs[0].data)
            gy = Variable(xp.zeros(shape, dtype=dtype))
        gys.append(gy)
    return gys


class _Constant(Variable):
    """An array that a Function call wrapped on the fly: nobody can read its gradient."""
    __slots__ = ()


def _is_gradient_like(value):
    """A Variable or an array (NumPy's or CuPy's), not a flag such as True or np.True_."""
    return isinstance(value, Variable) or (
        hasattr(value, 'shape') and hasattr(value, 'dtype') and not isinstance(value, np.generic))


def backward_on_arrays():
    """True inside a backward walk that builds no graph and keeps no intermediate gradient
    (create_graph and retain_grad both False), False elsewhere: a backward may then hand
    its inputs' creators work that only their own backward observes (see
    Pooling2D.backward)."""
    return _settings.arrays_walk


def needs_grad(v):
    """False for arrays that a Function wrapped itself (their gradient is unobservable), so
    a backward may skip computing it (as the first layer's input gradient)."""
    return v.__class__ is not _Constant


def _wrap_constant(data):
    return _wrap(data, _Constant)


def _wrap(data, cls=Variable):
    """A fresh Variable (or cls instance) around an array that is already known to be valid."""
    v = _new_object(cls)
    v.data = data
    v.name = None
    v.grad = None
    v.creator = None
    v.generation = 0
    return v


def as_array(x, array_module=np):
    """Turn a Python or NumPy scalar into a 0-d array of array_module; arrays pass through."""
    if np.isscalar(x):
        return array_module.array(x)
    return x


def from_dlpack(obj):
    """A Variable sharing memory with obj, any object with __dlpack__ (a PyTorch tensor, a
    CuPy or NumPy array, a JAX array, another Variable): no copy, so a write on one side
    is seen on the other.

    Host memory becomes a NumPy array (NumPy >= 1.23), CUDA memory a CuPy one (needs
    CuPy). Raises TypeError for objects without the protocol and ValueError for a device
    neither supports.
    """
    return Variable(cuda.array_from_dlpack(obj))


def as_variable(obj):
    """Return obj if it is a Variable, else wrap it (an ndarray) in a Variable."""
    if isinstance(obj, Variable):
        return obj
    return Variable(obj)


class SizeOneArray(_ndarray):
    """A one-element ndarray of any shape that float()/int() still accept.

    NumPy 2 refuses float() on arrays with ndim > 0, which breaks the book's
    `float(y.data)` on a (1, 1) model output; Function outputs of one element
    and two or more dimensions are returned as this thin view instead (1-D ones
    stay plain: chains of (1,) arrays are a hot path, and the book reads those
    through 0-d losses).
    """

    def __float__(self):
        return float(self.item())

    def __array_wrap__(self, array, context=None, return_scalar=False):
        # Results computed from it are plain ndarrays: the subclass must not spread
        # through a graph (it would slow every later op down).
        if return_scalar:
            return array[()]
        return array if array.__class__ is _ndarray else array.view(_ndarray)

    def __int__(self):
        return int(self.item())

    def __complex__(self):
        return complex(self.item())


def _to_output_array(y):
    # NumPy hands back scalars (np.float64) for 0-d results: outputs are always arrays.
    if isinstance(y, _ndarray) or cuda.is_cupy_array(y):
        return y
    return np.asarray(y)


def _constant_like(value, like):
    """Turn a scalar or array operand into an array, keeping `like`'s float dtype.

    NumPy 2 promotes float32 * np.float64(2) to float64; casting constants to the
    Variable's float dtype keeps float32 models float32 end to end.
    """
    xp = cuda.get_array_module(like)
    dtype = like.dtype
    if dtype.kind == 'f' and (np.isscalar(value) or getattr(value, 'ndim', 1) == 0):
        if np.isscalar(value) and not isinstance(value, (int, float, bool, np.number)):
            raise TypeError(f"dezero: cannot combine a Variable with {type(value).__name__} "
                            f"{value!r:.40}; use a number, an ndarray or a Variable.")
        if np.iscomplexobj(value):
            return xp.asarray(value)
        return xp.asarray(value, dtype=dtype)
    if isinstance(value, (list, tuple)):
        return xp.asarray(value)
    return as_array(value, xp)


# ---------------------------------------------------------------------------
# Function
# ---------------------------------------------------------------------------
class Function:
    """An operation that maps input Variables to output Variables and remembers how.

    Subclasses implement `forward(*xs)` on raw arrays (returning an array or a
    tuple of arrays) and `backward(*gys)` on Variables (returning one Variable
    or a tuple, one per input, None for inputs without a gradient). Writing
    backward with dezero Functions makes it differentiable again.
    """
    generation = 0
    inputs = ()
    outputs = ()
    # Optional first-order backward on raw arrays: backward_arrays(gy) -> array or tuple of
    # arrays (None where no gradient), shapes equal to the inputs'. The walk uses it when no
    # graph of the backward pass is wanted (create_graph=False), skipping the Function
    # machinery on hot paths; `backward` stays the differentiable definition, and the tests
    # check that both agree.
    backward_arrays = None

    def __call__(self, *inputs):
        for x in inputs:
            if not isinstance(x, Variable):
                inputs = _inputs_to_variables(inputs, self)
                break
        if len(inputs) == 1:
            ys = self.forward(inputs[0].data)
        elif len(inputs) == 2:
            ys = self.forward(inputs[0].data, inputs[1].data)
        else:
            ys = self.forward(*[x.data for x in inputs])

        if ys.__class__ is _ndarray:  # the common case: one NumPy output
            if ys.ndim > 1 and ys.size == 1:
                ys = ys.view(SizeOneArray)
            y = _new_object(Variable)
            y.data = ys
            y.name = None
            y.grad = None
            if _settings.enable_backprop:
                if len(inputs) == 1:
                    gen = inputs[0].generation
                else:
                    gen = max([x.generation for x in inputs])
                self.generation = gen
                self.inputs = inputs
                self.outputs = (_weakref(y),)
                y.creator = self
                y.generation = gen + 1
            else:
                y.creator = None
                y.generation = 0
            return y
        return self._finish(inputs, ys)

    def _finish(self, inputs, ys):
        """Output handling for the less common cases: several outputs, CuPy or 0-d results."""
        if ys.__class__ is not tuple:
            ys = (ys,)
        outputs = [_wrap(_to_output_array(y)) for y in ys]
        if _settings.enable_backprop:
            gen = max([x.generation for x in inputs])
            self.generation = gen
            self.inputs = inputs
            for y in outputs:
                y.creator = self
                y.generation = gen + 1
            self.outputs = tuple([weakref.ref(y) for y in outputs])
            if len(outputs) > 1:
                self.output_specs = [(y.data.shape, y.data.dtype) for y in outputs]
        return outputs if len(outputs) > 1 else outputs[0]

    def forward(self, *xs):
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, *gys):
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")


def _inputs_to_variables(inputs, func):
    """Slow path of Function.__call__: wrap arrays and scalars, casting scalars to the
    float dtype of the first array input."""
    like = None
    for x in inputs:
        data = x.data if isinstance(x, Variable) else x
        if _is_array(data) and data.dtype.kind == 'f':
            like = data
            break
    result = []
    for x in inputs:
        if isinstance(x, Variable):
            result.append(x)
        elif _is_array(x):
            result.append(_wrap_constant(x))
        elif np.isscalar(x) and isinstance(x, (int, float, bool, np.number)):
            result.append(_wrap_constant(_constant_like(x, like) if like is not None
                                         else np.array(x)))
        else:
            raise TypeError(
                f"{type(func).__name__}: inputs must be Variables, ndarrays or numbers, got "
                f"{type(x).__name__}. Wrap lists with np.array(...).")
    return result


# ---------------------------------------------------------------------------
# setup_variable: Variable's operators and functions-backed methods
# ---------------------------------------------------------------------------
# Variable's operators (+, *, @, [], ...) and its methods reshape/transpose/sum/T are
# Functions of dezero.functions, which is built on this module. So they are not written in
# the class: dezero/__init__.py binds them, once the functions exist, from the one table
# dezero.functions._variable_methods.VARIABLE_METHODS.
_variable_methods = {}


def setup_variable(methods=None):
    """Bind Variable's operators and methods (the book's setup_variable).

    Args:
        methods: a dict of attribute name -> function (or property) to set on Variable;
            `import dezero` passes dezero.functions._variable_methods.VARIABLE_METHODS.
            Without it (as the book's scripts call it), the table bound last is bound again.
    """
    global _variable_methods
    if methods is not None:
        _variable_methods = dict(methods)
    for name, value in _variable_methods.items():
        setattr(Variable, name, value)
