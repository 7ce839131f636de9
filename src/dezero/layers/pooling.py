"""Pooling and reshaping layers: MaxPool2d, AvgPool2d (NCHW) and Flatten."""
import dezero.functions as F
from dezero.layers import _validate
from dezero.layers.base import Layer


class _Pool2d(Layer):
    _fn = None

    def __init__(self, kernel_size, stride=None, pad=0):
        super().__init__()
        who = type(self).__name__
        _validate.check_pair(who, 'kernel_size', kernel_size)
        if stride is not None:
            _validate.check_pair(who, 'stride', stride)
        _validate.check_pair(who, 'pad', pad, minimum=0)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.pad = pad

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"{type(self).__name__}.forward: expected a 4-D input (N, C, H, W), "
                             f"got shape {x.shape}.")
        return type(self)._fn(x, self.kernel_size, self.stride, self.pad)


class MaxPool2d(_Pool2d):
    """Max pooling over (N, C, H, W) windows (F.pooling).

    Args:
        kernel_size: an int or an (h, w) pair.
        stride: defaults to kernel_size (non-overlapping windows, as in PyTorch).
        pad: an int or a pair.
    """
    _fn = staticmethod(F.pooling)


class AvgPool2d(_Pool2d):
    """Average pooling over (N, C, H, W) windows (F.average_pooling); arguments as MaxPool2d."""
    _fn = staticmethod(F.average_pooling)


class Flatten(Layer):
    """Reshape (N, d1, d2, ...) to (N, d1 * d2 * ...) (PyTorch's nn.Flatten with start_dim=1).

    Args:
        start_axis: the first axis merged; axes before it are kept.
    """

    def __init__(self, start_axis=1):
        super().__init__()
        _validate.check_size('Flatten', 'start_axis', start_axis, minimum=0)
        self.start_axis = start_axis

    def forward(self, x):
        a = self.start_axis
        if x.ndim < a:
            raise ValueError(f"Flatten.forward: start_axis {a} is beyond an input of shape "
                             f"{x.shape}.")
        return F.reshape(x, tuple(x.shape[:a]) + (-1,))
