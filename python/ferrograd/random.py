"""Seeding: one call makes initialisation, dropout, shuffling and augmentation repeatable.

Examples
--------
>>> import ferrograd
>>> ferrograd.manual_seed(0)
>>> a = ferrograd.random.default_generator().random()
>>> ferrograd.manual_seed(0)
>>> a == ferrograd.random.default_generator().random()
True
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import _check
from .exceptions import FerrogradError

_generator = [np.random.default_rng(0)]


def _seed(func: str, seed: Any) -> int:
    return _check.count(func, "seed", seed, 0, 2**128 - 1)


def manual_seed(seed: int) -> None:
    """Seeds the generator behind initialisation, dropout, shuffling and augmentation.

    ``seed`` is an int from 0 to 2**128 - 1."""
    _generator[0] = np.random.default_rng(_seed("manual_seed", seed))


def default_generator() -> np.random.Generator:
    """The generator :func:`manual_seed` seeds (a ``numpy.random.Generator``)."""
    return _generator[0]


def generator(seed: int | None = None) -> np.random.Generator:
    """A generator: a fresh seeded one when ``seed`` is given, else the default one."""
    return _generator[0] if seed is None else np.random.default_rng(_seed("generator", seed))


def get_rng_state() -> dict[str, Any]:
    """The state of the default generator, as plain data (for checkpoints).

    Examples
    --------
    >>> import ferrograd
    >>> state = ferrograd.random.get_rng_state()
    >>> a = ferrograd.random.default_generator().random()
    >>> ferrograd.random.set_rng_state(state)
    >>> a == ferrograd.random.default_generator().random()
    True
    """
    return dict(copy.deepcopy(_generator[0].bit_generator.state))


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restores a state returned by :func:`get_rng_state`."""
    if not isinstance(state, Mapping) or "bit_generator" not in state:
        raise FerrogradError(
            f"set_rng_state: expected a state from get_rng_state(), got {type(state).__name__}"
        )
    name = state["bit_generator"]
    bit_generator_cls = getattr(np.random, str(name), None)
    if bit_generator_cls is None:
        raise FerrogradError(f"set_rng_state: unknown bit generator {name!r}")
    bit_generator = bit_generator_cls()
    bit_generator.state = _plain(state)
    _generator[0] = np.random.Generator(bit_generator)


def _plain(state: Any) -> Any:
    """Nested dicts with Python ints (a state read back from a file may hold NumPy ints)."""
    if isinstance(state, Mapping):
        return {str(k): _plain(v) for k, v in state.items()}
    if isinstance(state, np.ndarray) and state.ndim == 0:
        return state.item()
    if isinstance(state, np.integer):
        return int(state)
    return state
