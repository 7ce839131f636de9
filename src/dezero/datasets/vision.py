"""Image sets: MNIST, Fashion-MNIST, CIFAR-10/100, scikit-learn's digits, ImageNet's labels."""
import ast
import os

import numpy as np

from dezero.datasets.base import Dataset, MissingDependencyError
from dezero.datasets.formats import _cifar_arrays, _read_cifar_members, read_idx
from dezero.download import CorruptFileError, cache_dir, get_file
from dezero.serializers import load_array_cache, read_npz_headers, save_array_cache
from dezero.transforms import Compose, Flatten, Normalize, ToFloat


# ---------------------------------------------------------------------------
# MNIST and Fashion-MNIST
# ---------------------------------------------------------------------------
class MNIST(Dataset):
    """Handwritten digits: data (N, 1, 28, 28) uint8, label (N,) int64; 60000 train, 10000 test.

    The default transform flattens, casts to float32 and divides by 255 (the book's).
    Files are downloaded to the cache folder from the first mirror that answers.
    """

    mirrors = ['https://ossci-datasets.s3.amazonaws.com/mnist/',
               'https://storage.googleapis.com/cvdf-datasets/mnist/',
               'http://yann.lecun.com/exdb/mnist/']
    files = {True: ('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'),
             False: ('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')}
    local_prefix = ''  # prefix of the cached file names (keeps FashionMNIST's apart)
    sha256 = {}  # file name -> hex digest; none are listed that we could not check
    # The published MD5s of the original files (as listed by torchvision and others),
    # checked after each download.
    md5 = {'train-images-idx3-ubyte.gz': 'f68b3c2dcbeaaa9fbdd348bbdeb94873',
           'train-labels-idx1-ubyte.gz': 'd53e105ee54ea40749a09fcbcd1e9432',
           't10k-images-idx3-ubyte.gz': '9fb629c4189551a2d022fa330f9573f3',
           't10k-labels-idx1-ubyte.gz': 'ec29112dd5afa0611ce80d1b7f02629c'}
    label_names = {i: str(i) for i in range(10)}

    def __init__(self, train=True, transform=Compose([Flatten(), ToFloat(), Normalize(0., 255.)]),
                 target_transform=None):
        super().__init__(train, transform, target_transform)

    def _get(self, name):
        urls = [m + name for m in self.mirrors]
        return get_file(urls[0], self.local_prefix + name, mirrors=urls[1:],
                        sha256=self.sha256.get(name), md5=self.md5.get(name), check_cached=False)

    def prepare(self):
        who = type(self).__name__
        image_name, label_name = self.files[bool(self.train)]
        image_path, label_path = self._get(image_name), self._get(label_name)
        images = read_idx(image_path, who)
        labels = read_idx(label_path, who)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise CorruptFileError(f"{who}: {image_path} holds a {images.dtype} array of shape "
                                   f"{images.shape}, not (N, rows, cols) uint8 images.", image_path)
        if labels.ndim != 1 or len(labels) != len(images):
            raise CorruptFileError(f"{who}: {label_path} holds labels of shape {labels.shape} for "
                                   f"{len(images)} images in {image_path}.", label_path)
        self.data = images.reshape(-1, 1, images.shape[1], images.shape[2])
        self.label = labels.astype(np.int64)

    def show(self, row=10, col=10):
        """Show row x col random images with Matplotlib."""
        import matplotlib.pyplot as plt
        H, W = self.data.shape[2:]
        img = np.zeros((H * row, W * col))
        for r in range(row):
            for c in range(col):
                img[r * H:(r + 1) * H, c * W:(c + 1) * W] = \
                    self.data[np.random.randint(0, len(self.data) - 1)].reshape(H, W)
        plt.imshow(img, cmap='gray', interpolation='nearest')
        plt.axis('off')
        plt.show()

    @classmethod
    def labels(cls):
        """dict label id -> name."""
        return dict(cls.label_names)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: MNIST's format and transform, ten kinds of clothing."""

    mirrors = ['http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
               'https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/']
    local_prefix = 'fashion-mnist-'
    sha256 = {}
    md5 = {'train-images-idx3-ubyte.gz': '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
           'train-labels-idx1-ubyte.gz': '25c81989df183df01b3e8a0aad5dffbe',
           't10k-images-idx3-ubyte.gz': 'bef4ecab320f06d8554ea6380940ec79',
           't10k-labels-idx1-ubyte.gz': 'bb300cfdad3c16e7a12a480ee83cd310'}
    label_names = dict(enumerate(['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
                                  'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']))


