"""Train/test and train/validation/test splits, optionally stratified, as scikit-learn does.

Sizes are fractions of the whole (floats in (0, 1)) or sample counts (ints). As in
scikit-learn, a fractional test size is rounded up (``ceil(test_size * n)``) and a fractional
train size down, and each function returns the pieces of every array in turn.

Examples
--------
>>> import numpy as np
>>> from ferrograd.data import train_test_split
>>> X, y = np.arange(20).reshape(10, 2), np.arange(10) % 2
>>> X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, seed=0)
>>> X_train.shape, X_test.shape
((7, 2), (3, 2))
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..exceptions import ArgumentError, DTypeError
from ._checks import as_numpy, generator, is_int, same_length


def train_test_split(
    *arrays: Any,
    test_size: float | int | None = None,
    train_size: float | int | None = None,
    seed: int | None = None,
    shuffle: bool = True,
    stratify: Any = None,
) -> list[np.ndarray]:
    """Splits arrays into random train and test parts: ``X_train, X_test, y_train, y_test, ...``.

    Parameters
    ----------
    *arrays : array-likes (or Tensors) with the same first dimension.
    test_size, train_size : float in (0, 1) (a fraction) or int (a count). With neither
        given, the test part is 25%; with one given, the other part is the rest.
    seed : int for a repeatable split; None draws from the generator
        :func:`ferrograd.manual_seed` seeds.
    shuffle : False takes the first ``n_train`` samples for training and the next ``n_test``
        for testing (no randomness; cannot be combined with ``stratify``).
    stratify : labels (one per sample); each class gets the same share of each part, within
        one sample.

    Returns
    -------
    list of ndarrays: train and test part of each array in turn.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0] * 8 + [1] * 4)
    >>> y_train, y_test = train_test_split(y, test_size=0.25, seed=1, stratify=y)
    >>> np.bincount(y_test).tolist()
    [2, 1]
    """
    func = "train_test_split"
    data = _arrays(func, arrays)
    n = same_length(func, {f"arrays[{i}]": a for i, a in enumerate(data)})
    if test_size is None and train_size is None:
        test_size = 0.25
    fractions = [v for v in (test_size, train_size) if isinstance(v, (float, np.floating))]
    if len(fractions) == 2 and sum(fractions) > 1:
        raise ArgumentError(
            f"{func}: test_size + train_size = {sum(fractions)} is more than the whole (1.0)"
        )
    n_test = _size(func, "test_size", test_size, n, round_up=True)
    n_train = _size(func, "train_size", train_size, n, round_up=False)
    if n_test is None:
        n_test = n - n_train  # type: ignore[operator]
    if n_train is None:
        n_train = n - n_test
    _check_parts(func, n, {"train": n_train, "test": n_test})
    parts = _split(func, n, [n_train, n_test], seed, shuffle, stratify)
    return [a[idx] for a in data for idx in parts]


def train_val_test_split(
    *arrays: Any,
    val_size: float | int,
    test_size: float | int,
    seed: int | None = None,
    shuffle: bool = True,
    stratify: Any = None,
) -> list[np.ndarray]:
    """Splits arrays into train, validation and test parts:
    ``X_train, X_val, X_test, y_train, y_val, y_test, ...``.

    ``val_size`` and ``test_size`` are fractions of the whole (rounded up) or counts; the
    training part gets the rest. ``seed``, ``shuffle`` and ``stratify`` are as in
    :func:`train_test_split`.

    Examples
    --------
    >>> import numpy as np
    >>> X, y = np.zeros((10, 3)), np.arange(10)
    >>> parts = train_val_test_split(X, y, val_size=0.2, test_size=0.3, seed=0)
    >>> [p.shape[0] for p in parts]
    [5, 2, 3, 5, 2, 3]
    """
    func = "train_val_test_split"
    data = _arrays(func, arrays)
    n = same_length(func, {f"arrays[{i}]": a for i, a in enumerate(data)})
    n_val = _size(func, "val_size", val_size, n, round_up=True)
    n_test = _size(func, "test_size", test_size, n, round_up=True)
    assert n_val is not None and n_test is not None
    sizes = {"train": n - n_val - n_test, "val": n_val, "test": n_test}
    _check_parts(func, n, sizes)
    parts = _split(func, n, list(sizes.values()), seed, shuffle, stratify)
    return [a[idx] for a in data for idx in parts]


def _arrays(func: str, arrays: tuple[Any, ...]) -> list[np.ndarray]:
    if not arrays:
        raise ArgumentError(f"{func}: at least one array is required")
    return [as_numpy(func, f"arrays[{i}]", a) for i, a in enumerate(arrays)]


def _size(func: str, name: str, value: Any, n: int, round_up: bool) -> int | None:
    """A part's size as a count (None stays None: the part is the rest)."""
    if value is None:
        return None
    if is_int(value):
        if not 0 < value < n:
            raise ArgumentError(
                f"{func}: {name}={value} must be between 1 and {n - 1} "
                f"(the number of samples is {n})"
            )
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not 0.0 < value < 1.0:
            raise ArgumentError(
                f"{func}: {name}={value} must be a fraction in (0, 1) or a count of samples"
            )
        return math.ceil(value * n) if round_up else math.floor(value * n)
    raise DTypeError(f"{func}: {name} must be a float fraction or an int count, got {value!r}")


