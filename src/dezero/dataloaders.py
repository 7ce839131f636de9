"""Mini-batch iterators over a Dataset: DataLoader (shuffled epochs) and SeqDataLoader (BPTT).

A plain Dataset whose data and label are arrays and whose transforms have a batched
form (None, Flatten, AsType, Normalize, Compose of those) is indexed with the whole
batch index at once instead of item by item; the result is the same arrays.
"""
import math

import numpy as np

from dezero import cuda
from dezero.cuda import is_cupy_array
from dezero.datasets import ArrayDataset, Dataset
from dezero.transforms import apply_batch, can_apply_batch

__all__ = ['DataLoader', 'SeqDataLoader']


def _check_batch_size(batch_size, who):
    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool):
        raise TypeError(f"{who}: batch_size must be an int, got {type(batch_size).__name__}.")
    if batch_size < 1:
        raise ValueError(f"{who}: batch_size must be at least 1, got {batch_size}.")
    return int(batch_size)


def _is_array(a):
    return isinstance(a, np.ndarray) or is_cupy_array(a)


def _as_dataset(dataset, who):
    """dataset itself, or an ArrayDataset for a tuple (x, t) of arrays; TypeError otherwise."""
    if isinstance(dataset, tuple) and len(dataset) == 2 and all(
            _is_array(a) or hasattr(a, '__array__') for a in dataset):
        return ArrayDataset(*dataset)
    if _is_array(dataset):
        raise TypeError(
            f"{who}: got a bare {dataset.ndim}-D array of shape {dataset.shape}, not a Dataset. "
            f"Pass the inputs with their targets as a tuple, {who}((x, t), batch_size), or "
            f"dezero.datasets.ArrayDataset(x, t).")
    if not (hasattr(dataset, '__len__') and hasattr(dataset, '__getitem__')):
        raise TypeError(f"{who}: dataset must be a Dataset (something with __len__ and "
                        f"__getitem__) or a tuple (x, t) of arrays, got "
                        f"{type(dataset).__name__}.")
    return dataset


class DataLoader:
    """Iterate over dataset in (x, t) batches; one pass is an epoch, then it resets.

    dataset is a Dataset (anything with __len__ and __getitem__ returning (x, t)) or a
    tuple (x, t) of arrays with the same first axis, wrapped in an ArrayDataset.

    shuffle draws np.random.permutation(len(dataset)) at each reset (the book's order),
    or from a private np.random.RandomState(seed) when seed is given. drop_last drops a
    final batch smaller than batch_size. gpu=True returns CuPy arrays.
    """

    def __init__(self, dataset, batch_size, shuffle=True, gpu=False, drop_last=False, seed=None):
        dataset = _as_dataset(dataset, type(self).__name__)
        self.dataset = dataset
        self.batch_size = _check_batch_size(batch_size, type(self).__name__)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self._rng = np.random.RandomState(seed) if seed is not None else None
        self.data_size = len(dataset)
        if drop_last:
            self.max_iter = self.data_size // self.batch_size
        else:
            self.max_iter = math.ceil(self.data_size / self.batch_size)
        self.gpu = False
        if gpu:
            self.to_gpu()
        self.reset()

    def reset(self):
        """Start a new epoch (a new permutation when shuffling)."""
        self.iteration = 0
        if self.shuffle:
            rng = self._rng if self._rng is not None else np.random
            self.index = rng.permutation(len(self.dataset))
        else:
            self.index = np.arange(len(self.dataset))

    def __iter__(self):
        return self

    def __len__(self):
        return self.max_iter

    def _batch_index(self):
        i, bs = self.iteration, self.batch_size
        return self.index[i * bs:(i + 1) * bs]

    def __next__(self):
        if self.iteration >= self.max_iter:
            self.reset()
            raise StopIteration
        x, t = self._gather(self._batch_index())
        self.iteration += 1
        return x, t

    def next(self):
        """The next batch (the book's spelling of next(loader))."""
        return self.__next__()

    def _fast_path(self):
        ds = self.dataset
        cls = type(ds)
        return (isinstance(ds, Dataset) and cls.__getitem__ is Dataset.__getitem__
                and cls.__len__ is Dataset.__len__
                and isinstance(ds.data, np.ndarray) and isinstance(ds.label, np.ndarray)
                and len(ds.label) == len(ds.data)
                and can_apply_batch(ds.transform) and can_apply_batch(ds.target_transform))

    def _gather(self, batch_index):
        ds = self.dataset
        if self._fast_path():
            idx = np.asarray(batch_index, dtype=np.intp)
            x = apply_batch(ds.transform, ds.data[idx])
            t = apply_batch(ds.target_transform, ds.label[idx])
        else:
            batch = [ds[int(i)] for i in batch_index]
            x = np.array([example[0] for example in batch])
            t = np.array([example[1] for example in batch])
        if self.gpu:
            x, t = cuda.as_cupy(x), cuda.as_cupy(t)
        return x, t

    def to_cpu(self):
        """Yield NumPy batches from now on."""
        self.gpu = False

    def to_gpu(self):
        """Yield CuPy batches from now on (raises RuntimeError when CuPy or a GPU is missing)."""
        cuda.require_cupy()
        self.gpu = True


class SeqDataLoader(DataLoader):
    """Batches for truncated BPTT: batch_size parallel streams starting len//batch_size apart.

    The k-th batch holds items (i * jump + k) % len for stream i, in order (no shuffling).
    """

    def __init__(self, dataset, batch_size, gpu=False):
        super().__init__(dataset=dataset, batch_size=batch_size, shuffle=False, gpu=gpu)

    def _batch_index(self):
        jump = self.data_size // self.batch_size
        return (np.arange(self.batch_size) * jump + self.iteration) % self.data_size
