"""Scalers and whitening against NumPy formulas and scikit-learn; state dicts; errors."""

from __future__ import annotations

import os

import ferrograd as fg
import numpy as np
import pytest
from ferrograd.data import MinMaxScaler, PCAWhitening, StandardScaler, ZCAWhitening
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

skp = pytest.importorskip("sklearn.preprocessing")
skd = pytest.importorskip("sklearn.decomposition")

TOL = {"rtol": 1e-9, "atol": 1e-9}


@st.composite
def tables(draw, min_rows: int = 1) -> np.ndarray:
    """Float64 tables (n, d), some columns constant."""
    n = draw(st.integers(min_rows, 30))
    d = draw(st.integers(1, 6))
    X = draw(hnp.arrays(np.float64, (n, d), elements=st.floats(-1e3, 1e3, width=64)))
    for j in draw(st.lists(st.integers(0, d - 1), max_size=2)):
        X[:, j] = draw(st.floats(-1e3, 1e3))
    return X


def _gaussian(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((d, d)) + 2 * np.eye(d)
    return rng.standard_normal((n, d)) @ mixing + rng.uniform(-5, 5, d)


# MinMaxScaler


@given(X=tables(), low=st.floats(-5, 0), width=st.floats(0.5, 5))
def test_minmax_equals_sklearn_and_formula(X, low, width) -> None:
    rng = (low, low + width)
    ours = MinMaxScaler(feature_range=rng).fit(X)
    theirs = skp.MinMaxScaler(feature_range=rng).fit(X)
    Z = ours.transform(X)
    np.testing.assert_allclose(Z, theirs.transform(X), **TOL)
    for name in ("data_min_", "data_max_", "data_range_", "scale_", "min_"):
        np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), **TOL)
    span = X.max(0) - X.min(0)
    varying = span >= 10 * np.finfo(np.float64).eps  # smaller ranges count as constant
    reference = (X - X.min(0)) / np.where(varying, span, 1) * width + low
    np.testing.assert_allclose(Z[:, varying], reference[:, varying], **TOL)
    np.testing.assert_allclose(Z[:, ~varying], low, **TOL)  # constant: the range's minimum
    assert np.isfinite(Z).all()
    np.testing.assert_allclose(
        ours.inverse_transform(Z)[:, varying], X[:, varying], rtol=1e-9, atol=1e-9 * np.abs(X).max()
    )


# StandardScaler


@given(X=tables(), with_mean=st.booleans(), with_std=st.booleans())
def test_standard_equals_sklearn_and_formula(X, with_mean, with_std) -> None:
    ours = StandardScaler(with_mean=with_mean, with_std=with_std).fit(X)
    theirs = skp.StandardScaler(with_mean=with_mean, with_std=with_std).fit(X)
    Z = ours.transform(X)
    scale = np.abs(X).max() + 1
    np.testing.assert_allclose(Z, theirs.transform(X), rtol=1e-9, atol=1e-9 * scale)
    np.testing.assert_allclose(ours.mean_, X.mean(axis=0), rtol=1e-12, atol=1e-12 * scale)
    np.testing.assert_allclose(ours.var_, X.var(axis=0), rtol=1e-9, atol=1e-9 * scale**2)
    if with_std:
        np.testing.assert_allclose(ours.scale_, theirs.scale_, **TOL)
    assert np.isfinite(Z).all()
    np.testing.assert_allclose(ours.inverse_transform(Z), X, rtol=1e-9, atol=1e-9 * scale)


def test_standard_formula_and_constant_columns() -> None:
    X = _gaussian(50, 3)
    X[:, 1] = 0.1  # a constant whose mean is not exact in binary
    Z = StandardScaler().fit_transform(X)
    np.testing.assert_allclose(Z[:, [0, 2]], ((X - X.mean(0)) / X.std(0))[:, [0, 2]], **TOL)
    np.testing.assert_allclose(Z[:, 1], 0.0, atol=1e-15)  # the mean's rounding, not 1/0


def test_fitted_on_training_data_only() -> None:
    train, test = _gaussian(40, 3, seed=1), _gaussian(10, 3, seed=2)
    Z = StandardScaler().fit(train).transform(test)
    np.testing.assert_allclose(Z, (test - train.mean(0)) / train.std(0), **TOL)
    Z = MinMaxScaler().fit(train).transform(test)
    np.testing.assert_allclose(Z, (test - train.min(0)) / np.ptp(train, axis=0), **TOL)


