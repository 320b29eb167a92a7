"""Checkpoints as safetensors files: tensors by name, never pickle, written atomically.

A flat mapping of names to arrays (a model's ``state_dict``) is written as plain safetensors
tensors under those names, so other safetensors readers load it directly. Nested state (an
optimizer's ``state_dict``, a scheduler's, a training checkpoint with an epoch number and a
random generator's state) is written as tensors plus a JSON description of the structure in
the file's metadata (see :mod:`ferrograd._checkpoint_tree`). Every file carries a SHA-256
checksum of its tensors and structure, verified on load.

Examples
--------
>>> import numpy as np, tempfile, os, ferrograd
>>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
>>> ferrograd.save({"w": np.arange(3.0)}, path)
>>> ferrograd.load(path)["w"].tolist()
[0.0, 1.0, 2.0]
>>> ferrograd.save({"epoch": 3, "opt": {"state": {0: {"step": np.array(2.0)}}}}, path)
>>> ferrograd.load(path)
{'epoch': 3, 'opt': {'state': {0: {'step': array(2.)}}}}
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from . import _checkpoint_tree as tree
from .exceptions import ArgumentError, DTypeError, FerrogradError

_ORDER_KEY = "ferrograd.key_order"
_TREE_KEY = "ferrograd.tree"
_CHECKSUM_KEY = "ferrograd.checksum"
_OWN_PREFIX = "ferrograd."


class CheckpointError(FerrogradError):
    """A checkpoint file that cannot be read: missing, truncated or corrupt."""


def _checksum(arrays: Mapping[str, np.ndarray], meta: Mapping[str, str]) -> str:
    """SHA-256 over every tensor (name, dtype, shape, bytes) and ferrograd's own metadata."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        arr = arrays[name]
        h.update(json.dumps([name, arr.dtype.str.lstrip("<>=|"), list(arr.shape)]).encode())
        h.update(np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).data)
    for key in (_ORDER_KEY, _TREE_KEY):
        h.update(json.dumps([key, meta.get(key)]).encode())
    return "sha256:" + h.hexdigest()


def _user_metadata(metadata: Any) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise DTypeError(f"save: metadata must be a dict of str to str, got {metadata!r:.200}")
    own = [k for k in metadata if k.startswith(_OWN_PREFIX)]
    if own:
        raise ArgumentError(
            f"save: metadata keys starting with {_OWN_PREFIX!r} are reserved, got {own}"
        )
    return dict(metadata)


def encode_checkpoint(state: Mapping[Any, Any], metadata: Any = None) -> bytes:
    """The bytes of the safetensors file :func:`save` writes (every check done here)."""
    from safetensors.numpy import save as st_save

    tree.check_top_level(state)
    meta = _user_metadata(metadata)
    if tree.is_flat(state):
        arrays = tree.flat_arrays(state)
        meta[_ORDER_KEY] = json.dumps(list(arrays))  # safetensors itself does not keep order
    else:
        arrays, meta[_TREE_KEY] = tree.encode(state)
    meta[_CHECKSUM_KEY] = _checksum(arrays, meta)
    return st_save(arrays, metadata=meta)


def save(state: Mapping[Any, Any], path: str | os.PathLike[str], metadata: Any = None) -> None:
    """Writes ``state`` to a safetensors file, atomically.

    Parameters
    ----------
    state : Mapping
        A mapping of names to arrays or Tensors (a ``state_dict``), or nested state: mappings
        with str or int keys whose values are arrays or Tensors of any numeric dtype (0-d
        included), Python or NumPy numbers (``nan`` and ``inf`` too), booleans, strings,
        ``None``, or lists, tuples and mappings of these.
    path : str or PathLike
        The file to write. An existing file keeps its permissions; a symbolic link is
        followed and its target replaced.
    metadata : dict of str to str, optional
        Text metadata stored in the file's header.

    The file is written to a temporary name in the same directory, flushed to disk and renamed
    into place, so a crash or a bad ``state`` never leaves a half-written checkpoint at
    ``path``: everything is checked before anything is written.

    Examples
    --------
    >>> import numpy as np, tempfile, os, ferrograd
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
    >>> ferrograd.save({"weights": {"w": np.ones(2)}, "epoch": 4, "lrs": (0.1, 0.01)}, path)
    >>> ferrograd.load(path)["lrs"]
    (0.1, 0.01)
    """
    target = _path("save", path)
    _write_atomically(target, encode_checkpoint(state, metadata))


