"""Test results as a table: per class for classification, per target for regression."""

from __future__ import annotations

from typing import Any

import numpy as np


def classification(y_true: np.ndarray, scores: np.ndarray, classes: list[Any]) -> dict[str, Any]:
    """Accuracy, macro and weighted averages, and precision/recall/F1/support per class."""
    from .. import metrics

    pred = scores.argmax(axis=1)
    labels = list(range(len(classes)))
    per = metrics.precision_recall_f1(y_true, pred, average=None, labels=labels)
    result: dict[str, Any] = {
        "accuracy": metrics.accuracy(y_true, pred),
        "per_class": {
            str(c): {k: float(np.asarray(per[k])[i]) for k in ("precision", "recall", "f1")}
            | {"support": int(np.asarray(per["support"])[i])}
            for i, c in enumerate(classes)
        },
    }
    for avg in ("macro", "weighted"):
        r = metrics.precision_recall_f1(y_true, pred, average=avg, labels=labels)
        result[avg] = {k: float(r[k]) for k in ("precision", "recall", "f1")}
    return result


def format_classification(result: dict[str, Any]) -> str:
    """The table scikit-learn's ``classification_report`` prints."""
    rows = result["per_class"]
    width = max(12, *(len(c) for c in rows))
    total = sum(r["support"] for r in rows.values())
    lines = [f"{'':>{width}}  precision    recall  f1-score   support", ""]
    for name, r in rows.items():
        lines.append(
            f"{name:>{width}}  {r['precision']:9.3f} {r['recall']:9.3f} {r['f1']:9.3f} "
            f"{r['support']:9d}"
        )
    lines.append("")
    lines.append(f"{'accuracy':>{width}}  {'':9} {'':9} {result['accuracy']:9.3f} {total:9d}")
    for avg in ("macro", "weighted"):
        r = result[avg]
        lines.append(
            f"{avg + ' avg':>{width}}  {r['precision']:9.3f} {r['recall']:9.3f} "
            f"{r['f1']:9.3f} {total:9d}"
        )
    return "\n".join(lines)


def regression(y_true: np.ndarray, y_pred: np.ndarray, names: list[str]) -> dict[str, Any]:
    """MSE, MAE and R^2 per target and averaged."""
    from .. import metrics

    y_true = y_true.reshape(len(y_true), -1)
    y_pred = y_pred.reshape(len(y_pred), -1)
    per = {}
    for i, name in enumerate(names):
        per[name] = {
            "mse": float(metrics.mse(y_true[:, i], y_pred[:, i])),
            "mae": float(metrics.mae(y_true[:, i], y_pred[:, i])),
            "r2": float(metrics.r2(y_true[:, i], y_pred[:, i])),
        }
    return {
        "mse": float(metrics.mse(y_true, y_pred)),
        "mae": float(metrics.mae(y_true, y_pred)),
        "r2": float(metrics.r2(y_true, y_pred)),
        "per_target": per,
    }


def format_regression(result: dict[str, Any]) -> str:
    """One row per target, then the average."""
    rows = result["per_target"]
    width = max(8, *(len(n) for n in rows))
    lines = [f"{'':>{width}}        mse        mae         r2"]
    for name, r in rows.items():
        lines.append(f"{name:>{width}} {r['mse']:10.4g} {r['mae']:10.4g} {r['r2']:10.4f}")
    if len(rows) > 1:
        lines.append(
            f"{'average':>{width}} {result['mse']:10.4g} {result['mae']:10.4g} {result['r2']:10.4f}"
        )
    return "\n".join(lines)