@pytest.mark.parametrize("make", [MinMaxScaler, StandardScaler, PCAWhitening, ZCAWhitening])
def test_float32_kept_and_close_to_float64(make) -> None:
    X = _gaussian(200, 4)
    Z64 = make().fit(X).transform(X)
    step = make().fit(X.astype(np.float32))
    Z32 = step.transform(X.astype(np.float32))
    assert Z32.dtype == np.float32 and Z64.dtype == np.float64
    np.testing.assert_allclose(Z32, Z64, rtol=1e-4, atol=1e-4)
    assert step.inverse_transform(Z32).dtype == np.float32
    ints = make().fit(np.arange(12).reshape(6, 2) ** 2)
    assert ints.transform(np.ones((2, 2), dtype=np.int32)).dtype == np.float64


# Whitening


def _cov(Z: np.ndarray) -> np.ndarray:
    return np.cov(Z, rowvar=False).reshape(Z.shape[1], Z.shape[1])


@pytest.mark.parametrize(("n", "d"), [(300, 5), (40, 8), (10, 2)])
def test_pca_whitening_equals_sklearn(n: int, d: int) -> None:
    X = _gaussian(n, d, seed=n)
    ours = PCAWhitening(eps=0).fit(X)
    theirs = skd.PCA(whiten=True, svd_solver="full").fit(X)
    np.testing.assert_allclose(ours.transform(X), theirs.transform(X), **TOL)
    np.testing.assert_allclose(ours.components_, theirs.components_, **TOL)
    np.testing.assert_allclose(ours.explained_variance_, theirs.explained_variance_, **TOL)
    k = min(3, d)
    part = PCAWhitening(n_components=k, eps=0).fit(X)
    ref = skd.PCA(n_components=k, whiten=True, svd_solver="full").fit(X)
    np.testing.assert_allclose(part.transform(X), ref.transform(X), **TOL)


@given(n=st.integers(12, 60), d=st.integers(1, 6), seed=st.integers(0, 2**32))
def test_whitened_training_data_has_identity_covariance(n, d, seed) -> None:
    X = _gaussian(n, d, seed)
    for step in (PCAWhitening(eps=0), ZCAWhitening(eps=0)):
        Z = step.fit_transform(X)
        np.testing.assert_allclose(_cov(Z), np.eye(d), atol=1e-8)
        np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-8)
        np.testing.assert_allclose(step.inverse_transform(Z), X, rtol=1e-8, atol=1e-8)


def test_whitening_against_svd_reference() -> None:
    # An independent route: the SVD of the centred data instead of the covariance's eigh.
    X = _gaussian(80, 4, seed=7)
    eps = 0.3
    centred = X - X.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    var = s**2 / (len(X) - 1)
    zca = vt.T @ np.diag(1 / np.sqrt(var + eps)) @ vt
    step = ZCAWhitening(eps=eps).fit(X)
    np.testing.assert_allclose(step.whitening_matrix_, zca, **TOL)
    np.testing.assert_allclose(step.transform(X), centred @ zca, **TOL)
    W = step.whitening_matrix_
    assert (W == W.T).all()  # exactly symmetric
    pca = PCAWhitening(eps=eps).fit(X)
    signs = np.sign(pca.components_[:, :1] / vt[:, :1])  # rows match up to sign
    np.testing.assert_allclose(pca.components_, signs * vt, **TOL)
    np.testing.assert_allclose(
        pca.transform(X), centred @ (signs * vt).T / np.sqrt(var + eps), **TOL
    )
    # eps > 0 shrinks the variances to var / (var + eps), as the formula says.
    np.testing.assert_allclose(np.diag(_cov(pca.transform(X))), var / (var + eps), **TOL)


def test_pca_reduces_and_zca_keeps_dimension() -> None:
    X = _gaussian(100, 6)
    Z = PCAWhitening(n_components=2).fit_transform(X)
    assert Z.shape == (100, 2)
    np.testing.assert_allclose(_cov(Z), np.eye(2), atol=1e-5)
    assert ZCAWhitening().fit_transform(X).shape == (100, 6)
    step = PCAWhitening(n_components=2).fit(X)
    assert step.inverse_transform(Z).shape == (100, 6)
    with pytest.raises(fg.ShapeError, match="gives 2"):
        step.inverse_transform(np.zeros((3, 6)))


