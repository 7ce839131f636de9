"""The communicators: MpiCommunicator (mpi4py), NcclCommunicator (CuPy's NCCL) and
create_communicator. mpi4py and CuPy are imported only when one is created."""
import os

import numpy as np

from dezero import _parallel, cuda
from dezero._shared_reduce import SharedReducer
from dezero.core import Variable
from dezero.distributed._faults import _install_abort_hook, _Watchdog
from dezero.distributed._plan import (
    _difference,
    _fingerprint,
    _persistent_arrays,
    _Plan,
    _signature,
    _unique_params,
)

MPI_EXTRA = "pip install 'dezero[mpi]'"
TIMEOUT_ENV = 'DEZERO_DISTRIBUTED_TIMEOUT'
SHM_DIR = '/dev/shm'  # where MPICH and Open MPI place shared-memory windows on Linux


def _import_mpi(who):
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(
            f"{who}: distributed training needs mpi4py and an MPI library, which are not "
            f"installed: {MPI_EXTRA} (brings mpi4py and the mpich wheel, which provides "
            f"mpiexec); {e}") from e
    return MPI


def _cpu_share(node):
    """This rank's share of its host's CPUs: its CPU set divided among the ranks on the host
    (node, an MPI communicator) that have the same set (mpiexec without binding); a rank
    bound to CPUs of its own keeps them all."""
    try:
        mine = sorted(os.sched_getaffinity(0))
    except AttributeError:  # no affinity API (macOS)
        mine = list(range(os.cpu_count() or 1))
    sharing = sum(1 for cpus in node.allgather(mine) if cpus == mine)
    return max(1, len(mine) // sharing)


class MpiCommunicator:
    """Averages gradients and broadcasts weights over MPI (mpi4py), for NumPy or CuPy arrays.

    Attributes:
        rank: this process's index, 0 .. size - 1 (rank 0 writes checkpoints and logs).
        size: the number of processes.
        intra_rank: this process's index among those on the same host (its GPU index).
        intra_size: the number of processes on this host.
        threads: the BLAS thread count this rank set itself to, its share of the host's
            CPUs with other ranks there (None: unchanged; see _parallel.share_cpus).
        mpi_comm: the underlying mpi4py communicator.

    Buffers travel with mpi4py's buffer-based (upper-case) calls, never pickled;
    CuPy arrays are staged through host memory (use NcclCommunicator on GPUs).
    When every rank runs on one host, allreduce_grad sums NumPy gradients in MPI
    shared-memory windows instead (dezero._shared_reduce; see create_communicator's
    shared_memory).
    Create it with create_communicator().
    """
    name = 'mpi'

    def __init__(self, mpi_comm=None, timeout=None, abort_on_error=True, shared_memory=None):
        MPI = _import_mpi(f"{type(self).__name__}")
        self._MPI = MPI
        self.mpi_comm = MPI.COMM_WORLD if mpi_comm is None else mpi_comm
        self.rank = self.mpi_comm.Get_rank()
        self.size = self.mpi_comm.Get_size()
        node = self.mpi_comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
        self.intra_rank, self.intra_size = node.Get_rank(), node.Get_size()
        if shared_memory not in (None, True, False):
            raise TypeError(f"{type(self).__name__}: shared_memory must be None (automatic), "
                            f"True or False, got {shared_memory!r}.")
        # Ranks on one host share its CPUs: each takes its share of threads.
        self.threads = _parallel.share_cpus(_cpu_share(node)) if self.intra_size > 1 else None
        # Every rank on this host: NumPy gradients may be summed in shared memory.
        self.shared_memory = shared_memory is not False and 1 < self.size == self.intra_size
        self._shared_memory_required = shared_memory is True
        if self.shared_memory:
            self._node_comm = node
        else:
            node.Free()
            self._node_comm = None
        if timeout is None and os.environ.get(TIMEOUT_ENV):
            try:
                timeout = float(os.environ[TIMEOUT_ENV])
            except ValueError:
                raise ValueError(f"{type(self).__name__}: ${TIMEOUT_ENV} must be a number of "
                                 f"seconds, got {os.environ[TIMEOUT_ENV]!r}.") from None
        if timeout is not None and not timeout > 0:
            raise ValueError(f"{type(self).__name__}: timeout must be a positive number of "
                             f"seconds or None, got {timeout!r}.")
        self.timeout = timeout
        self._watchdog = _Watchdog(self, timeout) if timeout is not None else None
        self._grad_cache = None  # (signature, fingerprint, plan) of the last allreduce_grad
        if abort_on_error and self.size > 1:
            _install_abort_hook(self.mpi_comm)

    def __repr__(self):
        return (f"{type(self).__name__}(rank={self.rank}, size={self.size}, "
                f"intra_rank={self.intra_rank})")

    # -- the transport: subclasses replace these two for device buffers -----------
    def _bcast_buffer(self, buf, root):
        if isinstance(buf, np.ndarray):
            self.mpi_comm.Bcast(buf, root=root)
        else:  # CuPy through the host
            host = cuda.as_numpy(buf)
            self.mpi_comm.Bcast(host, root=root)
            buf[...] = cuda.get_array_module(buf).asarray(host)

    def _allreduce_buffer(self, buf):
        """Sum buf over the ranks, in place."""
        if isinstance(buf, np.ndarray):
            self.mpi_comm.Allreduce(self._MPI.IN_PLACE, buf, op=self._MPI.SUM)
        else:
            host = cuda.as_numpy(buf)
            self.mpi_comm.Allreduce(self._MPI.IN_PLACE, host, op=self._MPI.SUM)
            buf[...] = cuda.get_array_module(buf).asarray(host)

    def _guard(self, what):
        if self._watchdog is not None:
            self._watchdog.start(what)

    def _unguard(self):
        if self._watchdog is not None:
            self._watchdog.stop()

    # -- small host-side helpers -------------------------------------------------
    def bcast_obj(self, obj, root=0):
        """Rank root's Python object on every rank (pickled: for small things like a path)."""
        self._guard('bcast_obj')
        try:
            return self.mpi_comm.bcast(obj, root=root)
        finally:
            self._unguard()

    def allreduce_sum(self, values):
        """The element-wise sum over the ranks of a list of numbers, as a float64 NumPy array."""
        buf = np.array(values, dtype=np.float64).reshape(-1)
        if self.size > 1:
            self._guard('allreduce_sum')
            try:
                self.mpi_comm.Allreduce(self._MPI.IN_PLACE, buf, op=self._MPI.SUM)
            finally:
                self._unguard()
        return buf

    def barrier(self):
        """Wait until every rank gets here."""
        self._guard('barrier')
        try:
            self.mpi_comm.Barrier()
        finally:
            self._unguard()

    def abort(self, code=1):
        """End every rank of the job now with exit status `code` (MPI_Abort)."""
        self.mpi_comm.Abort(code)

    def _check_same(self, signature, who):
        """Raise ValueError on every rank unless every rank has the same signature.

        A fixed-size MAX reduction of (h, -h) tells every rank at once whether all
        fingerprints h agree; only then are the full signatures gathered (pickled) to
        say what differs. Every rank takes the same branch, so none is left waiting.
        """
        h = _fingerprint(signature)
        probe = np.array([h, -h], dtype=np.int64)
        self._guard(who)
        try:
            self.mpi_comm.Allreduce(self._MPI.IN_PLACE, probe, op=self._MPI.MAX)
            if probe[0] == -probe[1]:
                return h
            everyone = self.mpi_comm.allgather(signature)
        finally:
            self._unguard()
        lines = [f"rank {r}: {_difference(everyone[0], sig)}"
                 for r, sig in enumerate(everyone) if sig != everyone[0]]
        raise ValueError(
            f"{who}: the models differ across the {self.size} ranks (compared with rank 0: "
            + ' | '.join(lines) + "). Build the same model (same layers, sizes and dtypes) on "
            "every rank, and call it once on a batch of the same shape, before training.")

    # -- the collective operations on models --------------------------------------
    def bcast_data(self, model, root=0):
        """Copy rank root's parameters and buffers (BatchNorm statistics) into every rank's model.

        Arrays are overwritten in place (optimizer state keyed on the Parameters stays
        valid). Every rank must hold the same structure; arrays not built yet (lazy
        layers never called) are skipped, and must be unbuilt on every rank. Raises
        ValueError on every rank when the models differ.
        """
        who = f"{type(self).__name__}.bcast_data"
        holders = _persistent_arrays(model)
        if self.size == 1:
            return
        self._check_same(_signature(holders), who)
        plan = _Plan(holders)
        buffers = plan.get_buffers()
        self._guard(who)
        try:
            for (_dtype, _xp, items, _total), buf in zip(plan.groups, buffers):
                if self.rank == root:
                    for index, offset, n, _shape in items:
                        buf[offset:offset + n] = holders[index][1].data.reshape(-1)
                self._bcast_buffer(buf, root)
                if self.rank != root:
                    for index, offset, n, shape in items:
                        holders[index][1].data[...] = buf[offset:offset + n].reshape(shape)
        finally:
            self._unguard()

    def allreduce_grad(self, model):
        """Average every Parameter's gradient over the ranks, in one flat buffer per dtype.

        A Parameter whose grad is None on some ranks counts as a zero gradient there; it
        stays None only when it is None on every rank. Afterwards each grad is a view into
        the communication buffer, valid until the next allreduce_grad. Raises ValueError on
        every rank when the models differ (checked each step with one 16-byte reduction).
        """
        if self.size == 1:
            return
        who = f"{type(self).__name__}.allreduce_grad"
        params = _unique_params(model)
        signature = _signature(params)
        cache = self._grad_cache
        if cache is None or cache[0] != signature:
            cache = self._grad_cache = (signature, _fingerprint(signature), _Plan(params))
        self._check_same(signature, who)
        plan = cache[2]
        # Each buffer is [grads ... | one presence flag per parameter].
        if plan.targets is None:
            plan.targets = [self._grad_target(dtype, xp, total + len(items))
                            for dtype, xp, items, total in plan.groups]
            # Each parameter's slice of a shared input segment, shaped like the parameter.
            plan.views = {index: target.input[offset:offset + n].reshape(shape)
                          for (_d, _x, items, _t), target in zip(plan.groups, plan.targets)
                          if isinstance(target, SharedReducer)
                          for index, offset, n, shape in items}
        scale = 1.0 / self.size
        for (dtype, xp, items, total), target in zip(plan.groups, plan.targets):
            shared = isinstance(target, SharedReducer)
            buf = target.input if shared else target
            flags = np.zeros(len(items), dtype=dtype)
            for k, (index, offset, n, _shape) in enumerate(items):
                param = params[index][1]
                grad = param.grad
                flags[k] = grad is not None
                if shared:  # summed as is: the reducer scales the sum
                    view = plan.views[index]
                    if grad is None:
                        view.fill(0)
                    elif grad.data is not view:  # else backward wrote it there already
                        view[...] = grad.data
                    # The next backward may write this gradient straight into the segment.
                    param.grad_out = view
                elif grad is None:
                    buf[offset:offset + n].fill(0)
                else:
                    xp.multiply(grad.data.reshape(-1), scale, out=buf[offset:offset + n],
                                casting='unsafe')
            buf[total:] = flags if xp is np else xp.asarray(flags)
        self._guard(who)
        try:
            results = []
            for target in plan.targets:
                if isinstance(target, SharedReducer):
                    results.append(target.reduce(scale))
                else:
                    self._allreduce_buffer(target)
                    results.append(target)
        finally:
            self._unguard()
        for (_dtype, _xp, items, total), buf in zip(plan.groups, results):
            flags = cuda.as_numpy(buf[total:])
            for k, (index, offset, n, shape) in enumerate(items):
                if flags[k] > 0:
                    params[index][1].grad = Variable(buf[offset:offset + n].reshape(shape))

    def _grad_target(self, dtype, xp, count):
        """Where allreduce_grad packs a group: a SharedReducer (NumPy arrays, every rank on
        this host) or a plain buffer summed by _allreduce_buffer."""
        if self._node_comm is not None and xp is np and self._shared_memory_fits(count, dtype):
            # Kept until the process ends, even when the model changes: gradients of an
            # earlier step may still be views into it.
            return SharedReducer(self._MPI, self._node_comm, count, dtype)
        return xp.empty(count, dtype=dtype)

    def _shared_memory_fits(self, count, dtype):
        """Whether every rank's /dev/shm has room for the windows of `count` elements (all
        ranks agree; a full /dev/shm would kill a rank with SIGBUS at the first write)."""
        need = 2 * self.intra_size * count * np.dtype(dtype).itemsize  # 2 windows a rank
        try:
            st = os.statvfs(SHM_DIR)
            free = st.f_bavail * st.f_frsize
        except OSError:  # no /dev/shm to check (not Linux): MPI places the windows itself
            free = None
        fits = free is None or free >= 2 * need
        fits = bool(self._node_comm.allreduce(int(fits), op=self._MPI.MIN))
        if not fits and self._shared_memory_required:
            raise RuntimeError(
                f"{type(self).__name__}: shared_memory=True needs about {need / 2**20:.0f} MiB "
                f"of {SHM_DIR} for {count} gradients of {np.dtype(dtype)} on "
                f"{self.intra_size} ranks, and some rank has only "
                f"{(free or 0) / 2**20:.0f} MiB free; enlarge it (docker run --shm-size) or "
                "pass shared_memory=None to fall back to MPI_Allreduce.")
        return fits

    def allreduce_buffers(self, model):
        """Average the persistent buffers (BatchNorm running statistics) over the ranks.

        Each rank's BatchNorm sees only its own share of each batch, so its running
        statistics drift apart from the other ranks'; call this before evaluating or
        saving to give every rank the mean of them (ChainerMN's AllreducePersistent).
        Floating-point buffers only; integer ones are left alone.
        """
        if self.size == 1:
            return
        who = f"{type(self).__name__}.allreduce_buffers"
        holders = [(path, v) for path, v in _persistent_arrays(model)[len(_unique_params(model)):]
                   if v.data is not None and v.data.dtype.kind == 'f']
        self._check_same(_signature(holders), who)
        plan = _Plan(holders)
        self._guard(who)
        try:
            for (_dtype, _xp, items, _total), buf in zip(plan.groups, plan.get_buffers()):
                for index, offset, n, _shape in items:
                    buf[offset:offset + n] = holders[index][1].data.reshape(-1)
                self._allreduce_buffer(buf)
                buf *= 1.0 / self.size
                for index, offset, n, shape in items:
                    holders[index][1].data[...] = buf[offset:offset + n].reshape(shape)
        finally:
            self._unguard()


class NcclCommunicator(MpiCommunicator):
    """Like MpiCommunicator, but model arrays travel over NCCL between GPUs (CuPy arrays).

    One GPU per rank: each process uses GPU `intra_rank` of its host (made current
    here). MPI is still used to start NCCL (rank 0's unique id is broadcast) and for
    small host-side values (metrics, checks). Needs CuPy built with NCCL and a GPU.
    """
    name = 'nccl'

    def __init__(self, mpi_comm=None, timeout=None, abort_on_error=True, shared_memory=None):
        who = type(self).__name__
        try:
            cupy = cuda.require_cupy()
            from cupy.cuda import nccl
        except (RuntimeError, ImportError) as e:
            raise RuntimeError(
                f"{who}: the 'nccl' communicator needs CuPy with NCCL and a CUDA GPU per rank "
                f"({e}). Install CuPy (pip install 'dezero[gpu]'), or use "
                "create_communicator('mpi') to train on CPUs.") from e
        super().__init__(mpi_comm, timeout, abort_on_error, shared_memory)
        n_gpus = cupy.cuda.runtime.getDeviceCount()
        if self.intra_rank >= n_gpus:
            raise RuntimeError(f"{who}: rank {self.rank} is process {self.intra_rank} on its "
                               f"host, which has only {n_gpus} GPU(s); start at most one "
                               "process per GPU.")
        cupy.cuda.Device(self.intra_rank).use()
        self._cupy, self._nccl = cupy, nccl
        uid = self.mpi_comm.bcast(nccl.get_unique_id() if self.rank == 0 else None, root=0)
        self.nccl_comm = nccl.NcclCommunicator(self.size, uid, self.rank)
        self._nccl_types = {np.dtype(np.float16): nccl.NCCL_FLOAT16,
                            np.dtype(np.float32): nccl.NCCL_FLOAT32,
                            np.dtype(np.float64): nccl.NCCL_FLOAT64}

    def _nccl_args(self, buf):
        if isinstance(buf, np.ndarray):
            raise TypeError(f"{type(self).__name__}: NCCL moves GPU arrays only; call "
                            "model.to_gpu() before training (or use the 'mpi' communicator).")
        kind = self._nccl_types.get(buf.dtype)
        if kind is None:
            raise TypeError(f"{type(self).__name__}: NCCL cannot reduce dtype {buf.dtype}; "
                            "use float16, float32 or float64 parameters.")
        return buf.data.ptr, buf.size, kind, self._cupy.cuda.get_current_stream().ptr

    def _bcast_buffer(self, buf, root):
        ptr, n, kind, stream = self._nccl_args(buf)
        self.nccl_comm.bcast(ptr, n, kind, root, stream)

    def _allreduce_buffer(self, buf):
        ptr, n, kind, stream = self._nccl_args(buf)
        self.nccl_comm.allReduce(ptr, ptr, n, kind, self._nccl.NCCL_SUM, stream)


_COMMUNICATORS = {'mpi': MpiCommunicator, 'nccl': NcclCommunicator}


def create_communicator(communicator_name='mpi', mpi_comm=None, timeout=None,
                        abort_on_error=True, shared_memory=None):
    """A communicator over all the processes mpiexec started.

    Args:
        communicator_name: 'mpi' (NumPy or CuPy arrays through mpi4py) or 'nccl' (CuPy
            arrays through NCCL, one GPU per process: GPU `intra_rank` is made current).
        mpi_comm: an mpi4py communicator to use instead of MPI.COMM_WORLD.
        timeout: seconds one collective operation may wait before the job is aborted with
            a message (default: $DEZERO_DISTRIBUTED_TIMEOUT, else no limit).
        abort_on_error: install a sys.excepthook that calls MPI_Abort after printing an
            uncaught exception, so that one failing rank ends the whole job (only when
            there is more than one process).
        shared_memory: when every process runs on one host, sum NumPy gradients in MPI
            shared-memory windows instead of MPI_Allreduce: the same sum on every rank,
            and Linear layers write their weight gradients straight into the window (2.2
            ms a step less for an MLP's 7 MB of gradients on 2 ranks, see
            docs/distributed.md). The windows take twice the gradients' size of /dev/shm
            on each rank. None (default): used when every rank's /dev/shm has room, else
            MPI_Allreduce; True: required (RuntimeError when it does not fit); False:
            always MPI_Allreduce.

    Raises ImportError naming `pip install 'dezero[mpi]'` without mpi4py, and
    RuntimeError for 'nccl' without CuPy or a GPU.
    """
    cls = _COMMUNICATORS.get(communicator_name)
    if cls is None:
        raise ValueError(f"create_communicator: unknown communicator {communicator_name!r}; "
                         f"choose from {', '.join(repr(k) for k in _COMMUNICATORS)}.")
    return cls(mpi_comm=mpi_comm, timeout=timeout, abort_on_error=abort_on_error,
               shared_memory=shared_memory)
