"""Synthetic datasets made on the spot: moons, spirals, blobs and linear regression.

Each returns ``(X, y)`` with X float32; class labels are int64, regression targets float32.
``seed`` makes the data repeatable; None draws from the generator
:func:`ferrograd.manual_seed` seeds.

Examples
--------
>>> from ferrograd.data import make_moons
>>> X, y = make_moons(200, noise=0.1, seed=0)
>>> X.shape, X.dtype, y.dtype, y.sum().item()
((200, 2), dtype('float32'), dtype('int64'), 100)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import ArgumentError, DTypeError, ShapeError
from ._checks import check_float, check_int, generator, is_int


def make_moons(
    n_samples: int = 100,
    noise: float | None = None,
    seed: int | None = None,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (scikit-learn's ``make_moons``): class 0 on the upper
    half of the unit circle, class 1 on the lower one moved by (1, 0.5); ``n_samples // 2``
    points in class 0, the rest in class 1. ``noise`` is the standard deviation of normal
    noise added to each coordinate.

    Examples
    --------
    >>> X, y = make_moons(4, shuffle=False)
    >>> X.round(3).tolist(), y.tolist()
    ([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.5], [2.0, 0.5]], [0, 0, 1, 1])
    """
    func = "make_moons"
    n = check_int(func, "n_samples", n_samples, 1)
    std = 0.0 if noise is None else check_float(func, "noise", noise, 0.0, float("inf"))
    rng = generator(func, seed)
    n_outer = n // 2
    outer = np.linspace(0, np.pi, n_outer)
    inner = np.linspace(0, np.pi, n - n_outer)
    X = np.empty((n, 2))
    X[:n_outer, 0], X[:n_outer, 1] = np.cos(outer), np.sin(outer)
    X[n_outer:, 0], X[n_outer:, 1] = 1 - np.cos(inner), 0.5 - np.sin(inner)
    y = (np.arange(n) >= n_outer).astype(np.int64)
    return _finish(X, y, std, rng, shuffle)


