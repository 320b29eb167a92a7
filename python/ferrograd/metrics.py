"""Evaluation metrics with scikit-learn's definitions and argument order ``(y_true, y_pred)``.

Inputs may be NumPy arrays, lists or ferrograd Tensors. Classification metrics take
predicted labels (N,) or class scores (N, C) (logits or probabilities, whose argmax is the
predicted class). A 1-D array of non-integer scores is refused rather than thresholded: a
binary model's output may be a probability (threshold 0.5) or a logit (threshold 0), so
turn it into labels first, e.g. ``(proba >= 0.5).astype(int)``. Where a ratio has a zero
denominator (a class never predicted, say) it counts as 0, as scikit-learn's default does.

Examples
--------
>>> import numpy as np
>>> from ferrograd import metrics
>>> y_true = np.array([0, 1, 2, 2])
>>> scores = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.5, 0.4], [0.0, 0.1, 0.9]])
>>> metrics.accuracy(y_true, scores)
0.75
>>> metrics.confusion_matrix(y_true, scores.argmax(axis=1)).tolist()
[[1, 0, 0], [0, 1, 0], [0, 1, 1]]
"""

from __future__ import annotations

from typing import Any, Union

import numpy as np

from .exceptions import ArgumentError, DTypeError, ShapeError

Result = Union[float, np.ndarray]

__all__ = [
    "accuracy",
    "confusion_matrix",
    "mae",
    "mse",
    "precision_recall_f1",
    "r2",
    "rmse",
    "roc_auc",
    "top_k_accuracy",
]


def accuracy(y_true: Any, y_pred: Any) -> float:
    """The fraction of samples whose predicted label (or argmax of the scores) is right.

    Examples
    --------
    >>> accuracy([0, 1, 1, 0], [0, 1, 0, 0])
    0.75
    """
    truth, pred = _label_pair("accuracy", y_true, y_pred)
    return float(np.mean(truth == pred))


def top_k_accuracy(y_true: Any, scores: Any, k: int = 2) -> float:
    """The fraction of samples whose true class is among the ``k`` highest scores.

    ``scores`` is (N, C) with column ``c`` scoring class ``c``; ``y_true`` holds class indices
    in ``0..C-1``. Equal scores rank the higher class index first, as in scikit-learn's
    ``top_k_accuracy_score``.

    Examples
    --------
    >>> top_k_accuracy([2, 0], [[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]], k=2)
    0.0
    >>> top_k_accuracy([1, 2], [[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]], k=2)
    1.0
    """
    func = "top_k_accuracy"
    truth = _labels(func, "y_true", y_true)
    s = _array(func, "scores", scores)
    if s.ndim != 2:
        raise ShapeError(f"{func}: scores must be (n_samples, n_classes), got shape {s.shape}")
    _same_length(func, truth, s)
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ArgumentError(f"{func}: k must be a positive int, got {k!r}")
    classes = _class_indices(func, truth, s.shape[1])
    own = s[np.arange(len(s)), classes][:, None]
    above = (s > own) | ((s == own) & (np.arange(s.shape[1]) > classes[:, None]))
    return float(np.mean(above.sum(axis=1) < k))


def confusion_matrix(
    y_true: Any, y_pred: Any, labels: Any = None, normalize: str | None = None
) -> np.ndarray:
    """Counts ``C[i, j]`` of samples of true class ``labels[i]`` predicted as ``labels[j]``.

    Parameters
    ----------
    labels : the classes, in the order of the rows and columns (default: every label in
        ``y_true`` or ``y_pred``, sorted). Samples with other labels are left out; at least
        one of them must occur in ``y_true``.
    normalize : None (counts, int64), ``"true"`` (rows sum to 1), ``"pred"`` (columns sum to
        1) or ``"all"`` (the matrix sums to 1); an empty row or column stays 0.

    Examples
    --------
    >>> confusion_matrix([1, 1, 0], [1, 0, 0], normalize="true").tolist()
    [[1.0, 0.0], [0.5, 0.5]]
    """
    func = "confusion_matrix"
    truth, pred = _label_pair(func, y_true, y_pred)
    classes = _classes(func, truth, pred, labels)
    t, p = _positions(classes, truth), _positions(classes, pred)
    if (t < 0).all():
        raise ArgumentError(f"{func}: none of labels {classes.tolist()} occurs in y_true")
    keep = (t >= 0) & (p >= 0)
    n = len(classes)
    counts = np.bincount(t[keep] * n + p[keep], minlength=n * n).reshape(n, n).astype(np.int64)
    if normalize is None:
        return counts
    axes = {"true": 1, "pred": 0, "all": None}
    if normalize not in axes:
        raise ArgumentError(
            f"{func}: normalize must be None, 'true', 'pred' or 'all', got {normalize!r}"
        )
    totals = counts.sum(axis=axes[normalize], keepdims=True)
    return np.divide(counts, totals, out=np.zeros(counts.shape), where=totals != 0)


