"""Generated sets (no download): the book's spiral and sine curve."""
import numpy as np

from dezero.datasets.base import Dataset


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
