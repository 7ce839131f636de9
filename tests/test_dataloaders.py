"""dezero.dataloaders: epochs, shuffling order, the batched fast path, BPTT streams, GPU switch."""
import gzip
import struct

import numpy as np
import pytest

import dezero
from dezero import cuda, datasets as D
from dezero.dataloaders import DataLoader, SeqDataLoader


class _Range(D.Dataset):
    def __init__(self, n=23, **kw):
        self.n = n
        super().__init__(**kw)

    def prepare(self):
        self.data = np.arange(self.n * 2, dtype=np.float32).reshape(self.n, 2)
        self.label = np.arange(self.n)


class _PerItem(_Range):
    """Same data, but a custom __getitem__ forces the per-item path."""

    def __getitem__(self, index):
        return super().__getitem__(index)


def _epoch(loader):
    xs, ts = [], []
    for x, t in loader:
        xs.append(x)
        ts.append(t)
    return xs, ts


def test_top_level_names():
    assert dezero.DataLoader is DataLoader and dezero.SeqDataLoader is SeqDataLoader


@pytest.mark.parametrize('cls', [_Range, _PerItem])
def test_every_sample_once_per_epoch_in_shuffled_order(cls):
    loader = DataLoader(cls(), batch_size=5, seed=0)
    for _ in range(2):  # the loader resets after each epoch
        xs, ts = _epoch(loader)
        assert [len(t) for t in ts] == [5, 5, 5, 5, 3]
        t = np.concatenate(ts)
        assert sorted(t) == list(range(23))
        assert not np.array_equal(t, np.arange(23))
        np.testing.assert_array_equal(np.concatenate(xs)[:, 0], t * 2)


def test_epochs_get_fresh_permutations():
    loader = DataLoader(_Range(), batch_size=23, seed=1)
    (a,), (b,) = _epoch(loader)[1], _epoch(loader)[1]
    assert not np.array_equal(a, b)


def test_no_shuffle_is_sequential():
    _, ts = _epoch(DataLoader(_Range(), batch_size=10, shuffle=False))
    np.testing.assert_array_equal(np.concatenate(ts), np.arange(23))


def test_shuffle_uses_global_generator_in_the_books_order():
    np.random.seed(0)
    loader = DataLoader(_Range(), batch_size=23)
    _, (t1,) = _epoch(loader)
    _, (t2,) = _epoch(loader)
    np.random.seed(0)
    first = np.random.permutation(23)
    second = np.random.permutation(23)
    np.testing.assert_array_equal(t1, first)
    np.testing.assert_array_equal(t2, second)


def test_seed_uses_a_private_generator():
    np.random.seed(3)
    before = np.random.get_state()[1].copy()
    a = _epoch(DataLoader(_Range(), 23, seed=7))[1][0]
    b = _epoch(DataLoader(_Range(), 23, seed=7))[1][0]
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_drop_last():
    loader = DataLoader(_Range(), batch_size=5, drop_last=True)
    _, ts = _epoch(loader)
    assert [len(t) for t in ts] == [5, 5, 5, 5] and len(loader) == 4


def test_next_and_stopiteration_then_reset():
    loader = DataLoader(_Range(n=4), batch_size=3, shuffle=False)
    x, t = loader.next()
    assert list(t) == [0, 1, 2] and x.shape == (3, 2) and x.dtype == np.float32
    assert list(next(loader)[1]) == [3]
    with pytest.raises(StopIteration):
        next(loader)
    assert list(next(loader)[1]) == [0, 1, 2]  # a new epoch
    assert iter(loader) is loader


def test_fast_path_equals_per_item_path():
    T = dezero.transforms
    tf = T.Compose([T.ToFloat(), T.Normalize(1., 3.)])
    fast = DataLoader(_Range(transform=tf), batch_size=6, seed=0)
    slow = DataLoader(_PerItem(transform=tf), batch_size=6, seed=0)
    assert fast._fast_path() and not slow._fast_path()
    for (fx, ft), (sx, st) in zip(fast, slow):
        assert fx.dtype == sx.dtype and ft.dtype == st.dtype
        np.testing.assert_array_equal(fx, sx)
        np.testing.assert_array_equal(ft, st)


def test_unbatchable_transform_uses_per_item_path():
    loader = DataLoader(_Range(transform=lambda x: x * 2), batch_size=4, shuffle=False)
    assert not loader._fast_path()
    x, _ = next(loader)
    np.testing.assert_array_equal(x[:, 0], [0, 4, 8, 12])


def test_unlabelled_dataset_batches():
    class U(D.Dataset):
        def prepare(self):
            self.data = np.arange(5)

    x, t = next(DataLoader(U(), 5, shuffle=False))
    np.testing.assert_array_equal(x, np.arange(5))
    assert list(t) == [None] * 5


