"""Feature scaling fitted on training data: ``MinMaxScaler`` and ``StandardScaler``.

Both follow scikit-learn's definitions (same attribute names, the biased standard
deviation, constant features left unscaled instead of divided by zero).

Examples
--------
>>> import numpy as np
>>> from ferrograd.data import StandardScaler
>>> X_train = np.array([[0.0, 10.0], [2.0, 10.0]])
>>> scaler = StandardScaler().fit(X_train)
>>> scaler.transform(np.array([[1.0, 10.0], [4.0, 12.0]])).tolist()
[[0.0, 0.0], [3.0, 2.0]]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..exceptions import ArgumentError, DTypeError
from ._transform import Transform, scalar

_EPS = float(np.finfo(np.float64).eps)


class MinMaxScaler(Transform):
    """Scales each feature linearly so that its training range becomes ``feature_range``.

    ``X_scaled = (X - data_min_) / (data_max_ - data_min_) * (max - min) + min``; a feature
    that is constant in the training data (a range below ``10 * eps`` of float64, as in
    scikit-learn) maps to ``min``.

    Attributes (after fit): ``data_min_``, ``data_max_``, ``data_range_``, ``scale_``,
    ``min_`` (float64 arrays, one entry per feature), ``n_features_in_``.

    Examples
    --------
    >>> import numpy as np
    >>> scaler = MinMaxScaler(feature_range=(-1, 1))
    >>> scaler.fit_transform(np.array([[0.0], [5.0], [10.0]])).ravel().tolist()
    [-1.0, 0.0, 1.0]
    """

    _fitted = ("data_min", "data_max", "data_range", "scale", "min")
    _feature_key = "scale"

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)) -> None:
        super().__init__()
        self.feature_range = _check_range(type(self).__name__, feature_range)

    def _fit(self, X: np.ndarray) -> dict[str, np.ndarray]:
        low, high = self.feature_range
        data_min, data_max = X.min(axis=0), X.max(axis=0)
        data_range = data_max - data_min
        scale = (high - low) / np.where(data_range < 10 * _EPS, 1.0, data_range)
        return {
            "data_min": data_min,
            "data_max": data_max,
            "data_range": data_range,
            "scale": scale,
            "min": low - data_min * scale,
        }

    def _apply(self, X: np.ndarray) -> np.ndarray:
        s = self._state
        assert s is not None
        return X * s["scale"].astype(X.dtype) + s["min"].astype(X.dtype)

    def _invert(self, X: np.ndarray) -> np.ndarray:
        s = self._state
        assert s is not None
        return (X - s["min"].astype(X.dtype)) / s["scale"].astype(X.dtype)

    def _settings(self) -> dict[str, np.ndarray]:
        return {"feature_range": np.array(self.feature_range, dtype=np.float64)}

    def _load_settings(self, state: Mapping[str, np.ndarray]) -> None:
        rng = np.asarray(state["feature_range"], dtype=np.float64).reshape(-1)
        if rng.shape != (2,):
            raise ArgumentError(
                f"{type(self).__name__}.load_state_dict: feature_range must hold 2 numbers, "
                f"got {rng.tolist()}"
            )
        self.feature_range = _check_range(type(self).__name__, tuple(rng.tolist()))

    def __repr__(self) -> str:
        return f"MinMaxScaler(feature_range={self.feature_range})"


class StandardScaler(Transform):
    """Centres each feature on its training mean and divides it by its training standard
    deviation (the biased one, dividing by n, as scikit-learn does).

    A feature that is constant in the training data (up to rounding) keeps scale 1, so it
    becomes 0 instead of NaN.

    Parameters
    ----------
    with_mean : subtract the mean.
    with_std : divide by the standard deviation.

    Attributes (after fit): ``mean_``, ``var_``, ``scale_`` (float64 arrays; ``scale_`` is 1
    where the feature is constant or ``with_std=False``), ``n_features_in_``.

    Examples
    --------
    >>> import numpy as np
    >>> StandardScaler().fit(np.array([[1.0], [3.0]])).scale_.tolist()
    [1.0]
    """

    _fitted = ("mean", "var", "scale")

    def __init__(self, with_mean: bool = True, with_std: bool = True) -> None:
        super().__init__()
        name = type(self).__name__
        self.with_mean = _check_bool(name, "with_mean", with_mean)
        self.with_std = _check_bool(name, "with_std", with_std)

    def _fit(self, X: np.ndarray) -> dict[str, np.ndarray]:
        n = X.shape[0]
        mean = X.mean(axis=0)
        var = ((X - mean) ** 2).mean(axis=0)
        # Constant features: a variance at the level of the rounding error of the mean.
        constant = var <= (n * _EPS * mean) ** 2
        scale = np.where(constant, 1.0, np.sqrt(var)) if self.with_std else np.ones_like(var)
        return {"mean": mean, "var": var, "scale": scale}

    def _apply(self, X: np.ndarray) -> np.ndarray:
        s = self._state
        assert s is not None
        out = X - s["mean"].astype(X.dtype) if self.with_mean else X.copy()
        if self.with_std:
            out /= s["scale"].astype(X.dtype)
        return out

    def _invert(self, X: np.ndarray) -> np.ndarray:
        s = self._state
        assert s is not None
        out = X * s["scale"].astype(X.dtype) if self.with_std else X.copy()
        if self.with_mean:
            out += s["mean"].astype(X.dtype)
        return out

    def _settings(self) -> dict[str, np.ndarray]:
        return {"with_mean": np.array(self.with_mean), "with_std": np.array(self.with_std)}

    def _load_settings(self, state: Mapping[str, np.ndarray]) -> None:
        self.with_mean = bool(scalar(state, "with_mean"))
        self.with_std = bool(scalar(state, "with_std"))

    def __repr__(self) -> str:
        return f"StandardScaler(with_mean={self.with_mean}, with_std={self.with_std})"


def _check_range(func: str, feature_range: Any) -> tuple[float, float]:
    try:
        low, high = feature_range
    except (TypeError, ValueError):
        raise DTypeError(
            f"{func}: feature_range must be a pair (min, max), got {feature_range!r}"
        ) from None
    for v in (low, high):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number)):
            raise DTypeError(f"{func}: feature_range must hold numbers, got {feature_range!r}")
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ArgumentError(
            f"{func}: feature_range must be (min, max) with min < max, got {feature_range!r}"
        )
    return float(low), float(high)


def _check_bool(func: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise DTypeError(f"{func}: {name} must be True or False, got {value!r}")
    return bool(value)
