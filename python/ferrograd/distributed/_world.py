"""The MPI world this process belongs to: starting MPI, rank, size, barrier.

mpi4py is imported only when MPI is used, so ferrograd imports and runs without it. A process
that was not started by an MPI launcher and did not call :func:`init` is a world of one and
never touches MPI.
"""

from __future__ import annotations

import functools
import sys
from typing import Any, Callable, TypeVar

from ..exceptions import DistributedError
from . import _failure, _threads

_INSTALL_HINT = (
    "install it with `pip install 'ferrograd[mpi]'` (mpi4py and the mpich package), or build "
    "mpi4py against your system's MPI"
)


class _World:
    """The communicator in use; ``comm`` is None before :func:`init` and without MPI."""

    comm: Any = None
    initialized: bool = False


_world = _World()


def _import_mpi(caller: str) -> Any:
    """mpi4py's ``MPI`` module (which starts MPI), or a DistributedError that says why not."""
    try:
        from mpi4py import MPI
    except ModuleNotFoundError as e:
        if e.name != "mpi4py":
            raise
        raise DistributedError(
            f"{caller}: distributed training needs mpi4py, which is not installed; {_INSTALL_HINT}"
        ) from e
    except Exception as e:  # no MPI library found (RuntimeError), or MPI_Init failed
        reason = " ".join(str(e).split())
        raise DistributedError(
            f"{caller}: could not initialise MPI ({type(e).__name__}: {reason}); check that "
            "an MPI library is installed (mpi4py finds the mpich package's, or set "
            "MPI4PY_LIBMPI to a libmpi.so) and that this process was started by the mpiexec "
            "of that MPI"
        ) from e
    return MPI


def init(comm: Any = None, *, abort_on_exception: bool = True, limit_threads: bool = True) -> None:
    """Starts MPI for data-parallel training; calling it again does nothing.

    Run the script with ``mpiexec -n N python script.py``; without mpiexec it is a world of
    one (rank 0 of 1), so the same script runs on one process unchanged.

    Parameters
    ----------
    comm : mpi4py communicator, optional
        The ranks that train together (default ``MPI.COMM_WORLD``).
    abort_on_exception : bool
        Install a ``sys.excepthook`` that, when an exception escapes on any rank, prints it
        with the rank number to stderr and aborts the whole job (``MPI_Abort``), so that no
        rank waits forever for a rank that died.
    limit_threads : bool
        Limit the Rust kernel threads of each rank to its share of the cores of its machine
        (unless ``FERROGRAD_NUM_THREADS`` is set).

    Raises
    ------
    DistributedError
        When mpi4py is not installed or MPI cannot start.

    Examples
    --------
    >>> from ferrograd import distributed as dist
    >>> dist.init()              # doctest: +SKIP
    >>> dist.rank(), dist.world_size()   # doctest: +SKIP
    (0, 1)
    """
    if _world.initialized:
        return
    MPI = _import_mpi("distributed.init")
    if comm is None:
        comm = MPI.COMM_WORLD
    elif not isinstance(comm, MPI.Comm):
        raise TypeError(
            f"distributed.init: comm must be an mpi4py communicator, got {type(comm).__name__}"
        )
    _world.comm = comm
    _world.initialized = True
    if limit_threads:
        _limit_threads_to_share(MPI, comm)
    if abort_on_exception and comm.Get_size() > 1:
        _failure.install_excepthook(comm)


def _limit_threads_to_share(MPI: Any, comm: Any) -> None:
    """Each rank's share of its cores: those it may run on, divided among the ranks on its
    machine that may run on them too (ranks bound to separate cores share nothing)."""
    if _threads.user_set_threads():
        return
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        mine = _threads.cpu_cores()
        sharing = sum(1 for cores in node.allgather(sorted(mine)) if mine.intersection(cores))
    finally:
        node.Free()
    _threads.limit_threads(ranks_sharing=sharing)


def _already_running_mpi() -> bool:
    """Whether mpi4py has been imported (and has started MPI) by the program itself."""
    MPI = sys.modules.get("mpi4py.MPI")
    return MPI is not None and bool(MPI.Is_initialized()) and not bool(MPI.Is_finalized())


def communicator() -> Any:
    """The communicator of the job, or None for a world of one without MPI.

    Before :func:`init`, a process started by an MPI launcher (or one that started MPI
    itself) initialises on first use; any other process is a world of one.
    """
    if not _world.initialized and (_threads.launched_by_mpi() or _already_running_mpi()):
        size = _threads.launcher_world_size()
        try:
            init()
        except DistributedError as e:
            if size is None or size > 1 or _already_running_mpi():
                raise DistributedError(
                    f"this process was started by an MPI launcher"
                    f"{f' with {size} processes' if size else ''}, but MPI is not usable: {e}"
                ) from e
            # One process under mpiexec without mpi4py: a world of one is still right.
            _world.initialized = True
    return _world.comm


def is_initialized() -> bool:
    """Whether :func:`init` has run (or the world was set up on first use)."""
    return _world.initialized


def rank() -> int:
    """This process's rank, 0 to ``world_size() - 1`` (0 without MPI).

    >>> from ferrograd import distributed as dist
    >>> dist.rank()
    0
    """
    comm = communicator()
    return 0 if comm is None else int(comm.Get_rank())


def world_size() -> int:
    """Number of processes training together (1 without MPI).

    >>> from ferrograd import distributed as dist
    >>> dist.world_size()
    1
    """
    comm = communicator()
    return 1 if comm is None else int(comm.Get_size())


def is_main() -> bool:
    """Whether this is rank 0, the rank that logs and writes files.

    >>> from ferrograd import distributed as dist
    >>> dist.is_main()
    True
    """
    return rank() == 0


def barrier() -> None:
    """Waits until every rank has reached this call (returns at once in a world of one)."""
    comm = communicator()
    if comm is not None and comm.Get_size() > 1:
        comm.Barrier()


def check_root(caller: str, root: int, size: int) -> None:
    """Raises ValueError unless ``root`` names a rank of a world of ``size``."""
    if isinstance(root, bool) or not isinstance(root, int) or not 0 <= root < size:
        raise ValueError(
            f"{caller}: root must be a rank in [0, {size - 1}], got {root!r} (world size {size})"
        )


def agree(caller: str, comm: Any, problem: str | None) -> None:
    """Collective check: every rank raises the same DistributedError when any rank found a
    ``problem`` (so no rank goes on to wait for the others in the next collective call)."""
    problems = comm.allgather(problem)
    found = [f"rank {r}: {p}" for r, p in enumerate(problems) if p is not None]
    if found:
        raise DistributedError(f"{caller}: " + "; ".join(found))


F = TypeVar("F", bound=Callable[..., Any])


def main_only(fn: F) -> F:
    """Decorator: ``fn`` runs on rank 0 only, and returns None on the other ranks.

    For what one process should do for the whole job: write checkpoints, logs and plots,
    print progress.

    Examples
    --------
    >>> from ferrograd import distributed as dist
    >>> @dist.main_only
    ... def report(loss):
    ...     return f"loss {loss:.3f}"
    >>> report(0.25)            # rank 0 (or a world of one)
    'loss 0.250'
    """

    @functools.wraps(fn)
    def on_main(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs) if is_main() else None

    return on_main  # type: ignore[return-value]
