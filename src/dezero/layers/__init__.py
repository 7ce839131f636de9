"""dezero.layers (imported as L): Layer and the layers built on it."""
from dezero.layers.base import Layer  # noqa: F401
from dezero.layers.containers import LayerDict, LayerList  # noqa: F401
from dezero.layers.linear import EmbedID, Embedding, Linear  # noqa: F401
from dezero.layers.conv import Conv2d, Deconv2d  # noqa: F401
from dezero.layers.normalization import BatchNorm, Dropout, LayerNorm  # noqa: F401
from dezero.layers.activation import (  # noqa: F401
    ELU, GELU, Hardtanh, Identity, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Softplus,
    Tanh)
from dezero.layers.pooling import AvgPool2d, Flatten, MaxPool2d  # noqa: F401
from dezero.layers.attention import MultiHeadAttention, TransformerEncoderLayer  # noqa: F401
from dezero.layers.rnn import GRU, LSTM, RNN  # noqa: F401
