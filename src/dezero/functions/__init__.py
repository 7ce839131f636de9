"""dezero.functions (imported as F): every differentiable operation, one family per module.

Each family module adds its own import block below; keep the blocks separate.
"""
# --- arithmetic ---
from dezero.functions.arithmetic import (
    add, div, mul, neg, pow, rdiv, rsub, sub)
# --- math ---
from dezero.functions.math import (
    Abs, Cos, Erf, Exp, Log, Sin, Sqrt, Square, Tanh, abs, cos, erf, exp, log, sin, sqrt, square,
    tanh)
# --- shape ---
from dezero.functions.shape import (
    BroadcastTo, Concat, GetItem, GetItemGrad, Reshape, Split, SumTo, Transpose, Where,
    broadcast_to, concat, expand_dims, flatten, get_item, reshape, split, squeeze, stack,
    sum_to, transpose, where)
# --- reduce ---
from dezero.functions.reduce import (
    Average, Clip, LogSumExp, Max, Min, Norm, Sum, average, clip, logsumexp, max, mean, min, norm,
    std, sum, var)
# --- linalg ---
from dezero.functions.linalg import (
    Linear, MatMul, linear, linear_simple, matmul)
# --- activation ---
from dezero.functions.activation import (
    ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, argmax, argmin, elu,
    gelu, hardtanh, leaky_relu, log_softmax, relu, sigmoid, sigmoid_simple, silu, softmax,
    softmax_simple, softplus)
# --- loss ---
from dezero.functions.loss import (
    BinaryCrossEntropy, MeanSquaredError, SigmoidCrossEntropy, SoftmaxCrossEntropy, accuracy,
    binary_cross_entropy, huber_loss, kl_div, mean_squared_error, mean_squared_error_simple,
    nll_loss, sigmoid_cross_entropy, softmax_cross_entropy, softmax_cross_entropy_simple)
# --- normalization ---
from dezero.functions.normalization import (
    BatchNorm, Dropout, LayerNorm, batch_nrom, batch_norm, dropout, layer_norm)
from dezero.functions.embed import EmbedID, EmbedIDGrad, embed_id
# --- recurrent ---
from dezero.functions.recurrent import LSTMCell, LSTMGates, lstm_cell, lstm_gates
# --- attention ---
from dezero.functions.attention import causal_mask, scaled_dot_product_attention
# --- conv ---
from dezero.functions._im2col import col2im_array, im2col_array
from dezero.functions.conv import (
    Col2im, Conv2d, Conv2DGradW, Deconv2d, Im2col, col2im, conv2d, conv2d_simple, deconv2d,
    im2col)
# --- pooling ---
from dezero.functions.pooling import (
    AveragePooling2D, AveragePooling2DGrad, Pooling2D, Pooling2DGrad, Pooling2DWithIndexes,
    average_pooling, pooling, pooling_simple)
