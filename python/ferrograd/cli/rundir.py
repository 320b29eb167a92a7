"""The folder a training run leaves behind, and reading it back.

``runs/<name>/`` holds ``model.safetensors`` (the weights, PyTorch's names and layouts),
``preprocessing.safetensors`` (the fitted scaler, when there is one), ``config.json`` (every
setting, resolved, and what the data was: feature and target names, classes, input shape),
``history.csv``, ``curves.png`` (with matplotlib installed) and ``metrics.json`` (the test
results).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import FerrogradError
from .config import UsageError

MODEL = "model.safetensors"
PREPROCESSING = "preprocessing.safetensors"
CONFIG = "config.json"
HISTORY = "history.csv"
CURVES = "curves.png"
METRICS = "metrics.json"


def new_run_dir(root: str | os.PathLike[str], name: str | None, cfg: dict[str, Any]) -> Path:
    """A new folder under ``root``: ``name``, or ``<data>-<model>-<time>`` (never reused)."""
    base = Path(root)
    if name is None:
        data = Path(cfg["data"]).stem if cfg["data"].lower().endswith(".csv") else cfg["data"]
        name = f"{data}-{cfg['model']}-{time.strftime('%Y%m%d-%H%M%S')}"
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise UsageError(f"--name: expected a folder name, got {name!r}")
    path = base / name
    suffix = 1
    while path.exists():
        suffix += 1
        path = base / f"{name}-{suffix}"
    try:
        path.mkdir(parents=True)
    except OSError as e:
        raise UsageError(f"cannot create the run folder {path}: {e.strerror}") from None
    return path


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Writes ``doc`` atomically (temporary file, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=_plain) + "\n")
    os.replace(tmp, path)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


class Run:
    """A finished run read back: its settings, model and preprocessing."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise UsageError(f"{self.path} is not a run folder (no such directory)")
        config = self.path / CONFIG
        if not config.is_file():
            raise UsageError(f"{self.path} is not a run folder: it has no {CONFIG}")
        try:
            doc = json.loads(config.read_text())
            self.cfg: dict[str, Any] = doc["config"]
            self.info: dict[str, Any] = doc["data"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UsageError(f"{config} cannot be read: {e}") from None
        if not (self.path / MODEL).is_file():
            raise UsageError(f"{self.path} has no checkpoint ({MODEL}); did the run finish?")

    def model(self) -> Any:
        from . import builders

        m = builders.model(self.cfg, tuple(self.info["input_shape"]), self.info["n_outputs"])
        try:
            m.load(self.path / MODEL)
        except FerrogradError as e:
            raise UsageError(f"{self.path / MODEL}: {e}") from None
        return m.eval()

    def scaler(self) -> Any:
        from .. import load
        from . import builders

        step = builders.scaler(self.cfg)
        if step is None:
            return None
        path = self.path / PREPROCESSING
        if not path.is_file():
            raise UsageError(f"{self.path} has no {PREPROCESSING} for scale={self.cfg['scale']}")
        try:
            step.load_state_dict(load(path))
        except FerrogradError as e:
            raise UsageError(f"{path}: {e}") from None
        return step
