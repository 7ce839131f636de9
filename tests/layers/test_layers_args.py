"""Constructor argument checks of Linear, Conv2d and Deconv2d (PyTorch's order is a TypeError)."""
import numpy as np
import pytest

import dezero.layers as L

BAD = [
    # (constructor, expected message fragment)
    (lambda: L.Linear(784, 10),
     r"Linear: nobias must be a bool, got 10.*L\.Linear\(10, in_size=784\)"),
    (lambda: L.Linear(10, 1), r"nobias must be a bool"),
    (lambda: L.Linear(10, None), r"nobias must be a bool"),
    (lambda: L.Linear(0), r"out_size must be a positive int"),
    (lambda: L.Linear(2.5), r"out_size must be a positive int"),
    (lambda: L.Linear(10, in_size=3.0), r"in_size must be a positive int or None"),
    (lambda: L.Linear(10, False, np.int32), r"dtype must be a floating dtype"),
    (lambda: L.Conv2d(1, 16, 3), r"Conv2d\(1, 16, 3\) reads as out_channels=1.*"
                                 r"L\.Conv2d\(16, 3, in_channels=1\)"),
    (lambda: L.Conv2d(3, 32, 5), r"looks like PyTorch's order"),
    (lambda: L.Conv2d(16, 3, nobias=1), r"Conv2d: nobias must be a bool"),
    (lambda: L.Conv2d(16, 3, 1, 1, 1), r"nobias must be a bool"),
    (lambda: L.Conv2d(16, 0), r"kernel_size must be an int >= 1"),
    (lambda: L.Conv2d(16, (3, 3, 3)), r"kernel_size must be an int >= 1 or a pair"),
    (lambda: L.Conv2d(16, 3, stride=0), r"stride must be an int >= 1"),
    (lambda: L.Conv2d(16, 3, pad=-1), r"pad must be an int >= 0"),
    (lambda: L.Conv2d(16, 3, in_channels=0), r"in_channels must be a positive int or None"),
    (lambda: L.Deconv2d(8, 3, nobias='no'), r"Deconv2d: nobias must be a bool.*Deconv2d\("),
]


@pytest.mark.parametrize('make,message', BAD)
def test_bad_constructor_arguments_are_type_errors(make, message):
    with pytest.raises(TypeError, match=message):
        make()


@pytest.mark.parametrize('make', [
    lambda: L.Linear(10, in_size=784),
    lambda: L.Linear(10, True),
    lambda: L.Linear(10, np.bool_(False), np.float64),
    lambda: L.Conv2d(16, 3, in_channels=1),
    lambda: L.Conv2d(1, 16, 3, in_channels=4),  # in_channels given: taken as meant
    lambda: L.Conv2d(64, 7, 2, 3, in_channels=3),
    lambda: L.Conv2d(96, 11, 4),
    lambda: L.Conv2d(4, (3, 2), stride=1, pad=1),
    lambda: L.Conv2d(np.int64(8), np.int32(3)),
    lambda: L.Deconv2d(3, 4, stride=2, pad=1),
])
def test_book_style_constructors_still_work(make):
    make()


def test_conv2d_kernel_larger_than_input_names_the_book_signature():
    layer = L.Conv2d(16, 32, 3)  # PyTorch's Conv2d(16, 32, 3) misread, not caught up front
    with pytest.raises(ValueError, match=r"32x32 kernel is larger than the padded input.*"
                                         r"in_channels=None"):
        layer(np.zeros((1, 16, 28, 28), np.float32))
