"""Datasets: the Dataset base class, the book's toy sets and the downloadable ones.

Downloaded files live in the cache folder (dezero.download.cache_dir(): ~/.dezero or
$DEZERO_CACHE_DIR). Every parser checks what it reads and raises CorruptFileError
naming the file rather than returning a wrong array. CIFAR's pickles are read from
the archive in memory with an unpickler that only admits NumPy arrays.
"""
import ast
import gzip
import io
import math
import os
import pickle
import struct
import tarfile
import zlib

import numpy as np

from dezero.cuda import is_cupy_array
from dezero.download import CorruptFileError, cache_dir, get_file
from dezero.serializers import load_array_cache, read_npz_headers, save_array_cache
from dezero.transforms import Compose, Flatten, Normalize, ToFloat, _identity

__all__ = ['Dataset', 'ArrayDataset', 'get_spiral', 'Spiral', 'SinCurve', 'MNIST',
           'FashionMNIST', 'CIFAR10', 'CIFAR100', 'Shakespear', 'ImageNet', 'read_idx']


class Dataset:
    """Base class: prepare() fills data and label; items are (transform(x), target_transform(t)).

    label may stay None, then items are (transform(x), None).
    """

    def __init__(self, train=True, transform=None, target_transform=None):
        self.train = train
        self.transform = transform if transform is not None else _identity
        self.target_transform = target_transform if target_transform is not None else _identity
        self.data = None
        self.label = None
        self.prepare()

    def __getitem__(self, index):
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"{type(self).__name__}[index]: index must be an int, got "
                            f"{type(index).__name__}; use a DataLoader for batches.")
        x = self.transform(self.data[index])
        if self.label is None:
            return x, None
        return x, self.target_transform(self.label[index])

    def __len__(self):
        if self.data is None:
            raise TypeError(f"{type(self).__name__}: no data; prepare() must set self.data.")
        return len(self.data)

    def prepare(self):
        """Fill self.data (and self.label, when there are labels); subclasses override it."""


class ArrayDataset(Dataset):
    """A Dataset over arrays already in memory: item i is (x[i], t[i]) (PyTorch's TensorDataset).

    Args:
        x: the inputs, an array (NumPy or CuPy) or anything np.asarray accepts; the
            first axis indexes the samples.
        t: the targets, same number of samples as x.
        transform, target_transform: applied to each item, as for any Dataset.

    Raises ValueError when x and t hold different numbers of samples, TypeError when
    either is a scalar. `DataLoader((x, t), batch_size)` builds one for you.
    """

    def __init__(self, x, t, transform=None, target_transform=None):
        self._arrays = (_as_samples(x, 'x'), _as_samples(t, 't'))
        if len(self._arrays[0]) != len(self._arrays[1]):
            raise ValueError(
                f"ArrayDataset: x has {len(self._arrays[0])} samples but t has "
                f"{len(self._arrays[1])} (shapes {self._arrays[0].shape} and "
                f"{self._arrays[1].shape}); both need the same first axis.")
        super().__init__(train=True, transform=transform, target_transform=target_transform)

    def prepare(self):
        self.data, self.label = self._arrays
        del self._arrays


def _as_samples(a, name):
    if not (isinstance(a, np.ndarray) or is_cupy_array(a)):
        a = np.asarray(a)
    if a.ndim == 0:
        raise TypeError(f"ArrayDataset: {name} must be an array of samples (first axis = "
                        f"samples), got a scalar of type {type(a).__name__}.")
    return a


# ---------------------------------------------------------------------------
# generated sets (no download)
# ---------------------------------------------------------------------------
def get_spiral(train=True):
    """The book's 3-class spiral: x (300, 2) float32, t (300,) int64; seeded 1984 (train)/2020."""
    np.random.seed(1984 if train else 2020)
    per_class, classes = 100, 3
    x = np.empty((classes * per_class, 2), dtype=np.float32)
    t = np.repeat(np.arange(classes, dtype=np.int64), per_class)
    # One randn() per point, class by class: the book's draw order, so its figures reproduce.
    for k in range(len(x)):
        label, step = divmod(k, per_class)
        r = step / per_class
        angle = label * 4.0 + 4.0 * r + np.random.randn() * 0.2
        x[k] = (r * np.sin(angle), r * np.cos(angle))
    order = np.random.permutation(len(x))
    return x[order], t[order]


class Spiral(Dataset):
    """get_spiral as a Dataset."""

    def prepare(self):
        self.data, self.label = get_spiral(self.train)


class SinCurve(Dataset):
    """1000 points on [0, 2pi]: train is sin + U(-0.05, 0.05) noise, test is cos; next-value labels.

    data = y[:-1], label = y[1:], both (999, 1) float64. The noise is drawn for the test
    set too (and ignored), as the book does, so later np.random draws match the book's.
    """

    def prepare(self):
        num_data = 1000
        x = np.linspace(0, 2 * np.pi, num_data)
        noise = np.random.uniform(-0.05, 0.05, size=x.shape)
        y = np.sin(x) + noise if self.train else np.cos(x)
        y = y.astype(np.float64)
        self.data = y[:-1][:, np.newaxis]
        self.label = y[1:][:, np.newaxis]


# ---------------------------------------------------------------------------
# file parsing helpers
# ---------------------------------------------------------------------------
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32,
               0x0D: np.float32, 0x0E: np.float64}


