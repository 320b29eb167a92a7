"""Datasets shipped inside the package, usable offline: ``load_digits``.

Examples
--------
>>> from ferrograd.data import load_digits
>>> X, y = load_digits()
>>> X.shape, X.dtype, y.dtype, int(X.max())
((1797, 64), dtype('float32'), dtype('int64'), 16)
"""

from __future__ import annotations

import numpy as np

from ..exceptions import DTypeError


def load_digits(as_images: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The 8x8 handwritten digits: 1797 images of the digits 0-9 with pixel counts 0..16.

    The test set of the UCI "Optical Recognition of Handwritten Digits" data (E. Alpaydin,
    C. Kaynak, 1998; CC BY 4.0), the same images as scikit-learn's ``load_digits``; source
    and licence are in ``DIGITS.md`` next to this module.

    Parameters
    ----------
    as_images : give X as images (1797, 1, 8, 8) instead of rows (1797, 64).

    Returns
    -------
    X : float32, (1797, 64) or (1797, 1, 8, 8), values 0..16 (unscaled).
    y : int64, (1797,), the digits.

    Examples
    --------
    >>> X, y = load_digits(as_images=True)
    >>> X.shape, sorted(set(y.tolist())) == list(range(10))
    ((1797, 1, 8, 8), True)
    """
    if not isinstance(as_images, (bool, np.bool_)):
        raise DTypeError(f"load_digits: as_images must be True or False, got {as_images!r}")
    from importlib import resources  # only here: it adds to the import time of ferrograd

    with resources.files(__package__).joinpath("digits.npz").open("rb") as f, np.load(f) as data:
        pixels, labels = data["pixels"], data["labels"]
    X = pixels.astype(np.float32)
    if as_images:
        X = X.reshape(-1, 1, 8, 8)
    return X, labels.astype(np.int64)
