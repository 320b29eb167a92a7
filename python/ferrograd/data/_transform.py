"""The shared frame of the preprocessing steps: input checks, fit state, state dicts.

A step computes its statistics in float64 from the training data (:meth:`Transform.fit`)
and applies them to any data with the same number of features, keeping the input's dtype
(float32 or float64; integers and booleans become float64). Its state is a dict of NumPy
arrays (numbers as 0-d arrays), so it can be written with :func:`ferrograd.save`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..exceptions import ArgumentError, DTypeError, NotFittedError, ShapeError
from ._checks import as_numpy

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class Transform:
    """Base class: subclasses define ``_fit``, ``_apply``, ``_invert`` and their state."""

    #: Names of the fitted arrays, in the order of :meth:`state_dict`.
    _fitted: tuple[str, ...] = ()
    #: Fewest samples :meth:`fit` accepts.
    _min_samples = 1
    #: A fitted array with one entry per input feature.
    _feature_key = "mean"

    def __init__(self) -> None:
        self._state: dict[str, np.ndarray] | None = None

    # Subclasses fill these in.
    def _fit(self, X: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _apply(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _invert(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _settings(self) -> dict[str, np.ndarray]:
        """The constructor arguments, as arrays for the state dict."""
        return {}

    def _load_settings(self, state: Mapping[str, np.ndarray]) -> None:
        """Sets the constructor arguments from a state dict (already checked for keys)."""

    def _derive(self) -> None:
        """Recomputes what follows from the state (after fit or load_state_dict)."""

    # The public API.
    def fit(self, X: Any) -> Transform:
        """Computes the statistics of ``X`` (n_samples, n_features); returns ``self``."""
        name = f"{type(self).__name__}.fit"
        data = self._input(name, X, fitted=False)
        if data.shape[0] < self._min_samples:
            raise ArgumentError(
                f"{name}: X needs at least {self._min_samples} samples, got {data.shape[0]}"
            )
        state = self._fit(data.astype(np.float64, copy=False))
        self._state = {k: np.asarray(state[k]) for k in self._fitted}
        self._derive()
        return self

    def transform(self, X: Any) -> np.ndarray:
        """``X`` transformed with the fitted statistics, in ``X``'s float dtype."""
        return self._apply(self._input(f"{type(self).__name__}.transform", X, fitted=True))

    def fit_transform(self, X: Any) -> np.ndarray:
        """:meth:`fit` on ``X``, then :meth:`transform` of ``X``."""
        return self.fit(X).transform(X)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Undoes :meth:`transform` (up to rounding)."""
        name = f"{type(self).__name__}.inverse_transform"
        return self._invert(self._input(name, X, fitted=True, inverse=True))

    def state_dict(self) -> dict[str, np.ndarray]:
        """The settings and fitted statistics as NumPy arrays (safetensors-friendly)."""
        state = self._require_fit(f"{type(self).__name__}.state_dict")
        out = self._settings()
        out.update({k: v.copy() for k, v in state.items()})
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restores what :meth:`state_dict` returned; nothing changes if it does not fit."""
        name = f"{type(self).__name__}.load_state_dict"
        expected = set(self._settings()) | set(self._fitted)
        if not isinstance(state, Mapping) or set(state) != expected:
            got = sorted(state) if isinstance(state, Mapping) else type(state).__name__
            raise ArgumentError(f"{name}: expected keys {sorted(expected)}, got {got}")
        arrays = {k: as_numpy(name, k, v) for k, v in state.items()}
        for k in self._fitted:
            if arrays[k].dtype.kind not in "biuf":
                raise DTypeError(f"{name}: '{k}' must hold numbers, got dtype {arrays[k].dtype}")
        self._check_state(name, arrays)
        previous = self.state_dict() if self._state is not None else None
        try:
            self._load_settings(arrays)
            self._state = {k: np.array(arrays[k], dtype=np.float64) for k in self._fitted}
            self._derive()
        except BaseException:
            if previous is None:
                self._state = None
            else:
                self._load_settings(previous)
                self._state = {k: previous[k] for k in self._fitted}
                self._derive()
            raise

    def _check_state(self, name: str, state: Mapping[str, np.ndarray]) -> None:
        """Shape checks of a state dict about to be loaded: by default every fitted array is
        1-D with one entry per feature."""
        shapes = {k: state[k].shape for k in self._fitted}
        if any(len(s) != 1 for s in shapes.values()) or len(set(shapes.values())) > 1:
            raise ShapeError(
                f"{name}: the fitted arrays must be 1-D and of one length, got shapes {shapes}"
            )

    def __getattr__(self, name: str) -> Any:
        # scikit-learn's attribute names: ``mean_`` is the fitted array ``mean``.
        if name.endswith("_") and not name.startswith("_") and name[:-1] in self._fitted:
            return self._require_fit(f"{type(self).__name__}.{name}")[name[:-1]]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def n_features_in_(self) -> int:
        """The number of features seen by :meth:`fit`."""
        return self._n_features(f"{type(self).__name__}.n_features_in_")

    def _n_features(self, name: str) -> int:
        return int(self._require_fit(name)[self._feature_key].shape[0])

    def _n_outputs(self) -> int:
        """The number of columns :meth:`transform` gives."""
        return self._n_features(type(self).__name__)

    def _require_fit(self, name: str) -> dict[str, np.ndarray]:
        if self._state is None:
            raise NotFittedError(f"{name}: call fit (or load_state_dict) first")
        return self._state

    def _input(self, name: str, X: Any, fitted: bool, inverse: bool = False) -> np.ndarray:
        if fitted:
            self._require_fit(name)
        data = as_numpy(name, "X", X)
        if data.ndim != 2:
            hint = " (use X.reshape(-1, 1) for a single feature)" if data.ndim == 1 else ""
            raise ShapeError(
                f"{name}: X must be 2-D (n_samples, n_features), got shape {data.shape}{hint}"
            )
        if data.dtype not in _FLOATS:
            if data.dtype.kind not in "biu":
                raise DTypeError(f"{name}: X must hold real numbers, got dtype {data.dtype}")
            data = data.astype(np.float64)
        if not np.isfinite(data).all():
            raise ArgumentError(f"{name}: X contains NaN or infinity")
        if fitted:
            width = self._n_outputs() if inverse else self._n_features(name)
            if data.shape[1] != width:
                raise ShapeError(
                    f"{name}: X has {data.shape[1]} features, but this "
                    f"{type(self).__name__} {'gives' if inverse else 'was fitted on'} {width}"
                )
        return data


def scalar(state: Mapping[str, np.ndarray], key: str) -> float:
    """A number stored as a 0-d (or 1-element) array."""
    a = np.asarray(state[key])
    if a.size != 1 or a.dtype.kind not in "biuf":
        raise ArgumentError(f"load_state_dict: '{key}' must be one number, got {a!r}")
    return float(a.reshape(-1)[0])
