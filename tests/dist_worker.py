"""Checks run under `mpiexec -n 2 python tests/dist_worker.py CHECK...` (test_distributed.py).

Every rank runs every named check; a check raises AssertionError (or anything else) to
fail. Rank 0 prints one line `RESULTS <json>`: {check: {rank: None or the error}}.
Scenarios that end the job on purpose (`die`, `hang`) are run alone.
"""
import io
import json
import os
import sys
import time
import traceback

import numpy as np

import dezero
import dezero.functions as F
import dezero.layers as L
from dezero import distributed, optimizers
from dezero._shared_reduce import SharedReducer
from dezero.core import no_grad, test_mode
from dezero.models import Model

N, D_IN, N_CLASSES = 8, 6, 3


# ---------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------
class TwoLayer(Model):
    def __init__(self, hidden=5, dtype=np.float32):
        super().__init__()
        self.l0 = L.Linear(hidden, in_size=D_IN, dtype=dtype)
        self.l1 = L.Linear(N_CLASSES, in_size=hidden, dtype=dtype)

    def forward(self, x):
        return self.l1(F.tanh(self.l0(x)))


class ConvBN(Model):
    def __init__(self):
        super().__init__()
        self.conv = L.Conv2d(4, 3, pad=1, in_channels=1)
        self.bn = L.BatchNorm()
        self.fc = L.Linear(N_CLASSES, in_size=4 * 4 * 4)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        return self.fc(F.flatten(x))


def make(kind, seed):
    np.random.seed(seed)
    model = TwoLayer() if kind == 'mlp' else ConvBN()
    with test_mode(), no_grad():
        model(batch(kind)[0][:1])  # builds the lazy BatchNorm arrays
    return model


def batch(kind):
    rng = np.random.RandomState(123)
    shape = (N, D_IN) if kind == 'mlp' else (N, 1, 4, 4)
    x = rng.randn(*shape).astype(np.float32)
    t = rng.randint(0, N_CLASSES, size=N)
    return x, t


def make_optimizer(name):
    opt = optimizers.SGD(lr=0.5) if name == 'sgd' else optimizers.Adam(alpha=0.05)
    opt.add_hook(optimizers.ClipGrad(0.2))  # non-linear: proves it sees the averaged grads
    return opt


def arrays(model):
    return {path: p.data.copy() for path, p in model.named_params()}


def gather(comm, obj):
    return comm.mpi_comm.allgather(obj)


def assert_same(a, b, rtol=1e-5, atol=1e-6, what=''):
    assert a.keys() == b.keys(), (what, sorted(a), sorted(b))
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=rtol, atol=atol, err_msg=f"{what} {k}")


# ---------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------
STEPS = 4


def equivalence(comm, kind, opt_name):
    """Two ranks with half the batch each == one process with the whole batch.

    MLP: one process on the whole batch (the mean loss over N examples has the mean of
    the two half-batch mean gradients as its gradient). CNN with BatchNorm: batch
    statistics are per forward pass, so each rank normalises its half with that half's
    mean and variance; the mathematically equivalent single process is gradient
    accumulation over the same two halves (one forward/backward per half, loss halved),
    not one pass over the whole batch. The running statistics are per rank (compared
    after allreduce_buffers separately).
    """
    x, t = batch(kind)
    half = N // comm.size
    model = make(kind, seed=comm.rank + 1)  # different initial weights on each rank
    optimizer = distributed.create_multi_node_optimizer(
        make_optimizer(opt_name).setup(model), comm)
    comm.bcast_data(model)
    xs, ts = x[comm.rank * half:(comm.rank + 1) * half], t[comm.rank * half:(comm.rank + 1) * half]
    for _ in range(STEPS):
        loss = F.softmax_cross_entropy(model(xs), ts)
        model.cleargrads()
        loss.backward()
        optimizer.update()
    got = arrays(model)
    everyone = gather(comm, got)

    ref_error = None  # raised at the end: rank 1 must still reach the collectives below
    if comm.rank == 0:
        try:
            compare_with_one_process(kind, opt_name, got, x, t, half, comm.size)
        except AssertionError as e:
            ref_error = e

    if kind == 'cnn':
        means = gather(comm, model.bn.avg_mean.data.copy())
        comm.allreduce_buffers(model)
        after = gather(comm, model.bn.avg_mean.data.copy())
        assert not np.allclose(means[0], means[1]), "each rank's running mean should differ"
        np.testing.assert_allclose(after[comm.rank], np.mean(means, axis=0), rtol=1e-6)
        np.testing.assert_array_equal(after[0], after[1])
    for r, other in enumerate(everyone):
        assert_same(got, other, rtol=0, atol=0, what=f'rank {r} differs from this rank:')
    if ref_error is not None:
        raise ref_error