def precision_recall_f1(
    y_true: Any,
    y_pred: Any,
    average: str | None = "macro",
    labels: Any = None,
    pos_label: Any = 1,
) -> dict[str, Result]:
    """Precision, recall, F1 and support, as scikit-learn's ``precision_recall_fscore_support``.

    Parameters
    ----------
    average : ``"macro"`` (unweighted mean over classes), ``"weighted"`` (mean weighted by
        support), ``"micro"`` (from the total counts), ``"binary"`` (the ``pos_label`` class
        only) or None (one value per class, in the order of ``labels``).
    labels : the classes to include (default: every label in ``y_true`` or ``y_pred``,
        sorted).
    pos_label : the positive class for ``average="binary"``.

    Returns
    -------
    ``{"precision", "recall", "f1", "support"}``: floats, or arrays for ``average=None``.
    ``support`` is the number of true samples of each class (``average=None``), of the
    positive class (``"binary"``), or of all included classes together.

    Examples
    --------
    >>> r = precision_recall_f1([0, 0, 1, 1], [0, 1, 1, 1], average=None)
    >>> r["precision"].tolist(), r["recall"].tolist(), r["support"].tolist()
    ([1.0, 0.6666666666666666], [0.5, 1.0], [2, 2])
    """
    func = "precision_recall_f1"
    truth, pred = _label_pair(func, y_true, y_pred)
    if average == "binary":
        present = np.unique(np.concatenate([truth, pred]))
        if len(present) > 2:
            raise ArgumentError(
                f"{func}: average='binary' needs two classes, but the labels are "
                f"{present.tolist()}; choose average='macro', 'micro', 'weighted' or None"
            )
        if pos_label not in present and len(present) == 2:
            raise ArgumentError(
                f"{func}: pos_label={pos_label!r} is not one of the labels {present.tolist()}"
            )
        classes = np.asarray([pos_label])
    else:
        if average not in (None, "macro", "micro", "weighted"):
            raise ArgumentError(
                f"{func}: average must be 'macro', 'micro', 'weighted', 'binary' or None, got "
                f"{average!r}"
            )
        classes = _classes(func, truth, pred, labels)
    t, p = _positions(classes, truth), _positions(classes, pred)
    n = len(classes)
    support = np.bincount(t[t >= 0], minlength=n).astype(np.int64)
    tp = np.bincount(t[(t >= 0) & (t == p)], minlength=n).astype(np.float64)
    true_count = support.astype(np.float64)
    pred_count = np.bincount(p[p >= 0], minlength=n).astype(np.float64)
    if average == "micro":
        tp, true_count, pred_count = (c.sum(keepdims=True) for c in (tp, true_count, pred_count))
    precision = _ratio(tp, pred_count)
    recall = _ratio(tp, true_count)
    f1 = _ratio(2 * tp, true_count + pred_count)
    if average is None:
        return {"precision": precision, "recall": recall, "f1": f1, "support": support}
    if average == "weighted":
        total = support.sum()
        weights = support / total if total > 0 else np.zeros(len(support))
        values = [float(np.sum(m * weights)) for m in (precision, recall, f1)]
    else:  # macro; micro and binary hold a single entry
        values = [float(np.mean(m)) for m in (precision, recall, f1)]
    return dict(zip(("precision", "recall", "f1"), values), support=int(support.sum()))


