"""One optimizer update (SGD, MomentumSGD, Adam) of large parameters and of a small model,
against PyTorch's optimizers (their default foreach implementation) on the same arrays.

    python benchmarks/bench_optimizers.py [--threads 1] [--rounds 7] [--only SUBSTRING]

Workloads: one 1024 x 6272 parameter (the DCGAN generator's second Linear), the MLP
784-1000-1000-10's six parameters, and the 10-10-1 MLP of the book's regression steps
(small arrays: per-parameter overhead). Gradients are fixed random arrays; float32.
Prints median time per update() and the ratio dezero / torch.
"""
import _harness


def _extra(p):
    p.add_argument('--only', default='', help='run the workloads whose name contains this')


args = _harness.parse_args(__doc__, _extra)

import numpy as np  # noqa: E402

from dezero import Parameter, Variable, optimizers  # noqa: E402
from dezero.layers import Layer  # noqa: E402

torch = _harness.pin_torch(args.threads)
rng = np.random.default_rng(0)

SHAPES = {
    'one 1024x6272 parameter (DCGAN generator)': [(1024, 6272)],
    'MLP 784-1000-1000-10 (6 parameters)': [(784, 1000), (1000,), (1000, 1000), (1000,),
                                            (1000, 10), (10,)],
    'MLP 1-10-1 (4 small parameters)': [(1, 10), (10,), (10, 1), (1,)],
}
OPTIMIZERS = {
    'SGD': (lambda: optimizers.SGD(lr=0.01), lambda ps: torch.optim.SGD(ps, lr=0.01)),
    'MomentumSGD': (lambda: optimizers.MomentumSGD(lr=0.01, momentum=0.9),
                    lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9)),
    'Adam': (lambda: optimizers.Adam(alpha=2e-4, beta1=0.5),
             lambda ps: torch.optim.Adam(ps, lr=2e-4, betas=(0.5, 0.999))),
}

for shapes_name, shapes in SHAPES.items():
    datas = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [rng.standard_normal(s).astype(np.float32) * 0.01 for s in shapes]
    for opt_name, (make, make_torch) in OPTIMIZERS.items():
        name = f'{opt_name} update, {shapes_name}'
        if args.only not in name:
            continue
        model = Layer()
        for i, (d, g) in enumerate(zip(datas, grads)):
            p = Parameter(d.copy())
            p.grad = Variable(g)
            setattr(model, f'p{i}', p)
        opt = make().setup(model)
        work = {'dezero': opt.update}
        if torch is not None:
            params = [torch.from_numpy(d.copy()).requires_grad_() for d in datas]
            for p, g in zip(params, grads):
                p.grad = torch.from_numpy(g)
            work['torch'] = make_torch(params).step
        medians = _harness.compare(work, rounds=args.rounds, repeat=args.repeat)
        _harness.report(name + ', float32', medians, unit_scale=1e6, unit='us',
                        threads=args.threads)