def _path(func: str, path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise DTypeError(f"{func}: path must be a str or os.PathLike, got {type(path).__name__}")
    return Path(path)


def _write_atomically(path: Path, data: bytes) -> None:
    target = Path(os.path.realpath(path))  # write through a symbolic link to its target
    try:
        mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None
    fd, tmp = _create_temp(target.parent)
    try:
        if mode is not None:
            os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _sync_directory(target.parent)


def _create_temp(directory: Path) -> tuple[int, str]:
    """A new file in ``directory`` with a short name (so a target name near the length limit
    still fits) and the mode a new file gets from the umask (0o666 minus the umask)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".ferrograd-{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


def _sync_directory(directory: Path) -> None:
    """Makes the rename durable (where the OS lets a directory be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path: str | os.PathLike[str]) -> Any:
    """Reads a checkpoint written by :func:`save` (or any safetensors file).

    Returns
    -------
    OrderedDict or dict
        A flat file (a ``state_dict``, or a file from another safetensors writer) gives an
        ordered mapping of names to NumPy arrays, in the order they were saved. Nested state
        comes back as it was saved: int keys as ints, 0-d arrays as 0-d arrays, Python and
        NumPy scalars as the same types, tuples as tuples.

    Raises
    ------
    CheckpointError
        The file is missing, not a safetensors file, truncated, or its data do not match the
        checksum recorded when it was written.

    Examples
    --------
    >>> import numpy as np, tempfile, os, ferrograd
    >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
    >>> ferrograd.save({"b": np.zeros(()), "a": np.ones(2, np.int32)}, path)
    >>> [(k, v.shape, v.dtype.name) for k, v in ferrograd.load(path).items()]
    [('b', (), 'float64'), ('a', (2,), 'int32')]
    """
    from safetensors.numpy import load as st_load

    try:
        raw = _path("load", path).read_bytes()
    except OSError as e:
        raise CheckpointError(f"load: cannot read {path}: {e}") from None
    try:
        arrays = {k: np.array(v) for k, v in st_load(raw).items()}  # writeable copies
        meta = _metadata(raw)
    except Exception as e:  # safetensors raises its own error type for bad headers
        raise CheckpointError(
            f"load: {path} is not a valid safetensors file (truncated or corrupt?): {e}"
        ) from None
    if _CHECKSUM_KEY in meta and meta[_CHECKSUM_KEY] != _checksum(arrays, meta):
        raise CheckpointError(
            f"load: the data in {path} do not match the checksum recorded when it was "
            "written (the file is corrupt)"
        )
    if _TREE_KEY in meta:
        try:
            return tree.decode(meta[_TREE_KEY], arrays)
        except tree.TreeError as e:
            raise CheckpointError(f"load: {path} is corrupt: {e}") from None
    order = _saved_order(meta)
    keys = [k for k in order if k in arrays] + sorted(k for k in arrays if k not in order)
    return OrderedDict((k, arrays[k]) for k in keys)


def _metadata(raw: bytes) -> dict[str, str]:
    """The text metadata in the header (empty if absent)."""
    n = int.from_bytes(raw[:8], "little")
    meta = json.loads(raw[8 : 8 + n]).get("__metadata__") or {}
    return {k: v for k, v in meta.items() if isinstance(k, str) and isinstance(v, str)}


def _saved_order(meta: Mapping[str, str]) -> list[str]:
    """The key order recorded by :func:`save` (empty if absent or unreadable)."""
    try:
        order = json.loads(meta.get(_ORDER_KEY, "[]"))
    except ValueError:
        return []
    return [k for k in order if isinstance(k, str)] if isinstance(order, list) else []
