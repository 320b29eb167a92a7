"""Hyperparameter search: train one model per configuration and rank them on validation data.

Examples
--------
>>> import numpy as np
>>> from ferrograd import nn, optim
>>> from ferrograd.train import grid_search
>>> rng = np.random.default_rng(0)
>>> x = rng.standard_normal((120, 2)).astype(np.float32)
>>> y = (x[:, 0] > x[:, 1]).astype(np.int64)
>>> def build(config):
...     model = nn.Sequential(nn.Linear(2, config["width"]), nn.ReLU(),
...                           nn.Linear(config["width"], 2))
...     return model, optim.Adam(model.parameters(), lr=config["lr"])
>>> result = grid_search(build, {"width": [4, 16], "lr": [1e-3, 3e-2]},
...                      (x[:80], y[:80]), (x[80:], y[80:]), loss=nn.CrossEntropyLoss(),
...                      epochs=5)
>>> len(result.trials)
4
>>> result.best_config == result.trials[0].config
True
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .. import _check
from .. import random as fg_random
from ..exceptions import ArgumentError, DTypeError, FerrogradError
from .history import History, resolve_mode

__all__ = [
    "SearchResult",
    "Trial",
    "grid_search",
    "loguniform",
    "randint",
    "random_search",
    "uniform",
]

_RUN_KEYS = ("batch_size", "epochs")


@dataclass
class Trial:
    """One configuration and how it did.

    Attributes
    ----------
    config : dict
        The hyperparameters.
    score : float
        The best value of the monitored quantity over the trial's epochs.
    best_epoch : int
        The epoch of that value (counted from 0, as ``History.epoch``; -1 if no epoch had a
        finite value).
    history : History
    model : nn.Module
        The trained model (as it was after the last epoch).
    """

    config: dict[str, Any]
    score: float
    best_epoch: int
    history: History = field(repr=False)
    model: Any = field(repr=False)


@dataclass
class SearchResult:
    """Trials sorted best first, and the best configuration."""

    trials: list[Trial]
    monitor: str
    mode: str

    @property
    def best_trial(self) -> Trial:
        """The trial with the best score."""
        return self.trials[0]

    @property
    def best_config(self) -> dict[str, Any]:
        """The configuration of the best trial."""
        return self.trials[0].config

    @property
    def best_score(self) -> float:
        """The best trial's score."""
        return self.trials[0].score

    def table(self) -> str:
        """The trials as a plain-text table, best first: the hyperparameters, the score and
        the epoch it was reached in, counted from 1 as the progress lines count them
        (``best_epoch + 1``; "-" for a trial without a finite score)."""
        keys = sorted({k for t in self.trials for k in t.config})
        rows = [[*keys, self.monitor, "best epoch"]]
        for t in self.trials:
            epoch = str(t.best_epoch + 1) if t.best_epoch >= 0 else "-"
            rows.append([_fmt(t.config.get(k)) for k in keys] + [_fmt(t.score), epoch])
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows)


class _Distribution:
    def __init__(self, name: str, low: float, high: float) -> None:
        if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
            raise ArgumentError(f"{name}: need finite low < high, got ({low}, {high})")
        self.name, self.low, self.high = name, low, high

    def __repr__(self) -> str:
        return f"{self.name}({self.low}, {self.high})"


class uniform(_Distribution):
    """Floats uniform in [low, high)."""

    def __init__(self, low: float, high: float) -> None:
        super().__init__("uniform", float(low), float(high))

    def rvs(self, random_state: np.random.Generator) -> float:
        return float(random_state.uniform(self.low, self.high))


class loguniform(_Distribution):
    """Floats whose logarithm is uniform: for learning rates and weight decay."""

    def __init__(self, low: float, high: float) -> None:
        if not low > 0:
            raise ArgumentError(f"loguniform: low must be positive, got {low}")
        super().__init__("loguniform", float(low), float(high))

    def rvs(self, random_state: np.random.Generator) -> float:
        return float(math.exp(random_state.uniform(math.log(self.low), math.log(self.high))))


class randint(_Distribution):
    """Integers uniform in [low, high) (``high`` excluded, as NumPy and scipy)."""

    def __init__(self, low: int, high: int) -> None:
        super().__init__("randint", int(low), int(high))

    def rvs(self, random_state: np.random.Generator) -> int:
        return int(random_state.integers(int(self.low), int(self.high)))


