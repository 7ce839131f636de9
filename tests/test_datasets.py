"""dezero.datasets: Dataset, the generated sets, and parsers fed with fixtures built here.

No test touches the network: files are placed in a temporary DEZERO_CACHE_DIR or served
from file:// URLs.
"""
import gzip
import io
import os
import pickle
import socket
import struct
import tarfile

import numpy as np
import pytest

import dezero
from dezero import datasets as D
from dezero.download import CorruptFileError, DownloadError


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / 'cache'
    d.mkdir()
    monkeypatch.setenv('DEZERO_CACHE_DIR', str(d))
    return d


# ---------------------------------------------------------------------------
# fixtures: IDX, CIFAR tar.gz
# ---------------------------------------------------------------------------
_IDX_CODE = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C,
             np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(arr):
    arr = np.asarray(arr)
    header = bytes([0, 0, _IDX_CODE[arr.dtype.type], arr.ndim]) + struct.pack(
        f'>{arr.ndim}I', *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder('>')).tobytes()


def write_idx(path, arr, compress=True):
    data = idx_bytes(arr)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def fake_mnist(folder, prefix='', n_train=50, n_test=20, seed=0):
    rng = np.random.RandomState(seed)
    out = {}
    for split, n, base in ((True, n_train, 'train'), (False, n_test, 't10k')):
        x = rng.randint(0, 256, size=(n, 28, 28)).astype(np.uint8)
        t = rng.randint(0, 10, size=n).astype(np.uint8)
        write_idx(folder / f'{prefix}{base}-images-idx3-ubyte.gz', x)
        write_idx(folder / f'{prefix}{base}-labels-idx1-ubyte.gz', t)
        out[split] = (x, t)
    return out


def _pickled(obj, protocol=2):
    return pickle.dumps(obj, protocol=protocol)


def make_tar(path, members):
    with tarfile.open(path, 'w:gz') as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def fake_cifar10(folder, n=6, seed=0):
    rng = np.random.RandomState(seed)
    members, train_x, train_t = {}, [], []
    for i in range(1, 6):
        x = rng.randint(0, 256, size=(n, 3072)).astype(np.uint8)
        t = [int(v) for v in rng.randint(0, 10, size=n)]
        # bytes keys, as in the Python 2 pickles of the real archive
        members[f'cifar-10-batches-py/data_batch_{i}'] = _pickled({b'data': x, b'labels': t})
        train_x.append(x)
        train_t += t
    tx = rng.randint(0, 256, size=(n, 3072)).astype(np.uint8)
    tt = [int(v) for v in rng.randint(0, 10, size=n)]
    members['cifar-10-batches-py/test_batch'] = _pickled({'data': tx, 'labels': tt}, protocol=4)
    make_tar(folder / 'cifar-10-python.tar.gz', members)
    return (np.concatenate(train_x).reshape(-1, 3, 32, 32), np.array(train_t)), \
        (tx.reshape(-1, 3, 32, 32), np.array(tt))


# ---------------------------------------------------------------------------
# Dataset base
# ---------------------------------------------------------------------------
class _Toy(D.Dataset):
    def prepare(self):
        self.data = np.arange(10).reshape(5, 2)
        self.label = np.arange(5) * 10


class _Unlabelled(D.Dataset):
    def prepare(self):
        self.data = np.arange(4)


def test_dataset_items_apply_transforms():
    ds = _Toy(transform=lambda x: x * 2, target_transform=lambda t: t + 1)
    x, t = ds[1]
    np.testing.assert_array_equal(x, [4, 6])
    assert t == 11 and len(ds) == 5 and ds.train is True


def test_dataset_without_labels_returns_none():
    ds = _Unlabelled(train=False)
    assert ds[2] == (2, None) and ds.train is False


def test_dataset_top_level_name():
    assert dezero.Dataset is D.Dataset


def test_dataset_index_must_be_int():
    with pytest.raises(TypeError, match=r'_Toy\[index\]: index must be an int, got slice'):
        _Toy()[0:2]
    assert _Toy()[np.int64(0)][1] == 0


def test_dataset_without_data_has_clear_len_error():
    with pytest.raises(TypeError, match='prepare\\(\\) must set self.data'):
        len(D.Dataset())


