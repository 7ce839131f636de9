"""A training epoch as `python -m dezero train --dataset digits` runs it, against an idiomatic
PyTorch loop over the same data.

    python benchmarks/bench_epoch.py [--threads 1] [--rounds 7] [--model cnn|mlp|both]

dezero: the CLI's own pieces (dezero.cli.data.load, nets.build_model/build_optimizer with
the CLI's digits defaults: hidden 64, Adam lr 0.005, batch 32), DataLoader(train, 32),
DataLoader(test, 256, shuffle=False) and fit(), one epoch per call; the time is the
epoch's `seconds` that fit records and the CLI prints (training and evaluation, data
loading included, checkpoint writing excluded).

PyTorch: the same model (2x [Conv 3x3 pad 1 - ReLU - MaxPool 2] - Linear 64 - ReLU -
Linear 10 for cnn; Linear 64 - ReLU - Linear 10 for mlp), torch.utils.data.DataLoader over a
TensorDataset of the same arrays (shuffled, batch 32), Adam lr 0.005, the loss and accuracy
read every batch as fit does, then evaluation in batches of 256 under no_grad.
Epochs alternate between the two; medians of --rounds epochs each.
"""
import time

import _harness

args = _harness.parse_args(__doc__, lambda p: p.add_argument(
    '--model', choices=['cnn', 'mlp', 'both'], default='both'))

import numpy as np

from dezero.cli import data, nets
from dezero.dataloaders import DataLoader
from dezero.training import fit

torch = _harness.pin_torch(args.threads)
BATCH, HIDDEN, LR = 32, 64, 0.005


def dezero_epoch(model_name):
    train, test, _, n_classes = data.load('digits', model_name)
    config = {'model': model_name, 'hidden': [HIDDEN], 'n_classes': n_classes,
              'optimizer': 'adam', 'lr': LR}
    np.random.seed(0)
    model = nets.build_model(config)
    optimizer = nets.build_optimizer(config, model)
    train_loader = DataLoader(train, BATCH)
    test_loader = DataLoader(test, max(BATCH, 256), shuffle=False)
    history = []

    def epoch():
        fit(model, optimizer, train_loader, test_loader, epochs=len(history) + 1,
            history=history, progress=False)
        return history[-1]['seconds']
    return epoch, train, test


def torch_epoch(model_name, train, test):
    nn = torch.nn
    if model_name == 'cnn':
        model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(32 * 2 * 2, HIDDEN), nn.ReLU(),
                              nn.Linear(HIDDEN, 10))
    else:
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, HIDDEN), nn.ReLU(),
                              nn.Linear(HIDDEN, 10))
    # The same arrays the dezero loaders read (flattened ones for the MLP are re-shaped
    # by nn.Flatten).
    def tensors(ds):
        x = np.stack([ds[i][0] for i in range(len(ds))]).astype(np.float32)
        return torch.from_numpy(x), torch.from_numpy(np.asarray(ds.label))
    TensorDataset, TorchLoader = torch.utils.data.TensorDataset, torch.utils.data.DataLoader
    train_loader = TorchLoader(TensorDataset(*tensors(train)), batch_size=BATCH, shuffle=True)
    test_loader = TorchLoader(TensorDataset(*tensors(test)), batch_size=256)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.functional.cross_entropy

    def epoch():
        start = time.perf_counter()
        model.train()
        total = correct = loss_sum = 0.0
        for x, t in train_loader:
            y = model(x)
            loss = loss_fn(y, t)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(t)
            correct += (y.argmax(1) == t).sum().item()
            total += len(t)
        model.eval()
        with torch.no_grad():
            test_loss = test_correct = 0.0
            for x, t in test_loader:
                y = model(x)
                test_loss += loss_fn(y, t, reduction='sum').item()
                test_correct += (y.argmax(1) == t).sum().item()
        return time.perf_counter() - start
    return epoch


def main():
    names = ['cnn', 'mlp'] if args.model == 'both' else [args.model]
    for name in names:
        dz, train, test = dezero_epoch(name)
        work = {'dezero': dz}
        if torch is not None:
            work['torch'] = torch_epoch(name, train, test)
        # The epoch's own clock (fit's record for dezero), alternating, median of rounds.
        samples = {k: [] for k in work}
        for fn in work.values():
            fn()  # warm-up epoch
        for _ in range(args.rounds):
            for k, fn in work.items():
                samples[k].append(fn())
        medians = {k: float(np.median(v)) for k, v in samples.items()}
        _harness.report(f"digits {name} epoch ({len(train)} train + {len(test)} test images, "
                        f"batch {BATCH}, Adam), as the CLI trains it", medians,
                        unit_scale=1e3, unit='ms', threads=args.threads)


if __name__ == '__main__':
    main()
