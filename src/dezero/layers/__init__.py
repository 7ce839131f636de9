"""dezero.layers (imported as L): Layer and the layers built on it."""
from dezero.layers.base import Layer
from dezero.layers.containers import LayerDict, LayerList
from dezero.layers.linear import EmbedID, Embedding, Linear
from dezero.layers.conv import Conv2d, Deconv2d
from dezero.layers.normalization import BatchNorm, Dropout, LayerNorm
from dezero.layers.activation import (
    ELU, GELU, Hardtanh, Identity, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Softplus,
    Tanh)
from dezero.layers.pooling import AvgPool2d, Flatten, MaxPool2d
from dezero.layers.attention import MultiHeadAttention, TransformerEncoderLayer
from dezero.layers.rnn import GRU, LSTM, RNN