# ---------------------------------------------------------------------------
# Spiral and SinCurve
# ---------------------------------------------------------------------------
def _spiral_recipe(train):
    """API.md's recipe written out independently."""
    np.random.seed(1984 if train else 2020)
    xs, ts = [], []
    for j in range(3):
        for i in range(100):
            rate = i / 100
            theta = 4 * j + 4 * rate + 0.2 * np.random.randn()
            xs.append([rate * np.sin(theta), rate * np.cos(theta)])
            ts.append(j)
    x = np.array(xs).astype(np.float32)
    t = np.array(ts)
    perm = np.random.permutation(300)
    return x[perm], t[perm]


@pytest.mark.parametrize('train', [True, False])
def test_get_spiral_follows_the_recipe(train):
    x, t = D.get_spiral(train=train)
    assert x.shape == (300, 2) and x.dtype == np.float32
    assert t.shape == (300,) and np.issubdtype(t.dtype, np.integer)
    ex, et = _spiral_recipe(train)
    np.testing.assert_array_equal(x, ex)
    np.testing.assert_array_equal(t, et)
    assert sorted(np.bincount(t)) == [100, 100, 100]


def test_get_spiral_is_deterministic_and_splits_differ():
    np.random.seed(5)
    a = D.get_spiral()
    np.random.seed(6)
    b = D.get_spiral()
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], D.get_spiral(train=False)[0])


def test_spiral_dataset_matches_get_spiral():
    ds = D.Spiral()
    x, t = D.get_spiral()
    np.testing.assert_array_equal(ds.data, x)
    assert len(ds) == 300 and ds[3][1] == t[3]


def test_sincurve_follows_the_recipe():
    np.random.seed(0)
    ds = D.SinCurve(train=True)
    np.random.seed(0)
    x = np.linspace(0, 2 * np.pi, 1000)
    y = np.sin(x) + np.random.uniform(-0.05, 0.05, size=1000)
    assert ds.data.shape == (999, 1) and ds.label.shape == (999, 1)
    assert ds.data.dtype == np.float64
    np.testing.assert_array_equal(ds.data[:, 0], y[:-1])
    np.testing.assert_array_equal(ds.label[:, 0], y[1:])


def test_sincurve_test_is_cos_without_noise_but_draws_like_the_book():
    np.random.seed(0)
    ds = D.SinCurve(train=False)
    after = np.random.rand()
    np.testing.assert_array_equal(ds.data[:, 0], np.cos(np.linspace(0, 2 * np.pi, 1000))[:-1])
    np.random.seed(0)
    np.random.uniform(-0.05, 0.05, size=1000)
    assert np.random.rand() == after


# ---------------------------------------------------------------------------
# IDX and MNIST
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('dtype', [np.uint8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize('compress', [True, False])
def test_read_idx_roundtrip(tmp_path, dtype, compress):
    a = (np.arange(24).reshape(2, 3, 4) * 7).astype(dtype)
    got = D.read_idx(str(write_idx(tmp_path / 'a.idx', a, compress)))
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, a)


def test_read_idx_truncated_data(tmp_path):
    p = tmp_path / 'short.gz'
    p.write_bytes(gzip.compress(idx_bytes(np.zeros((4, 5), np.uint8))[:-3]))
    with pytest.raises(CorruptFileError, match=r'short\.gz holds 17 bytes .* shape \(4, 5\)'):
        D.read_idx(str(p))


def test_read_idx_truncated_gzip(tmp_path):
    p = tmp_path / 'cut.gz'
    p.write_bytes(gzip.compress(idx_bytes(np.zeros((40, 50), np.uint8)))[:-20])
    with pytest.raises(CorruptFileError, match=r'cut\.gz is a damaged gzip file'):
        D.read_idx(str(p))


def test_read_idx_bad_crc(tmp_path):
    raw = bytearray(gzip.compress(idx_bytes(np.arange(100, dtype=np.uint8))))
    raw[-8] ^= 0xFF  # break the stored CRC32
    p = tmp_path / 'crc.gz'
    p.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError, match=r'crc\.gz is a damaged gzip file'):
        D.read_idx(str(p))