def compare_with_one_process(kind, opt_name, got, x, t, half, size):
    ref = make(kind, seed=1)
    ref_opt = make_optimizer(opt_name).setup(ref)
    for _ in range(STEPS):
        ref.cleargrads()
        if kind == 'mlp':
            F.softmax_cross_entropy(ref(x), t).backward()
        else:
            for r in range(size):
                sl = slice(r * half, (r + 1) * half)
                (F.softmax_cross_entropy(ref(x[sl]), t[sl]) * (1.0 / size)).backward()
        ref_opt.update()
    assert_same(got, arrays(ref), what='2 ranks vs 1 process:')
    moved = max(float(np.abs(got[k] - v).max()) for k, v in arrays(make(kind, 1)).items())
    assert moved > 1e-3, f"the parameters hardly moved ({moved}); the check proves nothing"


def check_bcast_data(comm):
    model = make('cnn', seed=10 + comm.rank)
    model.bn.avg_mean.data[...] = comm.rank + 1.0
    before = gather(comm, arrays(model))
    assert not np.allclose(before[0]['conv/W'], before[1]['conv/W'])
    comm.bcast_data(model)
    after = gather(comm, {**arrays(model), 'bn/avg_mean': model.bn.avg_mean.data.copy()})
    assert_same(after[comm.rank], {**before[0], 'bn/avg_mean': np.ones(4, np.float32)},
                rtol=0, atol=0, what="after bcast_data")


def expect_mismatch(comm, action, *needles):
    try:
        action()
    except ValueError as e:
        text = str(e)
        for needle in ('differ across the 2 ranks',) + needles:
            assert needle in text, f"{needle!r} not in the message: {text}"
        return
    raise AssertionError("no ValueError although the models differ")


def check_mismatch_shapes(comm):
    model = TwoLayer(hidden=5 + comm.rank)
    expect_mismatch(comm, lambda: comm.bcast_data(model), 'l0/W', 'shape (6, 5)', '(6, 6)')


def check_mismatch_dtypes(comm):
    model = TwoLayer(dtype=np.float32 if comm.rank == 0 else np.float64)
    expect_mismatch(comm, lambda: comm.bcast_data(model), 'float32', 'float64')


def check_mismatch_count_at_allreduce(comm):
    model = TwoLayer()
    if comm.rank == 1:
        model.extra = L.Linear(2, in_size=2)
    x, t = batch('mlp')
    F.softmax_cross_entropy(model(x), t).backward()
    expect_mismatch(comm, lambda: comm.allreduce_grad(model), 'extra/W', '4 vs 6 arrays')
    # Both ranks took the same way out: the communicator still works.
    assert comm.allreduce_sum([1.0])[0] == comm.size


def check_grad_none_on_one_rank(comm):
    model = TwoLayer()
    comm.bcast_data(model)
    x, t = batch('mlp')
    model.cleargrads()
    if comm.rank == 0:  # rank 1 contributes no gradient: counts as zeros
        F.softmax_cross_entropy(model(x), t).backward()
    expected = comm.mpi_comm.bcast(model.l0.W.grad.data / comm.size if comm.rank == 0 else None)
    comm.allreduce_grad(model)
    averaged = model.l0.W.grad.data.copy()
    model.cleargrads()
    comm.allreduce_grad(model)  # None everywhere stays None
    assert model.l0.W.grad is None
    np.testing.assert_allclose(averaged, expected, rtol=1e-6)


