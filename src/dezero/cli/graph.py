"""`python -m dezero graph`: draw the computational graph of a sample expression or of a
saved model's forward pass (PNG/SVG/PDF through Graphviz's dot, or just the .dot file)."""
import os

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


def load_run_model(run_dir):
    """(model, config) of a saved run: the model rebuilt from config.json, weights loaded.

    Raises train.UsageError when run_dir is not a run folder and train.RunFileError when
    one of its files is missing or damaged (shared by `graph --run` and `export --run`).
    """
    from dezero.cli import nets
    from dezero.cli.options import is_size_list
    from dezero.cli.train import WEIGHTS, RunFileError, UsageError, read_config
    if not os.path.isdir(run_dir):
        kind = 'a file' if os.path.exists(run_dir) else 'not there'
        raise UsageError(f"--run {run_dir} is {kind}; pass a run folder written by "
                         "python -m dezero train")
    config = read_config(run_dir, '--run')
    shape = config.get('input_shape')
    if not is_size_list(shape):
        raise RunFileError(f"--run: the config.json of {run_dir} has input_shape = {shape!r}, "
                           "not a list of positive sizes; restore it or train a new run")
    weights = os.path.join(run_dir, WEIGHTS)
    if not os.path.exists(weights):
        raise RunFileError(f"--run: {run_dir} has no {WEIGHTS} yet (its first epoch did not "
                           f"finish); train it with: python -m dezero train --resume {run_dir}")
    model = nets.build_model(config)
    try:
        model.load_weights(weights)
    except (OSError, ValueError) as e:
        raise RunFileError(f"--run: {e}; the run folder is damaged or of another model") from None
    return model, config


def model_output(run_dir):
    """The output Variable of a saved run's model on one zero example (see load_run_model)."""
    from dezero import Variable
    model, config = load_run_model(run_dir)
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


def _check_out(args):
    """-o must be a file name with an extension in a folder that exists and is writable."""
    folder = os.path.dirname(os.path.abspath(args.out))
    if os.path.isdir(args.out):
        args.parser.error(f"-o {args.out} is a folder; name a file such as graph.png")
    if not os.path.splitext(args.out)[1]:
        args.parser.error(f"-o {args.out} has no extension; name the format, e.g. graph.png, "
                          "graph.svg or graph.dot")
    parent = folder
    while not os.path.exists(parent):  # plot_dot_graph creates missing folders
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        args.parser.error(f"-o {args.out}: cannot write into {folder}; choose a writable place")


def run(args):
    """Carry out `python -m dezero graph` with parsed args; return the exit code."""
    from dezero.graph import INSTALL_GRAPHVIZ, GraphvizNotFoundError, plot_dot_graph
    if args.order < 0:
        args.parser.error(f"--order must be 0 or more, got {args.order}")
    from dezero.cli.train import RunFileError, UsageError, _fail
    _check_out(args)
    if args.run is not None:
        try:
            output = model_output(args.run)
        except UsageError as e:
            args.parser.error(str(e))
        except RunFileError as e:
            return _fail(e)
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
        print(f"wrote {e.dot_file} (the graph of {what})")
        ext = os.path.splitext(args.out)[1][1:]
        return _fail(f"could not render {args.out}: Graphviz's dot program was not found; "
                     f"{INSTALL_GRAPHVIZ}, then run: dot -T{ext} {e.dot_file} -o {args.out}")
    except ValueError as e:
        args.parser.error(str(e))
    except RuntimeError as e:  # dot failed: an unknown format, mostly
        args.parser.error(f"-o {args.out}: {e}")
    except OSError as e:
        args.parser.error(f"-o {args.out}: cannot write it ({e.strerror}); choose a writable "
                          "place")
    print(f"wrote {path}: the graph of {what}")
    return 0
