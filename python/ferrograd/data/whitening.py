"""Whitening fitted on training data: ``PCAWhitening`` and ``ZCAWhitening``.

Both centre the data and rescale the directions of its covariance matrix (the unbiased
one, dividing by n - 1) so that the whitened training data has the identity as covariance;
``eps`` is added to each variance before the square root, which bounds the amplification of
directions with (almost) no variance.

With eigenvalues ``lambda_i`` and eigenvectors ``u_i`` (columns of ``U``) of the
covariance, PCA whitening projects onto the eigenvectors, ``Z = (X - mean) U / sqrt(lambda +
eps)``, optionally keeping only the ``n_components`` largest; ZCA whitening rotates back,
``Z = (X - mean) U diag(1 / sqrt(lambda + eps)) U^T``, which keeps the whitened data as
close as possible to the original (its matrix is symmetric).

Eigenvalues below ``n_features * eps_machine * lambda_max`` hold rounding noise only: they
are taken as 0, and where ``lambda + eps`` is then 0 (``eps=0``) the direction is left
unscaled rather than divided by zero.

Examples
--------
>>> import numpy as np
>>> from ferrograd.data import PCAWhitening
>>> X = np.random.default_rng(0).standard_normal((500, 3)) @ [[2, 0, 0], [1, 1, 0], [0, 0, 3]]
>>> Z = PCAWhitening(eps=0).fit_transform(X)
>>> bool(np.allclose(np.cov(Z, rowvar=False), np.eye(3)))
True
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..exceptions import ArgumentError, DTypeError, ShapeError
from ._checks import is_int
from ._transform import Transform, scalar

_EPS = float(np.finfo(np.float64).eps)


class _Whitening(Transform):
    _fitted = ("mean", "components", "explained_variance")
    _min_samples = 2

    def __init__(self, eps: float) -> None:
        super().__init__()
        self.eps = _check_eps(type(self).__name__, eps)
        self._forward: np.ndarray | None = None
        self._backward: np.ndarray | None = None

    def _eigen(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Mean, eigenvectors (as rows, by decreasing eigenvalue) and eigenvalues."""
        mean = X.mean(axis=0)
        centred = X - mean
        cov = centred.T @ centred / (X.shape[0] - 1)
        values, vectors = np.linalg.eigh(cov)
        values, vectors = values[::-1], vectors[:, ::-1]
        values = np.where(values < X.shape[1] * _EPS * max(values[0], 0.0), 0.0, values)
        # A fixed sign: the largest entry (in absolute value) of each eigenvector is positive.
        biggest = vectors[np.argmax(np.abs(vectors), axis=0), np.arange(vectors.shape[1])]
        vectors = vectors * np.where(biggest < 0, -1.0, 1.0)
        return {"mean": mean, "components": vectors.T, "explained_variance": values}

    def _stds(self) -> np.ndarray:
        assert self._state is not None
        std = np.sqrt(self._state["explained_variance"] + self.eps)
        return np.where(std > 0, std, 1.0)

    def _apply(self, X: np.ndarray) -> np.ndarray:
        assert self._state is not None and self._forward is not None
        dt = X.dtype
        return (X - self._state["mean"].astype(dt)) @ self._forward.astype(dt)

    def _invert(self, X: np.ndarray) -> np.ndarray:
        assert self._state is not None and self._backward is not None
        dt = X.dtype
        return X @ self._backward.astype(dt) + self._state["mean"].astype(dt)

    @property
    def whitening_matrix_(self) -> np.ndarray:
        """The matrix :meth:`transform` multiplies the centred data by (float64)."""
        self._require_fit(f"{type(self).__name__}.whitening_matrix_")
        assert self._forward is not None
        return self._forward

    def _check_state(self, name: str, state: Mapping[str, np.ndarray]) -> None:
        mean, comps, var = state["mean"], state["components"], state["explained_variance"]
        d = mean.shape[0] if mean.ndim == 1 else -1
        if (
            mean.ndim != 1
            or comps.ndim != 2
            or comps.shape[1] != d
            or var.shape != (comps.shape[0],)
        ):
            raise ShapeError(
                f"{name}: expected mean (d,), components (k, d) and explained_variance (k,), "
                f"got {mean.shape}, {comps.shape} and {var.shape}"
            )
        if (var < 0).any():
            raise ArgumentError(f"{name}: explained_variance must not be negative")

    def _n_outputs(self) -> int:
        assert self._state is not None
        return int(self._state["components"].shape[0])