class CIFAR10(Dataset):
    """CIFAR-10: data (N, 3, 32, 32) uint8, label (N,) int64; 50000 train, 10000 test.

    The default transform casts to float32 and maps 0..255 to -1..1.
    """

    url = 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz'
    sha256 = None
    md5 = 'c58f30108f718f92721af3b95e74349a'  # published with the data set
    cache_name = 'cifar-10'
    label_names = dict(enumerate(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog',
                                  'horse', 'ship', 'truck']))

    def __init__(self, train=True, transform=Compose([ToFloat(), Normalize(127.5, 127.5)]),
                 target_transform=None):
        super().__init__(train, transform, target_transform)

    def _members(self):
        base = 'cifar-10-batches-py/'
        if self.train:
            return [base + f'data_batch_{i}' for i in range(1, 6)]
        return [base + 'test_batch']

    _label_keys = ('labels',)

    def _parse(self):
        path = get_file(self.url, sha256=self.sha256, md5=self.md5, check_cached=False)
        who = type(self).__name__
        members = self._members()
        batches = _read_cifar_members(path, members, who)
        parts = [_cifar_arrays(batches[m], self._label_keys, m, path, who) for m in members]
        data = np.concatenate([p[0] for p in parts])
        labels = [np.concatenate([p[1][k] for p in parts]) for k in range(len(self._label_keys))]
        return data, labels

    def _load(self):
        split = 'train' if self.train else 'test'
        name = f'{self.cache_name}.{split}.npz'
        keys = ['data'] + list(self._label_keys)
        path = os.path.join(cache_dir(), name)
        self._check_cache(path, keys)
        cached = load_array_cache(path, keys)
        if cached is None:
            data, labels = self._parse()
            cached = dict(zip(keys, [data] + labels))
            save_array_cache(path, cached)
        else:
            self._check_cache(path, keys, cached)
        return cached

    _n_classes = {'labels': 10}

    def _check_cache(self, path, keys, arrays=None):
        """CorruptFileError naming path when the parsed-data cache has the wrong keys, shapes,
        dtypes (from its headers, before reading) or label values (once read). An unreadable
        cache is left to load_array_cache, which deletes it so it is rebuilt."""
        who = type(self).__name__
        if arrays is None:
            try:
                specs = read_npz_headers(path, who)
            except (OSError, ValueError):
                return
        else:
            specs = arrays
        problems = []
        data = specs.get('data')
        n = data.shape[0] if data is not None and len(data.shape) == 4 else None
        if data is None or n is None or data.shape[1:] != (3, 32, 32) or data.dtype != np.uint8:
            problems.append('data ' + ('missing' if data is None else
                                       f'{data.shape} {data.dtype}, not (N, 3, 32, 32) uint8'))
        for key in keys[1:]:
            t = specs.get(key)
            if t is None or t.shape != (n,) or t.dtype != np.int64:
                problems.append(f'{key} ' + ('missing' if t is None else
                                             f'{t.shape} {t.dtype}, not ({n},) int64'))
            elif arrays is not None and n and not (
                    0 <= t.min() and t.max() < self._n_classes[key]):
                problems.append(f'{key} outside 0..{self._n_classes[key] - 1}')
        if problems:
            raise CorruptFileError(
                f"{who}: the cached arrays {path} do not hold the data set "
                f"({'; '.join(problems)}); "
                "delete the file and run again to rebuild it from the downloaded archive.", path)

    def prepare(self):
        arrays = self._load()
        self.data, self.label = arrays['data'], arrays['labels']

    @classmethod
    def labels(cls):
        """dict label id -> name."""
        return dict(cls.label_names)


