"""ferrograd: deep learning for small and medium networks on CPU, NumPy in and out.

The numeric work runs in a Rust core; this package holds the Python API around it.

Examples
--------
>>> import numpy as np
>>> import ferrograd
>>> from ferrograd import ops
>>> ops.matmul(np.eye(2, dtype=np.float32), np.ones((2, 3), dtype=np.float32)).shape
(2, 3)
"""

from __future__ import annotations

from . import _core, functional, ops
from .exceptions import DTypeError, FerrogradError, ShapeError
from .gradcheck import check_backward, numerical_gradient

__version__: str = _core.__version__


def num_threads() -> int:
    """Number of threads the Rust kernels use (set with ``FERROGRAD_NUM_THREADS``)."""
    return _core.num_threads()


__all__ = [
    "DTypeError",
    "FerrogradError",
    "ShapeError",
    "__version__",
    "check_backward",
    "functional",
    "num_threads",
    "numerical_gradient",
    "ops",
]
