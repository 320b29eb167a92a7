"""What ``ferrograd train``, ``evaluate`` and ``predict`` do."""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from . import builders, report, rundir
from .config import UsageError, resolve


def _say(text: str = "") -> None:
    print(text, file=sys.stdout, flush=True)


def train(args: argparse.Namespace, options: dict[str, Any]) -> None:
    """Trains the model the settings describe and writes its run folder."""
    cfg = resolve(args.config, options)
    from .. import distributed as dist
    from .. import manual_seed
    from ..train import EarlyStopping, Trainer

    if cfg["threads"]:
        dist.limit_threads(cfg["threads"])  # before the first kernel call
    if cfg["distributed"]:
        dist.init()
    main = dist.is_main()
    manual_seed(cfg["seed"])
    data = builders.load_data(cfg)
    y = builders.encode(data.y, data.classes) if data.task == "classification" else data.y
    data.y = y
    x_tr, x_va, x_te, y_tr, y_va, y_te = builders.split(cfg, data)
    step = builders.scaler(cfg)
    if step is not None:
        step.fit(x_tr.reshape(len(x_tr), -1))
        x_tr, x_va, x_te = (builders.apply(step, a) for a in (x_tr, x_va, x_te))
    n_outputs = len(data.classes) if data.task == "classification" else y.shape[1]
    input_shape = tuple(int(s) for s in x_tr.shape[1:])
    manual_seed(cfg["seed"])
    model = builders.model(cfg, input_shape, n_outputs)
    loss = builders.loss(cfg, data.task)
    opt = builders.optimizer(cfg, model.parameters())
    per_epoch = math.ceil(math.ceil(len(x_tr) / cfg["batch_size"]) / cfg["grad_accum"])
    scheduler, callbacks = builders.schedule(cfg, opt, per_epoch)
    if cfg["patience"]:
        callbacks.append(EarlyStopping(patience=cfg["patience"], restore_best_weights=True))
    out = rundir.new_run_dir(args.runs_dir, args.name, cfg) if main else None
    if cfg["distributed"] and dist.world_size() > 1 and main:
        _say(f"Data-parallel on {dist.world_size()} ranks, batch {cfg['batch_size']} per rank")
    if main:
        _say(
            f"Training {cfg['model']} on {cfg['data']} ({data.task}): {len(x_tr)} train, "
            f"{len(x_va)} validation, {len(x_te)} test samples -> {out}"
        )
    trainer = Trainer(
        model,
        loss,
        opt,
        scheduler=scheduler,
        grad_accum_steps=cfg["grad_accum"],
        l1=cfg["l1"],
        l2=cfg["l2"],
        distributed=cfg["distributed"],
    )
    history = trainer.fit(
        (x_tr, y_tr),
        (x_va, y_va),
        epochs=cfg["epochs"],
        batch_size=cfg["batch_size"],
        callbacks=callbacks,
        verbose=args.verbose if main else 0,
    )
    if not main or out is None:
        return
    model.save(out / rundir.MODEL)
    if step is not None:
        from .. import save

        save(step.state_dict(), out / rundir.PREPROCESSING)
    info = {
        "feature_names": data.feature_names,
        "target_names": data.target_names,
        "task": data.task,
        "classes": data.classes,
        "input_shape": list(input_shape),
        "n_outputs": n_outputs,
    }
    history.to_csv(out / rundir.HISTORY)
    try:
        history.plot(out / rundir.CURVES, title=f"{cfg['model']} on {cfg['data']}")
    except Exception as e:  # matplotlib is optional; a plot never fails a run
        _say(f"(no curves.png: {e})")
    scores = trainer.predict(x_te)
    if data.task == "classification":
        result = report.classification(y_te, scores, data.classes)
        _say(f"\nTest accuracy: {result['accuracy']:.4f} ({len(y_te)} samples)")
        _say(report.format_classification(result))
    else:
        result = report.regression(y_te, scores, data.target_names)
        _say(f"\nTest R^2: {result['r2']:.4f} ({len(y_te)} samples)")
        _say(report.format_regression(result))
    stopped = len(history)
    result["epochs"] = stopped
    result["compiled"] = trainer.compiled
    rundir.write_json(out / rundir.CONFIG, {"config": cfg, "data": info})
    rundir.write_json(out / rundir.METRICS, {"test": result})
    _say(f"\nRun folder: {out}")


