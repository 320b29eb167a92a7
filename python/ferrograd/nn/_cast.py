"""Inputs of another dtype than a layer's parameters are cast to it, with a warning.

A float64 batch given to a float32 model (NumPy's default dtype meets ferrograd's) would
otherwise run in float64 (slower, and gradients of the wrong dtype); integer and boolean
batches would run in float64 too. PyTorch raises an error there; ferrograd casts the input to
the parameters' dtype and says so once per layer class and process
(:class:`~ferrograd.DTypeCastWarning`). A Tensor input keeps its graph: its gradient comes
back in its own dtype.

Examples
--------
>>> import warnings, numpy as np
>>> from ferrograd import nn
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     nn.Linear(2, 1)(np.ones((3, 2))).dtype   # float64 in, float32 parameters
dtype('float32')
"""

from __future__ import annotations

import os
import sys
import warnings
from types import FrameType
from typing import Any

import numpy as np

from ..exceptions import DTypeCastWarning
from ..tensor import Tensor, _to_array

_warned: set[str] = set()
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _caller_level() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside ferrograd."""
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


def cast_input(layer: str, x: Any, dtype: np.dtype[Any], name: str = "input") -> Any:
    """``x`` (an array, a Tensor or array-like) as ``dtype``; unchanged when it already is,
    or when it is not real numbers (the layer's own check then reports it)."""
    if isinstance(x, Tensor):
        data = x.data
    elif isinstance(x, np.ndarray):
        data = x
    else:  # lists, scalars, ...: numbers in a rectangular array, or a typed error
        data = x = _to_array(x, func=f"{layer}: {name}")
    current = data.dtype
    if current == dtype or current.kind not in "biuf":
        return x
    if layer not in _warned:
        _warned.add(layer)
        instead = f"give {dtype} batches"
        if current in (np.dtype(np.float32), np.dtype(np.float64)):
            instead += f", or convert the model with .to(np.{current}) to compute in {current}"
        warnings.warn(
            f"{layer}: {name} of dtype {current} is cast to the layer's {dtype} (said once per "
            f"layer class); {instead}",
            DTypeCastWarning,
            stacklevel=_caller_level(),
        )
    if isinstance(x, Tensor):
        return x.astype(dtype)
    return np.asarray(data, dtype=dtype)
