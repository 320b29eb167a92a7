"""Nested checkpoint state as safetensors tensors plus a JSON description of the structure.

A flat mapping of names to arrays (a model's ``state_dict``) is stored as it is: one tensor per
name, so any safetensors reader sees the model's own names. Anything else (an optimizer's
``state_dict``, a whole training checkpoint) is split: every array becomes a tensor named by
its path (``state.0.exp_avg``) and the rest of the structure, with Python scalars, strings and
``None`` in place, becomes one JSON value in the file's metadata.

JSON layout of the structure (no pickle, nothing executable): a JSON object only ever appears
as one of these tagged forms, so user data cannot be mistaken for a tag::

    {"$dict": [[key, value], ...]}   a mapping; keys are str or int, in order
    {"$tuple": [value, ...]}         a tuple (a plain JSON list is a Python list)
    {"$float": "nan" | "inf" | "-inf"}
    {"$tensor": name}                an array; "scalar": true for a NumPy scalar,
                                     "complex": dtype for complex data stored as (..., 2) reals

and ``null``, booleans, integers (exact at any size), finite floats and strings stand for
themselves.

Examples
--------
>>> import numpy as np
>>> arrays, tree = encode({"step": 3, "w": np.zeros(2)})
>>> sorted(arrays), tree
(['w'], '{"$dict": [["step", 3], ["w", {"$tensor": "w"}]]}')
>>> decode(tree, arrays)
{'step': 3, 'w': array([0., 0.])}
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .exceptions import ArgumentError, DTypeError

#: The name safetensors reserves for its metadata in the header.
RESERVED_NAME = "__metadata__"

#: Element kinds safetensors stores directly: bool, signed and unsigned integers, floats.
_NATIVE_KINDS = frozenset("biuf")


class TreeError(Exception):
    """A structure description that does not decode (a corrupt or foreign file)."""


def _as_array(value: Any) -> np.ndarray | None:
    """``value`` as an ndarray if it is one (or a ferrograd Tensor), else None."""
    if isinstance(value, np.ndarray):
        return value
    data = getattr(value, "data", None)
    if isinstance(data, np.ndarray) and hasattr(value, "requires_grad"):
        return data
    return None


def _is_native(arr: np.ndarray) -> bool:
    return arr.dtype.kind in _NATIVE_KINDS and arr.dtype.itemsize <= 8


def _storable(where: str, arr: np.ndarray) -> np.ndarray:
    """``arr`` in C order (0-d stays 0-d), or a DTypeError for element types with no tensor
    form (objects, strings, dates, extended precision)."""
    if not (_is_native(arr) or (arr.dtype.kind == "c" and arr.dtype.itemsize <= 16)):
        raise DTypeError(
            f"save: {where} is an array of dtype {arr.dtype}; checkpoints hold arrays of "
            "booleans, integers, floats (up to 64 bits) and complex numbers"
        )
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def is_flat(state: Mapping[Any, Any]) -> bool:
    """True when ``state`` maps strings to arrays safetensors stores directly."""
    for k, v in state.items():
        arr = _as_array(v)
        if not isinstance(k, str) or arr is None or not _is_native(arr):
            return False
    return True


def check_top_level(state: Any) -> None:
    """Rejects what no checkpoint can hold at its top level, before anything is written."""
    if not isinstance(state, Mapping):
        raise DTypeError(
            "save: state must be a mapping (such as a dict or a state_dict()) of names to "
            f"arrays or nested values, got {type(state).__name__}"
        )
    if RESERVED_NAME in state:
        raise ArgumentError(
            f"save: the key {RESERVED_NAME!r} is reserved by the safetensors format for the "
            "file's metadata; pass metadata=... for text metadata, or rename the entry"
        )


def flat_arrays(state: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The arrays of a flat state, keyed by their own names."""
    out = {}
    for k, v in state.items():
        arr = _as_array(v)
        assert arr is not None  # is_flat checked it
        out[k] = _storable(_where((k,)), arr)
    return out


