"""Learning-rate schedules with PyTorch's names, arguments and sequences.

A scheduler wraps an optimizer and rewrites each group's ``"lr"`` when :meth:`step` is called
(once per epoch, or once per batch for :class:`OneCycleLR`), after ``optimizer.step()``.
Creating a scheduler sets the learning rate of "epoch 0" right away. Sequences follow
PyTorch's chainable (recursive) form; ``step(epoch)`` uses the closed form where PyTorch has
one. ``state_dict()`` / ``load_state_dict()`` save and restore everything but the optimizer,
so a resumed run continues the same sequence (save and load the optimizer alongside).

Examples
--------
>>> import numpy as np
>>> from ferrograd import nn, optim
>>> from ferrograd.optim.lr_scheduler import StepLR
>>> opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
>>> sched = StepLR(opt, step_size=2, gamma=0.5)
>>> lrs = []
>>> for epoch in range(5):
...     lrs.append(sched.get_last_lr()[0])
...     opt.step()
...     sched.step()
>>> lrs
[0.1, 0.1, 0.05, 0.05, 0.025]
"""

from __future__ import annotations

import copy
import math
import types
import warnings
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, Callable, Union

from .. import _check
from ..exceptions import ArgumentError, DTypeError
from .optimizer import Optimizer

__all__ = [
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]

_EPOCH_WARNING = (
    "The epoch parameter in `scheduler.step()` is deprecated (as in PyTorch); the closed form "
    "is used when an epoch is given. Call `scheduler.step()` without arguments instead."
)


def _format_param(
    func: str, name: str, optimizer: Optimizer, param: Any, low: float = 0.0
) -> list[float]:
    """One value per parameter group (each a real of at least ``low``): a list of the right
    length, or a scalar repeated."""
    if isinstance(param, (list, tuple)):
        if len(param) != len(optimizer.param_groups):
            raise ArgumentError(
                f"{func}: {name} must have one value per parameter group "
                f"({len(optimizer.param_groups)}), got {len(param)}"
            )
        return [_check.real(func, f"{name}[{i}]", v, low) for i, v in enumerate(param)]
    return [_check.real(func, name, param, low)] * len(optimizer.param_groups)


def _optimizer(func: str, optimizer: Any) -> Optimizer:
    if not isinstance(optimizer, Optimizer):
        raise DTypeError(
            f"{func}: optimizer must be a ferrograd.optim.Optimizer, got {type(optimizer).__name__}"
        )
    return optimizer


class LRScheduler:
    """Base class of the epoch-indexed schedules.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose groups' ``"lr"`` this scheduler sets.
    last_epoch : int
        Index of the last epoch when resuming (the groups then need ``"initial_lr"``);
        -1 (default) starts from the optimizer's current learning rates.
    """

    _is_initial: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        name = type(self).__name__
        self.optimizer = _optimizer(name, optimizer)
        last_epoch = _check.count(name, "last_epoch", last_epoch, -1)
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when "
                        "resuming an optimizer"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rate of each group for ``last_epoch`` (chainable form)."""
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last :meth:`step` (one per parameter group)."""
        return list(self._last_lr)

    def step(self, epoch: int | None = None) -> None:
        """Advances one epoch and writes the new learning rates into the optimizer.

        Parameters
        ----------
        epoch : int, optional
            Deprecated in PyTorch: jump to this epoch (closed form where available).
        """
        self._step_count += 1
        if epoch is not None:
            warnings.warn(_EPOCH_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        """Advances one epoch (or jumps to ``epoch``, closed form where there is one) and
        writes the learning rates into the optimizer."""
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer (copied)."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores the state saved by :meth:`state_dict`."""
        self.__dict__.update(copy.deepcopy(state_dict))

    def _lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]


