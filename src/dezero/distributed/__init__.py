"""Data-parallel training over several processes and machines, on MPI or NCCL.

The design follows ChainerMN: an existing engine does the communication (MPI
through mpi4py; NCCL through CuPy for GPU arrays) and dezero adds a thin layer.
Every process (a *rank*) holds a full copy of the model and trains on its own
share of the data; after each backward pass the gradients are averaged over the
ranks, so every rank applies the same update and the copies stay identical.

    comm = dezero.distributed.create_communicator('mpi')     # or 'nccl' (GPUs)
    train = dezero.distributed.scatter_dataset(train_set, comm, shuffle=True, seed=0)
    model = MyModel()
    optimizer = dezero.distributed.create_multi_node_optimizer(Adam().setup(model), comm)
    fit(model, optimizer, DataLoader(train, batch_size // comm.size), ...,
        progress=comm.rank == 0)

Run it with `mpiexec -n 4 python train.py`. mpi4py and an MPI library come with
`pip install 'dezero[mpi]'` (the `mpich` wheel provides `mpiexec`); both are
imported only when a communicator is created. See docs/distributed.md.

Faults: a communicator installs an excepthook (`abort_on_error=True`) that
prints the traceback and calls MPI_Abort, so an exception on one rank ends the
whole job instead of leaving the others waiting in a collective forever; a rank
killed by a signal is detected by mpiexec itself. `timeout=` (or the environment
variable DEZERO_DISTRIBUTED_TIMEOUT, in seconds) also aborts the job when one
collective operation waits longer than that (a rank stuck or running a different
number of steps). Models that differ across ranks (parameter paths, shapes or
dtypes) raise ValueError on every rank before any data is exchanged.
"""
# The package's names, and (for code written before the split into modules) the
# private helpers that lived here.
from dezero.distributed._faults import _abort, _install_abort_hook, _Watchdog
from dezero.distributed._plan import (_difference, _fingerprint, _persistent_arrays, _Plan,
                                      _show, _signature, _unique_params)
from dezero.distributed.communicators import (_COMMUNICATORS, MPI_EXTRA, TIMEOUT_ENV,
                                              MpiCommunicator, NcclCommunicator, _import_mpi,
                                              create_communicator)
from dezero.distributed.optimizer import MultiNodeOptimizer, create_multi_node_optimizer
from dezero.distributed.scatter import SubDataset, _is_plain_array_dataset, scatter_dataset

__all__ = [
    'MpiCommunicator',
    'MultiNodeOptimizer',
    'NcclCommunicator',
    'SubDataset',
    'create_communicator',
    'create_multi_node_optimizer',
    'scatter_dataset',
]

