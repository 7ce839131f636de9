"""Train an MLP on MNIST (downloaded once to ~/.dezero) with the shared training loop.

    python examples/mnist_mlp.py [--epochs 2] [--hidden 256] [--fashion]
"""
import sys

import numpy as np

import dezero.functions as F
from dezero import DataLoader, datasets, models, optimizers
from dezero.cli.options import ArgumentParser, check_gpu, positive_int
from dezero.training import fit


def main():
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--epochs', type=positive_int, default=2)
    parser.add_argument('--hidden', type=positive_int, default=256)
    parser.add_argument('--batch-size', type=positive_int, default=100)
    parser.add_argument('--fashion', action='store_true', help='Fashion-MNIST instead')
    parser.add_argument('--gpu', action='store_true')
    args = parser.parse_args()
    check_gpu(parser, args)  # before any download

    cls = datasets.FashionMNIST if args.fashion else datasets.MNIST
    try:
        train_set, test_set = cls(train=True), cls(train=False)  # flattened, scaled to [0, 1]
    except OSError as e:  # the downloader's DownloadError says which URLs it tried
        sys.exit(f"cannot get {cls.__name__}: {e}")

    np.random.seed(0)
    model = models.MLP((args.hidden, 10), activation=F.relu)
    optimizer = optimizers.Adam().setup(model)
    history = fit(model, optimizer, DataLoader(train_set, args.batch_size),
                  DataLoader(test_set, 1000, shuffle=False), epochs=args.epochs, gpu=args.gpu)
    print(f"test accuracy {history[-1]['test_acc']:.4f}")


if __name__ == '__main__':
    main()
