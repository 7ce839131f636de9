"""`python -m dezero train`: train a model on a data set and save everything in a run folder.

A run folder holds config.json (enough to rebuild the model), model.npz,
optimizer.npz, history.csv / history.json (one row per epoch) and history.png.
Weights, optimizer state and history are saved after every epoch, so Ctrl-C or
a crash loses at most the epoch in progress, and --resume continues from there. A new
run stopped (Ctrl-C) before its first epoch was saved removes the folder it made.
"""
import argparse
import importlib.util
import json
import os
import sys

import numpy as np

from dezero import __version__
from dezero.cli import data, nets
from dezero.cli.options import (
    SEED_MAX,
    positive as _positive,
    seed as _seed,
)
from dezero.cli.run_folder import (
    CONFIG,
    HISTORY_CSV,
    HISTORY_JSON,
    HISTORY_PNG,
    OPTIMIZER_STATE,
    WEIGHTS,
    RunFileError,
    UsageError,
    _discard_new_run,
    _new_run_dir,
    _plot,
    _resumed_history,
    _save_histories,
    read_config,
)
from dezero.datasets import MissingDependencyError
from dezero.serializers import write_text

# Defaults per data set: small enough to finish quickly on a CPU, large enough to learn.
PRESETS = {
    'spiral': dict(hidden=[32, 32], epochs=30, batch_size=30),
    'digits': dict(hidden=[64], epochs=15, batch_size=32),
    'mnist': dict(hidden=[256], epochs=5, batch_size=100),
    'fashion-mnist': dict(hidden=[256], epochs=5, batch_size=100),
    'cifar10': dict(hidden=[256], epochs=5, batch_size=100),
}
LEARNING_RATES = {  # per data set and optimizer; adamw uses adam's
    'spiral': {'sgd': 1.0, 'momentum': 0.1, 'adam': 0.02},
    'digits': {'sgd': 0.1, 'momentum': 0.05, 'adam': 0.005},
    None: {'sgd': 0.1, 'momentum': 0.05, 'adam': 0.001},
}
# Settings a resumed run takes from its config.json.
SAVED_SETTINGS = ('dataset', 'model', 'hidden', 'optimizer', 'lr', 'batch_size', 'seed')


def _sizes(text):
    try:
        sizes = [int(s) for s in text.split(',') if s.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"expected positive layer sizes separated by commas (e.g. 64 or 128,64), got {text!r}")
    return sizes


def add_parser(subparsers):
    """Register the `train` subcommand."""
    p = subparsers.add_parser(
        'train', help='train a model on a data set (default: an MLP on the spiral set)',
        description='Train a model, evaluate it on the test split after each epoch and save '
                    'weights, optimizer state, metrics (CSV, JSON) and a plot into a run folder.')
    p.add_argument('--dataset', choices=data.DATASETS, default=None,
                   help='data set (default spiral; digits needs scikit-learn; mnist, '
                        'fashion-mnist and cifar10 are downloaded to ~/.dezero)')
    p.add_argument('--model', choices=nets.MODELS, default=None,
                   help='mlp (default) or cnn (image data sets only)')
    p.add_argument('--epochs', type=_positive(int), default=None,
                   help='number of epochs in total (default per data set; with --resume: '
                        'the saved run\'s target)')
    p.add_argument('--batch-size', type=_positive(int), default=None)
    p.add_argument('--lr', type=_positive(float), default=None,
                   help='learning rate (default per data set and optimizer)')
    p.add_argument('--optimizer', choices=nets.OPTIMIZERS, default=None, help='default adam')
    p.add_argument('--hidden', type=_sizes, default=None,
                   help='hidden layer sizes, comma separated (e.g. 128,64)')
    p.add_argument('--gpu', action='store_true', help='train on the GPU (needs CuPy)')
    p.add_argument('--seed', type=_seed, default=None,
                   help=f'random seed, 0 to {SEED_MAX} (default 0)')
    p.add_argument('--out', default=None,
                   help='run folder (default ./runs/<timestamp>/)')
    p.add_argument('--resume', metavar='RUN_DIR', default=None,
                   help='continue a saved run: its weights, optimizer state and epoch count')
    p.add_argument('--no-progress', action='store_true', help='no progress bars')
    p.add_argument('--distributed', action='store_true',
                   help='data-parallel over the processes mpiexec started (mpiexec -n 4 python '
                        '-m dezero train --distributed ...; needs dezero[mpi]): --batch-size is '
                        'the global batch, split over the ranks; with --gpu, NCCL and one GPU '
                        'per rank; rank 0 writes the run folder')
    p.add_argument('--tensorboard', nargs='?', const='', default=None, metavar='DIR',
                   help='also write TensorBoard event files (scalars, histograms every 5 '
                        'epochs) to DIR (default RUN_DIR/tensorboard); needs tensorboardX')
    p.set_defaults(func=run, parser=p)
    return p
