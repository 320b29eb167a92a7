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

from . import _core, autograd, distributed, functional, nn, ops, optim, random
from .compile import compile
from .exceptions import (
    ArgumentError,
    DistributedError,
    DTypeCastWarning,
    DTypeError,
    FerrogradError,
    GraphError,
    NotFittedError,
    ShapeError,
)
from .gradcheck import check_backward, gradcheck, numerical_gradient
from .random import manual_seed
from .serialization import CheckpointError, load, save
from .tensor import (
    Tensor,
    cat,
    concat,
    enable_grad,
    get_default_dtype,
    is_grad_enabled,
    no_grad,
    set_default_dtype,
    stack,
    tensor,
    where,
)

__version__: str = _core.__version__


_LAZY = ("train", "sklearn", "cli", "data", "metrics")


def __getattr__(name: str) -> object:
    """``ferrograd.train`` and the other larger subpackages load on first use (a fast import)."""
    if name in _LAZY:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'ferrograd' has no attribute {name!r}")


def num_threads() -> int:
    """Number of threads the Rust kernels use (set with ``FERROGRAD_NUM_THREADS``)."""
    return _core.num_threads()


__all__ = [
    "ArgumentError",
    "CheckpointError",
    "DTypeCastWarning",
    "DTypeError",
    "DistributedError",
    "FerrogradError",
    "GraphError",
    "NotFittedError",
    "ShapeError",
    "Tensor",
    "__version__",
    "autograd",
    "cat",
    "check_backward",
    "compile",
    "concat",
    "data",
    "distributed",
    "enable_grad",
    "functional",
    "get_default_dtype",
    "gradcheck",
    "is_grad_enabled",
    "load",
    "manual_seed",
    "metrics",
    "nn",
    "no_grad",
    "num_threads",
    "numerical_gradient",
    "ops",
    "optim",
    "random",
    "save",
    "set_default_dtype",
    "stack",
    "tensor",
    "train",
    "where",
]
