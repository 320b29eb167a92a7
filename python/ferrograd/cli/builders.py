"""From settings to things: the data and its split, the preprocessing, the model, the loss,
the optimizer and the schedule of a ``ferrograd train`` run."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn, optim
from ..exceptions import FerrogradError
from .config import UsageError

BUILTIN = ("digits", "moons", "spirals")


@dataclass
class Dataset:
    """Features, targets and what they are."""

    x: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    target_names: list[str]
    task: str
    classes: list[Any] = field(default_factory=list)


def load_data(cfg: dict[str, Any], source: str | None = None) -> Dataset:
    """The dataset named by ``source`` (default: the run's ``data`` setting), with class
    labels as they are in the data (encoded later against the run's classes)."""
    from ..data import load_csv, load_digits, make_moons, make_spirals

    name = source if source is not None else cfg["data"]
    if name == "digits":
        x, y = load_digits(as_images=cfg["model"] == "cnn")
        names = [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]
        return _labelled(cfg, x, y, names, ["digit"])
    if name == "moons":
        x, y = make_moons(cfg["samples"], noise=cfg["noise"], seed=cfg["seed"])
        return _labelled(cfg, x, y, ["x0", "x1"], ["label"])
    if name == "spirals":
        x, y = make_spirals(cfg["samples"], n_classes=3, noise=cfg["noise"], seed=cfg["seed"])
        return _labelled(cfg, x, y, ["x0", "x1"], ["label"])
    path = Path(name)
    if path.suffix.lower() != ".csv" and not path.exists():
        raise UsageError(
            f"data: unknown dataset {name!r}; use {', '.join(BUILTIN)} or the path of a CSV file"
        )
    if not path.is_file():
        raise UsageError(f"data: no such file: {name}")
    if cfg["model"] == "cnn":
        raise UsageError("model: cnn needs image data (digits); use mlp for a CSV file")
    targets = cfg["target"]
    if not targets:
        raise UsageError(f"data: {name} is a CSV file, so --target must name its target column")
    header = _header(path)
    missing = [t for t in targets if t not in header]
    if missing:
        raise UsageError(
            f"target: {name} has no column {', '.join(map(repr, missing))}; its columns are "
            f"{', '.join(header)}"
        )
    try:
        x, y = load_csv(path, target=targets if len(targets) > 1 else targets[0])
    except FerrogradError as e:
        raise UsageError(str(e)) from None
    features = [h for h in header if h not in targets]
    return _labelled(cfg, x, y, features, list(targets))


def _header(path: Path) -> list[str]:
    try:
        with open(path, newline="") as f:
            row = next(csv.reader(f), None)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise UsageError(f"data: cannot read {path}: {e}") from None
    if not row:
        raise UsageError(f"data: {path} is empty")
    return [c.strip() for c in row]


def _labelled(
    cfg: dict[str, Any], x: np.ndarray, y: np.ndarray, features: list[str], targets: list[str]
) -> Dataset:
    task = cfg["task"]
    if task == "auto":
        if cfg["loss"] == "cross_entropy":
            task = "classification"
        elif cfg["loss"] != "auto":
            task = "regression"
        else:
            integral = y.dtype.kind in "iu"
            task = "classification" if integral and y.ndim == 1 else "regression"
    if task == "classification":
        if y.ndim != 1:
            raise UsageError("task: classification needs a single target column")
        if y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0):
            raise UsageError("task: classification needs whole-number class labels")
        classes = np.unique(y).tolist()
        if len(classes) < 2:
            raise UsageError(f"task: classification needs two classes or more, got {classes}")
        return Dataset(x, y, features, targets, task, classes)
    if cfg["loss"] == "cross_entropy":
        raise UsageError("loss: cross_entropy needs a classification task")
    y = y.astype(np.float32).reshape(len(y), -1)
    return Dataset(x.astype(np.float32), y, features, targets, task)


def encode(y: np.ndarray, classes: list[Any]) -> np.ndarray:
    """Class labels as indices 0..C-1 in the order of ``classes``."""
    table = np.asarray(classes)
    idx = np.searchsorted(table, y)
    idx = np.clip(idx, 0, len(table) - 1)
    bad = table[idx] != y
    if bad.any():
        raise UsageError(
            f"the data has class {np.asarray(y)[bad][0]!r}, which the model was not trained on "
            f"(classes: {classes})"
        )
    return idx.astype(np.int64)


def split(cfg: dict[str, Any], d: Dataset) -> list[np.ndarray]:
    """The seeded train/validation/test split (stratified for classes)."""
    from ..data import train_val_test_split

    stratify = d.y if d.task == "classification" else None
    try:
        return train_val_test_split(
            d.x,
            d.y,
            val_size=cfg["val_size"],
            test_size=cfg["test_size"],
            seed=cfg["seed"],
            stratify=stratify,
        )
    except FerrogradError as e:
        raise UsageError(f"split: {e}") from None


def scaler(cfg: dict[str, Any]) -> Any:
    """An unfitted preprocessing step (None for ``scale = "none"``)."""
    from ..data import MinMaxScaler, PCAWhitening, StandardScaler, ZCAWhitening

    makers: dict[str, Callable[[], Any]] = {
        "standard": StandardScaler,
        "minmax": MinMaxScaler,
        "pca": PCAWhitening,
        "zca": ZCAWhitening,
        "none": lambda: None,
    }
    return makers[cfg["scale"]]()


def apply(step: Any, x: np.ndarray) -> np.ndarray:
    """``step.transform`` on rows (images are flattened and put back)."""
    if step is None:
        return x
    return step.transform(x.reshape(len(x), -1)).reshape(x.shape).astype(x.dtype, copy=False)


_ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
}


