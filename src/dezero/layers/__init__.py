"""dezero.layers (imported as L): Layer and the layers built on it."""
from dezero.layers.base import Layer  # noqa: F401
from dezero.layers.containers import LayerDict, LayerList  # noqa: F401
from dezero.layers.linear import EmbedID, Linear  # noqa: F401
from dezero.layers.conv import Conv2d, Deconv2d  # noqa: F401
from dezero.layers.normalization import BatchNorm  # noqa: F401
from dezero.layers.rnn import GRU, LSTM, RNN  # noqa: F401