def _check_seed_range(config):
    last = config['seed'] + config['epochs'] - 1  # epoch k reseeds with seed + k - 1
    if last > SEED_MAX:
        raise UsageError(f"--seed {config['seed']} with {config['epochs']} epochs would seed "
                         f"NumPy with {last} > {SEED_MAX}; use a smaller --seed")


def _new_config(args):
    dataset = args.dataset or 'spiral'
    model = args.model or 'mlp'
    if model == 'cnn' and dataset not in data.IMAGE_DATASETS:
        raise UsageError(f"--model cnn needs images, and {dataset} holds 2-D points: use "
                         f"--model mlp, or one of --dataset {', '.join(data.IMAGE_DATASETS)}")
    preset = PRESETS[dataset]
    optimizer = args.optimizer or 'adam'
    rates = LEARNING_RATES.get(dataset, LEARNING_RATES[None])
    return {
        'dataset': dataset, 'model': model,
        'hidden': args.hidden or preset['hidden'],
        'optimizer': optimizer,
        'lr': args.lr or rates['adam' if optimizer == 'adamw' else optimizer],
        'batch_size': args.batch_size or preset['batch_size'],
        'epochs': args.epochs or preset['epochs'],
        'seed': 0 if args.seed is None else args.seed,
    }


def _resumed_config(args):
    if not os.path.isdir(args.resume):
        kind = 'a file' if os.path.exists(args.resume) else 'not there'
        raise UsageError(f"--resume {args.resume} is {kind}; pass a run folder written by "
                         "python -m dezero train")
    config = read_config(args.resume)
    for key in SAVED_SETTINGS:
        given = getattr(args, key)
        if given is not None and given != config[key]:
            raise UsageError(f"--resume continues with the run's saved settings: its "
                             f"--{key.replace('_', '-')} is {config[key]!r}, not {given!r}; "
                             "drop the option or start a new run")
    if args.out is not None and os.path.abspath(args.out) != os.path.abspath(args.resume):
        raise UsageError("--resume writes into the run folder it continues; drop --out")
    if args.epochs is not None:
        config['epochs'] = args.epochs
    return config
def _log_epoch(record, epochs):
    def pair(loss, acc):
        return f"loss {loss:.4f}" + ('' if acc is None else f" acc {acc:.4f}")
    text = f"epoch {record['epoch']}/{epochs}: {pair(record['train_loss'], record['train_acc'])}"
    if record.get('test_loss') is not None:
        text += f" | test {pair(record['test_loss'], record['test_acc'])}"
    print(text + f" ({record['seconds']:.2f} s)", flush=True)


def _fail(message):
    """Print `error: message` as one line on stderr; return exit code 1."""
    print('error: ' + ' '.join(str(message).split()), file=sys.stderr)
    return 1
def _describe(config):
    hidden = ','.join(str(h) for h in config['hidden'])
    return (f"{config['model']} (hidden {hidden}) on {config['dataset']}, {config['optimizer']} "
            f"lr {config['lr']:g}, batch {config['batch_size']}, {config['epochs']} epochs")


