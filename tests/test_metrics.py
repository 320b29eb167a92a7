"""ferrograd.metrics against scikit-learn (to 1e-12), input forms and errors."""

from __future__ import annotations

import warnings

import ferrograd as fg
import numpy as np
import pytest
from ferrograd import metrics
from hypothesis import given
from hypothesis import strategies as st

skm = pytest.importorskip("sklearn.metrics")

TOL = {"rtol": 1e-12, "atol": 1e-12}
APPROX = {"rel": 1e-12, "abs": 1e-12}


@st.composite
def label_pairs(draw, max_classes: int = 5):
    n = draw(st.integers(1, 40))
    c = draw(st.integers(1, max_classes))
    seed = draw(st.integers(0, 2**32))
    rng = np.random.default_rng(seed)
    return rng.integers(0, c, n), rng.integers(0, c, n)


@st.composite
def scored(draw, min_classes: int = 2):
    """Labels in 0..C-1 with every class present, and scores with ties."""
    c = draw(st.integers(min_classes, 6))
    n = draw(st.integers(c, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32)))
    y = rng.permutation(np.concatenate([np.arange(c), rng.integers(0, c, n - c)]))
    scores = np.round(rng.random((n, c)), draw(st.sampled_from([1, 3])))  # rounding makes ties
    return y, scores


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@given(pair=label_pairs())
def test_accuracy_and_confusion(pair) -> None:
    y_true, y_pred = pair
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(
        skm.accuracy_score(y_true, y_pred), **APPROX
    )
    np.testing.assert_array_equal(
        metrics.confusion_matrix(y_true, y_pred), _quiet(skm.confusion_matrix, y_true, y_pred)
    )
    for normalize in ("true", "pred", "all"):
        np.testing.assert_allclose(
            metrics.confusion_matrix(y_true, y_pred, normalize=normalize),
            _quiet(skm.confusion_matrix, y_true, y_pred, normalize=normalize),
            **TOL,
        )
    labels = [3, 0, 1]
    if not np.isin(y_true, labels).any():
        with pytest.raises(fg.ArgumentError, match="none of labels"):
            metrics.confusion_matrix(y_true, y_pred, labels=labels)
        return
    np.testing.assert_array_equal(
        metrics.confusion_matrix(y_true, y_pred, labels=labels),
        _quiet(skm.confusion_matrix, y_true, y_pred, labels=labels),
    )


def test_accuracy_with_scores_tensors_and_strings() -> None:
    y = np.array([0, 2, 1, 2])
    scores = np.array([[3.0, 1, 0], [0, 1, 5], [0, 2, 1], [9, 0, 0]])
    assert metrics.accuracy(y, scores) == 0.75
    assert metrics.accuracy(fg.tensor(y.astype(np.float32)), fg.tensor(scores)) == 0.75
    assert metrics.accuracy(y.reshape(-1, 1), [0, 2, 1, 1]) == 0.75
    assert metrics.accuracy(["a", "b"], np.array(["a", "a"])) == 0.5
    assert metrics.accuracy([0, 1], np.array([0.0, 1.0])) == 1.0  # whole-number floats


@given(data=scored(min_classes=3), k=st.integers(1, 6))
def test_top_k_equals_sklearn_with_ties(data, k) -> None:
    y, scores = data
    expected = _quiet(skm.top_k_accuracy_score, y, scores, k=k, labels=np.arange(scores.shape[1]))
    assert metrics.top_k_accuracy(y, scores, k=k) == pytest.approx(expected, **APPROX)


@given(data=scored(), k=st.integers(1, 3))
def test_top_k_against_sorting_reference(data, k) -> None:
    # Reference: a stable ascending sort read backwards, so tied scores rank higher columns
    # first; hit when the true class is among the first k.
    y, scores = data
    ranked = np.argsort(scores, axis=1, kind="stable")[:, ::-1][:, :k]
    expected = float(np.mean([y[i] in ranked[i] for i in range(len(y))]))
    assert metrics.top_k_accuracy(y, scores, k=k) == expected


@given(pair=label_pairs(), average=st.sampled_from([None, "macro", "micro", "weighted"]))
def test_precision_recall_f1_equal_sklearn(pair, average) -> None:
    y_true, y_pred = pair
    ours = metrics.precision_recall_f1(y_true, y_pred, average=average)
    p, r, f, s = skm.precision_recall_fscore_support(
        y_true, y_pred, average=average, zero_division=0
    )
    np.testing.assert_allclose(ours["precision"], p, **TOL)
    np.testing.assert_allclose(ours["recall"], r, **TOL)
    np.testing.assert_allclose(ours["f1"], f, **TOL)
    if average is None:
        np.testing.assert_array_equal(ours["support"], s)
    else:
        assert ours["support"] == len(y_true) and isinstance(ours["precision"], float)


@given(pair=label_pairs(), average=st.sampled_from([None, "macro", "micro", "weighted"]))
def test_precision_recall_f1_with_labels(pair, average) -> None:
    y_true, y_pred = pair
    labels = [4, 1, 0]
    ours = metrics.precision_recall_f1(y_true, y_pred, average=average, labels=labels)
    p, r, f, _ = _quiet(
        skm.precision_recall_fscore_support,
        y_true,
        y_pred,
        average=average,
        labels=labels,
        zero_division=0,
    )
    for key, value in (("precision", p), ("recall", r), ("f1", f)):
        np.testing.assert_allclose(ours[key], value, **TOL)


