"""The book's module name for the convolution functions: re-exports dezero.functions.conv."""
from dezero.functions.conv import (  # noqa: F401
    AveragePooling2D, AveragePooling2DGrad, Col2im, Conv2d, Conv2DGradW, Deconv2d, Im2col,
    Pooling2D, Pooling2DGrad, Pooling2DWithIndexes, average_pooling, col2im, col2im_array,
    conv2d, conv2d_simple, deconv2d, im2col, im2col_array, pooling, pooling_simple)
from dezero.utils_array import get_conv_outsize, get_deconv_outsize, pair  # noqa: F401

# The book's class names for the pooling Functions.
Pooling = Pooling2D
AveragePooling = AveragePooling2D
AveragePoolingGrad = AveragePooling2DGrad
