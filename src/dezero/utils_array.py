"""Array helpers shared by Functions (raw arrays in, raw arrays out)."""
import numpy as np


def sum_to(x, shape):
    """Sum array x down to shape, undoing NumPy broadcasting.

    Raises ValueError when x's shape cannot have been broadcast from shape.
    """
    shape = tuple(shape)
    ndim = len(shape)
    lead = x.ndim - ndim
    if lead < 0 or any(s != 1 and s != xs for s, xs in zip(shape, x.shape[lead:])):
        raise ValueError(f"sum_to: cannot sum an array of shape {x.shape} to shape {shape}; "
                         "the target must be a shape that broadcasts to it.")
    lead_axes = tuple(range(lead))
    axes = tuple(i + lead for i, s in enumerate(shape) if s == 1 and x.shape[i + lead] != 1)
    y = x.sum(lead_axes + axes, keepdims=True)
    if lead > 0:
        y = y.squeeze(lead_axes)
    return y


def reshape_sum_backward(gy, x_shape, axis, keepdims):
    """Reshape gy (the gradient of a sum over axis) so that it broadcasts to x_shape."""
    ndim = len(x_shape)
    tupled_axis = axis
    if axis is None:
        tupled_axis = None
    elif not isinstance(axis, tuple):
        tupled_axis = (axis,)

    if not (ndim == 0 or tupled_axis is None or keepdims):
        actual_axis = sorted(a if a >= 0 else a + ndim for a in tupled_axis)
        shape = list(gy.shape)
        for a in actual_axis:
            shape.insert(a, 1)
    else:
        shape = gy.shape
    return gy.reshape(shape)


def max_backward_shape(x, axis):
    """The keepdims shape of a max/min over axis of x."""
    if axis is None:
        axis = range(x.ndim)
    elif isinstance(axis, int):
        axis = (axis,)
    axis = [a if a >= 0 else a + x.ndim for a in axis]
    return [s if i not in axis else 1 for i, s in enumerate(x.shape)]


def logsumexp(x, axis=1):
    """log(sum(exp(x), axis, keepdims=True)), computed without overflow."""
    from dezero.cuda import get_array_module
    xp = get_array_module(x)
    m = x.max(axis=axis, keepdims=True)
    y = x - m
    xp.exp(y, out=y)
    s = y.sum(axis=axis, keepdims=True)
    xp.log(s, out=s)
    m += s
    return m


def pair(x):
    """(x, x) for an int, x itself for a pair; anything else is a ValueError."""
    if isinstance(x, (int, np.integer)):
        return (int(x), int(x))
    if isinstance(x, tuple) and len(x) == 2:
        return x
    if isinstance(x, list) and len(x) == 2:
        return tuple(x)
    raise ValueError(f"pair: expected an int or a pair of ints, got {x!r}.")


def get_conv_outsize(input_size, kernel_size, stride, pad):
    """Output length of a convolution along one axis."""
    return (input_size + pad * 2 - kernel_size) // stride + 1


def get_deconv_outsize(size, k, s, p):
    """Output length of a transposed convolution along one axis."""
    return s * (size - 1) + k - 2 * p
