"""The data sets `python -m dezero train` knows, as (train, test) Datasets ready for a model."""
import numpy as np

from dezero import datasets
from dezero.datasets import Digits
from dezero.transforms import Compose, Flatten, Normalize, ToFloat

DATASETS = ('spiral', 'digits', 'mnist', 'fashion-mnist', 'cifar10')
IMAGE_DATASETS = DATASETS[1:]


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
