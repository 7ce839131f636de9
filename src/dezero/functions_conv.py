"""COMPATIBILITY MODULE: the book's `dezero.functions_conv` (steps 55-58).

It defines nothing: it re-exports dezero.functions.conv, dezero.functions.pooling, the
array kernels of dezero.functions._im2col and the size helpers of dezero.utils_array under
the names the book imports from here, plus the book's class names for pooling below.
New code imports from dezero.functions.
"""
from dezero.functions._im2col import col2im_array, im2col_array
from dezero.functions.conv import (
    Col2im, Conv2d, Conv2DGradW, Deconv2d, Im2col, col2im, conv2d, conv2d_simple, deconv2d,
    im2col)
from dezero.functions.pooling import (
    AveragePooling2D, AveragePooling2DGrad, Pooling2D, Pooling2DGrad, Pooling2DWithIndexes,
    average_pooling, pooling, pooling_simple)
from dezero.utils_array import get_conv_outsize, get_deconv_outsize, pair

# --- compatibility: the book's class names for the pooling Functions ---
Pooling = Pooling2D  # keeps the book's functions_conv.Pooling (max pooling)
AveragePooling = AveragePooling2D  # keeps the book's functions_conv.AveragePooling
AveragePoolingGrad = AveragePooling2DGrad  # keeps the book's functions_conv.AveragePoolingGrad
