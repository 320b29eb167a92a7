"""K-fold cross-validation: ``KFold`` and ``StratifiedKFold``, with scikit-learn's folds.

Examples
--------
>>> import numpy as np
>>> from ferrograd.data import KFold
>>> for train_idx, test_idx in KFold(n_splits=3).split(np.zeros((7, 2))):
...     print(train_idx.tolist(), test_idx.tolist())
[3, 4, 5, 6] [0, 1, 2]
[0, 1, 2, 5, 6] [3, 4]
[0, 1, 2, 3, 4] [5, 6]
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..exceptions import ArgumentError, DTypeError, ShapeError
from ._checks import as_numpy, check_int, check_seed, first_dim, generator, same_length

Split = tuple[np.ndarray, np.ndarray]


class KFold:
    """Splits samples into ``n_splits`` consecutive folds; each fold is the test part once.

    The first ``n % n_splits`` folds have one sample more than the others. With
    ``shuffle=True`` the samples are shuffled first (``seed`` makes it repeatable; None draws
    from the generator :func:`ferrograd.manual_seed` seeds, anew at each :meth:`split`).
    Every sample is in exactly one test fold. Indices come sorted.

    Examples
    --------
    >>> import numpy as np
    >>> folds = list(KFold(n_splits=2, shuffle=True, seed=0).split(np.arange(6)))
    >>> sorted(np.concatenate([test for _, test in folds]).tolist())
    [0, 1, 2, 3, 4, 5]
    """

    def __init__(self, n_splits: int = 5, shuffle: bool = False, seed: int | None = None) -> None:
        name = type(self).__name__
        self.n_splits = check_int(name, "n_splits", n_splits, 2)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise DTypeError(f"{name}: shuffle must be True or False, got {shuffle!r}")
        self.shuffle = bool(shuffle)
        self.seed = check_seed(name, seed)
        if self.seed is not None and not self.shuffle:
            raise ArgumentError(
                f"{name}: seed={seed} has no effect with shuffle=False; pass shuffle=True or "
                f"leave seed as None"
            )

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """The number of folds."""
        return self.n_splits

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[Split]:
        """Yields ``(train_idx, test_idx)`` for each fold (``y`` and ``groups`` are unused)."""
        n = self._n_samples(X)
        fold_of = self._test_folds(n, y)
        return self._iterate(fold_of)

    def _n_samples(self, X: Any) -> int:
        name = f"{type(self).__name__}.split"
        n = first_dim(name, "X", as_numpy(name, "X", X))
        if self.n_splits > n:
            raise ArgumentError(
                f"{name}: n_splits={self.n_splits} is more than the {n} samples of X"
            )
        return n

    def _test_folds(self, n: int, y: Any) -> np.ndarray:
        """The test fold of each sample."""
        sizes = np.full(self.n_splits, n // self.n_splits)
        sizes[: n % self.n_splits] += 1
        fold_of = np.repeat(np.arange(self.n_splits), sizes)
        if self.shuffle:
            order = generator(type(self).__name__, self.seed).permutation(n)
            fold_of = fold_of[np.argsort(order)]  # sample order[i] goes to fold_of[i]
        return fold_of

    def _iterate(self, fold_of: np.ndarray) -> Iterator[Split]:
        for f in range(self.n_splits):
            in_test = fold_of == f
            yield np.flatnonzero(~in_test), np.flatnonzero(in_test)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_splits={self.n_splits}, shuffle={self.shuffle}, "
            f"seed={self.seed})"
        )


class StratifiedKFold(KFold):
    """K folds that keep the class proportions of ``y``: each class is spread over the folds
    as evenly as it can be (counts differ by at most one between folds), and fold sizes
    differ by at most one.

    Classes are dealt in the order they first appear in ``y``. Without shuffling, the members
    of a class go to the folds in order (as scikit-learn's ``StratifiedKFold`` gives); with
    ``shuffle=True`` they are assigned at random. A class with fewer members than
    ``n_splits`` gives a warning (some folds miss it); if every class has fewer it is an
    error.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 0, 0, 0, 1, 1])
    >>> [np.bincount(y[test]).tolist() for _, test in StratifiedKFold(2).split(y, y)]
    [[2, 1], [2, 1]]
    """

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[Split]:
        """Yields ``(train_idx, test_idx)`` for each fold; ``y`` (the labels) is required."""
        name = f"{type(self).__name__}.split"
        if y is None:
            raise ArgumentError(f"{name}: y (the class labels) is required")
        n = self._n_samples(X)
        labels = as_numpy(name, "y", y)
        same_length(name, {"X": np.empty(n), "y": labels})
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
        if labels.ndim != 1:
            raise ShapeError(f"{name}: y must be 1-D class labels, got shape {labels.shape}")
        return self._iterate(self._test_folds(n, labels))

    def _test_folds(self, n: int, y: Any) -> np.ndarray:
        name = f"{type(self).__name__}.split"
        _, first, inverse, counts = np.unique(
            y, return_index=True, return_inverse=True, return_counts=True
        )
        appearance = np.argsort(np.argsort(first))  # class rank by first appearance
        encoded = appearance[inverse.reshape(-1)]
        counts = counts[np.argsort(first)]
        k = self.n_splits
        if np.all(counts < k):
            raise ArgumentError(
                f"{name}: n_splits={k} is more than the members of every class of y "
                f"(largest class: {counts.max()})"
            )
        if counts.min() < k:
            warnings.warn(
                f"{name}: the smallest class of y has only {counts.min()} members, fewer than "
                f"n_splits={k}; some folds will not contain it",
                UserWarning,
                stacklevel=3,
            )
        # Deal the samples, sorted by class, round-robin over the folds: fold f gets positions
        # f, f + k, ... of that order, which fixes how many of each class it receives.
        by_class = np.sort(encoded)
        per_fold = np.stack([np.bincount(by_class[f::k], minlength=len(counts)) for f in range(k)])
        rng = generator(type(self).__name__, self.seed) if self.shuffle else None
        fold_of = np.empty(n, dtype=np.int64)
        for c in range(len(counts)):
            folds = np.repeat(np.arange(k), per_fold[:, c])
            if rng is not None:
                folds = rng.permutation(folds)
            fold_of[encoded == c] = folds
        return fold_of
