"""The exceptions ferrograd raises.

Every error is a :class:`FerrogradError`; shape and dtype problems are also the standard
``ValueError`` and ``TypeError``, so existing ``except`` clauses keep working.

Examples
--------
>>> import numpy as np, ferrograd
>>> try:
...     ferrograd.ops.add(np.zeros(2), np.zeros(3))
... except ferrograd.ShapeError as e:
...     print("ShapeError")
ShapeError
"""

from __future__ import annotations


class FerrogradError(Exception):
    """Base class of every ferrograd error."""


class ShapeError(FerrogradError, ValueError):
    """Arguments whose shapes do not fit together."""


class DTypeError(FerrogradError, TypeError):
    """An argument of an element type the operation does not support."""


class DistributedError(FerrogradError, RuntimeError):
    """MPI is missing or failed, or the ranks of a job disagree (see ferrograd.distributed)."""


__all__ = ["DTypeError", "DistributedError", "FerrogradError", "ShapeError"]