def roc_auc(y_true: Any, scores: Any) -> float:
    """Area under the ROC curve of a binary classifier.

    ``y_true`` holds two classes (the larger label is the positive one); ``scores`` (N,) scores
    the positive class, or (N, 2) gives one score per class (column 1 is used). Ties count
    one half, as with the trapezoidal ROC curve of scikit-learn's ``roc_auc_score``.

    Examples
    --------
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    func = "roc_auc"
    truth = _labels(func, "y_true", y_true)
    s = _array(func, "scores", scores)
    if s.ndim == 2 and s.shape[1] in (1, 2):
        s = s[:, -1]
    if s.ndim != 1:
        raise ShapeError(f"{func}: scores must be (N,) or (N, 2) for a binary task, got {s.shape}")
    _same_length(func, truth, s)
    if s.dtype.kind not in "biuf" or not np.isfinite(s).all():
        raise ArgumentError(f"{func}: scores must be finite numbers")
    classes = np.unique(truth)
    if len(classes) != 2:
        raise ArgumentError(f"{func}: y_true must hold exactly two classes, got {classes.tolist()}")
    positive = truth == classes[1]
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse.reshape(-1)]  # 1-based, ties averaged
    n_pos = int(positive.sum())
    n_neg = len(s) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def mae(y_true: Any, y_pred: Any, multioutput: str = "uniform_average") -> Result:
    """Mean absolute error (per output, then averaged over outputs).

    Examples
    --------
    >>> mae([1.0, 2.0, 3.0], [1.5, 2.0, 2.0])
    0.5
    """
    t, p = _regression_pair("mae", y_true, y_pred)
    return _outputs("mae", np.mean(np.abs(t - p), axis=0), multioutput)


def mse(y_true: Any, y_pred: Any, multioutput: str = "uniform_average") -> Result:
    """Mean squared error (per output, then averaged over outputs).

    Examples
    --------
    >>> mse([1.0, 2.0], [2.0, 4.0])
    2.5
    """
    t, p = _regression_pair("mse", y_true, y_pred)
    return _outputs("mse", np.mean((t - p) ** 2, axis=0), multioutput)


def rmse(y_true: Any, y_pred: Any, multioutput: str = "uniform_average") -> Result:
    """Root mean squared error (per output, then averaged over outputs, as scikit-learn's
    ``root_mean_squared_error``).

    Examples
    --------
    >>> rmse([0.0, 0.0], [2.0, -2.0])
    2.0
    """
    t, p = _regression_pair("rmse", y_true, y_pred)
    return _outputs("rmse", np.sqrt(np.mean((t - p) ** 2, axis=0)), multioutput)


def r2(y_true: Any, y_pred: Any, multioutput: str = "uniform_average") -> Result:
    """Coefficient of determination ``1 - SS_res / SS_tot`` (per output, then averaged).

    An output whose true values are constant scores 1 if predicted exactly, else 0 (as
    scikit-learn's ``r2_score`` with ``force_finite=True``). Needs at least two samples.

    Examples
    --------
    >>> r2([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    0.5
    """
    func = "r2"
    t, p = _regression_pair(func, y_true, y_pred)
    if len(t) < 2:
        raise ArgumentError(f"{func}: needs at least 2 samples, got {len(t)}")
    ss_res = np.sum((t - p) ** 2, axis=0)
    ss_tot = np.sum((t - t.mean(axis=0)) ** 2, axis=0)
    score = np.where(ss_res == 0, 1.0, 0.0)
    np.divide(ss_res, ss_tot, out=score, where=ss_tot != 0)
    score = np.where(ss_tot != 0, 1.0 - score, score)
    return _outputs(func, score, multioutput)


# Conversion and checks.


def _array(func: str, name: str, x: Any) -> np.ndarray:
    data = getattr(x, "data", None)
    if isinstance(data, np.ndarray) and hasattr(x, "requires_grad"):
        return data
    try:
        return np.asarray(x)
    except ValueError as e:
        raise ShapeError(f"{func}: {name} is not a rectangular array: {e}") from None


def _labels(func: str, name: str, y: Any) -> np.ndarray:
    a = _array(func, name, y)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise ShapeError(f"{func}: {name} must be 1-D labels, got shape {a.shape}")
    if len(a) == 0:
        raise ArgumentError(f"{func}: {name} is empty")
    return a


def _label_pair(func: str, y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    truth = _labels(func, "y_true", y_true)
    pred = _array(func, "y_pred", y_pred)
    if pred.ndim == 2 and pred.shape[1] > 1:
        pred = pred.argmax(axis=1)  # class scores
    pred = _labels(func, "y_pred", pred)
    _same_length(func, truth, pred)
    if pred.dtype.kind == "f" and not np.array_equal(pred, np.round(pred)):
        raise DTypeError(
            f"{func}: y_pred holds non-integer values; pass labels, or class scores of shape "
            f"(N, C); threshold binary scores first, e.g. (proba >= 0.5).astype(int)"
        )
    numeric = {truth.dtype.kind in "biuf", pred.dtype.kind in "biuf"}
    if len(numeric) > 1:
        raise DTypeError(
            f"{func}: y_true ({truth.dtype}) and y_pred ({pred.dtype}) mix numbers and other labels"
        )
    return truth, pred


def _same_length(func: str, a: np.ndarray, b: np.ndarray) -> None:
    if len(a) != len(b):
        raise ShapeError(f"{func}: y_true has {len(a)} samples but the prediction has {len(b)}")


def _class_indices(func: str, truth: np.ndarray, n_classes: int) -> np.ndarray:
    if truth.dtype.kind not in "biuf" or not np.array_equal(truth, np.round(truth)):
        raise DTypeError(f"{func}: y_true must hold class indices (integers)")
    bad = (truth < 0) | (truth >= n_classes)
    if bad.any():
        i = int(np.argmax(bad))
        raise ArgumentError(
            f"{func}: y_true has label {truth[i]} at index {i}, but scores has {n_classes} classes"
        )
    return truth.astype(np.intp)


def _classes(func: str, truth: np.ndarray, pred: np.ndarray, labels: Any) -> np.ndarray:
    if labels is None:
        return np.unique(np.concatenate([truth, pred]))
    classes = _array(func, "labels", labels).reshape(-1)
    if len(classes) == 0:
        raise ArgumentError(f"{func}: labels is empty")
    if len(np.unique(classes)) != len(classes):
        raise ArgumentError(f"{func}: labels has repeated entries: {classes.tolist()}")
    return classes


def _positions(classes: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Position of each entry of ``y`` in ``classes`` (-1 where absent)."""
    order = np.argsort(classes, kind="stable")
    ranked = classes[order]
    at = np.clip(np.searchsorted(ranked, y), 0, len(ranked) - 1)
    return np.where(ranked[at] == y, order[at], -1)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(num.shape), where=den != 0)


def _regression_pair(func: str, y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t = _array(func, "y_true", y_true)
    p = _array(func, "y_pred", y_pred)
    for name, a in (("y_true", t), ("y_pred", p)):
        if a.ndim not in (1, 2):
            raise ShapeError(f"{func}: {name} must be (N,) or (N, n_outputs), got {a.shape}")
        if a.dtype.kind not in "biuf":
            raise DTypeError(f"{func}: {name} must hold numbers, got dtype {a.dtype}")
    t = t.reshape(len(t), -1).astype(np.float64)
    p = p.reshape(len(p), -1).astype(np.float64)
    if t.shape != p.shape:
        raise ShapeError(f"{func}: y_true has shape {t.shape} but y_pred has {p.shape}")
    if len(t) == 0:
        raise ArgumentError(f"{func}: y_true is empty")
    if not (np.isfinite(t).all() and np.isfinite(p).all()):
        raise ArgumentError(f"{func}: y_true and y_pred must be finite")
    return t, p


def _outputs(func: str, per_output: np.ndarray, multioutput: str) -> Result:
    if multioutput == "raw_values":
        return per_output
    if multioutput == "uniform_average":
        return float(np.mean(per_output))
    raise ArgumentError(
        f"{func}: multioutput must be 'uniform_average' or 'raw_values', got {multioutput!r}"
    )