class StepLR(LRScheduler):
    """Multiplies the learning rate by ``gamma`` every ``step_size`` epochs.

    ``lr = base_lr * gamma ** (epoch // step_size)``.

    Parameters
    ----------
    optimizer : Optimizer
    step_size : int
        Period of the decay, in epochs.
    gamma : float
        Multiplicative factor (default 0.1).
    last_epoch : int
        See :class:`LRScheduler`.

    Examples
    --------
    >>> from ferrograd import nn, optim
    >>> opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=1.0)
    >>> sched = optim.lr_scheduler.StepLR(opt, step_size=30)
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.step_size = _check.positive("StepLR", "step_size", step_size)
        self.gamma = _check.real("StepLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiplies the learning rate by ``gamma`` at each milestone epoch.

    ``lr = base_lr * gamma ** (number of milestones <= epoch)``.

    Parameters
    ----------
    optimizer : Optimizer
    milestones : iterable of int
        Epoch indices (a repeated milestone applies ``gamma`` that many times).
    gamma : float
        Multiplicative factor (default 0.1).
    last_epoch : int
        See :class:`LRScheduler`.

    Examples
    --------
    >>> from ferrograd import nn, optim
    >>> opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=1.0)
    >>> sched = optim.lr_scheduler.MultiStepLR(opt, milestones=[30, 80], gamma=0.1)
    """

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        if isinstance(milestones, (str, bytes)) or not hasattr(milestones, "__iter__"):
            raise DTypeError(
                f"MultiStepLR: milestones must be a sequence of ints, got {milestones!r}"
            )
        self.milestones = Counter(
            _check.count("MultiStepLR", f"milestones[{i}]", m) for i, m in enumerate(milestones)
        )
        self.gamma = _check.real("MultiStepLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores the state saved by :meth:`state_dict` (milestones as a Counter again,
        also when they come back from a checkpoint as a plain dict)."""
        super().load_state_dict(state_dict)
        self.milestones = Counter(self.milestones)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._lrs()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [lr * factor for lr in self._lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        ms = sorted(self.milestones.elements())
        return [b * self.gamma ** bisect_right(ms, self.last_epoch) for b in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiplies the learning rate by ``gamma`` every epoch: ``lr = base_lr * gamma**epoch``.

    Parameters
    ----------
    optimizer : Optimizer
    gamma : float
        Multiplicative factor.
    last_epoch : int
        See :class:`LRScheduler`.

    Examples
    --------
    >>> from ferrograd import nn, optim
    >>> opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=1.0)
    >>> sched = optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = _check.real("ExponentialLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [b * self.gamma**self.last_epoch for b in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing from the base learning rate down to ``eta_min`` over ``T_max`` epochs.

    .. math::
        \eta_t = \eta_{min} + \tfrac12 (\eta_{base} - \eta_{min})
                 (1 + \cos(\pi t / T_{max}))

    computed, like PyTorch, by the equivalent recursion from the previous learning rate (so
    changes made to the learning rate from outside carry over). After ``T_max`` the cosine
    continues (the rate rises again); stop stepping or use a longer ``T_max`` to avoid that.

    Parameters
    ----------
    optimizer : Optimizer
    T_max : int
        Number of epochs of the half period.
    eta_min : float
        Smallest learning rate (default 0).
    last_epoch : int
        See :class:`LRScheduler`.

    Examples
    --------
    >>> from ferrograd import nn, optim
    >>> opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=1.0)
    >>> sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    >>> for _ in range(2):
    ...     sched.step()
    >>> round(sched.get_last_lr()[0], 12)
    0.5
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        self.T_max = _check.positive("CosineAnnealingLR", "T_max", T_max)
        self.eta_min = _check.real("CosineAnnealingLR", "eta_min", eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, tm, lo = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._lrs()
        if self._step_count == 1 and t > 0:
            return [lo + (b - lo) * (1 + math.cos(t * math.pi / tm)) / 2 for b in self.base_lrs]
        if (t - 1 - tm) % (2 * tm) == 0:
            return [
                lr + (b - lo) * (1 - math.cos(math.pi / tm)) / 2
                for b, lr in zip(self.base_lrs, self._lrs())
            ]
        ratio = (1 + math.cos(math.pi * t / tm)) / (1 + math.cos(math.pi * (t - 1) / tm))
        return [ratio * (lr - lo) + lo for lr in self._lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        t, tm, lo = self.last_epoch, self.T_max, self.eta_min
        return [lo + (b - lo) * (1 + math.cos(math.pi * t / tm)) / 2 for b in self.base_lrs]


class LinearLR(LRScheduler):
    """Linear warm-up (or decay): the factor on the base learning rate goes from
    ``start_factor`` to ``end_factor`` over ``total_iters`` epochs, then stays.

    ``lr = base_lr * (start + (end - start) * min(epoch, total_iters) / total_iters)``.

    Parameters
    ----------
    optimizer : Optimizer
    start_factor : float
        Factor at epoch 0, in (0, 1] (default 1/3).
    end_factor : float
        Factor from ``total_iters`` on, in [0, 1] (default 1).
    total_iters : int
        Length of the ramp in epochs (default 5).
    last_epoch : int
        See :class:`LRScheduler`.

    Examples
    --------
    >>> from ferrograd import nn, optim
    >>> opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=1.0)
    >>> sched = optim.lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=3)
    >>> lrs = [sched.get_last_lr()[0]]
    >>> for _ in range(4):
    ...     sched.step()
    ...     lrs.append(round(sched.get_last_lr()[0], 12))
    >>> lrs
    [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        name = "LinearLR"
        self.start_factor = _check.real(name, "start_factor", start_factor, 0.0, 1.0, low_open=True)
        self.end_factor = _check.real(name, "end_factor", end_factor, 0.0, 1.0)
        self.total_iters = _check.positive(name, "total_iters", total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        s, e, n, t = self.start_factor, self.end_factor, self.total_iters, self.last_epoch
        if t == 0:
            return [lr * s for lr in self._lrs()]
        if self._is_initial or t > n:
            return self._lrs()
        factor = 1.0 + (e - s) / (n * s + (t - 1) * (e - s))
        return [lr * factor for lr in self._lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        s, e, n, t = self.start_factor, self.end_factor, self.total_iters, self.last_epoch
        return [b * (s + (e - s) * min(n, t) / n) for b in self.base_lrs]


class OneCycleLR(LRScheduler):
    """The 1cycle policy: warm up to ``max_lr``, then anneal far below the start.

    Stepped once per batch. Over the first ``pct_start`` of ``total_steps`` the rate goes from
    ``max_lr / div_factor`` up to ``max_lr``; over the rest down to ``initial_lr /
    final_div_factor`` (cosine by default). With ``cycle_momentum`` the momentum (SGD,
    RMSprop) or beta1 (Adam) moves the opposite way between ``max_momentum`` and
    ``base_momentum``. ``three_phase=True`` gives the paper's symmetric warm-up and
    cool-down followed by a final annihilation phase.

    Parameters
    ----------
    optimizer : Optimizer
    max_lr : float or list of float
        Peak learning rate (per group).
    total_steps : int, optional
        Number of steps in the cycle; or give ``epochs`` and ``steps_per_epoch``.
    epochs, steps_per_epoch : int, optional
        ``total_steps = epochs * steps_per_epoch``.
    pct_start : float
        Fraction of the cycle spent increasing the rate (default 0.3).
    anneal_strategy : {"cos", "linear"}
        Shape of each phase (default "cos").
    cycle_momentum : bool
        Cycle momentum / beta1 inversely to the rate (default True).
    base_momentum, max_momentum : float or list of float
        Momentum at the peak and at the ends of the cycle (defaults 0.85 and 0.95).
    div_factor : float
        ``initial_lr = max_lr / div_factor`` (default 25).
    final_div_factor : float
        ``min_lr = initial_lr / final_div_factor`` (default 1e4).
    three_phase : bool
        Use the three-phase schedule (default False).
    last_epoch : int
        Index of the last batch when resuming (default -1).

    Examples
    --------
    >>> from ferrograd import nn, optim
    >>> opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=0.01, momentum=0.9)
    >>> sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=100)
    >>> round(sched.get_last_lr()[0], 12), opt.param_groups[0]["momentum"]
    (0.04, 0.95)
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: Union[float, list[float]],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: Union[float, list[float]] = 0.85,
        max_momentum: Union[float, list[float]] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        name = "OneCycleLR"
        self.optimizer = _optimizer(name, optimizer)
        if total_steps is not None:
            self.total_steps = _check.positive(name, "total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = _check.positive(name, "epochs", epochs) * _check.positive(
                name, "steps_per_epoch", steps_per_epoch
            )
        else:
            raise ArgumentError(
                f"{name}: give total_steps, or epochs and steps_per_epoch (got total_steps="
                f"{total_steps!r}, epochs={epochs!r}, steps_per_epoch={steps_per_epoch!r})"
            )
        pct_start = _check.probability(name, "pct_start", pct_start)
        div_factor = _check.real(name, "div_factor", div_factor, 0.0, low_open=True)
        final_div_factor = _check.real(
            name, "final_div_factor", final_div_factor, 0.0, low_open=True
        )
        cycle_momentum = _check.flag(name, "cycle_momentum", cycle_momentum)
        three_phase = _check.flag(name, "three_phase", three_phase)
        last_epoch = _check.count(name, "last_epoch", last_epoch, -1)
        n = self.total_steps
        self._schedule_phases: list[dict[str, Any]]
        if three_phase:
            self._schedule_phases = [
                {"end_step": float(pct_start * n) - 1, "start_lr": "initial_lr",
                 "end_lr": "max_lr", "start_momentum": "max_momentum",
                 "end_momentum": "base_momentum"},
                {"end_step": float(2 * pct_start * n) - 2, "start_lr": "max_lr",
                 "end_lr": "initial_lr", "start_momentum": "base_momentum",
                 "end_momentum": "max_momentum"},
                {"end_step": n - 1, "start_lr": "initial_lr", "end_lr": "min_lr",
                 "start_momentum": "max_momentum", "end_momentum": "max_momentum"},
            ]  # fmt: skip
        else:
            self._schedule_phases = [
                {"end_step": float(pct_start * n) - 1, "start_lr": "initial_lr",
                 "end_lr": "max_lr", "start_momentum": "max_momentum",
                 "end_momentum": "base_momentum"},
                {"end_step": n - 1, "start_lr": "max_lr", "end_lr": "min_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
            ]  # fmt: skip
        self._anneal_func_type = _check.choice(
            name, "anneal_strategy", anneal_strategy, ["cos", "linear"]
        )
        max_lrs = _format_param(name, "max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for m, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = m / div_factor
                group["max_lr"] = m
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ArgumentError(
                    f"{name}: cycle_momentum=True needs an optimizer with momentum or betas, got "
                    f"{type(optimizer).__name__}"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            maxes = _format_param(name, "max_momentum", optimizer, max_momentum)
            bases = _format_param(name, "base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for m, b, group in zip(maxes, bases, optimizer.param_groups):
                    if self.use_beta1:
                        group["betas"] = (m, *group["betas"][1:])
                    else:
                        group["momentum"] = m
                    group["max_momentum"] = m
                    group["base_momentum"] = b
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ArgumentError(
                f"OneCycleLR.step: tried to step {step} times, but total_steps is "
                f"{self.total_steps}"
            )
        lrs = []
        last = len(self._schedule_phases) - 1
        for group in self.optimizer.param_groups:
            start = 0.0
            lr = momentum = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end = phase["end_step"]
                if step <= end or i == last:
                    pct = (step - start) / (end - start)
                    lr = self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        momentum = self._anneal(
                            group[phase["start_momentum"]], group[phase["end_momentum"]], pct
                        )
                    break
                start = phase["end_step"]
            lrs.append(lr)
            if self.cycle_momentum:
                if self.use_beta1:
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum
        return lrs


class ReduceLROnPlateau(LRScheduler):
    """Reduces the learning rate when a monitored metric stops improving.

    Call ``step(metric)`` after each validation. When ``patience`` epochs in a row bring no
    improvement (better than the best by more than ``threshold``), every group's rate is
    multiplied by ``factor`` (not below ``min_lr``), then ``cooldown`` epochs pass before
    bad epochs count again.

    Parameters
    ----------
    optimizer : Optimizer
    mode : {"min", "max"}
        Whether the metric should decrease (a loss) or increase (an accuracy).
    factor : float
        ``new_lr = lr * factor``; must be below 1 (default 0.1).
    patience : int
        Bad epochs tolerated before reducing (default 10).
    threshold : float
        Minimum change that counts as an improvement (default 1e-4).
    threshold_mode : {"rel", "abs"}
        ``best * (1 -/+ threshold)`` or ``best -/+ threshold`` (default "rel").
    cooldown : int
        Epochs to wait after a reduction (default 0).
    min_lr : float or list of float
        Lower bound on the learning rate, per group (default 0).
    eps : float
        Reductions smaller than this are skipped (default 1e-8).

    Examples
    --------
    >>> from ferrograd import nn, optim
    >>> opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=1.0)
    >>> sched = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    >>> for val_loss in [1.0, 0.9, 0.95, 0.97]:
    ...     sched.step(val_loss)
    >>> sched.get_last_lr()
    [0.5]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: Union[float, list[float]] = 0.0,
        eps: float = 1e-8,
    ) -> None:
        name = "ReduceLROnPlateau"
        self.factor = _check.real(name, "factor", factor, 0.0, 1.0, high_open=True)
        self.optimizer = _optimizer(name, optimizer)
        self.min_lrs = _format_param(name, "min_lr", optimizer, min_lr)
        self.default_min_lr: float | None = (
            None if isinstance(min_lr, (list, tuple)) else self.min_lrs[0]
        )
        self.patience = _check.count(name, "patience", patience)
        self.cooldown = _check.count(name, "cooldown", cooldown)
        self.eps = _check.real(name, "eps", eps, 0.0)
        self.last_epoch = 0
        self._last_lr = self._lrs()
        self._init_is_better(mode, threshold, threshold_mode)
        self._reset()

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics: Any, epoch: int | None = None) -> None:  # type: ignore[override]
        """Records this epoch's metric and reduces the learning rate if it has plateaued."""
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise DTypeError(
                f"ReduceLROnPlateau.step: metrics must be a number, got {metrics!r}"
            ) from None
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(_EPOCH_WARNING, UserWarning, stacklevel=2)
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._lrs()

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"The number of param groups in the optimizer ({len(groups)}) differs from "
                    f"when ReduceLROnPlateau was initialized ({len(self.min_lrs)}); set "
                    "min_lrs to match"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for i, group in enumerate(groups):
            old = float(group["lr"])
            new = max(old * self.factor, self.min_lrs[i])
            if old - new > self.eps:
                group["lr"] = new

    @property
    def in_cooldown(self) -> bool:
        """Whether the scheduler is waiting after a reduction."""
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        name = "ReduceLROnPlateau"
        _check.choice(name, "mode", mode, ["min", "max"])
        _check.choice(name, "threshold_mode", threshold_mode, ["rel", "abs"])
        threshold = _check.real(name, "threshold", threshold, 0.0)
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores the state saved by :meth:`state_dict`."""
        super().load_state_dict(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)


class LambdaLR(LRScheduler):
    """The base learning rate times a function of the epoch: ``lr = base_lr * lr_lambda(epoch)``.

    Parameters
    ----------
    optimizer : Optimizer
    lr_lambda : callable or list of callables
        ``epoch -> factor``; one for all groups, or one per parameter group.
    last_epoch : int
        See :class:`LRScheduler`.

    Notes
    -----
    ``state_dict()`` holds no functions (as in PyTorch): for each ``lr_lambda`` it keeps
    ``None`` for a plain function or lambda, and the attributes (``__dict__``) of a callable
    object, which :meth:`load_state_dict` restores. Create the scheduler with the same
    functions before loading.

    Examples
    --------
    >>> from ferrograd import nn, optim
    >>> opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=1.0)
    >>> sched = optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.5**epoch)
    >>> lrs = [sched.get_last_lr()[0]]
    >>> for _ in range(3):
    ...     sched.step()
    ...     lrs.append(sched.get_last_lr()[0])
    >>> lrs
    [1.0, 0.5, 0.25, 0.125]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Union[Callable[[int], float], Sequence[Callable[[int], float]]],
        last_epoch: int = -1,
    ) -> None:
        name = "LambdaLR"
        groups = len(_optimizer(name, optimizer).param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != groups:
                raise ArgumentError(
                    f"{name}: expected {groups} lr_lambdas (one per parameter group), got "
                    f"{len(lr_lambda)}"
                )
            lambdas = list(lr_lambda)
        else:
            lambdas = [lr_lambda] * groups
        for i, fn in enumerate(lambdas):
            if not callable(fn):
                raise DTypeError(
                    f"{name}: lr_lambda must be a function of the epoch (or a list of them), "
                    f"got {fn!r} at index {i}"
                )
        self.lr_lambdas: list[Callable[[int], float]] = lambdas
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        out = []
        for fn, base in zip(self.lr_lambdas, self.base_lrs):
            factor = fn(self.last_epoch)
            out.append(base * _check.real("LambdaLR", f"lr_lambda({self.last_epoch})", factor))
        return out

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer; each function as None, a callable object as its
        attributes."""
        state = {
            k: copy.deepcopy(v)
            for k, v in self.__dict__.items()
            if k not in ("optimizer", "lr_lambdas")
        }
        state["lr_lambdas"] = [
            None if isinstance(fn, types.FunctionType) else copy.deepcopy(vars(fn))
            for fn in self.lr_lambdas
        ]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores the state saved by :meth:`state_dict` (the functions are kept)."""
        state = {k: v for k, v in state_dict.items() if k != "lr_lambdas"}
        self.__dict__.update(copy.deepcopy(state))
        for fn, attrs in zip(self.lr_lambdas, state_dict.get("lr_lambdas", [])):
            if attrs is not None:
                fn.__dict__.update(copy.deepcopy(attrs))


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""Cosine annealing with warm restarts (SGDR, Loshchilov and Hutter, 2017).

    .. math::
        \eta_t = \eta_{min} + \tfrac12 (\eta_{base} - \eta_{min})
                 (1 + \cos(\pi T_{cur} / T_i))

    where ``T_cur`` counts the epochs since the last restart and ``T_i`` is the length of
    the current period: ``T_0`` first, multiplied by ``T_mult`` at each restart.

    Parameters
    ----------
    optimizer : Optimizer
    T_0 : int
        Length of the first period, in epochs.
    T_mult : int
        Factor by which each period is longer than the one before (default 1).
    eta_min : float
        Smallest learning rate (default 0).
    last_epoch : int
        See :class:`LRScheduler`.

    Notes
    -----
    ``step()`` advances one epoch; ``step(epoch)`` jumps to ``epoch``, which may be a float,
    so that the rate can follow the batches: ``step(epoch + i / iters)`` after batch ``i`` of
    ``iters`` (as PyTorch documents; no deprecation warning here).

    Examples
    --------
    >>> from ferrograd import nn, optim
    >>> opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=1.0)
    >>> sched = optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2)
    >>> lrs = [sched.get_last_lr()[0]]
    >>> for _ in range(4):
    ...     sched.step()
    ...     lrs.append(round(sched.get_last_lr()[0], 12))
    >>> lrs
    [1.0, 0.5, 1.0, 0.5, 1.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_0: int,
        T_mult: int = 1,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        name = "CosineAnnealingWarmRestarts"
        self.T_0 = _check.positive(name, "T_0", T_0)
        self.T_i: float = self.T_0
        self.T_mult = _check.count(name, "T_mult", T_mult, 1)
        self.eta_min = _check.real(name, "eta_min", eta_min)
        self.T_cur: float = _check.count(name, "last_epoch", last_epoch, -1)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lo = self.eta_min
        cos = math.cos(math.pi * self.T_cur / self.T_i)
        return [lo + (b - lo) * (1 + cos) / 2 for b in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:  # type: ignore[override]
        """Advances one epoch, or jumps to ``epoch`` (a non-negative int or float)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            epoch = _check.real("CosineAnnealingWarmRestarts.step", "epoch", epoch, 0.0)
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    # the restart n before epoch: T_0 (T_mult^n - 1) / (T_mult - 1) <= epoch
                    n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult**n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = self._lrs()


class SequentialLR(LRScheduler):
    """Runs schedulers one after another, switching at the milestone epochs.

    Scheduler ``k`` runs from ``milestones[k - 1]`` (0 for the first) and restarts from its
    own epoch 0 when its turn comes, as in PyTorch.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer all ``schedulers`` were made for.
    schedulers : list of LRScheduler
        At least one; not :class:`ReduceLROnPlateau`.
    milestones : list of int
        Epochs at which the next scheduler takes over; one fewer than the schedulers.
    last_epoch : int
        See :class:`LRScheduler`.

    Examples
    --------
    >>> from ferrograd import nn, optim
    >>> from ferrograd.optim import lr_scheduler as S
    >>> opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=1.0)
    >>> warmup = S.LinearLR(opt, start_factor=0.25, total_iters=3)
    >>> decay = S.ExponentialLR(opt, gamma=0.5)
    >>> sched = S.SequentialLR(opt, [warmup, decay], milestones=[3])
    >>> lrs = [sched.get_last_lr()[0]]
    >>> for _ in range(5):
    ...     sched.step()
    ...     lrs.append(sched.get_last_lr()[0])
    >>> lrs
    [0.25, 0.5, 0.75, 1.0, 0.5, 0.25]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: Sequence[LRScheduler],
        milestones: Sequence[int],
        last_epoch: int = -1,
    ) -> None:
        name = "SequentialLR"
        self.optimizer = _optimizer(name, optimizer)
        if not isinstance(schedulers, (list, tuple)):
            raise DTypeError(
                f"{name}: schedulers must be a list of schedulers, got {type(schedulers).__name__}"
            )
        if not schedulers:
            raise ArgumentError(f"{name}: expects at least one scheduler, got none")
        for i, sched in enumerate(schedulers):
            if isinstance(sched, ReduceLROnPlateau):
                raise ArgumentError(
                    f"{name}: ReduceLROnPlateau (at index {i}) is not supported, as its step "
                    "needs the metric"
                )
            if not isinstance(sched, LRScheduler):
                raise DTypeError(
                    f"{name}: schedulers[{i}] must be a learning-rate scheduler, got "
                    f"{type(sched).__name__}"
                )
            if sched.optimizer is not optimizer:
                raise ArgumentError(
                    f"{name}: all schedulers must belong to the same optimizer, but "
                    f"schedulers[{i}] ({type(sched).__name__}) has a different one"
                )
        if isinstance(milestones, (str, bytes)) or not isinstance(milestones, (list, tuple)):
            raise DTypeError(f"{name}: milestones must be a list of ints, got {milestones!r}")
        if len(milestones) != len(schedulers) - 1:
            raise ArgumentError(
                f"{name}: expects one milestone fewer than schedulers, got {len(schedulers)} "
                f"schedulers and {len(milestones)} milestones"
            )
        self._milestones = [
            _check.count(name, f"milestones[{i}]", m) for i, m in enumerate(milestones)
        ]
        self._schedulers = list(schedulers)
        self.last_epoch = _check.count(name, "last_epoch", last_epoch, -1) + 1
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        # Undo the initial step that each scheduler took when it was made ...
        self._recursive_undo()
        # ... and take it again for the one that runs at epoch 0.
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = self._schedulers[idx].get_last_lr()

    def _recursive_undo(self, sched: Any = None) -> None:
        scheds = self if sched is None else sched
        if hasattr(scheds, "_schedulers"):
            for s in scheds._schedulers:
                self._recursive_undo(s)
        elif hasattr(scheds, "last_epoch"):
            scheds.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]
        """Advances one epoch with the scheduler whose turn it is."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        sched = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            sched._update_lr(0)  # its turn starts: its epoch 0
        else:
            sched.step()
        self._last_lr = sched.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer, with each scheduler's own state dict."""
        state = {
            k: copy.deepcopy(v)
            for k, v in self.__dict__.items()
            if k not in ("optimizer", "_schedulers")
        }
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores the state saved by :meth:`state_dict`, and each scheduler's."""
        state = {k: v for k, v in state_dict.items() if k != "_schedulers"}
        self.__dict__.update(copy.deepcopy(state))
        for sched, sub in zip(self._schedulers, state_dict["_schedulers"]):
            sched.load_state_dict(sub)