def test_read_idx_not_idx(tmp_path):
    p = tmp_path / 'page.gz'
    p.write_bytes(b'<html>blocked</html>')
    with pytest.raises(CorruptFileError, match=r'page\.gz is not an IDX file'):
        D.read_idx(str(p))


def test_mnist_parses_fixture_files(cache):
    ref = fake_mnist(cache)
    for train in (True, False):
        ds = D.MNIST(train=train, transform=None)
        x, t = ref[train]
        assert ds.data.shape == (len(x), 1, 28, 28) and ds.data.dtype == np.uint8
        np.testing.assert_array_equal(ds.data[:, 0], x)
        np.testing.assert_array_equal(ds.label, t)
        assert ds.label.dtype == np.int64


def test_mnist_default_transform_is_the_books(cache):
    x, _ = fake_mnist(cache)[True]
    item, label = D.MNIST()[3]
    assert item.shape == (784,) and item.dtype == np.float32
    np.testing.assert_array_equal(item, x[3].ravel().astype(np.float32) / np.float32(255))
    assert 0.0 <= item.min() and item.max() <= 1.0
    assert D.MNIST.labels()[7] == '7'


def test_mnist_downloads_from_mirrors_in_order(cache, tmp_path, monkeypatch):
    server = tmp_path / 'server'
    server.mkdir()
    ref = fake_mnist(server)
    missing = (tmp_path / 'nowhere').as_uri() + '/'
    monkeypatch.setattr(D.MNIST, 'mirrors', [missing, server.as_uri() + '/'])
    monkeypatch.setattr(D.MNIST, 'md5', {})  # the fixture files are not the published ones
    ds = D.MNIST(train=False, transform=None)
    np.testing.assert_array_equal(ds.data[:, 0], ref[False][0])
    assert sorted(os.listdir(cache)) == ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']


@pytest.mark.parametrize('cls', [D.MNIST, D.FashionMNIST])
def test_mnist_download_is_checked_against_the_published_md5(cache, tmp_path, monkeypatch, cls):
    server = tmp_path / 'server'
    server.mkdir()
    fake_mnist(server)
    monkeypatch.setattr(cls, 'mirrors', [server.as_uri() + '/'])
    with pytest.raises(DownloadError, match=r'MD5 mismatch: got [0-9a-f]{32}, expected '
                                            + cls.md5['t10k-images-idx3-ubyte.gz']):
        cls(train=False)
    assert os.listdir(cache) == []


@pytest.mark.parametrize('cls', [D.CIFAR10, D.CIFAR100])
def test_cifar_download_is_checked_against_the_published_md5(cache, tmp_path, monkeypatch, cls):
    server = tmp_path / 'server'
    server.mkdir()
    fake_cifar10(server)
    name = os.path.basename(cls.url)
    os.replace(server / 'cifar-10-python.tar.gz', server / name)
    monkeypatch.setattr(cls, 'url', (server / name).as_uri())
    with pytest.raises(DownloadError, match='MD5 mismatch.*expected ' + cls.md5):
        cls(train=False)
    assert os.listdir(cache) == []


def test_mnist_offline_error_names_urls_and_path(cache, monkeypatch):
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    url = f'http://127.0.0.1:{s.getsockname()[1]}/mnist/'
    s.close()
    monkeypatch.setattr(D.MNIST, 'mirrors', [url])
    with pytest.raises(DownloadError) as e:
        D.MNIST(train=True)
    msg = str(e.value)
    assert url + 'train-images-idx3-ubyte.gz' in msg
    assert str(cache / 'train-images-idx3-ubyte.gz') in msg
    assert os.listdir(cache) == []


def test_mnist_label_count_mismatch(cache):
    fake_mnist(cache)
    write_idx(cache / 'train-labels-idx1-ubyte.gz', np.zeros(3, np.uint8))
    with pytest.raises(CorruptFileError, match=r'MNIST: .*train-labels-idx1-ubyte\.gz holds '
                                               r'labels of shape \(3,\) for 50 images'):
        D.MNIST()