def check_fit(comm):
    from dezero.dataloaders import DataLoader
    from dezero.training import fit
    train = distributed.scatter_dataset(dezero.datasets.Spiral(train=True), comm, shuffle=True,
                                        seed=0)
    test = dezero.datasets.Spiral(train=False)
    np.random.seed(0)
    model = dezero.models.MLP((10, 3), activation=F.relu)
    optimizer = distributed.create_multi_node_optimizer(
        optimizers.SGD(lr=0.5).setup(model), comm)
    err, sys.stderr = sys.stderr, io.StringIO()
    try:
        history = fit(model, optimizer, DataLoader(train, 15), DataLoader(test, 100, False),
                      epochs=2, progress=True)
        shown = sys.stderr.getvalue()
    finally:
        sys.stderr = err
    everyone = gather(comm, (history, arrays(model), shown))
    for h, a, _ in everyone:
        assert [(r['train_loss'], r['test_acc']) for r in h] == \
            [(r['train_loss'], r['test_acc']) for r in history], "histories differ"
        assert_same(a, arrays(model), rtol=0, atol=0, what='weights after fit')
    assert ('epoch 1/2' in shown) == (comm.rank == 0), f"progress on rank {comm.rank}: {shown!r}"


def check_shared_memory_matches_mpi_allreduce(comm):
    """Both transports give every rank the same bits, and the same sums as each other;
    float64 and float32 parameters (two groups) in one model."""
    shm = distributed.create_communicator('mpi', shared_memory=True)
    plain = distributed.create_communicator('mpi', shared_memory=False)
    assert shm.shared_memory and not plain.shared_memory
    model = TwoLayer()
    model.l1 = L.Linear(N_CLASSES, in_size=5, dtype=np.float64)
    comm.bcast_data(model)
    x, t = batch('mlp')
    x = x + comm.rank  # different data, hence different gradients, per rank
    results = []
    for c in (shm, plain):
        steps = []
        for step in range(3):  # from the second step on, Linear writes into the window
            model.cleargrads()
            F.softmax_cross_entropy(model(x * (step + 1)), t).backward()
            in_window = model.l1.W.grad.data is model.l1.W.grad_out  # (l0 gets float64 gy)
            assert in_window == (c is shm and step > 0), (c.shared_memory, step, in_window)
            c.allreduce_grad(model)
            steps.append({f"{step}/{k}": p.grad.data.copy() for k, p in model.named_params()})
        results.append({k: v for d in steps for k, v in d.items()})
        for p in model.params():
            p.grad_out = None
    assert {v.dtype for v in results[0].values()} == {np.dtype(np.float32), np.dtype(np.float64)}
    everyone = gather(comm, results[0])
    assert_same(everyone[comm.rank], everyone[0], rtol=0, atol=0, what='shm, rank vs rank 0:')
    assert_same(results[0], results[1], rtol=1e-6, atol=1e-7, what='shm vs MPI_Allreduce:')


def check_shared_memory_needs_room_in_dev_shm(comm):
    """Automatic mode falls back to MPI_Allreduce when /dev/shm is too small on some rank;
    shared_memory=True then raises on every rank instead of dying of SIGBUS later."""
    from dezero.distributed import communicators

    class Full:
        f_bavail, f_frsize = (0 if comm.rank == 1 else 1 << 40), 4096
    model = TwoLayer()
    x, t = batch('mlp')
    statvfs = communicators.os.statvfs
    communicators.os.statvfs = lambda path: Full
    try:
        auto = distributed.create_communicator('mpi')
        required = distributed.create_communicator('mpi', shared_memory=True)
        F.softmax_cross_entropy(model(x), t).backward()
        auto.allreduce_grad(model)
        assert not any(isinstance(target, SharedReducer) for target in
                       auto._grad_cache[2].targets)
        try:
            required.allreduce_grad(model)
        except RuntimeError as e:
            assert 'shared_memory=True needs about' in str(e) and '/dev/shm' in str(e), e
        else:
            raise AssertionError("shared_memory=True did not refuse a full /dev/shm")
    finally:
        communicators.os.statvfs = statvfs
    try:
        distributed.create_communicator('mpi', shared_memory='yes')
    except TypeError as e:
        assert "shared_memory must be None (automatic), True or False, got 'yes'" in str(e), e
    else:
        raise AssertionError("shared_memory='yes' was accepted")


