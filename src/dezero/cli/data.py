"""The data sets `python -m dezero train` knows, as (train, test) Datasets ready for a model."""
import numpy as np

from dezero import datasets
from dezero.transforms import Compose, Flatten, Normalize, ToFloat

DATASETS = ('spiral', 'digits', 'mnist', 'fashion-mnist', 'cifar10')
IMAGE_DATASETS = DATASETS[1:]


class MissingDependencyError(RuntimeError):
    """An optional package the chosen option needs is not installed."""


class Digits(datasets.Dataset):
    """scikit-learn's bundled 8x8 digits (1797 images, 16 grey levels), split 80/20 by a fixed
    permutation; data (N, 1, 8, 8) float32 in [0, 1], label (N,) int64."""

    def prepare(self):
        try:
            from sklearn.datasets import load_digits
        except ImportError as e:
            raise MissingDependencyError(
                "the digits data set comes with scikit-learn, which is not installed: "
                "pip install 'dezero[digits]' (or pip install scikit-learn)") from e
        bunch = load_digits()
        x = (bunch.images / 16.0).astype(np.float32)[:, None]
        t = bunch.target.astype(np.int64)
        order = np.random.RandomState(0).permutation(len(x))
        cut = int(len(x) * 0.8)
        idx = order[:cut] if self.train else order[cut:]
        self.data, self.label = x[idx], t[idx]


def _scale(flat, std=255.0, mean=0.0):
    steps = [ToFloat(), Normalize(mean, std)]
    return Compose(([Flatten()] if flat else []) + steps)


def load(name, model='mlp'):
    """(train set, test set, input shape of one example, number of classes) for a data set name.

    Images keep their (C, H, W) shape for model 'cnn' and are flattened for 'mlp'.
    """
    flat = model == 'mlp'
    if name == 'spiral':
        train, test = datasets.Spiral(train=True), datasets.Spiral(train=False)
    elif name == 'digits':
        transform = Flatten() if flat else None
        train, test = Digits(True, transform), Digits(False, transform)
    elif name in ('mnist', 'fashion-mnist'):
        cls = datasets.MNIST if name == 'mnist' else datasets.FashionMNIST
        train, test = cls(True, _scale(flat)), cls(False, _scale(flat))
    elif name == 'cifar10':
        transform = _scale(flat, 127.5, 127.5)
        train, test = datasets.CIFAR10(True, transform), datasets.CIFAR10(False, transform)
    else:
        raise ValueError(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")
    x0, _ = train[0]
    n_classes = int(max(train.label.max(), test.label.max())) + 1
    return train, test, tuple(int(s) for s in np.shape(x0)), n_classes