def _write_idx(path, arr):
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f'>{arr.ndim}I', *arr.shape)
    path.write_bytes(gzip.compress(header + arr.tobytes()))


def test_mnist_batches_are_float32_with_the_books_transform(tmp_path, monkeypatch):
    monkeypatch.setenv('DEZERO_CACHE_DIR', str(tmp_path))
    rng = np.random.RandomState(0)
    x = rng.randint(0, 256, size=(37, 28, 28)).astype(np.uint8)
    t = rng.randint(0, 10, size=37).astype(np.uint8)
    _write_idx(tmp_path / 'train-images-idx3-ubyte.gz', x)
    _write_idx(tmp_path / 'train-labels-idx1-ubyte.gz', t)
    ds = D.MNIST(train=True)
    loader = DataLoader(ds, batch_size=10, seed=0)
    assert loader._fast_path()
    seen = []
    for bx, bt in loader:
        assert bx.dtype == np.float32 and bx.shape[1:] == (784,)
        assert bt.dtype == np.int64
        assert 0.0 <= bx.min() and bx.max() <= 1.0
        seen.extend(bt.tolist())
    assert sorted(seen) == sorted(t.tolist())
    # the batched transform gives exactly the per-item results
    idx = loader.index[:10]
    bx, _ = loader._gather(idx)
    np.testing.assert_array_equal(bx, np.array([ds[int(i)][0] for i in idx]))


def test_seq_loader_streams():
    loader = SeqDataLoader(_Range(n=10), batch_size=3)
    _, ts = _epoch(loader)
    assert [list(t) for t in ts] == [[0, 3, 6], [1, 4, 7], [2, 5, 8], [3, 6, 9]]
    assert len(_epoch(loader)[1]) == 4  # and again next epoch


def test_seq_loader_on_sincurve():
    ds = D.SinCurve(train=False)
    x, t = next(SeqDataLoader(ds, batch_size=30))
    assert x.shape == (30, 1) and t.shape == (30, 1)
    np.testing.assert_array_equal(x[1], ds.data[999 // 30])


@pytest.mark.parametrize('bs, err, msg', [(0, ValueError, 'must be at least 1, got 0'),
                                           (2.0, TypeError, 'must be an int, got float'),
                                           (True, TypeError, 'must be an int, got bool')])
def test_bad_batch_size(bs, err, msg):
    with pytest.raises(err, match=f'DataLoader: batch_size {msg}'):
        DataLoader(_Range(), bs)


def test_dataset_must_be_indexable():
    with pytest.raises(TypeError, match=r'DataLoader: dataset must be a Dataset \(something '
                                        r'with __len__ and __getitem__\) or a tuple \(x, t\) '
                                        'of arrays, got int'):
        DataLoader(3, 1)


def test_gpu_switch(xp):
    loader = DataLoader(_Range(), 4, shuffle=False)
    if xp is np:
        if cuda.gpu_available():
            pytest.skip('checked by the cupy run')
        with pytest.raises(RuntimeError, match='GPU backend is unavailable'):
            loader.to_gpu()
        assert loader.gpu is False
        return
    loader.to_gpu()
    x, t = next(loader)
    assert cuda.is_cupy_array(x) and cuda.is_cupy_array(t)
    loader.to_cpu()
    assert isinstance(next(loader)[0], np.ndarray)


def test_a_tuple_of_arrays_is_batched_like_an_array_dataset():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    t = np.arange(10)
    loader = DataLoader((x, t), batch_size=4, shuffle=False)
    assert isinstance(loader.dataset, D.ArrayDataset) and len(loader) == 3
    xs, ts = _epoch(loader)
    np.testing.assert_array_equal(np.concatenate(xs), x)
    np.testing.assert_array_equal(np.concatenate(ts), t)
    assert xs[0].dtype == np.float32


@pytest.mark.parametrize('data, msg', [
    (np.zeros((6, 3)), r'DataLoader: got a bare 2-D array of shape \(6, 3\), not a Dataset\. '
                       r'Pass the inputs with their targets as a tuple, DataLoader\(\(x, t\), '
                       r'batch_size\), or dezero\.datasets\.ArrayDataset\(x, t\)'),
    (np.zeros(6), r'got a bare 1-D array of shape \(6,\)'),
])
def test_a_bare_array_is_a_clear_type_error(data, msg):
    with pytest.raises(TypeError, match=msg):
        DataLoader(data, 2)


def test_a_tuple_of_unequal_arrays_names_both_lengths():
    with pytest.raises(ValueError, match=r'ArrayDataset: x has 5 samples but t has 4'):
        DataLoader((np.zeros((5, 2)), np.zeros(4)), 2)
