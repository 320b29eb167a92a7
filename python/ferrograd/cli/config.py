"""The settings of a ``ferrograd train`` run: defaults, a TOML file, command-line options.

Each setting has one name, its section in the TOML file, its type, its default and its help
text, so the parser, the TOML reader and the written ``config.json`` all come from the table
below and cannot drift apart.

Examples
--------
>>> from ferrograd.cli.config import resolve
>>> cfg = resolve(None, {"lr": 0.01, "hidden": [64, 32]})
>>> cfg["lr"], cfg["hidden"], cfg["data"]
(0.01, [64, 32], 'digits')
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

from ..exceptions import FerrogradError


class UsageError(FerrogradError):
    """A mistake of the user: a bad option, file, config or run folder (exit status 2)."""


@dataclass(frozen=True)
class Setting:
    """One setting of a training run."""

    name: str
    section: str
    default: Any
    help: str
    kind: Callable[[str], Any] | None = None  # how a command-line string becomes a value
    choices: tuple[str, ...] | None = None


def _floats(text: str) -> float:
    return float(text)


def _widths(text: str) -> list[int]:
    """``"128,64"`` -> [128, 64] (an empty string: no hidden layer)."""
    parts = [p for p in text.replace(" ", "").split(",") if p]
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise UsageError(f"--hidden: expected widths like 128,64, got {text!r}") from None


def _targets(text: str) -> list[str]:
    return [p for p in text.split(",") if p]


SETTINGS: tuple[Setting, ...] = (
    # data
    Setting(
        "data",
        "data",
        "digits",
        "digits, moons, spirals, or the path of a CSV file (with --target)",
        str,
    ),
    Setting(
        "target", "data", None, "the target column(s) of a CSV file, comma-separated", _targets
    ),
    Setting(
        "task",
        "data",
        "auto",
        "classification or regression (auto: from the loss and the targets)",
        str,
        ("auto", "classification", "regression"),
    ),
    Setting(
        "scale",
        "data",
        "standard",
        "input preprocessing, fitted on the training part",
        str,
        ("standard", "minmax", "pca", "zca", "none"),
    ),
    Setting("val_size", "data", 0.2, "fraction of the data for validation", _floats),
    Setting("test_size", "data", 0.2, "fraction of the data for the final test", _floats),
    Setting("samples", "data", 1000, "number of samples of moons and spirals", int),
    Setting("noise", "data", 0.1, "noise of moons and spirals", _floats),
    # model
    Setting("model", "model", "mlp", "mlp, or cnn for image data (digits)", str, ("mlp", "cnn")),
    Setting("hidden", "model", [128], "hidden layer widths of the MLP, e.g. 128,64", _widths),
    Setting("channels", "model", [16, 32], "convolution channels of the CNN, e.g. 16,32", _widths),
    Setting(
        "activation",
        "model",
        "relu",
        "activation between layers",
        str,
        ("relu", "tanh", "sigmoid", "gelu", "silu", "elu", "leaky_relu"),
    ),
    Setting("dropout", "model", 0.0, "dropout probability after each hidden layer", _floats),
    Setting("batch_norm", "model", False, "batch normalization after each hidden layer", None),
    # training
    Setting(
        "loss",
        "train",
        "auto",
        "the loss (auto: cross_entropy for classes, mse otherwise)",
        str,
        ("auto", "cross_entropy", "mse", "l1", "huber", "smooth_l1"),
    ),
    Setting(
        "optimizer",
        "train",
        "adam",
        "the optimizer",
        str,
        ("adam", "adamw", "sgd", "rmsprop", "adagrad"),
    ),
    Setting("lr", "train", 1e-3, "learning rate", _floats),
    Setting("weight_decay", "train", 0.0, "the optimizer's weight decay", _floats),
    Setting("momentum", "train", 0.9, "momentum of sgd and rmsprop", _floats),
    Setting(
        "schedule",
        "train",
        "none",
        "learning-rate schedule",
        str,
        ("none", "step", "cosine", "exponential", "onecycle", "plateau"),
    ),
    Setting("epochs", "train", 100, "maximum number of epochs", int),
    Setting("batch_size", "train", 32, "samples per step", int),
    Setting(
        "patience",
        "train",
        10,
        "early stopping: epochs without a better validation loss (0: no early stopping)",
        int,
    ),
    Setting("grad_accum", "train", 1, "micro-batches per optimizer step", int),
    Setting("l1", "train", 0.0, "L1 penalty on the weights", _floats),
    Setting("l2", "train", 0.0, "L2 penalty on the weights", _floats),
    Setting("seed", "train", 0, "seed of the split, the initialisation and the shuffling", int),
    Setting("threads", "train", 0, "kernel threads (0: every core)", int),
    Setting("distributed", "train", False, "data-parallel over MPI (run under mpiexec)", None),
)

BY_NAME = {s.name: s for s in SETTINGS}
#: Friendlier names inside a section: ``[data] name = "digits"``, ``[model] kind = "cnn"``.
_ALIASES = {("data", "name"): "data", ("model", "kind"): "model"}
SECTIONS = ("data", "model", "train")


def defaults() -> dict[str, Any]:
    """Every setting at its default."""
    return {
        s.name: (list(s.default) if isinstance(s.default, list) else s.default) for s in SETTINGS
    }


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The settings of a TOML file, flattened: keys at the top or in [data], [model], [train]."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.9 and 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        raise UsageError(f"--config: no such file: {os.fspath(path)}") from None
    except OSError as e:
        raise UsageError(f"--config: cannot read {os.fspath(path)}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"--config: {os.fspath(path)} is not valid TOML: {e}") from None
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        if key in SECTIONS and isinstance(value, Mapping):
            for k, v in value.items():
                _put(flat, _ALIASES.get((key, k)) or str(k), v, f"[{key}] {k}")
        else:
            _put(flat, key, value, key)
    return flat


def _put(flat: dict[str, Any], key: str, value: Any, where: str) -> None:
    if key not in BY_NAME:
        raise UsageError(f"--config: unknown setting {where!r}; known: {', '.join(BY_NAME)}")
    if key in flat:
        raise UsageError(f"--config: setting {key!r} is given twice")
    flat[key] = value


def resolve(config_file: str | None, options: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults, overridden by the TOML file, overridden by the command-line options given."""
    cfg = defaults()
    if config_file is not None:
        cfg.update(read_toml(config_file))
    cfg.update({k: v for k, v in options.items() if v is not None})
    return check(cfg)