def check_shared_memory_results_survive_a_faster_rank(comm):
    """A rank that is slow to use its averaged gradients (and changes them in place, as
    hooks do) still reads its own step's sum while the other rank runs ahead."""
    from dezero._shared_reduce import SharedReducer
    barrier = SharedReducer._barrier
    passed = [0]

    def slow_barrier(self):  # rank 1 lags after the first barrier of each reduction
        barrier(self)
        passed[0] += 1
        if comm.rank == 1 and passed[0] % 2:
            time.sleep(0.005)
    SharedReducer._barrier = slow_barrier
    try:
        _faster_rank_steps(distributed.create_communicator('mpi', shared_memory=True))
    finally:
        SharedReducer._barrier = barrier
    assert passed[0] == 40


def _faster_rank_steps(comm):
    model = TwoLayer()
    for step in range(20):
        for k, p in enumerate(model.params()):
            p.grad = dezero.Variable(np.full(p.data.shape, step * 10.0 + k + comm.rank,
                                             np.float32))
        comm.allreduce_grad(model)
        if comm.rank == 0:
            time.sleep(0.005)
        for k, p in enumerate(model.params()):
            expected = step * 10.0 + k + (comm.size - 1) / 2
            np.testing.assert_array_equal(p.grad.data, expected, err_msg=f"step {step}")
            p.grad.data *= 2  # in place, like ClipGrad
        if comm.rank == 0:
            time.sleep(0.005)
        for k, p in enumerate(model.params()):
            np.testing.assert_array_equal(p.grad.data, 2 * (step * 10.0 + k + 0.5))


CHECKS = {
    'equivalence_mlp_sgd_clipgrad': lambda c: equivalence(c, 'mlp', 'sgd'),
    'equivalence_mlp_adam_clipgrad': lambda c: equivalence(c, 'mlp', 'adam'),
    'equivalence_cnn_batchnorm_sgd_clipgrad': lambda c: equivalence(c, 'cnn', 'sgd'),
    'equivalence_cnn_batchnorm_adam_clipgrad': lambda c: equivalence(c, 'cnn', 'adam'),
    'bcast_data_equalises_models': check_bcast_data,
    'mismatched_shapes_raise_on_every_rank': check_mismatch_shapes,
    'mismatched_dtypes_raise_on_every_rank': check_mismatch_dtypes,
    'mismatched_count_raises_at_allreduce': check_mismatch_count_at_allreduce,
    'grad_none_on_one_rank_counts_as_zero': check_grad_none_on_one_rank,
    'fit_with_scattered_data': check_fit,
    'shared_memory_matches_mpi_allreduce': check_shared_memory_matches_mpi_allreduce,
    'shared_memory_needs_room_in_dev_shm': check_shared_memory_needs_room_in_dev_shm,
    'shared_memory_results_survive_a_faster_rank':
        check_shared_memory_results_survive_a_faster_rank,
}


def die(comm):
    """Rank 1 fails while rank 0 waits in a collective: the excepthook must abort the job."""
    model = TwoLayer()
    if comm.rank == 1:
        raise RuntimeError("rank 1 fails on purpose")
    comm.bcast_data(model)


def hang(comm):
    """Rank 1 stops taking part: the watchdog (timeout=1) must abort the job."""
    if comm.rank == 1:
        time.sleep(60)
    comm.allreduce_sum([1.0])


def threads():
    """Ranks sharing a host each take their share of its CPUs (run without thread settings
    in the environment): prints what each rank saw."""
    from dezero import _parallel
    before = _parallel.num_threads()
    comm = distributed.create_communicator('mpi')
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    print(f"THREADS rank={comm.rank} before={before} after={_parallel.num_threads()} "
          f"set={comm.threads} cpus={cpus} intra={comm.intra_size}", flush=True)


def main(names):
    if names[0] == 'threads':
        threads()
        return
    if names[0] in ('die', 'hang'):
        comm = distributed.create_communicator('mpi', timeout=1.0 if names[0] == 'hang' else None)
        globals()[names[0]](comm)
        print(f"rank {comm.rank}: finished although the job should have been aborted",
              flush=True)
        return
    comm = distributed.create_communicator('mpi')
    results = {}
    for name in names:
        try:
            CHECKS[name](comm)
            results[name] = None
        except Exception:
            results[name] = traceback.format_exc(limit=4)
    everyone = comm.mpi_comm.gather(results, root=0)
    if comm.rank == 0:
        merged = {name: {r: res[name] for r, res in enumerate(everyone)} for name in names}
        print('RESULTS ' + json.dumps(merged), flush=True)


if __name__ == '__main__':
    main(sys.argv[1:] or list(CHECKS))
