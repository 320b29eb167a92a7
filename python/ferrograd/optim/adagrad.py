"""Adagrad: per-coordinate learning rates from the sum of squared gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _check, _core
from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad with PyTorch's update rule (``torch.optim.Adagrad``).

    For each parameter :math:`p` with gradient :math:`g` (negated when ``maximize``), at its
    step :math:`t` (counted per parameter, from 1):

    .. math::
        g &\leftarrow g + \lambda p \quad (\text{weight\_decay } \lambda \ne 0) \\
        \text{clr} &= \text{lr} / (1 + (t - 1) \cdot \text{lr\_decay}) \\
        s &\leftarrow s + g^2 \\
        p &\leftarrow p - \text{clr} \cdot g / (\sqrt{s} + \epsilon)

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters or parameter groups (see :class:`Optimizer`).
    lr : float
        Learning rate (default 1e-2).
    lr_decay : float
        Learning-rate decay per step (default 0).
    weight_decay : float
        Coupled weight decay (default 0).
    initial_accumulator_value : float
        Starting value of the sum of squares :math:`s` (default 0).
    eps : float
        Added to the denominator (default 1e-10).
    maximize : bool
        Maximize the objective instead of minimizing it.

    Notes
    -----
    State per parameter: ``step`` and ``sum``, created at a parameter's first update.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn, optim
    >>> w = nn.Parameter(np.array([1.0]))
    >>> opt = optim.Adagrad([w], lr=0.1)
    >>> w.grad = np.array([3.0])
    >>> opt.step()
    >>> round(float(w.data[0]), 6)
    0.9
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        name = "Adagrad"
        group["lr"] = _check.real(name, "lr", group["lr"], 0.0, finite=False)
        for key in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            group[key] = _check.real(name, key, group[key], 0.0)
        group["maximize"] = _check.flag(name, "maximize", group["maximize"])

    def _step_group(
        self, group: dict[str, Any], params: list[Tensor], grads: list[np.ndarray]
    ) -> None:
        data = [p.data for p in params]
        self._run_update(
            group,
            params,
            lambda sums, steps, **hp: _core.adagrad_step(data, grads, sums, steps, **hp),
        )

    def _run_update(self, group: dict[str, Any], params: list[Tensor], kernel: Any) -> Any:
        """Gathers the sums and step numbers of ``params``, calls ``kernel(state_sums, steps,
        **hyperparameters)`` (the eager step's kernel or a captured training step's) and
        records the steps once it succeeds."""
        init = float(group["initial_accumulator_value"])
        (sums,), steps = self._gather(params, ("sum",), init)
        result = kernel(
            sums,
            steps,
            lr=float(group["lr"]),
            lr_decay=float(group["lr_decay"]),
            weight_decay=float(group["weight_decay"]),
            eps=float(group["eps"]),
            maximize=bool(group["maximize"]),
        )
        self._commit_steps(params, steps)
        return result
