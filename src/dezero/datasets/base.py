"""The Dataset base class and ArrayDataset; the errors data sets raise.

Downloaded files live in the cache folder (dezero.download.cache_dir(): ~/.dezero or
$DEZERO_CACHE_DIR).
"""
import numpy as np

from dezero.cuda import is_cupy_array
from dezero.transforms import _identity


class MissingDependencyError(RuntimeError):
    """An optional package the chosen option needs is not installed."""


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
