"""SqueezeNet 1.1 (Iandola et al., 2016): Fire modules, few parameters."""
import dezero.functions as F
import dezero.layers as L
from dezero.layers.base import Layer
from dezero.models.base import Model
from dezero.models.resnet import global_average_pooling_2d


class Fire(Layer):
    """Fire module: a 1x1 squeeze convolution, then 1x1 and 3x3 expand convolutions whose
    outputs are concatenated along the channels (e1 + e3 channels out)."""

    def __init__(self, in_channels, squeeze, e1, e3):
        super().__init__()
        self.squeeze = L.Conv2d(squeeze, 1, in_channels=in_channels)
        self.expand1 = L.Conv2d(e1, 1, in_channels=squeeze)
        self.expand3 = L.Conv2d(e3, 3, pad=1, in_channels=squeeze)

    def forward(self, x):
        h = F.relu(self.squeeze(x))
        return F.concat([F.relu(self.expand1(h)), F.relu(self.expand3(h))], axis=1)


class SqueezeNet(Model):
    """SqueezeNet 1.1 for (N, 3, H, W) images (H, W >= 33) -> (N, n_classes) scores.

    conv1 (3x3, stride 2, 64) and three 3x3/2 max poolings around eight Fire modules, then
    dropout, a 1x1 convolution to n_classes, ReLU and global average pooling. No pretrained
    weights are published for dezero: train it, or load your own with load_weights(path).
    """

    def __init__(self, pretrained=False, n_classes=1000):
        super().__init__()
        if pretrained:
            raise ValueError("SqueezeNet: no pretrained weights are published for dezero; "
                             "use SqueezeNet() and load your own with load_weights(path).")
        self.conv1 = L.Conv2d(64, 3, 2, 0, in_channels=3)
        spec = [(64, 16, 64, 64), (128, 16, 64, 64), (128, 32, 128, 128), (256, 32, 128, 128),
                (256, 48, 192, 192), (384, 48, 192, 192), (384, 64, 256, 256),
                (512, 64, 256, 256)]
        for i, (cin, s, e1, e3) in enumerate(spec, 2):
            setattr(self, f'fire{i}', Fire(cin, s, e1, e3))
        self.conv10 = L.Conv2d(n_classes, 1, in_channels=512)

    def forward(self, x):
        x = F.pooling(F.relu(self.conv1(x)), 3, 2)
        x = F.pooling(self.fire3(self.fire2(x)), 3, 2)
        x = F.pooling(self.fire5(self.fire4(x)), 3, 2)
        x = self.fire9(self.fire8(self.fire7(self.fire6(x))))
        x = F.relu(self.conv10(F.dropout(x, 0.5)))
        return global_average_pooling_2d(x)
