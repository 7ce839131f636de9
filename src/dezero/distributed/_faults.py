"""Ending the whole job when one rank fails: the collective-timeout watchdog and the
excepthook that calls MPI_Abort."""
import sys
import threading
import time


class _Watchdog:
    """Aborts the job when one collective operation lasts longer than `timeout` seconds."""

    def __init__(self, communicator, timeout):
        self.communicator = communicator
        self.timeout = timeout
        self.what = None
        self.since = None
        self.thread = None

    def start(self, what):
        if self.thread is None:
            self.thread = threading.Thread(target=self._watch, name='dezero-dist-watchdog',
                                           daemon=True)
            self.thread.start()
        self.what = what
        self.since = time.monotonic()

    def stop(self):
        self.since = None

    def _watch(self):
        poll = min(1.0, max(self.timeout / 4, 0.01))
        while True:
            time.sleep(poll)
            since = self.since
            if since is not None and time.monotonic() - since > self.timeout:
                comm = self.communicator
                sys.stderr.write(
                    f"dezero.distributed: rank {comm.rank} of {comm.size} waited more than "
                    f"{self.timeout:g} s in {self.what}: another rank died, hangs or runs a "
                    "different number of steps; aborting the job.\n")
                _abort(comm.mpi_comm)


def _abort(mpi_comm, code=1):
    """MPI_Abort after the message on stderr had a moment to reach mpiexec (which forwards
    each rank's output and may drop what it has not read yet once the job is aborted)."""
    sys.stderr.flush()
    time.sleep(0.2)
    mpi_comm.Abort(code)


def _install_abort_hook(mpi_comm):
    """sys.excepthook: print the traceback, then MPI_Abort so that no other rank waits forever."""
    previous = sys.excepthook
    if getattr(previous, '_dezero_aborts', False):
        return

    def hook(exc_type, exc, tb):
        previous(exc_type, exc, tb)
        sys.stderr.write(f"dezero.distributed: uncaught {exc_type.__name__} on rank "
                         f"{mpi_comm.Get_rank()}; aborting all {mpi_comm.Get_size()} ranks.\n")
        _abort(mpi_comm)

    hook._dezero_aborts = True
    sys.excepthook = hook

