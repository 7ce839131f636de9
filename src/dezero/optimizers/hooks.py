"""Optimizer hooks: functions of the parameter list run before each update."""
import math

from dezero.core import Parameter, Variable


class WeightDecay:
    """Hook adding rate * param to each gradient (L2 regularisation)."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, params):
        rate = float(self.rate)
        for param in params:
            # A new grad Variable: one grad object may be shared by several params.
            param.grad = Variable(param.grad.data + rate * param.data)


class ClipGrad:
    """Hook scaling all gradients by max_norm / total_norm when their global L2 norm exceeds it."""

    def __init__(self, max_norm):
        self.max_norm = max_norm

    def __call__(self, params):
        total = 0.0
        for param in params:
            g = param.grad.data
            total = total + (g * g).sum()  # stays on the device: one read below, not one per param
        total_norm = math.sqrt(float(total))
        rate = self.max_norm / (total_norm + 1e-6)
        if rate < 1:
            for param in params:
                param.grad = Variable(param.grad.data * rate)


class FreezeParam:
    """Hook that drops the gradients of the given Layers or Parameters so they are not updated."""

    def __init__(self, *layers):
        self.freeze_params = []
        for layer in layers:
            if isinstance(layer, Parameter):
                self.freeze_params.append(layer)
            elif hasattr(layer, 'params'):
                self.freeze_params.extend(layer.params())
            else:
                raise TypeError(f"FreezeParam: expected Layers or Parameters, got "
                                f"{type(layer).__name__}.")

    def __call__(self, params):
        for p in self.freeze_params:
            p.grad = None