@given(pair=label_pairs(max_classes=2))
def test_binary_average(pair) -> None:
    y_true, y_pred = pair
    if 1 not in np.concatenate([y_true, y_pred]) and len(np.unique([*y_true, *y_pred])) == 1:
        return  # scikit-learn then scores the class that is present, we do not guess
    ours = metrics.precision_recall_f1(y_true, y_pred, average="binary")
    p, r, f, _ = skm.precision_recall_fscore_support(
        y_true, y_pred, average="binary", zero_division=0
    )
    assert (ours["precision"], ours["recall"], ours["f1"]) == pytest.approx((p, r, f), **APPROX)
    assert ours["support"] == int(np.sum(y_true == 1))


def test_zero_division_is_zero_without_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = metrics.precision_recall_f1([0, 0, 1], [0, 0, 0], average=None)
    assert r["precision"].tolist() == [2 / 3, 0.0] and r["f1"][1] == 0.0


@given(data=scored(), use_two_columns=st.booleans())
def test_roc_auc_equals_sklearn_with_ties(data, use_two_columns) -> None:
    y, scores = data
    y = (y == 0).astype(int) * 2 - 1  # labels -1 and +1
    if len(np.unique(y)) < 2:
        return
    s = scores[:, 0]
    ours = metrics.roc_auc(y, np.stack([-s, s], axis=1) if use_two_columns else s)
    assert ours == pytest.approx(skm.roc_auc_score(y, s), **APPROX)


@st.composite
def regression_pairs(draw):
    n = draw(st.integers(2, 30))
    outputs = draw(st.sampled_from([None, 1, 3]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32)))
    shape = (n,) if outputs is None else (n, outputs)
    y_true = rng.standard_normal(shape) * 10
    if draw(st.booleans()):
        y_true[:, ...] = 1.5  # a constant target (r2's special cases)
    y_pred = y_true + rng.standard_normal(shape) * draw(st.sampled_from([0.0, 0.5, 5.0]))
    return y_true, y_pred


@given(pair=regression_pairs(), raw=st.booleans())
def test_regression_metrics_equal_sklearn(pair, raw) -> None:
    y_true, y_pred = pair
    mode = "raw_values" if raw else "uniform_average"
    for ours, theirs in (
        (metrics.mae, skm.mean_absolute_error),
        (metrics.mse, skm.mean_squared_error),
        (metrics.rmse, skm.root_mean_squared_error),
        (metrics.r2, skm.r2_score),
    ):
        np.testing.assert_allclose(
            ours(y_true, y_pred, multioutput=mode), theirs(y_true, y_pred, multioutput=mode), **TOL
        )


def test_regression_accepts_column_vectors_and_tensors() -> None:
    y = np.array([1.0, 2.0, 4.0])
    assert metrics.mse(fg.tensor(y), y.reshape(-1, 1) + 1) == 1.0
    assert metrics.r2(y, y) == 1.0


def test_errors() -> None:
    with pytest.raises(fg.ShapeError, match="y_true has 3 samples but the prediction has 2"):
        metrics.accuracy([0, 1, 1], [0, 1])
    with pytest.raises(fg.DTypeError, match="threshold binary scores"):
        metrics.accuracy([0, 1], np.array([0.2, 0.9]))
    with pytest.raises(fg.ArgumentError, match="empty"):
        metrics.accuracy([], [])
    with pytest.raises(fg.ArgumentError, match="label 3 at index 1, but scores has 3"):
        metrics.top_k_accuracy([0, 3], np.zeros((2, 3)), k=1)
    with pytest.raises(fg.ArgumentError, match="k must be a positive int"):
        metrics.top_k_accuracy([0, 1], np.zeros((2, 3)), k=0)
    with pytest.raises(fg.ArgumentError, match="exactly two classes"):
        metrics.roc_auc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(fg.ShapeError, match=r"\(N,\) or \(N, 2\)"):
        metrics.roc_auc([0, 1], np.zeros((2, 3)))
    with pytest.raises(fg.ArgumentError, match="average must be"):
        metrics.precision_recall_f1([0, 1], [0, 1], average="samples")
    with pytest.raises(fg.ArgumentError, match="needs two classes"):
        metrics.precision_recall_f1([0, 1, 2], [0, 1, 1], average="binary")
    with pytest.raises(fg.ArgumentError, match="normalize"):
        metrics.confusion_matrix([0, 1], [0, 1], normalize="rows")
    with pytest.raises(fg.ShapeError, match=r"y_true has shape \(3, 1\) but y_pred has \(3, 2\)"):
        metrics.mse([1.0, 2.0, 3.0], np.zeros((3, 2)))
    with pytest.raises(fg.ArgumentError, match="at least 2 samples"):
        metrics.r2([1.0], [1.0])
    with pytest.raises(fg.ArgumentError, match="finite"):
        metrics.mae([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(fg.DTypeError, match="mix numbers"):
        metrics.accuracy(["a", "b"], [0, 1])
