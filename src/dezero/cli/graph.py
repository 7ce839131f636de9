"""`python -m dezero graph`: draw the computational graph of a sample expression or of a
saved model's forward pass (PNG/SVG/PDF through Graphviz's dot, or just the .dot file)."""
import json
import os
import sys

import numpy as np


def goldstein_price():
    """The Goldstein-Price function of x and y at (1, 1)."""
    from dezero import Variable
    x, y = Variable(np.array(1.0), name='x'), Variable(np.array(1.0), name='y')
    z = (1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x ** 2 - 14 * y + 6 * x * y + 3 * y ** 2)) * \
        (30 + (2 * x - 3 * y) ** 2
         * (18 - 32 * x + 12 * x ** 2 + 48 * y - 36 * x * y + 27 * y ** 2))
    z.name = 'z'
    return z


def matyas():
    """The Matyas function 0.26 (x^2 + y^2) - 0.48 x y at (1, 1)."""
    from dezero import Variable
    x, y = Variable(np.array(1.0), name='x'), Variable(np.array(1.0), name='y')
    z = 0.26 * (x ** 2 + y ** 2) - 0.48 * x * y
    z.name = 'z'
    return z


def tanh_derivative(order):
    """The graph of d^order/dx^order tanh(x) at x = 1, built with create_graph."""
    import dezero.functions as F
    from dezero import Variable
    x = Variable(np.array(1.0), name='x')
    y = F.tanh(x)
    y.name = 'y'
    for _ in range(order):
        x.cleargrad()
        y.backward(create_graph=True)
        y = x.grad
    y.name = f'gx{order}' if order else 'y'
    return y


EXPRESSIONS = {
    'goldstein-price': goldstein_price,
    'matyas': matyas,
    'tanh': tanh_derivative,
}


def model_output(run_dir):
    """Rebuild a saved run's model, load its weights and run it on one zero example."""
    from dezero import Variable
    from dezero.cli import nets
    from dezero.cli.train import CONFIG, WEIGHTS
    with open(os.path.join(run_dir, CONFIG), encoding='utf-8') as f:
        config = json.load(f)
    model = nets.build_model(config)
    model.load_weights(os.path.join(run_dir, WEIGHTS))
    x = Variable(np.zeros((1, *config['input_shape']), dtype=np.float32), name='x')
    y = model(x)
    y.name = 'y'
    return y


def add_parser(subparsers):
    """Register the `graph` subcommand."""
    p = subparsers.add_parser(
        'graph', help='draw a computational graph (sample expression or saved model)',
        description='Draw the computational graph of a sample expression, or of the forward '
                    'pass of a model saved by `train`, with Graphviz (`dot`). Without '
                    'Graphviz the .dot file is written and the command tells how to render it.')
    p.add_argument('--expr', choices=sorted(EXPRESSIONS), default='goldstein-price',
                   help='sample expression (default goldstein-price)')
    p.add_argument('--order', type=int, default=2,
                   help="derivative order for --expr tanh (default 2)")
    p.add_argument('--run', metavar='RUN_DIR', default=None,
                   help='draw the forward pass of the model saved in this run folder instead')
    p.add_argument('-o', '--out', default='graph.png',
                   help='output file; its extension picks the format: png, svg, pdf, dot '
                        '(default graph.png)')
    p.add_argument('--no-verbose', action='store_true',
                   help='show names only, not shapes and dtypes')
    p.set_defaults(func=run, parser=p)
    return p


def run(args):
    """Carry out `python -m dezero graph` with parsed args; return the exit code."""
    from dezero.graph import GraphvizNotFoundError, plot_dot_graph
    if args.order < 0:
        args.parser.error(f"--order must be 0 or more, got {args.order}")
    if args.run is not None:
        try:
            output = model_output(args.run)
        except FileNotFoundError as e:
            print(f"error: --run {args.run}: {e.strerror}: {e.filename}; pass a folder written "
                  "by python -m dezero train", file=sys.stderr)
            return 1
        what = f'the model in {args.run}'
    elif args.expr == 'tanh':
        output = tanh_derivative(args.order)
        what = f'the order-{args.order} derivative of tanh'
    else:
        output = EXPRESSIONS[args.expr]()
        what = f'the {args.expr} function'
    try:
        path = plot_dot_graph(output, verbose=not args.no_verbose, to_file=args.out, strict=True)
    except GraphvizNotFoundError as e:
        print(f"wrote {e.dot_file} (the graph of {what}), but could not render {args.out}:\n"
              f"{e}")
        return 0
    except ValueError as e:
        args.parser.error(str(e))
    print(f"wrote {path}: the graph of {what}")
    return 0
