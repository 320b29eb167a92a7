"""RMSprop: gradients scaled by a running root mean square."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _check, _core
from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop with PyTorch's update rule (``torch.optim.RMSprop``).

    For each parameter :math:`p` with gradient :math:`g` (negated when ``maximize``):

    .. math::
        g &\leftarrow g + \lambda p \quad (\text{weight\_decay } \lambda \ne 0) \\
        s &\leftarrow \alpha s + (1 - \alpha) g^2 \\
        d &\leftarrow \sqrt{s - a^2} + \epsilon \text{ with }
             a \leftarrow \alpha a + (1 - \alpha) g \text{ (centered), else } \sqrt{s} + \epsilon \\
        p &\leftarrow p - \text{lr} \cdot b \text{ with } b \leftarrow \mu b + g / d
             \quad (\mu > 0), \text{ else } p - \text{lr} \cdot g / d

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters or parameter groups (see :class:`Optimizer`).
    lr : float
        Learning rate (default 1e-2).
    alpha : float
        Smoothing constant of the square average (default 0.99).
    eps : float
        Added to the denominator after the square root (default 1e-8).
    weight_decay : float
        Coupled weight decay (default 0).
    momentum : float
        Momentum factor :math:`\mu` (default 0).
    centered : bool
        Normalize by an estimate of the gradient's variance instead of its second moment.
    maximize : bool
        Maximize the objective instead of minimizing it.

    Notes
    -----
    State per parameter: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0) and
    ``grad_avg`` (centered).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn, optim
    >>> w = nn.Parameter(np.array([1.0]))
    >>> opt = optim.RMSprop([w], lr=0.01)
    >>> w.grad = np.array([2.0])
    >>> opt.step()
    >>> round(float(w.data[0]), 4)
    0.9
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        name = "RMSprop"
        group["lr"] = _check.real(name, "lr", group["lr"], 0.0, finite=False)
        for key in ("alpha", "eps", "weight_decay", "momentum"):
            group[key] = _check.real(name, key, group[key], 0.0)
        group["centered"] = _check.flag(name, "centered", group["centered"])
        group["maximize"] = _check.flag(name, "maximize", group["maximize"])

    def _step_group(
        self, group: dict[str, Any], params: list[Tensor], grads: list[np.ndarray]
    ) -> None:
        data = [p.data for p in params]
        self._run_update(
            group,
            params,
            lambda sq, ga, bufs, **hp: _core.rmsprop_step(data, grads, sq, ga, bufs, **hp),
        )

    def _run_update(self, group: dict[str, Any], params: list[Tensor], kernel: Any) -> Any:
        """Gathers the state of ``params``, calls ``kernel(square_avgs, grad_avgs,
        momentum_buffers, **hyperparameters)`` (the eager step's kernel or a captured training
        step's) and records the steps once it succeeds."""
        keys = ["square_avg"]
        if group["centered"]:
            keys.append("grad_avg")
        if group["momentum"] > 0:
            keys.append("momentum_buffer")
        cols, steps = self._gather(params, tuple(keys))
        named = dict(zip(keys, cols))
        result = kernel(
            named["square_avg"],
            named.get("grad_avg"),
            named.get("momentum_buffer"),
            lr=float(group["lr"]),
            alpha=float(group["alpha"]),
            eps=float(group["eps"]),
            weight_decay=float(group["weight_decay"]),
            momentum=float(group["momentum"]),
            centered=bool(group["centered"]),
            maximize=bool(group["maximize"]),
        )
        self._commit_steps(params, steps)
        return result
