"""ResNet-50/101/152 (He et al., 2015): bottleneck blocks with batch normalization, laid
out with the book's layer names so its pretrained weights load."""
import dezero.functions as F
import dezero.layers as L
from dezero.layers.base import Layer
from dezero.models.base import Model

_BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


class ResNet(Model):
    """ResNet for (N, 3, H, W) images -> (N, 1000) scores; n_layers is 50, 101 or 152.

    conv1 (7x7, stride 2) + BatchNorm + ReLU, 3x3 max pooling (stride 2), four stages of
    bottleneck blocks (res2 ... res5: 256, 512, 1024, 2048 channels; res3-res5 halve the
    size), global average pooling and fc6 (1000). With pretrained=True the book's ImageNet
    weights are fetched with dezero.utils.get_file (offline: the downloader's DownloadError).
    """
    WEIGHTS_PATH = 'https://github.com/koki0702/dezero-models/releases/download/v0.1/resnet{}.npz'

    def __init__(self, n_layers=152, pretrained=False):
        super().__init__()
        if n_layers not in _BLOCKS:
            raise ValueError(f"ResNet: n_layers must be one of {sorted(_BLOCKS)}, got "
                             f"{n_layers!r}.")
        block = _BLOCKS[n_layers]
        self.conv1 = L.Conv2d(64, 7, 2, 3, in_channels=3)
        self.bn1 = L.BatchNorm()
        self.res2 = BuildingBlock(block[0], 64, 64, 256, 1)
        self.res3 = BuildingBlock(block[1], 256, 128, 512, 2)
        self.res4 = BuildingBlock(block[2], 512, 256, 1024, 2)
        self.res5 = BuildingBlock(block[3], 1024, 512, 2048, 2)
        self.fc6 = L.Linear(1000, in_size=2048)
        if pretrained:
            from dezero.utils import get_file
            self.load_weights(get_file(ResNet.WEIGHTS_PATH.format(n_layers)))

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.pooling(x, 3, 2)
        x = self.res5(self.res4(self.res3(self.res2(x))))
        return self.fc6(global_average_pooling_2d(x))


class ResNet152(ResNet):
    """ResNet with 152 layers."""

    def __init__(self, pretrained=False):
        super().__init__(152, pretrained)


class ResNet101(ResNet):
    """ResNet with 101 layers."""

    def __init__(self, pretrained=False):
        super().__init__(101, pretrained)


class ResNet50(ResNet):
    """ResNet with 50 layers."""

    def __init__(self, pretrained=False):
        super().__init__(50, pretrained)


def global_average_pooling_2d(x):
    """(N, C, H, W) -> (N, C): the mean over each feature map."""
    N, C, H, W = x.shape
    return F.reshape(F.average_pooling(x, (H, W), stride=1), (N, C))


class BuildingBlock(Layer):
    """One ResNet stage: a downsampling BottleneckA ('a') then n_layers-1 BottleneckB
    ('b1', 'b2', ...)."""

    def __init__(self, n_layers, in_channels, mid_channels, out_channels, stride,
                 downsample_fb=False):
        super().__init__()
        self.a = BottleneckA(in_channels, mid_channels, out_channels, stride, downsample_fb)
        self._names = ['a']
        for i in range(1, n_layers):
            name = f'b{i}'
            setattr(self, name, BottleneckB(out_channels, mid_channels))
            self._names.append(name)

    def forward(self, x):
        for name in self._names:
            x = getattr(self, name)(x)
        return x


class BottleneckA(Layer):
    """1x1 -> 3x3 -> 1x1 bottleneck with a 1x1 projection shortcut (changes size/width).

    The stride sits on the first 1x1 convolution (MSRA) or, with downsample_fb, on the 3x3
    (Facebook's variant).
    """

    def __init__(self, in_channels, mid_channels, out_channels, stride=2, downsample_fb=False):
        super().__init__()
        s1, s3 = (1, stride) if downsample_fb else (stride, 1)
        self.conv1 = L.Conv2d(mid_channels, 1, s1, 0, nobias=True, in_channels=in_channels)
        self.bn1 = L.BatchNorm()
        self.conv2 = L.Conv2d(mid_channels, 3, s3, 1, nobias=True, in_channels=mid_channels)
        self.bn2 = L.BatchNorm()
        self.conv3 = L.Conv2d(out_channels, 1, 1, 0, nobias=True, in_channels=mid_channels)
        self.bn3 = L.BatchNorm()
        self.conv4 = L.Conv2d(out_channels, 1, stride, 0, nobias=True, in_channels=in_channels)
        self.bn4 = L.BatchNorm()

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        return F.relu(h + self.bn4(self.conv4(x)))


class BottleneckB(Layer):
    """1x1 -> 3x3 -> 1x1 bottleneck with an identity shortcut."""

    def __init__(self, in_channels, mid_channels):
        super().__init__()
        self.conv1 = L.Conv2d(mid_channels, 1, 1, 0, nobias=True, in_channels=in_channels)
        self.bn1 = L.BatchNorm()
        self.conv2 = L.Conv2d(mid_channels, 3, 1, 1, nobias=True, in_channels=mid_channels)
        self.bn2 = L.BatchNorm()
        self.conv3 = L.Conv2d(in_channels, 1, 1, 0, nobias=True, in_channels=mid_channels)
        self.bn3 = L.BatchNorm()

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        return F.relu(h + x)
