"""Each rank's share of the cores for the Rust kernel threads, and how it is set.

The kernels' thread team reads ``FERROGRAD_NUM_THREADS`` once, when the first kernel call
that can split its work starts it; its size is fixed from then on. Two ranks on a 2-core
machine that each start a team of 2 threads fight over the cores (and the team's threads
spin between calls), so every rank must set the variable before that first call.
``import ferrograd`` does so under an MPI launcher (from the launcher's environment, before
any kernel can run); :func:`ferrograd.distributed.init` refines it from the ranks that really
share this machine's cores.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping

from .. import _core

_ENV = "FERROGRAD_NUM_THREADS"

#: Variables the common launchers set in every process they start (MPICH's and Intel MPI's
#: Hydra, Open MPI, MVAPICH, PMIx).
_LAUNCHED_MARKERS = (
    "PMI_RANK",
    "PMI_SIZE",
    "PMIX_RANK",
    "OMPI_COMM_WORLD_SIZE",
    "MV2_COMM_WORLD_SIZE",
)
_WORLD_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
_LOCAL_SIZE_VARS = ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE", "MV2_COMM_WORLD_LOCAL_SIZE")

#: The value this module wrote into ``FERROGRAD_NUM_THREADS`` (a value set by the user is
#: never changed).
_written: str | None = None


def _positive_int(env: Mapping[str, str], names: tuple[str, ...]) -> int | None:
    for name in names:
        try:
            value = int(env.get(name, ""))
        except ValueError:
            continue
        if value > 0:
            return value
    return None


def launched_by_mpi(env: Mapping[str, str] | None = None) -> bool:
    """Whether this process was started by an MPI launcher (``mpiexec``, ``mpirun``)."""
    env = os.environ if env is None else env
    return any(name in env for name in _LAUNCHED_MARKERS)


def launcher_world_size(env: Mapping[str, str] | None = None) -> int | None:
    """Number of processes the launcher started (None when it does not say)."""
    return _positive_int(os.environ if env is None else env, _WORLD_SIZE_VARS)


def launcher_local_size(env: Mapping[str, str] | None = None) -> int | None:
    """Number of processes the launcher started on this machine (its world size when it
    only gives that, None when it gives neither)."""
    env = os.environ if env is None else env
    return _positive_int(env, _LOCAL_SIZE_VARS) or launcher_world_size(env)


def cpu_cores() -> set[int]:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def share(cores: int, ranks_sharing: int) -> int:
    """Threads for one of ``ranks_sharing`` ranks that run on the same ``cores`` cores.

    >>> share(8, 2), share(2, 2), share(2, 3)
    (4, 1, 1)
    """
    return max(1, cores // max(1, ranks_sharing))


def user_set_threads() -> bool:
    """Whether ``FERROGRAD_NUM_THREADS`` was set by the user (not by this module)."""
    value = os.environ.get(_ENV)
    return value is not None and value != _written


def limit_threads(num_threads: int | None = None, *, ranks_sharing: int | None = None) -> int:
    """Limits this process's kernel threads, before the kernels start them.

    Under MPI every rank should use only its share of the cores: ``import ferrograd`` and
    :func:`init` call this for you, so it is needed only to choose another number.

    Parameters
    ----------
    num_threads : int, optional
        Threads to use. By default this rank's share of the cores: the cores it may run on
        divided by the number of ranks on this machine that may run on them too. A
        ``FERROGRAD_NUM_THREADS`` set by the user is then kept.
    ranks_sharing : int, optional
        Ranks sharing this rank's cores (by default the launcher's count of processes on
        this machine, or 1).

    Returns
    -------
    int
        The number of threads the kernels will use.

    Warns
    -----
    RuntimeWarning
        When a kernel call already started the threads with another number (their number
        cannot change any more): limit threads before the first kernel call.

    Examples
    --------
    >>> from ferrograd import distributed as dist
    >>> dist.limit_threads() >= 1
    True
    """
    global _written
    if num_threads is not None and (
        isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1
    ):
        raise ValueError(f"limit_threads: num_threads must be a positive int, got {num_threads!r}")
    if num_threads is None and user_set_threads():
        wanted = _positive_int(os.environ, (_ENV,))
        if wanted is not None:
            num_threads = wanted
    if num_threads is None:
        sharing = ranks_sharing or launcher_local_size() or 1
        num_threads = share(len(cpu_cores()), sharing)
    if _core.threads_started():
        running = _core.num_threads()
        if running != num_threads:
            warnings.warn(
                f"limit_threads: the kernel threads already run with {running} threads and "
                f"cannot change to {num_threads}; import ferrograd (or call "
                f"ferrograd.distributed.init()) before the first kernel call, or set "
                f"{_ENV} before starting Python",
                RuntimeWarning,
                stacklevel=2,
            )
        return running
    if os.environ.get(_ENV) != str(num_threads):
        _written = os.environ[_ENV] = str(num_threads)
    return num_threads


def limit_threads_if_launched() -> None:
    """At import: under an MPI launcher, each rank takes its share of the cores."""
    if launched_by_mpi() and not user_set_threads():
        limit_threads()
