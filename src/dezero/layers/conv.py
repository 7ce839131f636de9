"""Conv2d and Deconv2d layers (NCHW)."""
import numpy as np

import dezero.functions as F
from dezero import cuda
from dezero.core import Parameter
from dezero.layers import _validate
from dezero.layers.base import Layer
from dezero.utils_array import pair


class _ConvBase(Layer):
    # W's axes: (OC, C, KH, KW) for Conv2d, (C, OC, KH, KW) for Deconv2d.
    _name = 'Conv2d'
    _in_axis = 1

    def __init__(self, out_channels, kernel_size, stride=1, pad=0, nobias=False,
                 dtype=np.float32, in_channels=None):
        super().__init__()
        self._check_args(out_channels, kernel_size, stride, pad, nobias, dtype, in_channels)
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

    def _hint(self):
        return (f" The book's signature is {self._name}(out_channels, kernel_size, stride=1, "
                f"pad=0, nobias=False, dtype=np.float32, in_channels=None): the input channels "
                f"are the keyword in_channels (or inferred on the first call), so PyTorch's "
                f"nn.{self._name}(1, 16, 3) is L.{self._name}(16, 3, in_channels=1).")

    def _check_args(self, out_channels, kernel_size, stride, pad, nobias, dtype, in_channels):
        who, hint = self._name, self._hint()
        _validate.check_size(who, 'out_channels', out_channels, hint)
        _validate.check_pair(who, 'kernel_size', kernel_size, hint)
        _validate.check_pair(who, 'stride', stride, hint)
        _validate.check_pair(who, 'pad', pad, hint, minimum=0)
        _validate.check_bool(who, 'nobias', nobias, hint)
        _validate.check_float_dtype(who, dtype, hint)
        _validate.check_size(who, 'in_channels', in_channels, hint, allow_none=True)
        # PyTorch's order Conv2d(in, out, k) read as the book's (out, k, stride): a few
        # output channels, a kernel as large as a channel count, a small stride. When
        # in_channels is given the arguments are taken as meant.
        k, s = max(pair(kernel_size)), max(pair(stride))
        if in_channels is None and out_channels <= 4 and k >= 8 and 1 < s < k:
            raise TypeError(
                f"{who}: {who}({out_channels}, {kernel_size}, {stride}) reads as "
                f"out_channels={out_channels}, a {kernel_size}x{kernel_size} kernel and "
                f"stride {stride}, which looks like PyTorch's order (in_channels, "
                f"out_channels, kernel_size).{hint} If you do mean that layer, pass "
                f"in_channels=... as well.")

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
            xp = cuda.get_array_module(x)
            self._init_W(xp)
            self._follow_array_module(xp)
        elif x.shape[1] != self.W.data.shape[self._in_axis]:
            raise ValueError(f"{self._name}.forward: input has {x.shape[1]} channels (shape "
                             f"{x.shape}) but W expects {self.W.data.shape[self._in_axis]} "
                             f"(W shape {self.W.data.shape}); check in_channels.")
        if self._name == 'Conv2d':
            (kh, kw), (ph, pw) = self.kernel_size, pair(self.pad)
            if kh > x.shape[2] + 2 * ph or kw > x.shape[3] + 2 * pw:
                raise ValueError(
                    f"Conv2d.forward: the {kh}x{kw} kernel is larger than the padded input "
                    f"(input shape {x.shape}, pad {self.pad}).{self._hint()}")

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
