"""`python -m dezero`: train a model (`train`), draw a computational graph (`graph`) or export
a trained model to ONNX (`export`)."""
import argparse
import sys

EXAMPLES = """examples:
  python -m dezero train                          MLP on the spiral set, a few seconds
  python -m dezero train --dataset digits --model cnn --epochs 5
  python -m dezero train --resume runs/<timestamp> --epochs 60
  python -m dezero graph --expr tanh --order 2 -o tanh2.png
  python -m dezero graph --run runs/<timestamp> -o model.svg
  python -m dezero export --run runs/<timestamp> -o model.onnx
"""


def build_parser():
    """The argparse parser with the train, graph and export subcommands."""
    from dezero.cli import export, graph, train
    from dezero.cli.options import ArgumentParser
    parser = ArgumentParser(
        prog='python -m dezero', epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description='dezero: a define-by-run deep-learning framework (Deep Learning from '
                    'Scratch 3).')
    from dezero import __version__
    parser.add_argument('--version', action='version', version=f'dezero {__version__}')
    sub = parser.add_subparsers(dest='command', metavar='{train,graph,export}')
    train.add_parser(sub)
    graph.add_parser(sub)
    export.add_parser(sub)
    return parser


def demo():
    """A few lines that show define-by-run differentiation at work."""
    from dezero.cli.graph import tanh_derivative
    y, gx, gx2 = (float(tanh_derivative(order).data) for order in range(3))
    return ("demo: y = tanh(x) at x = 1\n"
            f"  y        = {y:.6f}\n"
            f"  dy/dx    = {gx:.6f}   (1 - y^2)\n"
            f"  d2y/dx2  = {gx2:.6f}   (backward of the backward, create_graph=True)")


def main(argv=None):
    """Entry point of `python -m dezero` and the `dezero` script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        print()
        print(demo())
        return 0
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print('\ninterrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