def _test_split(run: rundir.Run, source: str | None) -> tuple[np.ndarray, np.ndarray]:
    """The run's own test split (same seed), or all of ``source`` (a dataset or a CSV file)."""
    cfg, info = run.cfg, run.info
    cfg = dict(cfg, target=info["target_names"]) if source is not None else cfg
    data = builders.load_data(cfg, source)
    if source is not None and data.feature_names != info["feature_names"]:
        data.x = _columns(data.x, data.feature_names, info["feature_names"], source)
    y = builders.encode(data.y, info["classes"]) if info["task"] == "classification" else data.y
    if source is not None:
        return data.x, y
    data.y = y
    _, _, x_te, _, _, y_te = builders.split(cfg, data)
    return x_te, y_te


def _columns(x: np.ndarray, have: list[str], want: list[str], source: str) -> np.ndarray:
    missing = [c for c in want if c not in have]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise UsageError(f"{source}: missing the model's input column(s) {shown}")
    return x[:, [have.index(c) for c in want]]


def evaluate(run_dir: str, source: str | None) -> None:
    """Prints the run's test results (or those on another dataset)."""
    run = rundir.Run(run_dir)
    model, step = run.model(), run.scaler()
    x, y = _test_split(run, source)
    x = builders.apply(step, x.astype(np.float32))
    scores = _predict(model, x)
    where = source or f"the test split of {run.cfg['data']}"
    if run.info["task"] == "classification":
        result = report.classification(y, scores, run.info["classes"])
        _say(f"Accuracy on {where}: {result['accuracy']:.4f} ({len(y)} samples)")
        _say(report.format_classification(result))
    else:
        result = report.regression(y, scores, run.info["target_names"])
        _say(f"R^2 on {where}: {result['r2']:.4f} ({len(y)} samples)")
        _say(report.format_regression(result))


def _predict(model: Any, x: np.ndarray) -> np.ndarray:
    from .. import no_grad

    with no_grad():
        parts = [np.asarray(model(x[i : i + 1024]).data) for i in range(0, len(x), 1024)]
    return np.concatenate(parts)


def _read_inputs(path: str, features: list[str]) -> np.ndarray:
    """The feature columns of a CSV file with a header, in the model's order."""
    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such file")
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise UsageError(f"{path}: cannot read it as CSV: {e}") from None
    if not rows:
        raise UsageError(f"{path} is empty")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in features if c not in header]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise UsageError(
            f"{path}: missing the model's input column(s) {shown} (it has {len(header)} "
            f"columns: {', '.join(header[:5])}{' ...' if len(header) > 5 else ''})"
        )
    index = [header.index(c) for c in features]
    out = np.empty((len(rows) - 1, len(features)), dtype=np.float32)
    for r, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise UsageError(
                f"{path}: line {r} has {len(row)} fields, the header has {len(header)}"
            )
        for j, i in enumerate(index):
            try:
                out[r - 2, j] = float(row[i])
            except ValueError:
                raise UsageError(
                    f"{path}: line {r}, column {header[i]!r}: {row[i]!r} is not a number"
                ) from None
    if len(out) == 0:
        raise UsageError(f"{path} has a header but no rows")
    return out


def predict(run_dir: str, input_path: str, output_path: str) -> None:
    """Writes one prediction per input row."""
    run = rundir.Run(run_dir)
    info = run.info
    model, step = run.model(), run.scaler()
    x = _read_inputs(input_path, info["feature_names"])
    x = x.reshape((len(x), *info["input_shape"]))
    scores = _predict(model, builders.apply(step, x))
    if info["task"] == "classification":
        z = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        header = [f"prob_{c}" for c in info["classes"]] + ["predicted"]
        rows = [
            [f"{p:.6g}" for p in row] + [str(info["classes"][int(np.argmax(row))])] for row in probs
        ]
    else:
        header = list(info["target_names"])
        rows = [[f"{v:.6g}" for v in row] for row in scores.reshape(len(scores), -1)]
    target = Path(output_path)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)
        os.replace(tmp, target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"{output_path}: cannot write it: {e.strerror}") from None
    _say(f"Wrote {len(rows)} predictions to {output_path}")
