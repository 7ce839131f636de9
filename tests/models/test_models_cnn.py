"""VGG16, ResNet and SqueezeNet build and run; a small CNN learns the 8x8 digits."""
import urllib.error
import urllib.request

import numpy as np
import pytest

import dezero
import dezero.functions as F
import dezero.layers as L
from dezero import optimizers
from dezero.download import DownloadError
from dezero.models import VGG16, Model, ResNet, ResNet50, ResNet101, ResNet152, SqueezeNet


def _n_params(model):
    return sum(p.data.size for p in model.params())


@pytest.mark.slow
def test_vgg16_maps_a_224_image_to_1000_float32_scores():
    np.random.seed(0)
    model = VGG16()
    x = np.random.randn(1, 3, 224, 224).astype(np.float32)
    with dezero.test_mode(), dezero.no_grad():
        y = model(x)
    assert y.shape == (1, 1000) and y.dtype == np.float32
    assert np.isfinite(y.data).all()
    assert _n_params(model) == 138_357_544  # the published VGG16 size
    assert model.conv1_1.W.shape == (64, 3, 3, 3) and model.fc6.W.shape == (25088, 4096)


def test_vgg16_preprocess_makes_bgr_mean_subtracted_chw():
    Image = pytest.importorskip('PIL.Image')
    img = Image.new('RGB', (30, 20), color=(200, 100, 50))
    arr = VGG16.preprocess(img)
    assert arr.shape == (3, 224, 224) and arr.dtype == np.float32
    np.testing.assert_allclose(arr[:, 0, 0], [50 - 103.939, 100 - 116.779, 200 - 123.68],
                               rtol=1e-6)
    arr = VGG16.preprocess(img.convert('L'), size=(8, 6), dtype=np.float64)
    assert arr.shape == (3, 6, 8) and arr.dtype == np.float64


def test_pretrained_weights_fail_offline_with_the_downloaders_error(monkeypatch, tmp_path):
    monkeypatch.setenv('DEZERO_CACHE_DIR', str(tmp_path))

    def offline(*args, **kwargs):
        raise urllib.error.URLError('network is unreachable')
    monkeypatch.setattr(urllib.request, 'urlopen', offline)
    with pytest.raises(DownloadError, match='vgg16.npz'):
        VGG16(pretrained=True)
    with pytest.raises(DownloadError, match='resnet50.npz'):
        ResNet50(pretrained=True)


def test_resnet50_runs_on_a_small_input_and_backpropagates():
    np.random.seed(0)
    model = ResNet50()
    x = np.random.randn(2, 3, 64, 64).astype(np.float32)
    y = model(x)
    # torchvision's 25,557,032 plus the bias of conv1 that the book's ResNet keeps
    # (BatchNorm's gamma and beta exist once the first batch went through)
    assert _n_params(model) == 25_557_032 + 64
    assert y.shape == (2, 1000) and y.dtype == np.float32
    F.sum(y).backward()
    assert model.conv1.W.grad is not None and model.conv1.W.grad.dtype == np.float32
    assert model.res5.b2.conv3.W.grad.shape == (2048, 512, 1, 1)


def test_resnet_variants_have_the_standard_depths():
    assert len(ResNet101().res4._names) == 23
    assert len(ResNet152().res3._names) == 8
    assert len(ResNet(50).res4._names) == 6
    with pytest.raises(ValueError, match=r"ResNet: n_layers must be one of \[50, 101, 152\], "
                                         r"got 34"):
        ResNet(34)


def test_resnet50_pretrained_loads_what_get_file_returns(monkeypatch, tmp_path):
    np.random.seed(1)
    source = ResNet50()
    with dezero.no_grad():
        source(np.zeros((1, 3, 32, 32), np.float32))  # builds BatchNorm's arrays
    path = source.save_weights(tmp_path / 'resnet50.npz')
    seen = []

    def fake_get_file(url, file_name=None, **kw):
        seen.append(url)
        return path
    monkeypatch.setattr(dezero.utils, 'get_file', fake_get_file)
    model = ResNet50(pretrained=True)
    assert seen == [ResNet.WEIGHTS_PATH.format(50)]
    np.testing.assert_array_equal(model.res3.a.conv2.W.data, source.res3.a.conv2.W.data)
    np.testing.assert_array_equal(model.res3.a.bn2.avg_var.data, source.res3.a.bn2.avg_var.data)


def test_squeezenet_runs_and_has_the_published_size():
    np.random.seed(0)
    model = SqueezeNet()
    assert _n_params(model) == 1_235_496  # SqueezeNet 1.1
    x = np.random.randn(2, 3, 64, 64).astype(np.float32)
    y = model(x)
    assert y.shape == (2, 1000) and y.dtype == np.float32
    F.sum(y).backward()
    assert model.fire9.expand3.W.grad.shape == (256, 64, 3, 3)
    assert SqueezeNet(n_classes=10)(x).shape == (2, 10)
    with pytest.raises(ValueError, match='SqueezeNet: no pretrained weights'):
        SqueezeNet(pretrained=True)


class _DigitsCNN(Model):
    def __init__(self):
        super().__init__()
        self.c1 = L.Conv2d(16, 3, pad=1)
        self.c2 = L.Conv2d(32, 3, pad=1)
        self.fc = L.Linear(10)

    def forward(self, x):
        x = F.pooling(F.relu(self.c1(x)), 2, 2)
        x = F.pooling(F.relu(self.c2(x)), 2, 2)
        return self.fc(F.reshape(x, (x.shape[0], -1)))


def test_small_cnn_learns_sklearn_digits():
    datasets = pytest.importorskip('sklearn.datasets')
    d = datasets.load_digits()
    X = (d.images / 16.0).astype(np.float32)[:, None]
    t = d.target
    perm = np.random.RandomState(0).permutation(len(X))
    train, test = perm[:1400], perm[1400:]
    np.random.seed(0)
    model = _DigitsCNN()
    opt = optimizers.Adam(0.005).setup(model)
    for _epoch in range(10):
        order = np.random.permutation(train)
        for i in range(0, len(order), 50):
            idx = order[i:i + 50]
            loss = F.softmax_cross_entropy(model(X[idx]), t[idx])
            model.cleargrads()
            loss.backward()
            opt.update()
    with dezero.no_grad(), dezero.test_mode():
        acc = float(F.accuracy(model(X[test]), t[test]).data)
    assert acc >= 0.97
