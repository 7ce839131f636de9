"""Data-parallel scaling: the MLP 784-1000-1000-10 (ReLU, SGD), batch 100 per rank, 1 and 2 ranks.

    python benchmarks/bench_distributed.py [--ranks 1,2] [--launches 3] [--steps 40]
                                           [--rounds 5] [--gpu] [--shared-memory auto]

Starts `mpiexec -n N` of itself for each N in --ranks, --launches times, alternating
(1, 2, 1, 2, ...), every rank with one BLAS thread. Each launch times --rounds rounds
of --steps training steps (the slowest rank's time, median of the rounds) and the
time spent in comm.allreduce_grad per step. It also times, with every rank starting
together, allreduce_grad alone and one bare MPI Allreduce of a float32 buffer as
large as all the gradients (the floor allreduce_grad can reach): the in-loop figure
also holds the time a rank waits for a slower one.

Prints per launch and the medians: step time, throughput (examples/s over all
ranks), scaling efficiency = throughput(N) / (N * throughput(1)) (goal >= 0.85 for
N = 2), allreduce_grad ms per step and the bare Allreduce ms, and the step time of
N ranks computing at once without exchanging anything (alternating with the real
steps): what sharing the machine's cores and memory alone costs, a ceiling on the
efficiency that no communication scheme can pass. --gpu uses the NCCL
communicator (one GPU per rank) instead of MPI on CPUs. --shared-memory off times
MPI_Allreduce instead of the MPI communicator's shared-memory summation (which is used
by default when every rank is on this host and /dev/shm has room).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

N_BATCH, D, H, C = 100, 784, 1000, 10


def worker(args):
    import numpy as np

    import dezero.functions as F
    from dezero import distributed, optimizers
    from dezero.models import MLP

    comm = distributed.create_communicator(
        'nccl' if args.gpu else 'mpi',
        shared_memory={'auto': None, 'on': True, 'off': False}[args.shared_memory])
    MPI = comm._MPI
    rng = np.random.default_rng(comm.rank)
    x = rng.standard_normal((N_BATCH, D)).astype(np.float32)
    t = rng.integers(0, C, N_BATCH)
    np.random.seed(0)
    model = MLP((H, H, C), activation=F.relu)
    model(x[:1])
    def sync():
        pass

    if args.gpu:
        import cupy
        model.to_gpu()
        x, t = cupy.asarray(x), cupy.asarray(t)
        sync = cupy.cuda.get_current_stream().synchronize
    comm.bcast_data(model)
    optimizer = distributed.create_multi_node_optimizer(optimizers.SGD(lr=0.01).setup(model),
                                                        comm)
    spent = [0.0]
    allreduce_grad = comm.allreduce_grad

    def timed_allreduce_grad(target):
        sync()
        start = time.perf_counter()
        allreduce_grad(target)
        sync()
        spent[0] += time.perf_counter() - start

    comm.allreduce_grad = timed_allreduce_grad

    def step(update=optimizer.update):
        loss = F.softmax_cross_entropy(model(x), t)
        model.cleargrads()
        loss.backward()
        update()

    def step_without_communication():  # every rank computing at once, nothing exchanged
        step(optimizer.actual_optimizer.update)

    for _ in range(5):
        step()
    step_s, allreduce_s, alone_step_s = [], [], []
    for _ in range(args.rounds):
        for times, fn in ((step_s, step), (alone_step_s, step_without_communication)):
            comm.barrier()
            spent[0] = 0.0
            start = time.perf_counter()
            for _ in range(args.steps):
                fn()
            sync()
            elapsed = comm.mpi_comm.allreduce(time.perf_counter() - start, op=MPI.MAX)
            times.append(elapsed / args.steps)
            if fn is step:
                allreduce_s.append(comm.mpi_comm.allreduce(spent[0], op=MPI.MAX) / args.steps)

    # Communication alone, every rank starting together (no waiting for a slower rank):
    # allreduce_grad on the last step's gradients, and a bare MPI Allreduce of as many floats.
    n_params = sum(p.data.size for p in model.params())
    bare, alone = [], []
    buf = np.ones(n_params, dtype=np.float32)
    if comm.size > 1:
        for _ in range(args.rounds):
            for times, fn in ((alone, lambda: allreduce_grad(model)),
                              (bare, lambda: comm.mpi_comm.Allreduce(MPI.IN_PLACE, buf,
                                                                     op=MPI.SUM))):
                if fn is not None and not (args.gpu and times is bare):
                    comm.barrier()
                    start = time.perf_counter()
                    for _ in range(10):
                        fn()
                    sync()
                    times.append(comm.mpi_comm.allreduce(time.perf_counter() - start,
                                                         op=MPI.MAX) / 10)
    if comm.rank == 0:
        print('RESULT ' + json.dumps({
            'ranks': comm.size, 'step_s': statistics.median(step_s),
            'allreduce_s': statistics.median(allreduce_s),
            'bare_allreduce_s': statistics.median(bare) if bare else 0.0,
            'allreduce_alone_s': statistics.median(alone) if alone else 0.0,
            'no_communication_step_s': statistics.median(alone_step_s),
            'rounds_step_s': step_s, 'n_params': n_params}), flush=True)


def mpiexec():
    here = os.path.join(os.path.dirname(sys.executable), 'mpiexec')
    found = here if os.path.exists(here) else shutil.which('mpiexec')
    if not found:
        sys.exit("bench_distributed: no mpiexec; pip install 'dezero[mpi]'")
    return found


def launch(n, args):
    env = dict(os.environ, OMP_NUM_THREADS='1', OPENBLAS_NUM_THREADS='1', MKL_NUM_THREADS='1',
               NUMEXPR_NUM_THREADS='1')
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src')
    env['PYTHONPATH'] = os.pathsep.join([os.path.abspath(src), env.get('PYTHONPATH', '')])
    cmd = [mpiexec(), '-n', str(n), sys.executable, os.path.abspath(__file__), '--worker',
           '--steps', str(args.steps), '--rounds', str(args.rounds),
           '--shared-memory', args.shared_memory] + (['--gpu'] if args.gpu else [])
    out = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=600)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith('RESULT ')]
    if out.returncode or not lines:
        sys.exit(f"bench_distributed: {' '.join(cmd)} failed ({out.returncode}):\n"
                 f"{out.stdout}\n{out.stderr}")
    return json.loads(lines[0][len('RESULT '):])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--ranks', default='1,2', help='rank counts, comma separated')
    parser.add_argument('--launches', type=int, default=3, help='launches per rank count')
    parser.add_argument('--steps', type=int, default=40, help='steps per round')
    parser.add_argument('--rounds', type=int, default=5, help='rounds per launch (median)')
    parser.add_argument('--gpu', action='store_true', help='NCCL, one GPU per rank')
    parser.add_argument('--shared-memory', choices=['auto', 'on', 'off'], default='auto',
                        help="create_communicator's shared_memory: None (auto, the default), "
                             "True (on) or False (off: MPI_Allreduce)")
    parser.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    counts = [int(s) for s in args.ranks.split(',')]
    transport = ('NCCL on GPUs' if args.gpu else 'MPI on CPUs, gradients summed in ' +
                 {'auto': 'shared memory where it fits', 'on': 'shared memory',
                  'off': 'MPI_Allreduce'}[args.shared_memory])
    print(f"MLP {D}-{H}-{H}-{C}, batch {N_BATCH} per rank, SGD, 1 thread per rank, "
          f"{transport}; {os.cpu_count()} CPUs")
    results = {n: [] for n in counts}
    for k in range(args.launches):
        for n in counts:
            r = launch(n, args)
            results[n].append(r)
            print(f"launch {k + 1} ranks {n}: step {r['step_s'] * 1e3:7.2f} ms  "
                  f"allreduce_grad {r['allreduce_s'] * 1e3:6.2f} ms/step (alone "
                  f"{r['allreduce_alone_s'] * 1e3:6.2f} ms, bare Allreduce "
                  f"{r['bare_allreduce_s'] * 1e3:6.2f} ms)  (rounds: "
                  + ', '.join(f"{s * 1e3:.1f}" for s in r['rounds_step_s']) + ')', flush=True)
    base = statistics.median(r['step_s'] for r in results[counts[0]]) if counts else None
    print('\nmedian over launches:')
    for n in counts:
        step = statistics.median(r['step_s'] for r in results[n])
        spread = [r['step_s'] * 1e3 for r in results[n]]
        throughput = n * N_BATCH / step
        line = (f"ranks {n}: step {step * 1e3:.2f} ms (launches {min(spread):.2f}.."
                f"{max(spread):.2f}), {throughput:,.0f} examples/s, allreduce_grad "
                f"{statistics.median(r['allreduce_s'] for r in results[n]) * 1e3:.2f} ms/step")
        if counts[0] == 1 and n > 1:
            line += f", scaling efficiency {throughput / (n * N_BATCH / base):.2f}"
            alone = statistics.median(r['allreduce_alone_s'] for r in results[n])
            bare = statistics.median(r['bare_allreduce_s'] for r in results[n])
            line += (f"; communication alone: allreduce_grad {alone * 1e3:.2f} ms, bare MPI "
                     f"Allreduce of as many floats {bare * 1e3:.2f} ms")
            quiet = statistics.median(r['no_communication_step_s'] for r in results[n])
            line += (f"; the same steps with no communication: {quiet * 1e3:.2f} ms (the "
                     f"ceiling this machine allows: efficiency {base / quiet:.2f})")
        print(line)


if __name__ == '__main__':
    main()
