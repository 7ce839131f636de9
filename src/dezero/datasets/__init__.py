"""dezero.datasets: the Dataset base class, the book's toy sets and the downloadable ones.

One module per concern: base (Dataset, ArrayDataset), generated (Spiral, SinCurve),
formats (IDX and CIFAR parsing, safe unpickling), vision (MNIST ... CIFAR100, Digits,
ImageNet labels), text (Shakespear).
"""
from dezero.datasets.base import ArrayDataset, Dataset, MissingDependencyError
from dezero.datasets.formats import read_idx
from dezero.datasets.generated import SinCurve, Spiral, get_spiral
from dezero.datasets.text import Shakespear
from dezero.datasets.vision import CIFAR10, CIFAR100, MNIST, Digits, FashionMNIST, ImageNet

__all__ = ['Dataset', 'ArrayDataset', 'get_spiral', 'Spiral', 'SinCurve', 'MNIST',
           'FashionMNIST', 'CIFAR10', 'CIFAR100', 'Shakespear', 'ImageNet', 'read_idx',
           'Digits', 'MissingDependencyError']