def run(args):
    """Carry out `python -m dezero train` with parsed args; return the exit code."""
    from dezero import cuda
    from dezero.callbacks import CheckpointEveryEpoch, TerminateOnNaN, TrainingDiverged
    from dezero.dataloaders import DataLoader
    from dezero.training import fit

    try:
        config = _resumed_config(args) if args.resume else _new_config(args)
        _check_seed_range(config)
        history = _resumed_history(args.resume) if args.resume else []
    except UsageError as e:
        args.parser.error(str(e))
    except RunFileError as e:
        return _fail(e)
    done = len(history)
    if done >= config['epochs']:
        print(f"{args.resume} already holds {done} epochs (target {config['epochs']}); "
              "raise --epochs to train more")
        return 0
    if args.gpu:
        try:
            cuda.require_cupy()
        except RuntimeError as e:
            print(f"error: --gpu: {e}", file=sys.stderr)
            return 1
    if args.tensorboard is not None and importlib.util.find_spec('tensorboardX') is None:
        print("error: --tensorboard needs tensorboardX: pip install 'dezero[tensorboard]'",
              file=sys.stderr)
        return 1
    comm = None
    if args.distributed:
        # Every check above gives the same answer on every rank, so all ranks have
        # stopped together before MPI starts; from here on an uncaught error aborts the job.
        from dezero import distributed
        try:
            comm = distributed.create_communicator('nccl' if args.gpu else 'mpi')
        except (ImportError, RuntimeError) as e:
            print(f"error: --distributed: {e}", file=sys.stderr)
            return 1
        if config['batch_size'] % comm.size:
            if comm.rank == 0:
                print(f"error: --distributed: the batch size {config['batch_size']} is split "
                      f"over {comm.size} ranks and must be a multiple of it", file=sys.stderr)
            return 2
    root = comm is None or comm.rank == 0
    say = print if root else (lambda *a, **k: None)

    try:
        train_set, test_set, input_shape, n_classes = data.load(config['dataset'],
                                                                config['model'])
    except (MissingDependencyError, OSError) as e:
        print(f"error: cannot load the {config['dataset']} data set: {e}", file=sys.stderr)
        return 1
    config.update(input_shape=list(input_shape), n_classes=n_classes, dezero_version=__version__)
    if args.resume:
        run_dir = args.resume
    else:
        run_dir = problem = created = None
        if root:  # only rank 0 picks and creates the folder; the others are told its name
            try:
                run_dir, created = _new_run_dir(args.out)
            except UsageError as e:
                problem = str(e)
        if comm is not None:
            run_dir, problem = comm.bcast_obj((run_dir, problem))
        if problem:
            if root:
                args.parser.error(problem)
            return 2
    if root:
        try:
            write_text(os.path.join(run_dir, CONFIG), json.dumps(config, indent=1) + '\n')
        except OSError as e:
            if not args.resume:
                _discard_new_run(run_dir, created)
            return _fail(f"cannot write {os.path.join(run_dir, CONFIG)} ({e.strerror}); choose "
                         "a writable place with --out")

    saved = [done]  # epochs on disk, counted by the checkpoint
    try:  # from here on a Ctrl-C ends in the handler below
        # Reseeding with the epoch count gives a resumed run fresh, reproducible shuffles.
        np.random.seed(config['seed'] + done)
        model = nets.build_model(config)
        optimizer = nets.build_optimizer(config, model)
        if done:
            try:
                model.load_weights(os.path.join(run_dir, WEIGHTS))
                if args.gpu:  # first, so that the optimizer state is restored next to the weights
                    model.to_gpu()
                optimizer.load_state(os.path.join(run_dir, OPTIMIZER_STATE))
            except (OSError, ValueError) as e:
                return _fail(f"--resume {run_dir}: {e}; the run folder is damaged or of another "
                             "model: start a new run")

        batch_size = config['batch_size']
        where = ''
        if comm is not None:
            # Each rank trains on its share of the data with its share of the batch; the test
            # set is evaluated whole on every rank (fit averages the metrics over the ranks).
            train_set = distributed.scatter_dataset(train_set, comm, shuffle=True,
                                                    seed=config['seed'])
            batch_size //= comm.size
            optimizer = distributed.create_multi_node_optimizer(optimizer, comm)
            ranks = f"{comm.size} rank" + ('s' if comm.size > 1 else '')
            where = f" on {ranks} ({batch_size} per rank, {comm.name.upper()})"
        say(('resuming from epoch %d: ' % done if done else 'training ') + _describe(config)
            + where)
        say(f"run folder: {run_dir}")
        train_loader = DataLoader(train_set, batch_size)
        test_loader = DataLoader(test_set, max(config['batch_size'], 256), shuffle=False)

        # After each epoch (rank 0): weights, optimizer state and history, Ctrl-C held.
        def save_histories():
            _save_histories(run_dir, history)
            saved[0] = len(history)

        checkpoint = [CheckpointEveryEpoch(
            os.path.join(run_dir, WEIGHTS), os.path.join(run_dir, OPTIMIZER_STATE),
            also=save_histories)] if root else []
        callbacks = []
        if args.tensorboard is not None and root:
            from dezero.callbacks import TensorBoard
            log_dir = args.tensorboard or os.path.join(run_dir, 'tensorboard')
            callbacks.append(TensorBoard(log_dir, histogram_every=5))
            say(f"TensorBoard events: {log_dir} (view with: tensorboard --logdir {log_dir})")
        # TerminateOnNaN first: a diverged epoch is never checkpointed.
        # Progress bars on a terminal; otherwise (a log file, a pipe, --no-progress) one
        # plain line per epoch on stdout.
        bars = not args.no_progress and sys.stdout.isatty()
        log = [] if bars or not root else [lambda record: _log_epoch(record, config['epochs'])]
        fit(model, optimizer, train_loader, test_loader, epochs=config['epochs'],
            gpu=args.gpu, progress=bars, history=history,
            on_epoch_end=[TerminateOnNaN(batches=comm is None)] + checkpoint + log,
            callbacks=callbacks)
    except TrainingDiverged as e:
        if history and history[-1]['epoch'] == e.epoch:  # recorded, never checkpointed
            history.pop()
        if not root:
            return 1
        where = f"epoch {e.epoch}" + (f", batch {e.batch}" if e.batch is not None else '')
        if history:
            _plot(run_dir, history)
            kept = f"{run_dir} keeps the {len(history)} complete epoch(s) before it"
        elif args.resume:
            kept = f"{run_dir} is unchanged"
        else:
            _discard_new_run(run_dir, created)
            kept = "nothing was saved"
        return _fail(f"training diverged: the {e.key.replace('_', ' ')} became {e.value} at "
                     f"{where}; {kept}; start again with a smaller --lr (it was "
                     f"{config['lr']:g})")
    except KeyboardInterrupt:
        if not root:
            return 130
        del history[saved[0]:]  # an epoch recorded but not yet checkpointed
        if not args.resume and not saved[0]:  # leave no folder holding only config.json
            _discard_new_run(run_dir, created)
            print("\ninterrupted before the first epoch was saved: nothing was saved; "
                  + (f"removed {run_dir}" if created else f"{run_dir} is as it was"),
                  file=sys.stderr)
            return 130
        _plot(run_dir, history)
        print(f"\ninterrupted: {run_dir} keeps the {len(history)} complete epoch(s); continue "
              f"with: python -m dezero train --resume {run_dir}", file=sys.stderr)
        return 130
    if not root:
        return 0

    last = history[-1]
    print(f"test: loss {last['test_loss']:.4f}, accuracy {last['test_acc']:.4f} "
          f"after {last['epoch']} epochs")
    png = _plot(run_dir, history)
    print(f"saved in {run_dir}: {WEIGHTS} (weights), {OPTIMIZER_STATE} (optimizer state), "
          f"{HISTORY_CSV} and {HISTORY_JSON} (metrics), "
          + (f"{HISTORY_PNG} (plot), " if png else '') + f"{CONFIG}")
    return 0