def model(cfg: dict[str, Any], input_shape: tuple[int, ...], n_outputs: int) -> nn.Module:
    """The MLP or CNN the settings describe."""
    act = _ACTIVATIONS[cfg["activation"]]
    layers: list[nn.Module] = []
    if cfg["model"] == "cnn":
        if len(input_shape) != 3:
            raise UsageError(f"model: cnn needs images (C, H, W), the data has {input_shape}")
        c, h, w = input_shape
        for width in cfg["channels"]:
            layers.append(nn.Conv2d(c, width, 3, padding=1))
            if cfg["batch_norm"]:
                layers.append(nn.BatchNorm2d(width))
            layers.append(act())
            if min(h, w) >= 2:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            c = width
        layers.append(nn.Flatten())
        if cfg["dropout"]:
            layers.append(nn.Dropout(cfg["dropout"]))
        layers.append(nn.Linear(c * h * w, n_outputs))
        return nn.Sequential(*layers)
    width = int(np.prod(input_shape))
    if len(input_shape) > 1:
        layers.append(nn.Flatten())
    for hidden in cfg["hidden"]:
        layers.append(nn.Linear(width, hidden))
        if cfg["batch_norm"]:
            layers.append(nn.BatchNorm1d(hidden))
        layers.append(act())
        if cfg["dropout"]:
            layers.append(nn.Dropout(cfg["dropout"]))
        width = hidden
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


def loss(cfg: dict[str, Any], task: str) -> nn.Module:
    """The loss module."""
    name = cfg["loss"]
    if name == "auto":
        name = "cross_entropy" if task == "classification" else "mse"
    if task == "classification" and name != "cross_entropy":
        raise UsageError(f"loss: {name} is a regression loss, but the task is classification")
    return {
        "cross_entropy": nn.CrossEntropyLoss,
        "mse": nn.MSELoss,
        "l1": nn.L1Loss,
        "huber": nn.HuberLoss,
        "smooth_l1": nn.SmoothL1Loss,
    }[name]()


def optimizer(cfg: dict[str, Any], params: Any) -> Any:
    """The optimizer over ``params``."""
    lr, wd = cfg["lr"], cfg["weight_decay"]
    kind = cfg["optimizer"]
    if kind == "adam":
        return optim.Adam(params, lr=lr, weight_decay=wd)
    if kind == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=wd)
    if kind == "sgd":
        return optim.SGD(params, lr=lr, momentum=cfg["momentum"], weight_decay=wd)
    if kind == "rmsprop":
        return optim.RMSprop(params, lr=lr, momentum=cfg["momentum"], weight_decay=wd)
    return optim.Adagrad(params, lr=lr, weight_decay=wd)


def schedule(cfg: dict[str, Any], opt: Any, steps_per_epoch: int) -> tuple[Any, list[Any]]:
    """The Trainer's scheduler and any callback the schedule needs."""
    from ..optim import lr_scheduler as S
    from ..train import ReduceLROnPlateau

    kind, epochs = cfg["schedule"], cfg["epochs"]
    if kind == "none":
        return None, []
    if kind == "step":
        return S.StepLR(opt, step_size=max(1, epochs // 3), gamma=0.1), []
    if kind == "cosine":
        return S.CosineAnnealingLR(opt, T_max=epochs), []
    if kind == "exponential":
        return S.ExponentialLR(opt, gamma=0.95), []
    if kind == "onecycle":
        total = epochs * steps_per_epoch
        return S.OneCycleLR(opt, max_lr=cfg["lr"], total_steps=total), []
    return None, [ReduceLROnPlateau(factor=0.5, patience=max(1, cfg["patience"] // 2))]
