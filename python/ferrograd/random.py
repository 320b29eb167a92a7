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

from typing import Any

import numpy as np

from . import _check

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