def test_constant_and_duplicate_columns_give_no_nan() -> None:
    X = _gaussian(50, 3)
    X = np.column_stack([X, np.full(50, 4.0), X[:, 0]])  # rank 3 of 5
    for step in (PCAWhitening(), ZCAWhitening(), PCAWhitening(eps=0), ZCAWhitening(eps=0)):
        Z = step.fit_transform(X)
        assert np.isfinite(Z).all(), step
    Z = PCAWhitening(n_components=3, eps=0).fit_transform(X)
    np.testing.assert_allclose(_cov(Z), np.eye(3), atol=1e-8)


# State dicts


@pytest.mark.parametrize(
    "make",
    [
        lambda: MinMaxScaler((-2, 3)),
        lambda: StandardScaler(with_mean=False),
        lambda: PCAWhitening(n_components=2, eps=1e-3),
        lambda: PCAWhitening(),
        lambda: ZCAWhitening(eps=0.1),
    ],
)
def test_state_dict_round_trip_through_safetensors(make, tmp_path) -> None:
    X = _gaussian(60, 4)
    step = make().fit(X)
    state = step.state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    path = os.fspath(tmp_path / "prep.safetensors")
    fg.save(state, path)
    fresh = type(step)()
    fresh.load_state_dict(fg.load(path))
    np.testing.assert_array_equal(fresh.transform(X), step.transform(X))
    np.testing.assert_array_equal(
        fresh.inverse_transform(step.transform(X)), step.inverse_transform(step.transform(X))
    )
    assert repr(fresh) == repr(step)


def test_failed_load_changes_nothing() -> None:
    X = _gaussian(30, 3)
    step = StandardScaler().fit(X)
    before = step.transform(X)
    bad = step.state_dict()
    bad["mean"] = np.zeros(4)
    with pytest.raises(fg.ShapeError, match="one length"):
        step.load_state_dict(bad)
    with pytest.raises(fg.ArgumentError, match="expected keys"):
        step.load_state_dict({"mean": np.zeros(3)})
    np.testing.assert_array_equal(step.transform(X), before)
    pca = PCAWhitening(n_components=2).fit(X)
    bad = pca.state_dict()
    bad["n_components"] = np.array(3)
    with pytest.raises(fg.ShapeError, match="n_components=3"):
        pca.load_state_dict(bad)
    zca = ZCAWhitening()
    bad = pca.state_dict()
    del bad["n_components"]
    with pytest.raises(fg.ShapeError, match="square"):
        zca.load_state_dict(bad)
    with pytest.raises(fg.NotFittedError):
        zca.transform(X)  # still unfitted


# Errors


@pytest.mark.parametrize("make", [MinMaxScaler, StandardScaler, PCAWhitening, ZCAWhitening])
def test_errors(make) -> None:
    step = make()
    with pytest.raises(fg.NotFittedError, match="call fit") as info:
        step.transform(np.zeros((2, 2)))
    assert isinstance(info.value, fg.FerrogradError)
    with pytest.raises(fg.NotFittedError):
        step.state_dict()
    with pytest.raises(fg.ShapeError, match="reshape"):
        step.fit(np.zeros(5))
    with pytest.raises(fg.ArgumentError, match="NaN"):
        step.fit(np.array([[1.0, np.nan], [2.0, 3.0]]))
    with pytest.raises(fg.DTypeError, match="real numbers"):
        step.fit(np.array([["a", "b"]]))
    step.fit(_gaussian(10, 3))
    with pytest.raises(fg.ShapeError, match=r"has 2 features, but this \w+ was fitted on 3"):
        step.transform(np.zeros((4, 2)))
    with pytest.raises(AttributeError):
        _ = step.no_such_thing_


def test_argument_errors() -> None:
    with pytest.raises(fg.ArgumentError, match="min < max"):
        MinMaxScaler((1, 1))
    with pytest.raises(fg.DTypeError, match="pair"):
        MinMaxScaler(3)  # type: ignore[arg-type]
    with pytest.raises(fg.DTypeError, match="with_mean"):
        StandardScaler(with_mean="yes")  # type: ignore[arg-type]
    with pytest.raises(fg.ArgumentError, match="eps"):
        ZCAWhitening(eps=-1)
    with pytest.raises(fg.ArgumentError, match="n_components must be at least 1"):
        PCAWhitening(n_components=0)
    with pytest.raises(fg.ArgumentError, match="more than the 3 features"):
        PCAWhitening(n_components=4).fit(_gaussian(10, 3))
    with pytest.raises(fg.ArgumentError, match="at least 2 samples"):
        ZCAWhitening().fit(np.zeros((1, 3)))
