"""tanh and its 1st to 4th derivatives, each the backward pass of the one before (create_graph).

    python examples/tanh_higher_order.py [--out tanh.png] [--order 4]
"""
import numpy as np

import dezero.functions as F
from dezero import Variable
from dezero.cli.options import ArgumentParser, non_negative_int


def derivatives(x_values, order):
    """[tanh(x), tanh'(x), ..., tanh^(order)(x)] as arrays, by repeated backward passes."""
    x = Variable(x_values)
    y = F.tanh(x)
    curves = [y.data.copy()]
    for _ in range(order):
        x.cleargrad()
        y.backward(create_graph=True)  # x.grad is itself a graph we can differentiate again
        y = x.grad
        curves.append(y.data.copy())
    return curves


def main():
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--order', type=non_negative_int, default=4)
    parser.add_argument('--out', default='tanh.png')
    args = parser.parse_args()

    x = np.linspace(-5, 5, 201)  # includes x = 0.5
    # backward sums over the elements: each element of y depends only on its own x,
    # so x.grad holds the elementwise derivative.
    curves = derivatives(x, args.order)
    for k, c in enumerate(curves):
        print(f"order {k}: value at x=0.5 is {c[110]:+.4f}")

    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        print("Matplotlib is not installed (pip install 'dezero[plot]'): no picture")
        return
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for k, c in enumerate(curves):
        ax.plot(x, c, label='tanh(x)' if k == 0 else f'order {k}')
    ax.set_xlabel('x')
    ax.set_title('tanh and its derivatives')
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"saved {args.out}")


if __name__ == '__main__':
    main()
