"""VGG16 (Simonyan & Zisserman, 2014) with the book's layer names and pretrained weights."""
import numpy as np

import dezero.functions as F
import dezero.layers as L
from dezero.models.base import Model

# ImageNet channel means in BGR order, the preprocessing the pretrained weights expect.
_BGR_MEAN = (103.939, 116.779, 123.68)


class VGG16(Model):
    """VGG16 for 224x224 BGR images (N, 3, 224, 224) -> (N, 1000) class scores.

    Thirteen 3x3 convolutions (conv1_1 ... conv5_3) in five blocks, each block ending in a
    2x2 max pooling, then fc6 and fc7 (4096, ReLU and dropout) and fc8 (1000). With
    pretrained=True the book's ImageNet weights are fetched with dezero.utils.get_file
    (cached in ~/.dezero; offline this raises the downloader's DownloadError).
    """
    WEIGHTS_PATH = 'https://github.com/koki0702/dezero-models/releases/download/v0.1/vgg16.npz'

    def __init__(self, pretrained=False):
        super().__init__()
        widths = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]
        self.blocks = []
        # Weights are created lazily on the first call (or straight from the checkpoint).
        for b, (ch, n) in enumerate(widths, 1):
            names = []
            for i in range(1, n + 1):
                name = f'conv{b}_{i}'
                setattr(self, name, L.Conv2d(ch, 3, 1, 1))
                names.append(name)
            self.blocks.append(names)
        self.fc6 = L.Linear(4096)
        self.fc7 = L.Linear(4096)
        self.fc8 = L.Linear(1000)
        if pretrained:
            from dezero.utils import get_file
            self.load_weights(get_file(VGG16.WEIGHTS_PATH))

    def forward(self, x):
        for names in self.blocks:
            for name in names:
                x = F.relu(getattr(self, name)(x))
            x = F.pooling(x, 2, 2)
        x = F.reshape(x, (x.shape[0], -1))
        x = F.dropout(F.relu(self.fc6(x)))
        x = F.dropout(F.relu(self.fc7(x)))
        return self.fc8(x)

    @staticmethod
    def preprocess(image, size=(224, 224), dtype=np.float32):
        """PIL image -> (3, H, W) array: RGB, resized to size (None keeps it), channels
        reordered to BGR, ImageNet mean subtracted, channels first."""
        image = image.convert('RGB')
        if size:
            image = image.resize(tuple(size))
        arr = np.asarray(image, dtype=dtype)[:, :, ::-1]
        arr = arr - np.array(_BGR_MEAN, dtype=dtype)
        return np.ascontiguousarray(arr.transpose(2, 0, 1))
