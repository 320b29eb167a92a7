"""Ending the whole job when one rank fails.

A rank that dies while the others wait in a collective call (an allreduce of gradients)
would leave them waiting forever: MPI only ends a job when every rank has finished or one
calls ``MPI_Abort``. So a failing rank prints its error with its rank number and aborts.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from types import TracebackType
from typing import Any, Literal

_comm: Any = None


def report_and_abort(
    comm: Any, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """Prints the error of this rank to stderr (in one write, so that the lines of ranks
    failing together do not interleave) and aborts every rank of ``comm``'s job."""
    rank, size = comm.Get_rank(), comm.Get_size()
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    summary = "".join(traceback.format_exception_only(exc_type, exc)).strip()
    message = (
        f"ferrograd.distributed: rank {rank} of {size} failed; aborting all ranks.\n"
        f"{text}"
        f"[rank {rank}] {summary}\n"
    )
    try:
        sys.stderr.write(message)
        sys.stderr.flush()
    finally:
        comm.Abort(1)


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    report_and_abort(_comm, exc_type, exc, tb)


def install_excepthook(comm: Any) -> None:
    """Makes an exception that escapes the program on this rank abort the whole job."""
    global _comm
    _comm = comm
    sys.excepthook = _excepthook


def _is_failure(exc_type: type[BaseException] | None, exc: BaseException | None) -> bool:
    if exc_type is None or issubclass(exc_type, GeneratorExit):
        return False
    if issubclass(exc_type, SystemExit):
        return getattr(exc, "code", None) not in (None, 0)
    return True


class abort_on_error(contextlib.ContextDecorator):
    """Context manager and decorator: an exception inside aborts the whole MPI job.

    The error and the rank number are printed on stderr first. Unlike the hook that
    :func:`init` installs, this also catches ``sys.exit(code)`` with a non-zero code and
    errors that the program would otherwise catch further out. In a world of one the
    exception simply propagates.

    Examples
    --------
    >>> from ferrograd import distributed as dist
    >>> with dist.abort_on_error():
    ...     total = 1 + 1
    >>> @dist.abort_on_error()
    ... def main():
    ...     return "trained"
    >>> main()
    'trained'
    """

    def __enter__(self) -> abort_on_error:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        if not _is_failure(exc_type, exc):
            return False
        from ._world import communicator

        try:  # under mpiexec this starts MPI if need be, so the other ranks can be stopped
            comm = communicator()
        except Exception:
            return False
        if comm is not None and comm.Get_size() > 1 and exc_type is not None and exc is not None:
            report_and_abort(comm, exc_type, exc, tb)
        return False
