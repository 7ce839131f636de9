"""Train an MLP on the book's spiral set and draw its decision boundary.

    python examples/spiral.py [--epochs 30] [--out spiral.png]
"""
import numpy as np

import dezero
import dezero.functions as F
from dezero import DataLoader, models, optimizers
from dezero.cli.options import ArgumentParser, positive_int
from dezero.datasets import Spiral
from dezero.training import fit


def decision_boundary(model, out, train_set):
    """Colour the plane by the predicted class and overlay the training points."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    h = 0.01
    xx, yy = np.meshgrid(np.arange(-1.1, 1.1, h), np.arange(-1.1, 1.1, h))
    grid = np.c_[xx.ravel(), yy.ravel()].astype(np.float32)
    with dezero.no_grad():
        pred = np.argmax(model(grid).data, axis=1).reshape(xx.shape)
    fig, ax = plt.subplots(figsize=(4, 4), dpi=80)
    ax.contourf(xx, yy, pred, levels=[-0.5, 0.5, 1.5, 2.5],
                colors=['#fdd0a2', '#c6dbef', '#c7e9c0'])
    x, t = train_set.data, train_set.label
    for c, (color, marker) in enumerate(zip(['#e6550d', '#3182bd', '#31a354'], 'ox^')):
        ax.scatter(x[t == c, 0], x[t == c, 1], s=14, c=color, marker=marker)
    ax.set_xlim(-1.1, 1.1)
    ax.set_ylim(-1.1, 1.1)
    ax.set_aspect('equal')
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(out)


def main():
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--epochs', type=positive_int, default=30)
    parser.add_argument('--hidden', type=positive_int, default=32)
    parser.add_argument('--out', default='spiral.png')
    args = parser.parse_args()

    np.random.seed(0)
    train_set, test_set = Spiral(train=True), Spiral(train=False)
    model = models.MLP((args.hidden, args.hidden, 3), activation=F.relu)
    optimizer = optimizers.Adam(alpha=0.02).setup(model)
    history = fit(model, optimizer, DataLoader(train_set, 30), DataLoader(test_set, 300),
                  epochs=args.epochs)
    print(f"test accuracy {history[-1]['test_acc']:.3f}")
    try:
        decision_boundary(model, args.out, train_set)
    except ImportError:
        print("Matplotlib is not installed (pip install 'dezero[plot]'): no picture")
        return
    print(f"saved {args.out}")


if __name__ == '__main__':
    main()