def _check_parts(func: str, n: int, sizes: dict[str, int]) -> None:
    total = sum(sizes.values())
    if total > n or min(sizes.values()) < 0:
        listed = ", ".join(f"{k}={v}" for k, v in sizes.items() if v >= 0)
        raise ArgumentError(f"{func}: the parts ({listed}) need more than {n} samples")
    empty = [k for k, v in sizes.items() if v == 0]
    if empty:
        listed = ", ".join(f"{k}={v}" for k, v in sizes.items())
        raise ArgumentError(
            f"{func}: with {n} samples these sizes leave the {empty[0]} part empty ({listed})"
        )


def _split(
    func: str, n: int, sizes: list[int], seed: Any, shuffle: bool, stratify: Any
) -> list[np.ndarray]:
    """Index arrays of the parts, of the given sizes, in the given order."""
    if not shuffle:
        if stratify is not None:
            raise ArgumentError(f"{func}: stratify needs shuffle=True")
        bounds = np.cumsum([0, *sizes])
        return [np.arange(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
    rng = generator(func, seed)
    if stratify is None:
        perm = rng.permutation(n)
        # The test part (last) takes the first indices of the permutation, as scikit-learn's
        # shuffle split does; the others follow in reverse order.
        parts, start = [], 0
        for size in reversed(sizes):
            parts.append(perm[start : start + size])
            start += size
        return parts[::-1]
    return _stratified(func, n, sizes, rng, stratify)


def _stratified(
    func: str, n: int, sizes: list[int], rng: np.random.Generator, stratify: Any
) -> list[np.ndarray]:
    labels = as_numpy(func, "stratify", stratify)
    same_length(func, {"arrays": np.empty(n), "stratify": labels})
    classes, inverse, counts = np.unique(
        labels, axis=0 if labels.ndim > 1 else None, return_inverse=True, return_counts=True
    )
    inverse = inverse.reshape(-1)
    if counts.min() < 2:
        rare = classes[int(np.argmin(counts))]
        raise ArgumentError(
            f"{func}: class {rare!r} of stratify has only 1 member; every class needs at least "
            f"2 to be stratified"
        )
    names = ["train", "val", "test"] if len(sizes) == 3 else ["train", "test"]
    for name, size in zip(names, sizes):
        if size < len(classes):
            raise ArgumentError(
                f"{func}: the {name} part has {size} samples, fewer than the {len(classes)} "
                f"classes of stratify"
            )
    per_part = _round_shares(np.array(sizes), counts, rng)
    members = np.argsort(inverse, kind="stable")
    starts = np.concatenate(([0], np.cumsum(counts)))
    parts: list[list[np.ndarray]] = [[] for _ in sizes]
    for k in range(len(classes)):
        mine = rng.permutation(members[starts[k] : starts[k + 1]])
        offset = 0
        for p in reversed(range(len(sizes))):
            parts[p].append(mine[offset : offset + per_part[p, k]])
            offset += per_part[p, k]
    return [rng.permutation(np.concatenate(p)) for p in parts]


def _round_shares(sizes: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Samples of each class in each part, (n_parts, n_classes): every entry is its exact
    share ``sizes[p] * counts[k] / n`` rounded down or up, rows sum to ``sizes`` and columns
    to ``counts``.

    Such a rounding always exists (the shares have integer row and column sums). Entries are
    rounded up by largest remainder first (ties at random); when that greedy pass leaves a
    part short, an alternating path (round one entry up, another of the same class down, ...)
    moves the shortfall to a class that still has samples to give.
    """
    n = int(counts.sum())
    exact = np.outer(sizes, counts)
    alloc = exact // n
    can_raise = exact % n > 0
    raised = np.zeros(alloc.shape, dtype=bool)
    row_short = sizes - alloc.sum(axis=1)
    col_short = counts - alloc.sum(axis=0)
    shape: tuple[int, ...] = alloc.shape
    tie = rng.random(shape)
    for p in range(len(sizes)):
        for k in np.lexsort((tie[p], -(exact[p] % n))):
            if row_short[p] == 0:
                break
            if can_raise[p, k] and col_short[k] > 0:
                raised[p, k] = True
                row_short[p] -= 1
                col_short[k] -= 1
    for p in range(len(sizes)):
        while row_short[p] > 0:
            _shift_along_path(p, can_raise, raised, col_short)
            row_short[p] -= 1
    return alloc + raised


def _shift_along_path(
    start: int, can_raise: np.ndarray, raised: np.ndarray, col_short: np.ndarray
) -> None:
    """Raises one more entry of part ``start`` by a breadth-first alternating path."""
    came_from: dict[int, tuple[int, int | None]] = {}  # class -> (part raising it, class before)
    frontier: list[tuple[int, int | None]] = [(start, None)]
    seen_parts = {start}
    while frontier:
        following: list[tuple[int, int | None]] = []
        for p, via in frontier:
            for found in np.flatnonzero(can_raise[p] & ~raised[p]):
                k = int(found)
                if k in came_from:
                    continue
                came_from[k] = (p, via)
                if col_short[k] > 0:
                    col_short[k] -= 1
                    node: int | None = k
                    while node is not None:  # flip the path back to the start
                        part, before = came_from[node]
                        raised[part, node] = True
                        if before is not None:
                            raised[part, before] = False
                        node = before
                    return
                for q in np.flatnonzero(raised[:, k]):
                    if int(q) not in seen_parts:
                        seen_parts.add(int(q))
                        following.append((int(q), k))
        frontier = following
    raise AssertionError("no rounding of the class shares found")  # excluded by the theorem
