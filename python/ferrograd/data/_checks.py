"""Argument checks shared by the data modules: arrays, counts, seeds and fractions."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import random as fg_random
from ..exceptions import ArgumentError, DTypeError, ShapeError


def as_numpy(func: str, name: str, x: Any) -> np.ndarray:
    """``x`` as an ndarray (a ferrograd Tensor gives its data, no copy)."""
    if isinstance(x, np.ndarray):
        return x
    data = getattr(x, "data", None)
    if isinstance(data, np.ndarray) and hasattr(x, "requires_grad"):
        return data
    try:
        return np.asarray(x)
    except ValueError as e:
        raise ShapeError(f"{func}: {name} is not a rectangular array: {e}") from None


def first_dim(func: str, name: str, x: np.ndarray) -> int:
    """The number of samples in ``x`` (its first dimension); a 0-d array is a ShapeError."""
    if x.ndim == 0:
        raise ShapeError(f"{func}: {name} must have a first (sample) dimension, got a scalar")
    return int(x.shape[0])


def same_length(func: str, arrays: dict[str, np.ndarray]) -> int:
    """The common number of samples of ``arrays``, or a ShapeError listing every length."""
    lengths = {name: first_dim(func, name, a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ShapeError(f"{func}: all arrays must have the same number of samples, but {listed}")
    return next(iter(lengths.values()))


def is_int(value: Any) -> bool:
    """True for Python and NumPy integers, False for booleans."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(func: str, name: str, value: Any, minimum: int) -> int:
    """``value`` as an int of at least ``minimum``, or a typed error saying what came."""
    if not is_int(value):
        raise DTypeError(f"{func}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ArgumentError(f"{func}: {name} must be at least {minimum}, got {value}")
    return int(value)


def check_float(func: str, name: str, value: Any, low: float, high: float) -> float:
    """``value`` as a float in ``[low, high]`` (ints accepted), or a typed error."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise DTypeError(f"{func}: {name} must be a number, got {value!r}")
    v = float(value)
    if not low <= v <= high:
        raise ArgumentError(f"{func}: {name} must be in [{low}, {high}], got {value}")
    return v


def check_seed(func: str, seed: Any) -> int | None:
    """``seed`` as a non-negative int, or None."""
    if seed is None:
        return None
    if not is_int(seed):
        raise DTypeError(f"{func}: seed must be an int or None, got {seed!r}")
    if seed < 0:
        raise ArgumentError(f"{func}: seed must be non-negative, got {seed}")
    return int(seed)


def generator(func: str, seed: Any) -> np.random.Generator:
    """A fresh generator for an int ``seed``; for None, the one ``ferrograd.manual_seed`` seeds."""
    checked = check_seed(func, seed)
    return fg_random.default_generator() if checked is None else np.random.default_rng(checked)


def draw_seed() -> int:
    """A seed drawn from the default generator (so ``ferrograd.manual_seed`` fixes it)."""
    return int(fg_random.default_generator().integers(0, 2**63 - 1))