class CIFAR100(CIFAR10):
    """CIFAR-100 with label_type 'fine' (100 classes) or 'coarse' (20 superclasses)."""

    url = 'https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz'
    sha256 = None
    md5 = 'eb9058c3a382ffc7106e4002c42a8d85'  # published with the data set
    cache_name = 'cifar-100'
    _label_keys = ('fine_labels', 'coarse_labels')
    _n_classes = {'fine_labels': 100, 'coarse_labels': 20}

    def __init__(self, train=True, transform=Compose([ToFloat(), Normalize(127.5, 127.5)]),
                 target_transform=None, label_type='fine'):
        if label_type not in ('fine', 'coarse'):
            raise ValueError(f"CIFAR100: label_type must be 'fine' or 'coarse', got "
                             f"{label_type!r}.")
        self.label_type = label_type
        super().__init__(train, transform, target_transform)

    def _members(self):
        return ['cifar-100-python/' + ('train' if self.train else 'test')]

    def prepare(self):
        arrays = self._load()
        self.data, self.label = arrays['data'], arrays[f'{self.label_type}_labels']

    @classmethod
    def labels(cls, label_type='fine'):
        """dict label id -> name, read from the archive's meta file (downloads it if needed)."""
        if label_type not in ('fine', 'coarse'):
            raise ValueError(f"CIFAR100.labels: label_type must be 'fine' or 'coarse', got "
                             f"{label_type!r}.")
        path = get_file(cls.url, sha256=cls.sha256, md5=cls.md5, check_cached=False)
        meta = _read_cifar_members(path, ['cifar-100-python/meta'], 'CIFAR100')
        names = meta['cifar-100-python/meta'].get(f'{label_type}_label_names')
        if names is None:
            raise CorruptFileError(f"CIFAR100: the meta file in {path} lacks "
                                   f"{label_type}_label_names.", path)
        return {i: n.decode() if isinstance(n, bytes) else str(n) for i, n in enumerate(names)}


class Digits(Dataset):
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


class ImageNet(Dataset):
    """ImageNet itself is not downloadable; ImageNet.labels() gives the 1000 class names."""

    url = ('https://gist.githubusercontent.com/yrevar/942d3a0ac09ec9e5eb3a/raw/'
           '238f720ff059c1f82f368259d1ca4ffa5dd8f9f5/imagenet1000_clsidx_to_labels.txt')
    file_name = 'imagenet1000_clsidx_to_labels.txt'
    sha256 = None

    def __init__(self, *args, **kwargs):
        raise NotImplementedError("ImageNet: the images are not downloadable by dezero; use "
                                  "ImageNet.labels() for the class names.")

    @classmethod
    def labels(cls):
        """dict class id (0..999) -> name, from a downloaded text file (parsed as a literal)."""
        path = get_file(cls.url, file_name=cls.file_name, sha256=cls.sha256)
        try:
            with open(path, encoding='utf-8') as f:
                labels = ast.literal_eval(f.read())
        except (ValueError, SyntaxError, UnicodeDecodeError, MemoryError, RecursionError) as e:
            raise CorruptFileError(f"ImageNet.labels: {path} is not a Python dict literal "
                                   f"({type(e).__name__}: {e}); delete it and run again.",
                                   path) from e
        if not isinstance(labels, dict) or not all(
                isinstance(k, int) and isinstance(v, str) for k, v in labels.items()):
            raise CorruptFileError(f"ImageNet.labels: {path} is not a dict of int -> str; "
                                   "delete it and run again.", path)
        return labels