def test_mnist_truncated_cached_file_is_reported(cache):
    fake_mnist(cache)
    p = cache / 'train-images-idx3-ubyte.gz'
    p.write_bytes(p.read_bytes()[:len(p.read_bytes()) // 2])
    with pytest.raises(CorruptFileError, match=r'MNIST: .*train-images-idx3-ubyte\.gz is a '
                                               'damaged gzip file'):
        D.MNIST()


def test_fashion_mnist_keeps_its_files_apart(cache):
    mnist = fake_mnist(cache, seed=1)
    fashion = fake_mnist(cache, prefix='fashion-mnist-', seed=2)
    np.testing.assert_array_equal(D.FashionMNIST(transform=None).data[:, 0], fashion[True][0])
    np.testing.assert_array_equal(D.MNIST(transform=None).data[:, 0], mnist[True][0])
    assert D.FashionMNIST.labels()[9] == 'Ankle boot'


# ---------------------------------------------------------------------------
# CIFAR
# ---------------------------------------------------------------------------
def test_cifar10_parses_fixture_archive_and_caches_npz(cache):
    (x, t), (tx, tt) = fake_cifar10(cache)
    ds = D.CIFAR10(transform=None)
    assert ds.data.shape == (30, 3, 32, 32) and ds.data.dtype == np.uint8
    np.testing.assert_array_equal(ds.data, x)
    np.testing.assert_array_equal(ds.label, t)
    assert ds.label.dtype == np.int64
    test = D.CIFAR10(train=False, transform=None)
    np.testing.assert_array_equal(test.data, tx)
    np.testing.assert_array_equal(test.label, tt)
    assert (cache / 'cifar-10.train.npz').exists()
    os.remove(cache / 'cifar-10-python.tar.gz')  # the parsed cache is enough now
    np.testing.assert_array_equal(D.CIFAR10(transform=None).data, x)


def test_cifar10_default_transform_maps_to_minus1_1(cache):
    (x, _), _ = fake_cifar10(cache)
    item, _ = D.CIFAR10()[0]
    assert item.dtype == np.float32 and item.shape == (3, 32, 32)
    np.testing.assert_allclose(item, (x[0] - 127.5) / 127.5, rtol=1e-6)
    assert D.CIFAR10.labels()[0] == 'airplane'


def test_cifar10_damaged_npz_is_rebuilt(cache):
    (x, _), _ = fake_cifar10(cache)
    (cache / 'cifar-10.train.npz').write_bytes(b'garbage')
    np.testing.assert_array_equal(D.CIFAR10(transform=None).data, x)


def test_cifar_refuses_pickled_code(cache, tmp_path):
    canary = tmp_path / 'canary'
    canary.write_text('alive')

    class Evil:
        def __reduce__(self):
            return (os.remove, (str(canary),))

    members = {f'cifar-10-batches-py/data_batch_{i}': _pickled({'data': Evil()})
               for i in range(1, 6)}
    make_tar(cache / 'cifar-10-python.tar.gz', members)
    with pytest.raises(CorruptFileError, match=r'CIFAR10: .*refusing to load the global'):
        D.CIFAR10()
    assert canary.exists()


def test_cifar_missing_member(cache):
    make_tar(cache / 'cifar-10-python.tar.gz', {'other/file': b'x'})
    with pytest.raises(CorruptFileError, match=r"has no member 'cifar-10-batches-py/data_batch_1'"):
        D.CIFAR10()


def test_cifar_truncated_archive(cache):
    fake_cifar10(cache)
    p = cache / 'cifar-10-python.tar.gz'
    p.write_bytes(p.read_bytes()[:200])
    with pytest.raises(CorruptFileError, match=r'cifar-10-python\.tar\.gz is not a readable'):
        D.CIFAR10()
    assert not (cache / 'cifar-10.train.npz').exists()


def test_cifar_wrong_shape_data(cache):
    members = {f'cifar-10-batches-py/data_batch_{i}':
               _pickled({'data': np.zeros((2, 10), np.uint8), 'labels': [0, 1]})
               for i in range(1, 6)}
    make_tar(cache / 'cifar-10-python.tar.gz', members)
    with pytest.raises(CorruptFileError, match=r'not \(N, 3072\) uint8'):
        D.CIFAR10()


def _fake_cifar100(folder):
    rng = np.random.RandomState(3)
    x = rng.randint(0, 256, size=(4, 3072)).astype(np.uint8)
    fine, coarse = [5, 99, 0, 42], [1, 19, 0, 7]
    members = {
        'cifar-100-python/train': _pickled({b'data': x, b'fine_labels': fine,
                                            b'coarse_labels': coarse}),
        'cifar-100-python/test': _pickled({b'data': x[:2], b'fine_labels': fine[:2],
                                           b'coarse_labels': coarse[:2]}),
        'cifar-100-python/meta': _pickled({b'fine_label_names': [b'f%d' % i for i in range(100)],
                                           b'coarse_label_names': [b'c%d' % i for i in range(20)]}),
    }
    make_tar(folder / 'cifar-100-python.tar.gz', members)
    return x.reshape(-1, 3, 32, 32), fine, coarse


def test_cifar100_fine_and_coarse(cache):
    x, fine, coarse = _fake_cifar100(cache)
    ds = D.CIFAR100(transform=None)
    np.testing.assert_array_equal(ds.data, x)
    np.testing.assert_array_equal(ds.label, fine)
    np.testing.assert_array_equal(D.CIFAR100(label_type='coarse').label, coarse)
    assert len(D.CIFAR100(train=False)) == 2
    assert D.CIFAR100.labels()[99] == 'f99'
    assert D.CIFAR100.labels('coarse')[19] == 'c19'


def test_cifar100_bad_label_type(cache):
    with pytest.raises(ValueError, match="CIFAR100: label_type must be 'fine' or 'coarse', "
                                         "got 'x'"):
        D.CIFAR100(label_type='x')


# ---------------------------------------------------------------------------
# Shakespear and ImageNet labels
# ---------------------------------------------------------------------------
def test_shakespear_char_ids(cache):
    (cache / 'shakespear.txt').write_text('abcab\nba', encoding='utf-8')
    ds = D.Shakespear()
    assert ds.char_to_id == {'a': 0, 'b': 1, 'c': 2, '\n': 3}
    assert ds.id_to_char[3] == '\n'
    np.testing.assert_array_equal(ds.data, [0, 1, 2, 0, 1, 3, 1])
    np.testing.assert_array_equal(ds.label, [1, 2, 0, 1, 3, 1, 0])
    assert ds.data.dtype == np.int64 and len(ds) == 7


def test_shakespear_not_utf8(cache):
    (cache / 'shakespear.txt').write_bytes(b'\xff\xfe\xfa')
    with pytest.raises(CorruptFileError, match=r'shakespear\.txt is not UTF-8'):
        D.Shakespear()


def test_imagenet_labels_parsed_as_literal(cache):
    (cache / D.ImageNet.file_name).write_text("{0: 'tench, Tinca tinca',\n 1: 'goldfish'}")
    assert D.ImageNet.labels() == {0: 'tench, Tinca tinca', 1: 'goldfish'}


def test_imagenet_labels_never_evaluate_code(cache):
    (cache / D.ImageNet.file_name).write_text("__import__('os').getcwd()")
    with pytest.raises(CorruptFileError, match='is not a Python dict literal'):
        D.ImageNet.labels()


def test_imagenet_dataset_is_not_available():
    with pytest.raises(NotImplementedError, match=r'ImageNet\.labels\(\)'):
        D.ImageNet()


def test_array_dataset_items_and_transforms():
    x = np.arange(12.).reshape(6, 2)
    t = [0, 1, 0, 1, 1, 0]
    ds = D.ArrayDataset(x, t, transform=lambda a: a * 2)
    assert len(ds) == 6 and isinstance(ds, D.Dataset)
    xi, ti = ds[2]
    np.testing.assert_array_equal(xi, x[2] * 2)
    assert ti == 0 and isinstance(ds.label, np.ndarray)


@pytest.mark.parametrize('x, t, err, msg', [
    (np.zeros((3, 2)), np.zeros(2), ValueError,
     r'ArrayDataset: x has 3 samples but t has 2 \(shapes \(3, 2\) and \(2,\)\); both need the '
     r'same first axis'),
    (np.float32(1), np.zeros(1), TypeError,
     r'ArrayDataset: x must be an array of samples \(first axis = samples\), got a scalar'),
    (np.zeros(2), 3, TypeError, r'ArrayDataset: t must be an array of samples'),
])
def test_array_dataset_rejects_mismatched_or_scalar_inputs(x, t, err, msg):
    with pytest.raises(err, match=msg):
        D.ArrayDataset(x, t)