def _read_maybe_gzip(path, who):
    with open(path, 'rb') as f:
        head = f.read(2)
    try:
        if head == b'\x1f\x8b':
            with gzip.open(path, 'rb') as f:
                return f.read()
        with open(path, 'rb') as f:
            return f.read()
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise CorruptFileError(
            f"{who}: {path} is a damaged gzip file ({type(e).__name__}: {e}); delete it and run "
            "again to download it afresh.", path) from e


def read_idx(path, who='read_idx'):
    """Read an IDX file (gzipped or not) into a native-endian array; CorruptFileError when bad."""
    raw = _read_maybe_gzip(path, who)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise CorruptFileError(
            f"{who}: {path} is not an IDX file (bad magic number {raw[:4]!r}); delete it and run "
            "again to download it afresh.", path)
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise CorruptFileError(f"{who}: {path} is truncated inside its IDX header.", path)
    dims = struct.unpack(f'>{ndim}I', raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[raw[2]]).newbyteorder('>')
    expected = math.prod(dims) * dtype.itemsize  # Python ints: a crafted header cannot overflow
    if len(raw) - header != expected:
        raise CorruptFileError(
            f"{who}: {path} holds {len(raw) - header} bytes of data but its header announces "
            f"shape {dims} ({expected} bytes): the file is truncated or corrupt; delete it and run "
            "again to download it afresh.", path)
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder('='))  # a native-endian, writable copy


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


# ---------------------------------------------------------------------------
# CIFAR
# ---------------------------------------------------------------------------
def _np_multiarray():
    try:
        from numpy._core import multiarray  # NumPy 2
    except ImportError:  # pragma: no cover - NumPy 1
        from numpy.core import multiarray
    return multiarray


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that admits only NumPy arrays, dtypes and builtin containers (no code runs)."""

    _ALLOWED = {('numpy', 'ndarray'), ('numpy', 'dtype'), ('_codecs', 'encode'),
                ('numpy.core.multiarray', '_reconstruct'),
                ('numpy._core.multiarray', '_reconstruct'),
                ('numpy.core.multiarray', 'scalar'), ('numpy._core.multiarray', 'scalar')}

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load the global {module}.{name}")
        if module == 'numpy':
            return getattr(np, name)
        if module == '_codecs':
            import codecs
            return codecs.encode
        return getattr(_np_multiarray(), name)


def _unpickle_arrays(data, where):
    try:
        obj = _ArrayUnpickler(io.BytesIO(data), encoding='latin1').load()
    except Exception as e:
        raise CorruptFileError(f"cannot read {where}: {type(e).__name__}: {e}", None) from e
    if not isinstance(obj, dict):
        raise CorruptFileError(f"cannot read {where}: expected a dict, got {type(obj).__name__}")
    return {k.decode('latin1') if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _read_cifar_members(path, names, who):
    """{name: dict} for the pickled members `names` of the tar.gz at path."""
    out = {}
    try:
        with tarfile.open(path, 'r:gz') as tar:
            for name in names:
                try:
                    member = tar.getmember(name)
                except KeyError:
                    raise CorruptFileError(f"{who}: {path} has no member {name!r}; it is not the "
                                           "expected archive. Delete it and run again.",
                                           path) from None
                if not member.isfile():
                    raise CorruptFileError(f"{who}: member {name!r} of {path} is not a file.", path)
                out[name] = _unpickle_arrays(tar.extractfile(member).read(), f"{name!r} in {path}")
    except CorruptFileError as e:
        if e.path is None:
            raise CorruptFileError(f"{who}: {e}; delete the archive and run again.", path) from e
        raise
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise CorruptFileError(f"{who}: {path} is not a readable tar.gz archive "
                               f"({type(e).__name__}: {e}); delete it and run again to download "
                               "it afresh.", path) from e
    return out


def _cifar_arrays(batch, keys, where, path, who):
    data = np.asarray(batch.get('data'))
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise CorruptFileError(f"{who}: {where} of {path} has data of {data.dtype} {data.shape}, "
                               "not (N, 3072) uint8.", path)
    labels = []
    for key in keys:
        if key not in batch or len(batch[key]) != len(data):
            raise CorruptFileError(f"{who}: {where} of {path} lacks {len(data)} {key!r}.", path)
        labels.append(np.asarray(batch[key], dtype=np.int64))
    return data.reshape(-1, 3, 32, 32), labels


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


# ---------------------------------------------------------------------------
# text and labels
# ---------------------------------------------------------------------------
class Shakespear(Dataset):
    """Tiny Shakespeare as character ids: data = ids[:-1], label = ids[1:] (int64).

    char_to_id / id_to_char number characters in order of first appearance.
    """

    url = ('https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/'
           'input.txt')
    file_name = 'shakespear.txt'
    sha256 = None

    def prepare(self):
        path = get_file(self.url, file_name=self.file_name, sha256=self.sha256)
        try:
            with open(path, encoding='utf-8') as f:
                text = f.read()
        except UnicodeDecodeError as e:
            raise CorruptFileError(f"Shakespear: {path} is not UTF-8 text ({e}); delete it and "
                                   "run again to download it afresh.", path) from e
        if len(text) < 2:
            raise CorruptFileError(f"Shakespear: {path} holds {len(text)} character(s); delete "
                                   "it and run again to download it afresh.", path)
        self.char_to_id = {}
        for c in text:
            if c not in self.char_to_id:
                self.char_to_id[c] = len(self.char_to_id)
        self.id_to_char = {i: c for c, i in self.char_to_id.items()}
        ids = np.fromiter((self.char_to_id[c] for c in text), dtype=np.int64, count=len(text))
        self.data = ids[:-1]
        self.label = ids[1:]


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
