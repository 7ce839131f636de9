"""The book's module name for the convolution functions: re-exports dezero.functions.conv,
dezero.functions.pooling and the array kernels of dezero.functions._im2col."""
from dezero.functions._im2col import col2im_array, im2col_array
from dezero.functions.conv import (
    Col2im, Conv2d, Conv2DGradW, Deconv2d, Im2col, col2im, conv2d, conv2d_simple, deconv2d,
    im2col)
from dezero.functions.pooling import (
    AveragePooling2D, AveragePooling2DGrad, Pooling2D, Pooling2DGrad, Pooling2DWithIndexes,
    average_pooling, pooling, pooling_simple)
from dezero.utils_array import get_conv_outsize, get_deconv_outsize, pair

# The book's class names for the pooling Functions.
Pooling = Pooling2D
AveragePooling = AveragePooling2D
AveragePoolingGrad = AveragePooling2DGrad
