"""Giving each rank its share of a data set: scatter_dataset and the SubDataset view."""
import numpy as np


class SubDataset:
    """The items `indices` of `dataset`, in that order: a view, nothing is copied.

    Works with any object with __len__ and __getitem__(int); DataLoader takes it.
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.intp)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]


def _is_plain_array_dataset(dataset):
    from dezero.datasets import Dataset
    cls = type(dataset)
    return (isinstance(dataset, Dataset) and cls.__getitem__ is Dataset.__getitem__
            and cls.__len__ is Dataset.__len__ and isinstance(dataset.data, np.ndarray)
            and (dataset.label is None or (isinstance(dataset.label, np.ndarray)
                                           and len(dataset.label) == len(dataset.data))))


def scatter_dataset(dataset, comm, shuffle=False, seed=None, remainder='pad'):
    """This rank's equal share of dataset: len(dataset) / comm.size items, rounded up.

    Args:
        dataset: anything with __len__ and __getitem__ (every rank passes the same one).
        comm: a communicator (rank, size).
        shuffle: deal out a random permutation instead of consecutive blocks.
        seed: the permutation's seed; when None (and shuffle), rank 0 draws one and sends it.
        remainder: 'pad' (default, as ChainerMN): when the size is not a multiple of the
            number of ranks, the first items of the order are dealt again, so every rank
            has ceil(n / size) items and runs the same number of steps (a few items count
            twice per epoch); 'drop': every rank gets floor(n / size) items and the last
            n % size items of the order are left out.

    Shares do not overlap (apart from the padding) and together cover the data set.
    A plain array Dataset gives a Dataset holding its share's arrays (so DataLoader
    batches it whole); anything else gives a SubDataset view. The result has
    `indices`, the items of dataset it holds.
    """
    if remainder not in ('pad', 'drop'):
        raise ValueError(f"scatter_dataset: remainder must be 'pad' or 'drop', got "
                         f"{remainder!r}.")
    n = len(dataset)
    if n == 0:
        raise ValueError("scatter_dataset: the data set is empty.")
    size, rank = comm.size, comm.rank
    if shuffle:
        if seed is None:
            seed = comm.bcast_obj(int(np.random.randint(2 ** 31)) if rank == 0 else None)
        order = np.random.RandomState(seed).permutation(n)
    else:
        order = np.arange(n)
    if remainder == 'pad':
        per = -(-n // size)
        order = np.resize(order, per * size)  # repeats from the start
    else:
        per = n // size
        if per == 0:
            raise ValueError(f"scatter_dataset: {n} items cannot be shared by {size} ranks "
                             "with remainder='drop'; use remainder='pad'.")
    indices = order[rank * per:(rank + 1) * per]
    if _is_plain_array_dataset(dataset):
        from dezero.datasets import Dataset
        shard = Dataset(train=dataset.train, transform=dataset.transform,
                        target_transform=dataset.target_transform)
        shard.data = dataset.data[indices]
        shard.label = None if dataset.label is None else dataset.label[indices]
        shard.indices = indices
        return shard
    return SubDataset(dataset, indices)
