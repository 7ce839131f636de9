"""`python -m dezero export`: write the model of a `train` run as an ONNX file."""
import sys

import numpy as np


def add_parser(subparsers):
    """Register the `export` subcommand."""
    p = subparsers.add_parser(
        'export', help='export the model of a training run to ONNX',
        description='Rebuild the model saved by `train` in a run folder, load its weights and '
                    "write it as an ONNX model (needs the onnx package: pip install "
                    "'dezero[onnx]').")
    p.add_argument('--run', metavar='RUN_DIR', required=True,
                   help='run folder written by python -m dezero train')
    p.add_argument('-o', '--out', default='model.onnx', help='output file (default model.onnx)')
    p.add_argument('--opset', type=int, default=17, help='ONNX opset, 17 or newer (default 17)')
    p.add_argument('--static-batch', action='store_true',
                   help='fix the batch size to 1 instead of a symbolic batch axis')
    p.set_defaults(func=run, parser=p)
    return p


def run(args):
    """Carry out `python -m dezero export` with parsed args; return the exit code."""
    from dezero import onnx as dezero_onnx
    if args.opset < 17:
        args.parser.error(f"--opset must be 17 or newer, got {args.opset}")
    from dezero.cli.graph import load_run_model
    from dezero.cli.train import RunFileError, UsageError, _fail
    try:
        model, config = load_run_model(args.run)
    except UsageError as e:
        args.parser.error(str(e))
    except RunFileError as e:
        return _fail(e)
    x = np.zeros((1, *config['input_shape']), dtype=np.float32)
    try:
        path = dezero_onnx.export(model, x, args.out, input_names=['x'], output_names=['y'],
                                  dynamic_batch=not args.static_batch, opset=args.opset)
    except ImportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"error: cannot write {args.out}: {e.strerror or e}", file=sys.stderr)
        return 1
    print(f"wrote {path}: {config['model']} for inputs of shape (batch, "
          f"{', '.join(str(s) for s in config['input_shape'])}), opset {args.opset}")
    return 0
