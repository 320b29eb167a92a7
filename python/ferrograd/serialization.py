"""Checkpoints as safetensors files: tensors by name, never pickle, written atomically.

Examples
--------
>>> import numpy as np, tempfile, os, ferrograd
>>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
>>> ferrograd.save({"w": np.arange(3.0)}, path)
>>> ferrograd.load(path)["w"].tolist()
[0.0, 1.0, 2.0]
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import DTypeError, FerrogradError

_ORDER_KEY = "ferrograd.key_order"


class CheckpointError(FerrogradError):
    """A checkpoint file that cannot be read: missing, truncated or corrupt."""


def _arrays(state: Mapping[str, Any]) -> dict[str, np.ndarray]:
    out = {}
    for k, v in state.items():
        if not isinstance(k, str):
            raise DTypeError(f"save: keys must be strings, got {k!r}")
        arr = np.ascontiguousarray(getattr(v, "data", v) if not isinstance(v, np.ndarray) else v)
        if arr.dtype == object:
            raise DTypeError(f"save: entry '{k}' is not a numeric array")
        out[k] = arr
    return out


def save(
    state: Mapping[str, Any], path: str | os.PathLike[str], metadata: dict[str, str] | None = None
) -> None:
    """Writes a mapping of names to arrays (or tensors) as a safetensors file.

    The file is written to a temporary name in the same directory and renamed into place, so
    a crash never leaves a half-written checkpoint at ``path``.
    """
    from safetensors.numpy import save as st_save

    arrays = _arrays(state)
    meta = dict(metadata or {})
    meta[_ORDER_KEY] = json.dumps(list(arrays))  # safetensors itself does not keep the order
    data = st_save(arrays, metadata=meta)
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path: str | os.PathLike[str]) -> OrderedDict[str, np.ndarray]:
    """Reads a safetensors file into an ordered mapping of names to NumPy arrays."""
    from safetensors.numpy import load as st_load

    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise CheckpointError(f"load: cannot read {path}: {e}") from None
    try:
        arrays = st_load(raw)
        order = _saved_order(raw)
    except Exception as e:  # safetensors raises its own error type for bad headers
        raise CheckpointError(
            f"load: {path} is not a valid safetensors file (truncated or corrupt?): {e}"
        ) from None
    keys = [k for k in order if k in arrays] + sorted(k for k in arrays if k not in order)
    return OrderedDict((k, arrays[k]) for k in keys)


def _saved_order(raw: bytes) -> list[str]:
    """The key order recorded by :func:`save` in the header's metadata (empty if absent)."""
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    order = header.get("__metadata__", {}).get(_ORDER_KEY)
    return list(json.loads(order)) if order else []
