"""The exceptions ferrograd raises.

Every error is a :class:`FerrogradError`; shape and dtype problems and values outside an
argument's domain are also the standard ``ValueError`` and ``TypeError``, so existing
``except`` clauses keep working.

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


class ArgumentError(FerrogradError, ValueError):
    """An argument whose value is outside what the function accepts: a label out of range, an
    unknown ``reduction``, a size that is not a positive integer, a probability above 1, ..."""


class NotFittedError(FerrogradError, ValueError, AttributeError):
    """A preprocessing step used before :meth:`fit` was called on it."""


class DistributedError(FerrogradError, RuntimeError):
    """MPI is missing or failed, or the ranks of a job disagree (see ferrograd.distributed)."""


class GraphError(FerrogradError, RuntimeError):
    """A backward pass through a graph whose saved values were already freed by an earlier
    one (pass ``retain_graph=True`` to the first to run it again)."""


class DTypeCastWarning(UserWarning):
    """An input was cast to the dtype of a layer's parameters (a float64 or integer batch
    given to a float32 model, say); issued once per layer class."""


__all__ = [
    "ArgumentError",
    "DTypeCastWarning",
    "DTypeError",
    "DistributedError",
    "FerrogradError",
    "NotFittedError",
    "ShapeError",
]