def _where(path: tuple[Any, ...]) -> str:
    return "state" + "".join(f"[{k!r}]" for k in path)


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self._open: set[int] = set()  # containers on the current path (cycle check)

    def tensor(self, arr: np.ndarray, path: tuple[Any, ...], **tags: Any) -> dict[str, Any]:
        arr = _storable(_where(path), arr)
        if arr.dtype.kind == "c":
            tags["complex"] = arr.dtype.name
            arr = np.stack([arr.real, arr.imag], axis=-1)
        base = ".".join(map(str, path))
        name, n = base, 1
        while name in self.arrays or name in ("", RESERVED_NAME):
            n += 1
            name = f"{base}#{n}"
        self.arrays[name] = arr
        return {"$tensor": name, **tags}

    def node(self, value: Any, path: tuple[Any, ...]) -> Any:
        arr = _as_array(value)
        if arr is not None:
            return self.tensor(arr, path)
        if isinstance(value, np.generic):  # before float: np.float64 is a float subclass
            return self.tensor(np.asarray(value), path, scalar=True)
        if value is None or type(value) in (bool, str):
            return value
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value) if math.isfinite(value) else {"$float": repr(float(value))}
        if isinstance(value, str):
            return str(value)
        if isinstance(value, (Mapping, list, tuple)):
            if id(value) in self._open:
                raise ArgumentError(f"save: {_where(path)} contains itself")
            self._open.add(id(value))
            try:
                return self._container(value, path)
            finally:
                self._open.discard(id(value))
        raise DTypeError(
            f"save: {_where(path)} is a {type(value).__name__}; checkpoints hold arrays, "
            "Tensors, numbers, booleans, strings, None, and dicts, lists and tuples of these"
        )

    def _container(self, value: Any, path: tuple[Any, ...]) -> Any:
        if isinstance(value, Mapping):
            items = []
            for k, v in value.items():
                key = _key(k, path)
                items.append([key, self.node(v, (*path, key))])
            return {"$dict": items}
        items = [self.node(v, (*path, i)) for i, v in enumerate(value)]
        return items if isinstance(value, list) else {"$tuple": items}


def _key(k: Any, path: tuple[Any, ...]) -> str | int:
    if isinstance(k, str):
        return str(k)
    if isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)):
        return int(k)
    raise DTypeError(
        f"save: {_where(path)} has the key {k!r} of type {type(k).__name__}; keys must be "
        "str or int"
    )


def encode(state: Mapping[Any, Any]) -> tuple[dict[str, np.ndarray], str]:
    """The arrays of a nested ``state`` by tensor name, and the JSON of its structure."""
    enc = _Encoder()
    tree = enc.node(state, ())
    return enc.arrays, json.dumps(tree, allow_nan=False)


def decode(tree_json: str, arrays: Mapping[str, np.ndarray]) -> Any:
    """The structure :func:`encode` described, with its arrays put back in place."""
    try:
        return _decode(json.loads(tree_json), arrays)
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise TreeError(f"the structure description does not fit the tensors: {e!r}") from None


def _decode(n: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    if isinstance(n, list):
        return [_decode(x, arrays) for x in n]
    if not isinstance(n, dict):
        return n
    if "$dict" in n:
        out = {}
        for k, v in n["$dict"]:
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"key {k!r}")
            out[k] = _decode(v, arrays)
        return out
    if "$tuple" in n:
        return tuple(_decode(x, arrays) for x in n["$tuple"])
    if "$float" in n:
        value = n["$float"]
        if value not in ("nan", "inf", "-inf"):
            raise ValueError(f"float {value!r}")
        return float(value)
    if "$tensor" in n:
        arr = arrays[n["$tensor"]]
        if "complex" in n:
            dt = np.dtype(n["complex"])
            if dt.kind != "c" or arr.shape[-1:] != (2,):
                raise ValueError(f"complex tensor {n['$tensor']!r}")
            parts, arr = arr, np.empty(arr.shape[:-1], dt)
            arr.real, arr.imag = parts[..., 0], parts[..., 1]
        return arr[()] if n.get("scalar") else arr
    raise ValueError(f"unknown node {sorted(n)}")
