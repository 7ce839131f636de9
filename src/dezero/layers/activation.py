"""Activation functions as layers (PyTorch's nn.ReLU, nn.GELU, ...), for Sequential and
layer trees; each calls the function of the same name in dezero.functions."""
import dezero.functions as F
from dezero.layers.base import Layer


class _Activation(Layer):
    """A parameter-free layer applying one function of dezero.functions with fixed options."""
    _fn = None

    def __init__(self, **options):
        super().__init__()
        self.options = options

    def forward(self, x):
        return type(self)._fn(x, **self.options)


class ReLU(_Activation):
    """max(x, 0) (F.relu)."""
    _fn = staticmethod(F.relu)


class Sigmoid(_Activation):
    """1 / (1 + exp(-x)) (F.sigmoid)."""
    _fn = staticmethod(F.sigmoid)


class Tanh(_Activation):
    """tanh(x) (F.tanh)."""
    _fn = staticmethod(F.tanh)


class GELU(_Activation):
    """x * Phi(x) (F.gelu); approximate='none' (exact erf, PyTorch's default) or 'tanh'."""
    _fn = staticmethod(F.gelu)

    def __init__(self, approximate='none'):
        if approximate not in ('none', 'tanh'):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}.")
        super().__init__(approximate=approximate)


class ELU(_Activation):
    """x where x > 0, alpha * (exp(x) - 1) elsewhere (F.elu)."""
    _fn = staticmethod(F.elu)

    def __init__(self, alpha=1.0):
        super().__init__(alpha=alpha)


class SiLU(_Activation):
    """x * sigmoid(x) (F.silu), also called swish."""
    _fn = staticmethod(F.silu)


class Softplus(_Activation):
    """log(1 + exp(beta x)) / beta (F.softplus)."""
    _fn = staticmethod(F.softplus)

    def __init__(self, beta=1.0):
        super().__init__(beta=beta)


class LeakyReLU(_Activation):
    """x where x > 0, slope * x elsewhere (F.leaky_relu; the book's default slope 0.2, PyTorch's
    negative_slope is 0.01)."""
    _fn = staticmethod(F.leaky_relu)

    def __init__(self, slope=0.2):
        super().__init__(slope=slope)


class Hardtanh(_Activation):
    """x clipped into [min_val, max_val] (F.hardtanh)."""
    _fn = staticmethod(F.hardtanh)

    def __init__(self, min_val=-1.0, max_val=1.0):
        super().__init__(min_val=min_val, max_val=max_val)


class Softmax(_Activation):
    """softmax along `axis` (F.softmax; axis 1 by default as in the book, PyTorch users often
    want axis=-1)."""
    _fn = staticmethod(F.softmax)

    def __init__(self, axis=1):
        super().__init__(axis=axis)


class LogSoftmax(_Activation):
    """log(softmax(x)) along `axis` (F.log_softmax)."""
    _fn = staticmethod(F.log_softmax)

    def __init__(self, axis=1):
        super().__init__(axis=axis)


class Identity(Layer):
    """Returns its input unchanged (a placeholder in layer trees)."""

    def forward(self, x):
        return x
