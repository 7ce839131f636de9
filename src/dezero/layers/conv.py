"""Conv2d and Deconv2d layers (NCHW)."""
import numpy as np

from dezero import cuda
from dezero.core import Parameter
from dezero.layers.base import Layer
from dezero.utils_array import pair
import dezero.functions as F


class _ConvBase(Layer):
    # W's axes: (OC, C, KH, KW) for Conv2d, (C, OC, KH, KW) for Deconv2d.
    _name = 'Conv2d'
    _in_axis = 1

    def __init__(self, out_channels, kernel_size, stride=1, pad=0, nobias=False,
                 dtype=np.float32, in_channels=None):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = pair(kernel_size)
        self.stride = stride
        self.pad = pad
        self.dtype = dtype
        self.W = Parameter(None, name='W')
        if in_channels is not None:
            self._init_W()
        self.b = None if nobias else Parameter(np.zeros(out_channels, dtype=dtype), name='b')

    def _w_shape(self, C):
        raise NotImplementedError

    def _init_W(self, xp=np):
        C = self.in_channels
        KH, KW = self.kernel_size
        dtype = np.dtype(self.dtype)
        # The book's draw; the scale is cast to the layer's dtype so float32 stays float32.
        scale = dtype.type(np.sqrt(1 / (C * KH * KW)))
        self.W.data = xp.random.randn(*self._w_shape(C)).astype(dtype) * scale

    def _check_input(self, x):
        if x.ndim != 4:
            raise ValueError(f"{self._name}.forward: expected a 4-D input (N, C, H, W), got "
                             f"shape {x.shape}.")
        if self.W.data is None:
            self.in_channels = x.shape[1]
            self._init_W(cuda.get_array_module(x))
        elif x.shape[1] != self.W.data.shape[self._in_axis]:
            raise ValueError(f"{self._name}.forward: input has {x.shape[1]} channels (shape "
                             f"{x.shape}) but W expects {self.W.data.shape[self._in_axis]} "
                             f"(W shape {self.W.data.shape}); check in_channels.")

    def lazy_spec(self, name, known=None):
        """W may be built from a checkpoint: its in_channels axis may still be unknown."""
        if name == 'W':
            return self._w_shape(self.in_channels), self.dtype
        return None

    def _built_from_checkpoint(self, name, value):
        if name == 'W':
            self.in_channels = value.shape[self._in_axis]


class Conv2d(_ConvBase):
    """2-D convolution layer: W (OC, C, KH, KW), b (OC,).

    Args:
        out_channels: OC.
        kernel_size, stride, pad: an int or an (h, w) pair.
        nobias: leave out b.
        dtype: dtype of W and b (float32 by default).
        in_channels: C; when None, W is created on the first call from x.shape[1] (on x's
            array module) as np.random.randn(OC, C, KH, KW) * sqrt(1/(C*KH*KW)).
    """

    def _w_shape(self, C):
        return (self.out_channels, C) + self.kernel_size

    def forward(self, x):
        self._check_input(x)
        return F.conv2d(x, self.W, self.b, self.stride, self.pad)


class Deconv2d(_ConvBase):
    """2-D transposed convolution layer: W (C, OC, KH, KW), b (OC,).

    Arguments as for Conv2d; W is np.random.randn(C, OC, KH, KW) * sqrt(1/(C*KH*KW)).
    """
    _name = 'Deconv2d'
    _in_axis = 0

    def _w_shape(self, C):
        return (C, self.out_channels) + self.kernel_size

    def forward(self, x):
        self._check_input(x)
        return F.deconv2d(x, self.W, self.b, self.stride, self.pad)
