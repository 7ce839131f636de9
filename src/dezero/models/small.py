"""SmallCNN: the small convolutional network of `python -m dezero train --model cnn`."""
import dezero.functions as F
import dezero.layers as L
from dezero.models.base import MLP, Model


class SmallCNN(Model):
    """Two 3x3 conv + ReLU + 2x2 max-pool blocks (16 and 32 channels), then an MLP head.

    Input (N, C, H, W) with H, W >= 4; output (N, n_classes) logits.
    """

    def __init__(self, hidden, n_classes):
        super().__init__()
        self.conv1 = L.Conv2d(16, 3, pad=1)
        self.conv2 = L.Conv2d(32, 3, pad=1)
        self.head = MLP(tuple(hidden) + (n_classes,), activation=F.relu)

    def forward(self, x):
        x = F.pooling(F.relu(self.conv1(x)), 2, stride=2)
        x = F.pooling(F.relu(self.conv2(x)), 2, stride=2)
        return self.head(F.flatten(x))