def grid_search(
    build: Callable[[dict[str, Any]], Any],
    space: Mapping[str, Sequence[Any]],
    train: Any,
    val: Any,
    *,
    loss: Any,
    metrics: Any = None,
    epochs: int = 10,
    batch_size: int = 32,
    seed: int = 0,
    monitor: str = "val_loss",
    mode: str = "auto",
    callbacks: Callable[[], list[Any]] | None = None,
    verbose: int = 0,
    **trainer_kwargs: Any,
) -> SearchResult:
    """Trains one model for every combination of the values in ``space``.

    Parameters
    ----------
    build : callable(config) -> (model, optimizer) or (model, optimizer, scheduler)
        Makes a fresh model and optimizer for one configuration.
    space : dict of str to list
        The values to try per hyperparameter. ``batch_size`` and ``epochs`` entries, if
        present, set those of the trial's ``fit``; everything is passed to ``build``.
    train, val
        Training and validation data, as for :meth:`Trainer.fit`.
    loss, metrics
        As for :class:`Trainer`.
    epochs, batch_size : int
        Defaults for trials whose configuration does not set them.
    seed : int
        :func:`ferrograd.manual_seed` is called with it before every trial, so every
        configuration starts from the same random state and the search repeats exactly.
    monitor : str
        What ranks the trials (default ``"val_loss"``); each trial scores its best epoch.
    mode : {"auto", "min", "max"}
    callbacks : callable() -> list, optional
        Makes fresh callbacks for each trial (e.g. ``lambda: [EarlyStopping(patience=3)]``).
    verbose : int
        Passed to ``fit``; with 0 nothing is printed.
    **trainer_kwargs
        Other :class:`Trainer` arguments (``grad_accum_steps``, ``l2``, ...).

    Returns
    -------
    SearchResult
    """
    if not isinstance(space, Mapping) or not space:
        raise FerrogradError("grid_search: space must be a non-empty dict of lists")
    names = list(space)
    for name in names:
        values = space[name]
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise FerrogradError(
                f"grid_search: space[{name!r}] must be a non-empty list of values, got {values!r}"
            )
    configs = [dict(zip(names, combo)) for combo in itertools.product(*(space[n] for n in names))]
    return _run(
        "grid_search",
        configs,
        build,
        train,
        val,
        loss,
        metrics,
        epochs,
        batch_size,
        seed,
        monitor,
        mode,
        callbacks,
        verbose,
        trainer_kwargs,
    )


def random_search(
    build: Callable[[dict[str, Any]], Any],
    space: Mapping[str, Any],
    train: Any,
    val: Any,
    *,
    n_trials: int,
    loss: Any,
    metrics: Any = None,
    epochs: int = 10,
    batch_size: int = 32,
    seed: int = 0,
    monitor: str = "val_loss",
    mode: str = "auto",
    callbacks: Callable[[], list[Any]] | None = None,
    verbose: int = 0,
    **trainer_kwargs: Any,
) -> SearchResult:
    """Trains ``n_trials`` models on configurations drawn from ``space``.

    ``space`` maps each hyperparameter to a list (one value drawn uniformly), a
    distribution with ``rvs(random_state)`` (:func:`loguniform`, :func:`uniform`,
    :func:`randint`, or scipy.stats distributions) or a single fixed value. Configurations
    are drawn from a generator seeded with ``seed``, so the search repeats exactly. Other
    arguments as :func:`grid_search`.
    """
    n_trials = _check.positive("random_search", "n_trials", n_trials)
    if not isinstance(space, Mapping) or not space:
        raise FerrogradError("random_search: space must be a non-empty dict")
    rng = np.random.default_rng(seed)
    configs = []
    for _ in range(int(n_trials)):
        config = {}
        for name, spec in space.items():
            if hasattr(spec, "rvs"):
                try:
                    value = spec.rvs(random_state=rng)
                except TypeError:
                    value = spec.rvs()
                config[name] = value.item() if isinstance(value, np.generic) else value
            elif isinstance(spec, (list, tuple)):
                if not spec:
                    raise FerrogradError(f"random_search: space[{name!r}] is an empty list")
                config[name] = spec[int(rng.integers(len(spec)))]
            else:
                config[name] = spec
        configs.append(config)
    return _run(
        "random_search",
        configs,
        build,
        train,
        val,
        loss,
        metrics,
        epochs,
        batch_size,
        seed,
        monitor,
        mode,
        callbacks,
        verbose,
        trainer_kwargs,
    )


def _run(
    who: str,
    configs: list[dict[str, Any]],
    build: Callable[[dict[str, Any]], Any],
    train: Any,
    val: Any,
    loss: Any,
    metrics: Any,
    epochs: int,
    batch_size: int,
    seed: int,
    monitor: str,
    mode: str,
    callbacks: Callable[[], list[Any]] | None,
    verbose: int,
    trainer_kwargs: dict[str, Any],
) -> SearchResult:
    from .trainer import Trainer

    if val is None and monitor.startswith("val_"):
        raise FerrogradError(f"{who}: monitor {monitor!r} needs validation data (val)")
    if not callable(build):
        raise DTypeError(f"{who}: build must be callable(config) -> (model, optimizer)")
    mode = resolve_mode(mode, monitor)
    trials = []
    for config in configs:
        fg_random.manual_seed(seed)
        built = build(dict(config))
        if not isinstance(built, tuple) or len(built) not in (2, 3):
            raise FerrogradError(
                f"{who}: build(config) must return (model, optimizer) or (model, optimizer, "
                f"scheduler), got {type(built).__name__}"
            )
        model, optimizer = built[0], built[1]
        scheduler = built[2] if len(built) == 3 else None
        trainer = Trainer(
            model, loss, optimizer, metrics=metrics, scheduler=scheduler, **trainer_kwargs
        )
        history = trainer.fit(
            train,
            val,
            epochs=int(config.get("epochs", epochs)),
            batch_size=int(config.get("batch_size", batch_size)),
            callbacks=callbacks() if callbacks is not None else (),
            verbose=verbose,
        )
        try:
            best_epoch, score = history.best(monitor, mode)
        except FerrogradError:
            best_epoch, score = -1, math.inf if mode == "min" else -math.inf
        except KeyError:
            raise FerrogradError(
                f"{who}: monitor {monitor!r} is not recorded; the history has {history.keys()}"
            ) from None
        trials.append(Trial(dict(config), float(score), best_epoch, history, model))
    sign = 1.0 if mode == "min" else -1.0
    order = sorted(range(len(trials)), key=lambda i: (sign * trials[i].score, i))
    return SearchResult([trials[i] for i in order], monitor, mode)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
