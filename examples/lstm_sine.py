"""Predict the next value of a noisy sine wave with an LSTM (truncated BPTT), then run it
on a cosine it has never seen.

    python examples/lstm_sine.py [--epochs 50] [--out lstm_sine.png]
"""
import numpy as np

import dezero
import dezero.functions as F
import dezero.layers as L
from dezero import SeqDataLoader, models, optimizers
from dezero.cli.options import ArgumentParser, positive_int
from dezero.datasets import SinCurve


class SimpleRNN(models.Model):
    """An LSTM over one feature followed by a linear read-out."""

    def __init__(self, hidden_size, out_size):
        super().__init__()
        self.rnn = L.LSTM(hidden_size)
        self.fc = L.Linear(out_size)

    def reset_state(self):
        self.rnn.reset_state()

    def forward(self, x):
        return self.fc(self.rnn(x))


def main():
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--epochs', type=positive_int, default=50)
    parser.add_argument('--hidden', type=positive_int, default=100)
    parser.add_argument('--bptt', type=positive_int, default=30,
                        help='steps between backward passes')
    parser.add_argument('--out', default='lstm_sine.png')
    args = parser.parse_args()

    np.random.seed(0)
    train_set = SinCurve(train=True)
    loader = SeqDataLoader(train_set, batch_size=30)
    model = SimpleRNN(args.hidden, 1)
    optimizer = optimizers.Adam().setup(model)

    # Truncated BPTT does not fit fit()'s one-batch-one-step loop: the state carries over
    # batches and the graph is cut every `bptt` steps, so the loop is written out here.
    for epoch in range(1, args.epochs + 1):
        model.reset_state()
        loss, count, total = 0, 0, 0.0
        for x, t in loader:
            y = model(x)
            loss += F.mean_squared_error(y, t)
            count += 1
            if count % args.bptt == 0 or count == loader.max_iter:
                model.cleargrads()
                loss.backward()
                loss.unchain_backward()
                optimizer.update()
                total += float(loss.data)
                loss = 0
        if epoch % 10 == 0 or epoch == args.epochs:
            print(f"epoch {epoch}: loss {total / count:.5f}")

    # Roll the model over the cosine, one step at a time, without building a graph.
    xs = np.cos(np.linspace(0, 4 * np.pi, 1000))
    model.reset_state()
    with dezero.no_grad():
        pred = [float(model(np.array([[x]])).data[0, 0]) for x in xs]
    err = np.mean((np.array(pred[:-1]) - xs[1:]) ** 2)
    print(f"next-value mean squared error on cos: {err:.5f}")

    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        print("Matplotlib is not installed (pip install 'dezero[plot]'): no picture")
        return
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot(np.arange(len(xs)), xs, label='cos(x)')
    ax.plot(np.arange(1, len(xs) + 1), pred, label='predicted next value')
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"saved {args.out}")


if __name__ == '__main__':
    main()
