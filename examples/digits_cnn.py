"""Train a small CNN on scikit-learn's bundled 8x8 digits (no download needed).

    python examples/digits_cnn.py [--epochs 5]

Needs scikit-learn (pip install scikit-learn).
"""
import sys

import numpy as np

import dezero.functions as F
import dezero.layers as L
from dezero import DataLoader, models, optimizers
from dezero.cli.options import ArgumentParser, check_gpu, positive_int
from dezero.datasets import Digits, MissingDependencyError
from dezero.training import fit


def max_pool_2x2(x):
    return F.pooling(x, 2, stride=2)


def main():
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--epochs', type=positive_int, default=5)
    parser.add_argument('--gpu', action='store_true')
    args = parser.parse_args()
    check_gpu(parser, args)  # before any download

    try:
        train_set, test_set = Digits(train=True), Digits(train=False)  # (N, 1, 8, 8) in [0, 1]
    except MissingDependencyError as e:
        sys.exit(str(e))

    np.random.seed(0)
    # Sequential takes layers and plain functions alike.
    model = models.Sequential(
        L.Conv2d(16, 3, pad=1), F.relu, max_pool_2x2,    # (N, 16, 4, 4)
        L.Conv2d(32, 3, pad=1), F.relu, max_pool_2x2,    # (N, 32, 2, 2)
        F.flatten, L.Linear(64), F.relu, L.Linear(10))
    optimizer = optimizers.Adam(alpha=0.005).setup(model)
    history = fit(model, optimizer, DataLoader(train_set, 32), DataLoader(test_set, 360),
                  epochs=args.epochs, gpu=args.gpu)
    print(f"test accuracy {history[-1]['test_acc']:.4f}")


if __name__ == '__main__':
    main()