class PCAWhitening(_Whitening):
    """Projects centred data onto the principal axes of the training data and scales each to
    unit variance: the whitened training data has identity covariance (exactly for
    ``eps=0``, as scikit-learn's ``PCA(whiten=True)`` gives).

    Parameters
    ----------
    n_components : number of leading principal axes kept (None: all features).
    eps : added to each variance before the square root (>= 0).

    Attributes (after fit): ``mean_`` (d,), ``components_`` (k, d) (principal axes as rows,
    sign fixed so that the largest entry of each is positive), ``explained_variance_`` (k,),
    ``whitening_matrix_`` (d, k), ``n_features_in_``. With all components kept,
    :meth:`inverse_transform` recovers the data.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(1).standard_normal((100, 4))
    >>> pca = PCAWhitening(n_components=2).fit(X)
    >>> pca.transform(X).shape, pca.components_.shape
    ((100, 2), (2, 4))
    """

    def __init__(self, n_components: int | None = None, eps: float = 1e-5) -> None:
        super().__init__(eps)
        name = type(self).__name__
        if n_components is not None:
            if not is_int(n_components):
                raise DTypeError(
                    f"{name}: n_components must be an int or None, got {n_components!r}"
                )
            if n_components < 1:
                raise ArgumentError(f"{name}: n_components must be at least 1, got {n_components}")
        self.n_components = None if n_components is None else int(n_components)

    def _fit(self, X: np.ndarray) -> dict[str, np.ndarray]:
        k = X.shape[1] if self.n_components is None else self.n_components
        if k > X.shape[1]:
            raise ArgumentError(
                f"PCAWhitening.fit: n_components={k} is more than the {X.shape[1]} features of X"
            )
        state = self._eigen(X)
        state["components"] = state["components"][:k]
        state["explained_variance"] = state["explained_variance"][:k]
        return state

    def _derive(self) -> None:
        assert self._state is not None
        comps, std = self._state["components"], self._stds()
        self._forward = comps.T / std
        self._backward = comps * std[:, None]

    def _check_state(self, name: str, state: Mapping[str, np.ndarray]) -> None:
        super()._check_state(name, state)
        k, d = state["components"].shape
        wanted = int(scalar(state, "n_components"))
        if k != (d if wanted < 0 else wanted):
            raise ShapeError(
                f"{name}: n_components={wanted} does not match components of shape {(k, d)}"
            )

    def _settings(self) -> dict[str, np.ndarray]:
        return {
            "n_components": np.array(-1 if self.n_components is None else self.n_components),
            "eps": np.array(self.eps),
        }

    def _load_settings(self, state: Mapping[str, np.ndarray]) -> None:
        k = int(scalar(state, "n_components"))
        self.n_components = None if k < 0 else k
        self.eps = _check_eps(f"{type(self).__name__}.load_state_dict", scalar(state, "eps"))

    def __repr__(self) -> str:
        return f"PCAWhitening(n_components={self.n_components}, eps={self.eps})"


class ZCAWhitening(_Whitening):
    """Whitens centred data with the symmetric matrix ``U diag(1 / sqrt(lambda + eps)) U^T``
    (zero-phase component analysis): the whitened training data has identity covariance
    (for ``eps`` small) and stays as close as possible to the original data.

    Parameters
    ----------
    eps : added to each variance before the square root (>= 0).

    Attributes (after fit): ``mean_``, ``components_`` (d, d), ``explained_variance_`` (d,),
    ``whitening_matrix_`` (d, d, symmetric), ``n_features_in_``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(2).standard_normal((200, 3))
    >>> W = ZCAWhitening().fit(X).whitening_matrix_
    >>> bool((W == W.T).all())
    True
    """

    def __init__(self, eps: float = 1e-5) -> None:
        super().__init__(eps)

    def _fit(self, X: np.ndarray) -> dict[str, np.ndarray]:
        return self._eigen(X)

    def _derive(self) -> None:
        assert self._state is not None
        comps, std = self._state["components"], self._stds()
        forward = (comps.T / std) @ comps
        backward = (comps.T * std) @ comps
        # Symmetric by construction up to rounding; made exactly so.
        self._forward = (forward + forward.T) / 2
        self._backward = (backward + backward.T) / 2

    def _check_state(self, name: str, state: Mapping[str, np.ndarray]) -> None:
        super()._check_state(name, state)
        comps = state["components"]
        if comps.shape[0] != comps.shape[1]:
            raise ShapeError(f"{name}: components must be square (d, d), got {comps.shape}")

    def _settings(self) -> dict[str, np.ndarray]:
        return {"eps": np.array(self.eps)}

    def _load_settings(self, state: Mapping[str, np.ndarray]) -> None:
        self.eps = _check_eps(f"{type(self).__name__}.load_state_dict", scalar(state, "eps"))

    def __repr__(self) -> str:
        return f"ZCAWhitening(eps={self.eps})"


def _check_eps(func: str, eps: object) -> float:
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, (int, float, np.number)):
        raise DTypeError(f"{func}: eps must be a number, got {eps!r}")
    if not (np.isfinite(eps) and eps >= 0):
        raise ArgumentError(f"{func}: eps must be a finite number >= 0, got {eps}")
    return float(eps)