def make_spirals(
    n_samples: int = 100,
    n_classes: int = 2,
    noise: float = 0.0,
    seed: int | None = None,
    turns: float = 1.0,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class, winding out from the origin.

    Point ``j`` of class ``k`` (of ``n_k`` points) sits at radius ``t = (j + 1) / n_k`` and
    angle ``2 pi (turns * t + k / n_classes)``; ``noise`` is the standard deviation of normal
    noise added to each coordinate. Classes get ``n_samples // n_classes`` points each, the
    first ``n_samples % n_classes`` one more.

    Examples
    --------
    >>> X, y = make_spirals(300, n_classes=3, noise=0.05, seed=0)
    >>> X.shape, [int(c) for c in np.bincount(y)]
    ((300, 2), [100, 100, 100])
    """
    func = "make_spirals"
    n_classes = check_int(func, "n_classes", n_classes, 1)
    n = check_int(func, "n_samples", n_samples, n_classes)
    std = check_float(func, "noise", noise, 0.0, float("inf"))
    turns = check_float(func, "turns", turns, 0.0, float("inf"))
    rng = generator(func, seed)
    y = np.repeat(np.arange(n_classes, dtype=np.int64), _per_class(n, n_classes))
    counts = np.bincount(y, minlength=n_classes)
    t = (np.arange(n) - np.concatenate(([0], np.cumsum(counts)[:-1]))[y] + 1) / counts[y]
    angle = 2 * np.pi * (turns * t + y / n_classes)
    X = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    return _finish(X, y, std, rng, shuffle)


def make_blobs(
    n_samples: int = 100,
    centers: int | Any = 3,
    n_features: int = 2,
    cluster_std: float | Any = 1.0,
    seed: int | None = None,
    center_box: tuple[float, float] = (-10.0, 10.0),
    shuffle: bool = True,
    return_centers: bool = False,
) -> tuple[np.ndarray, ...]:
    """Normal clusters around centres (scikit-learn's ``make_blobs``).

    Parameters
    ----------
    n_samples : total number of points, spread evenly over the centres (the first
        ``n_samples % k`` centres get one more).
    centers : the number of centres (drawn uniformly in ``center_box``) or their coordinates
        as an array (k, n_features).
    n_features : dimensions (ignored when ``centers`` is an array).
    cluster_std : standard deviation of the clusters: one number or one per centre.
    return_centers : also return the centres (float64, (k, n_features)).

    Examples
    --------
    >>> X, y, centres = make_blobs(6, centers=[[0, 0], [5, 5]], cluster_std=0, seed=0,
    ...                            return_centers=True)
    >>> bool((X == centres[y]).all())
    True
    """
    func = "make_blobs"
    n = check_int(func, "n_samples", n_samples, 1)
    rng = generator(func, seed)
    if is_int(centers):
        k = check_int(func, "centers", centers, 1)
        d = check_int(func, "n_features", n_features, 1)
        try:
            low, high = (float(v) for v in center_box)
        except (TypeError, ValueError):
            raise DTypeError(
                f"{func}: center_box must be a pair of numbers (low, high), got {center_box!r}"
            ) from None
        if not low <= high:
            raise ArgumentError(f"{func}: center_box must be (low, high), got {center_box}")
        centres = rng.uniform(low, high, size=(k, d))
    else:
        centres = np.asarray(centers, dtype=np.float64)
        if centres.ndim != 2 or centres.shape[0] == 0:
            raise ShapeError(
                f"{func}: centers must be an int or an array (k, n_features), got shape "
                f"{centres.shape}"
            )
        k = centres.shape[0]
    try:
        stds = np.asarray(cluster_std, dtype=np.float64)
    except (TypeError, ValueError):
        raise DTypeError(f"{func}: cluster_std must hold numbers, got {cluster_std!r}") from None
    if stds.ndim == 0:
        stds = np.full(k, float(stds))
    if stds.shape != (k,) or not np.isfinite(stds).all() or (stds < 0).any():
        raise ArgumentError(
            f"{func}: cluster_std must be one number >= 0 or one per centre ({k}), got "
            f"{cluster_std!r}"
        )
    y = np.repeat(np.arange(k, dtype=np.int64), _per_class(n, k))
    X = centres[y] + stds[y, None] * rng.standard_normal((n, centres.shape[1]))
    X, y = _finish(X, y, 0.0, rng, shuffle)
    return (X, y, centres) if return_centers else (X, y)


def make_regression(
    n_samples: int = 100,
    n_features: int = 10,
    n_targets: int = 1,
    noise: float = 0.0,
    seed: int | None = None,
    bias: float = 0.0,
    return_coef: bool = False,
) -> tuple[np.ndarray, ...]:
    """A linear regression problem: ``y = X @ coef + bias + noise * N(0, 1)``.

    X is standard normal; ``coef`` (n_features, n_targets) is drawn uniformly from
    [0, 100). y has shape (n_samples,) for one target, (n_samples, n_targets) otherwise; it is
    computed in float64 from the float32 X returned. ``return_coef`` also returns ``coef``
    (float64; (n_features,) for one target).

    Examples
    --------
    >>> X, y, coef = make_regression(50, n_features=3, n_targets=2, seed=0, return_coef=True)
    >>> X.shape, y.shape, coef.shape
    ((50, 3), (50, 2), (3, 2))
    >>> bool(np.allclose(X.astype(np.float64) @ coef, y, rtol=1e-6, atol=1e-3))
    True
    """
    func = "make_regression"
    n = check_int(func, "n_samples", n_samples, 1)
    d = check_int(func, "n_features", n_features, 1)
    t = check_int(func, "n_targets", n_targets, 1)
    std = check_float(func, "noise", noise, 0.0, float("inf"))
    bias = check_float(func, "bias", bias, -float("inf"), float("inf"))
    rng = generator(func, seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    coef = 100 * rng.uniform(size=(d, t))
    y = X.astype(np.float64) @ coef + bias
    if std > 0:
        y += std * rng.standard_normal(y.shape)
    if t == 1:
        y, coef = y[:, 0], coef[:, 0]
    y32 = y.astype(np.float32)
    return (X, y32, coef) if return_coef else (X, y32)


def _per_class(n: int, k: int) -> np.ndarray:
    counts = np.full(k, n // k)
    counts[: n % k] += 1
    return counts


def _finish(
    X: np.ndarray, y: np.ndarray, std: float, rng: np.random.Generator, shuffle: bool
) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(shuffle, (bool, np.bool_)):
        raise DTypeError(f"shuffle must be True or False, got {shuffle!r}")
    if std > 0:
        X = X + std * rng.standard_normal(X.shape)
    if shuffle:
        order = rng.permutation(len(y))
        X, y = X[order], y[order]
    return X.astype(np.float32), y
