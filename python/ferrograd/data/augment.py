"""Random augmentations of image batches (N, C, H, W), each done for the whole batch at once.

An augmentation is called on the inputs only, ``x_aug = aug(x)``, and returns a new array
of the same shape and dtype whose row ``i`` is a transformed copy of row ``i`` of ``x``, so
the labels stay as they are. Randomness comes from a generator made from ``seed=`` (which
advances with each call: successive batches differ, yet a run repeats exactly) or, without
a seed, from the generator :func:`ferrograd.manual_seed` seeds.

Examples
--------
>>> import numpy as np
>>> from ferrograd.data import Compose, GaussianNoise, RandomFlip, RandomShift
>>> aug = Compose([RandomFlip(p=0.5, seed=0), RandomShift(1, seed=1), GaussianNoise(0.1, seed=2)])
>>> x = np.zeros((16, 1, 8, 8), dtype=np.float32)
>>> aug(x).shape, aug(x).dtype
((16, 1, 8, 8), dtype('float32'))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import random as fg_random
from ..exceptions import ArgumentError, DTypeError, ShapeError
from ._checks import as_numpy, check_float, check_int, check_seed


class Augmentation:
    """Base class: a seeded random transform of a batch, called as ``aug(x)``."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = check_seed(type(self).__name__, seed)
        self._rng = None if self.seed is None else np.random.default_rng(self.seed)

    def _generator(self) -> np.random.Generator:
        return self._rng if self._rng is not None else fg_random.default_generator()

    def __call__(self, x: Any) -> np.ndarray:
        return self._apply(self._check(as_numpy(type(self).__name__, "x", x)), self._generator())

    def _check(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 4:
            raise ShapeError(
                f"{type(self).__name__}: x must be a batch of images (N, C, H, W), got shape "
                f"{x.shape}"
            )
        return x

    def _apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


class RandomFlip(Augmentation):
    """Mirrors each image left-right (``horizontal``) and/or upside down (``vertical``), each
    with probability ``p``, independently per image.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(4.0).reshape(1, 1, 1, 4)
    >>> RandomFlip(p=1.0)(x).ravel().tolist()
    [3.0, 2.0, 1.0, 0.0]
    """

    def __init__(
        self,
        horizontal: bool = True,
        vertical: bool = False,
        p: float = 0.5,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        name = type(self).__name__
        for arg, value in (("horizontal", horizontal), ("vertical", vertical)):
            if not isinstance(value, (bool, np.bool_)):
                raise DTypeError(f"{name}: {arg} must be True or False, got {value!r}")
        if not (horizontal or vertical):
            raise ArgumentError(f"{name}: horizontal and vertical are both False")
        self.horizontal, self.vertical = bool(horizontal), bool(vertical)
        self.p = check_float(name, "p", p, 0.0, 1.0)

    def _apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = x.copy()
        for flip, axis in ((self.horizontal, 3), (self.vertical, 2)):
            if flip:
                chosen = rng.random(x.shape[0]) < self.p
                out[chosen] = np.flip(out[chosen], axis=axis)
        return out

    def __repr__(self) -> str:
        return (
            f"RandomFlip(horizontal={self.horizontal}, vertical={self.vertical}, p={self.p}, "
            f"seed={self.seed})"
        )


class RandomShift(Augmentation):
    """Moves each image by a random whole number of pixels, up to ``max_shift`` in each
    direction (an int, or a pair for rows and columns), filling the uncovered border with
    ``fill``: the image is padded by ``max_shift`` and a window of its size cropped at a
    random offset.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.ones((2, 1, 3, 3))
    >>> y = RandomShift(1, seed=0)(x)
    >>> y.shape, set(np.unique(y)) <= {0.0, 1.0}
    ((2, 1, 3, 3), True)
    """

    def __init__(
        self, max_shift: int | tuple[int, int], fill: float = 0, seed: int | None = None
    ) -> None:
        super().__init__(seed)
        name = type(self).__name__
        pair = tuple(max_shift) if isinstance(max_shift, (tuple, list)) else (max_shift,) * 2
        if len(pair) != 2:
            raise DTypeError(f"{name}: max_shift must be an int or a pair, got {max_shift!r}")
        self.max_shift = (
            check_int(name, "max_shift", pair[0], 0),
            check_int(name, "max_shift", pair[1], 0),
        )
        if isinstance(fill, (bool, np.bool_)) or not isinstance(fill, (int, float, np.number)):
            raise DTypeError(f"{name}: fill must be a number, got {fill!r}")
        self.fill = fill

    def _apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n, _, h, w = x.shape
        my, mx = self.max_shift
        dy = rng.integers(-my, my + 1, n)
        dx = rng.integers(-mx, mx + 1, n)
        padded = np.pad(x, ((0, 0), (0, 0), (my, my), (mx, mx)), constant_values=self.fill)
        windows = sliding_window_view(padded, (h, w), axis=(2, 3))  # (N, C, 2my+1, 2mx+1, H, W)
        # Window (my - dy, mx - dx) puts pixel (r, c) of the image at (r + dy, c + dx).
        return windows[np.arange(n), :, my - dy, mx - dx]

    def __repr__(self) -> str:
        return f"RandomShift(max_shift={self.max_shift}, fill={self.fill}, seed={self.seed})"


class GaussianNoise(Augmentation):
    """Adds independent normal noise of standard deviation ``std`` to every element (of a
    float array of any shape).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((1000, 1, 2, 2), dtype=np.float32)
    >>> noisy = GaussianNoise(0.5, seed=0)(x)
    >>> noisy.dtype, round(float(noisy.std()), 1)
    (dtype('float32'), 0.5)
    """

    def __init__(self, std: float, seed: int | None = None) -> None:
        super().__init__(seed)
        self.std = check_float(type(self).__name__, "std", std, 0.0, float("inf"))

    def _check(self, x: np.ndarray) -> np.ndarray:
        if x.dtype not in (np.float32, np.float64):
            raise DTypeError(
                f"GaussianNoise: x must be float32 or float64, got {x.dtype} (convert with "
                f"x.astype(np.float32) first)"
            )
        return x

    def _apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        noise = rng.standard_normal(x.shape, dtype=x.dtype)
        noise *= x.dtype.type(self.std)
        return x + noise

    def __repr__(self) -> str:
        return f"GaussianNoise(std={self.std}, seed={self.seed})"


class Compose:
    """Applies augmentations (any callables ``x -> x``) one after the other.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(3.0).reshape(1, 1, 1, 3)
    >>> Compose([RandomFlip(p=1.0), RandomFlip(p=1.0)])(x).ravel().tolist()
    [0.0, 1.0, 2.0]
    """

    def __init__(self, transforms: Sequence[Callable[[np.ndarray], np.ndarray]]) -> None:
        if isinstance(transforms, (str, bytes)) or not isinstance(transforms, Sequence):
            raise DTypeError(f"Compose: transforms must be a list, got {transforms!r}")
        for i, t in enumerate(transforms):
            if not callable(t):
                raise DTypeError(f"Compose: transforms[{i}] is not callable: {t!r}")
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> np.ndarray:
        for t in self.transforms:
            x = t(x)
        return np.asarray(x)

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"
