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

import numpy as np

_generator = [np.random.default_rng(0)]


def manual_seed(seed: int) -> None:
    """Seeds the generator behind initialisation, dropout, shuffling and augmentation."""
    _generator[0] = np.random.default_rng(int(seed))


def default_generator() -> np.random.Generator:
    """The generator :func:`manual_seed` seeds (a ``numpy.random.Generator``)."""
    return _generator[0]


def generator(seed: int | None = None) -> np.random.Generator:
    """A generator: a fresh seeded one when ``seed`` is given, else the default one."""
    return _generator[0] if seed is None else np.random.default_rng(int(seed))
