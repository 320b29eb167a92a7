"""Metrics by name for the trainer: from the model's raw outputs to one number per epoch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Callable

import numpy as np

from ..exceptions import DTypeError, FerrogradError

#: How a loss reads the model's output: which turns outputs into predicted labels.
_MULTICLASS = ("CrossEntropyLoss", "NLLLoss", "MultiMarginLoss")
_BINARY_LOGITS = ("BCEWithLogitsLoss", "SoftMarginLoss", "HingeLoss")
_BINARY_PROBS = ("BCELoss",)

MetricFn = Callable[[np.ndarray, np.ndarray], float]


def task_of(loss_fn: Any) -> str:
    """ "multiclass", "binary_logits", "binary_probs" or "regression", from the loss."""
    name = type(loss_fn).__name__
    if name in _MULTICLASS:
        return "multiclass"
    if name in _BINARY_LOGITS:
        return "binary_logits"
    if name in _BINARY_PROBS:
        return "binary_probs"
    if name == "function":
        fn_name = getattr(loss_fn, "__name__", "")
        if fn_name in ("cross_entropy", "nll_loss", "multi_margin_loss"):
            return "multiclass"
        if fn_name in ("binary_cross_entropy_with_logits", "soft_margin_loss", "hinge_loss"):
            return "binary_logits"
        if fn_name == "binary_cross_entropy":
            return "binary_probs"
    return "regression"


def default_metrics(task: str) -> list[str]:
    """Accuracy for classification, nothing for regression (the loss says enough)."""
    return [] if task == "regression" else ["accuracy"]


def _ignore_index(loss_fn: Any) -> int | None:
    settings = getattr(loss_fn, "settings", {})
    value = settings.get("ignore_index") if isinstance(settings, Mapping) else None
    return None if value is None else int(value)


def predicted_labels(task: str, output: np.ndarray) -> np.ndarray:
    """Class predictions from raw outputs: argmax over axis 1 for class scores (also
    per pixel), a threshold for binary outputs (0 for logits and margins, 0.5 for
    probabilities)."""
    out = np.asarray(output)
    if task == "multiclass":
        if out.ndim < 2:
            raise FerrogradError(
                f"metrics: class scores must have shape (N, C, ...), got {out.shape}"
            )
        return np.argmax(out, axis=1)
    if task == "binary_logits":
        return (out > 0).astype(np.int64)
    if task == "binary_probs":
        return (out > 0.5).astype(np.int64)
    raise FerrogradError("metrics: class predictions need a classification loss")


def _true_binary(task: str, y: np.ndarray) -> np.ndarray:
    # Margin losses use targets in {-1, +1}; cross-entropies use {0, 1}.
    return (np.asarray(y) > (0 if task == "binary_logits" and np.min(y) < 0 else 0.5)).astype(
        np.int64
    )


class Metric:
    """One named metric of one output: ``metric(y_true, output) -> float``."""

    def __init__(self, name: str, fn: MetricFn) -> None:
        self.name = name
        self.fn = fn

    def __call__(self, y_true: Any, output: Any) -> float:
        return float(self.fn(np.asarray(y_true), np.asarray(output)))


def _labels_pair(task: str, loss_fn: Any, y: np.ndarray, out: np.ndarray) -> tuple[Any, Any]:
    pred = predicted_labels(task, out)
    if task == "multiclass":
        y = np.asarray(y)
        if y.shape != pred.shape and y.shape == out.shape:
            y = np.argmax(y, axis=1)  # class-probability targets
        y, pred = y.reshape(-1), pred.reshape(-1)
        ignore = _ignore_index(loss_fn)
        if ignore is not None:
            keep = y != ignore
            y, pred = y[keep], pred[keep]
        return y, pred
    y_true = _true_binary(task, y).reshape(-1)
    return y_true, pred.reshape(-1)


def build(spec: Any, loss_fn: Any) -> list[Metric]:
    """Metric objects from a list of names and callables (or a dict name -> callable)."""
    task = task_of(loss_fn)
    if spec is None:
        spec = default_metrics(task)
    if isinstance(spec, str) or callable(spec):
        spec = [spec]
    items: Sequence[tuple[str, Any]]
    if isinstance(spec, Mapping):
        items = [(str(k), v) for k, v in spec.items()]
    else:
        items = [(s if isinstance(s, str) else getattr(s, "__name__", "metric"), s) for s in spec]
    out = []
    for name, item in items:
        if callable(item):
            out.append(Metric(name, item))
            continue
        if not isinstance(item, str):
            raise DTypeError(f"metrics: each metric must be a name or a callable, got {item!r}")
        from .. import metrics as M

        out.append(Metric(name, _named(item, task, loss_fn, M)))
    return out


def _named(name: str, task: str, loss_fn: Any, M: Any) -> MetricFn:
    classification = ("accuracy", "precision", "recall", "f1", "top_k_accuracy", "roc_auc")
    regression = ("mae", "mse", "rmse", "r2")
    base = name
    k = 5
    if name.startswith("top") and name.endswith("_accuracy") and name[3:-9].isdigit():
        base, k = "top_k_accuracy", int(name[3:-9])
    if base in classification and task == "regression":
        raise FerrogradError(
            f"metrics: {name!r} needs a classification loss, but the loss is "
            f"{type(loss_fn).__name__}"
        )
    if base == "accuracy":
        return lambda y, out: M.accuracy(*_labels_pair(task, loss_fn, y, out))
    if base in ("precision", "recall", "f1"):

        def prf(y: np.ndarray, out: np.ndarray) -> float:
            scores = M.precision_recall_f1(*_labels_pair(task, loss_fn, y, out), average="macro")
            return float(scores[base])

        return prf
    if base == "top_k_accuracy":
        return lambda y, out: M.top_k_accuracy(np.asarray(y).reshape(-1), out, k=k)
    if base == "roc_auc":
        if task == "multiclass":
            raise FerrogradError("metrics: 'roc_auc' is for binary outputs")
        return lambda y, out: M.roc_auc(_true_binary(task, y).reshape(-1), out.reshape(-1))
    if base in regression:
        fn = getattr(M, base)

        def reg(y: np.ndarray, out: np.ndarray) -> float:
            out2 = out.reshape(out.shape[0], -1) if out.ndim > 1 else out
            y2 = y.reshape(out2.shape) if y.size == out2.size else y
            return fn(y2, out2)

        return reg
    raise FerrogradError(
        f"metrics: unknown metric {name!r}; known: accuracy, top<k>_accuracy, precision, "
        "recall, f1, roc_auc, mae, mse, rmse, r2, or pass a callable(y_true, output)"
    )