def check(cfg: dict[str, Any]) -> dict[str, Any]:
    """Types and ranges of every setting, with messages that name the setting."""
    for s in SETTINGS:
        value = cfg[s.name]
        if s.choices is not None and value not in s.choices:
            raise UsageError(f"{s.name}: expected one of {', '.join(s.choices)}, got {value!r}")
    for name in ("val_size", "test_size"):
        _number(cfg, name, 0.0, 1.0, open_low=True, open_high=True)
    if cfg["val_size"] + cfg["test_size"] >= 1.0:
        raise UsageError("val_size + test_size must leave some data for training")
    for name in ("lr",):
        _number(cfg, name, 0.0, None, open_low=True)
    for name in ("weight_decay", "l1", "l2", "noise"):
        _number(cfg, name, 0.0, None)
    _number(cfg, "dropout", 0.0, 1.0, open_high=True)
    _number(cfg, "momentum", 0.0, 1.0, open_high=True)
    for name, low in (
        ("epochs", 1),
        ("batch_size", 1),
        ("patience", 0),
        ("grad_accum", 1),
        ("seed", 0),
        ("threads", 0),
        ("samples", 4),
    ):
        _integer(cfg, name, low)
    for name in ("hidden", "channels"):
        widths = cfg[name]
        if not isinstance(widths, list) or not all(
            isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths
        ):
            raise UsageError(f"{name}: expected a list of positive widths, got {widths!r}")
    for name in ("batch_norm", "distributed"):
        if not isinstance(cfg[name], bool):
            raise UsageError(f"{name}: expected true or false, got {cfg[name]!r}")
    target = cfg["target"]
    if isinstance(target, str):
        cfg["target"] = [target]
    elif target is not None and not (
        isinstance(target, list) and target and all(isinstance(t, (str, int)) for t in target)
    ):
        raise UsageError(f"target: expected a column name or a list of them, got {target!r}")
    if not isinstance(cfg["data"], str) or not cfg["data"]:
        raise UsageError(f"data: expected a dataset name or a CSV path, got {cfg['data']!r}")
    return cfg


def _number(
    cfg: dict[str, Any],
    name: str,
    low: float | None,
    high: float | None,
    open_low: bool = False,
    open_high: bool = False,
) -> None:
    v = cfg[name]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise UsageError(f"{name}: expected a number, got {v!r}")
    too_low = low is not None and (v <= low if open_low else v < low)
    too_high = high is not None and (v >= high if open_high else v > high)
    if too_low or too_high or v != v:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        interval = (
            f"{'(' if open_low else '['}{lo}, {hi}{')' if open_high or high is None else ']'}"
        )
        raise UsageError(f"{name}: expected a number in {interval}, got {v!r}")
    cfg[name] = float(v)


def _integer(cfg: dict[str, Any], name: str, low: int) -> None:
    v = cfg[name]
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise UsageError(f"{name}: expected an integer >= {low}, got {v!r}")
