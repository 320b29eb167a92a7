"""Stochastic gradient descent, optionally with (Nesterov) momentum."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _check, _core
from ..exceptions import ArgumentError
from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent with PyTorch's update rule (``torch.optim.SGD``).

    For each parameter :math:`p` with gradient :math:`g` (negated when ``maximize``):

    .. math::
        g &\leftarrow g + \lambda p \quad (\text{weight\_decay } \lambda \ne 0) \\
        b &\leftarrow g \text{ on the first step, else } \mu b + (1 - \tau) g \\
        g &\leftarrow g + \mu b \text{ (nesterov) or } b \quad (\mu \ne 0) \\
        p &\leftarrow p - \text{lr} \cdot g

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters or parameter groups (see :class:`Optimizer`).
    lr : float
        Learning rate (default 1e-3).
    momentum : float
        Momentum factor :math:`\mu` (default 0).
    dampening : float
        Dampening :math:`\tau` of the momentum (default 0).
    weight_decay : float
        Coupled weight decay (an L2 penalty folded into the gradient; default 0).
    nesterov : bool
        Nesterov momentum (needs momentum > 0 and dampening 0).
    maximize : bool
        Maximize the objective instead of minimizing it.

    Notes
    -----
    State per parameter: ``momentum_buffer`` (only when momentum is non-zero).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn, optim
    >>> w = nn.Parameter(np.array([1.0, -2.0]))
    >>> opt = optim.SGD([w], lr=0.1, momentum=0.9)
    >>> w.grad = np.array([1.0, 1.0])
    >>> opt.step()
    >>> w.data.tolist()
    [0.9, -2.1]
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        name = "SGD"
        group["lr"] = _check.real(name, "lr", group["lr"], 0.0, finite=False)
        momentum = group["momentum"] = _check.real(name, "momentum", group["momentum"], 0.0)
        dampening = group["dampening"] = _check.real(name, "dampening", group["dampening"])
        group["weight_decay"] = _check.real(name, "weight_decay", group["weight_decay"], 0.0)
        group["nesterov"] = _check.flag(name, "nesterov", group["nesterov"])
        group["maximize"] = _check.flag(name, "maximize", group["maximize"])
        if group["nesterov"] and (momentum <= 0 or dampening != 0):
            raise ArgumentError(
                f"SGD: nesterov=True needs momentum > 0 and dampening 0, got momentum="
                f"{momentum} and dampening={dampening}"
            )

    def _step_group(
        self, group: dict[str, Any], params: list[Tensor], grads: list[np.ndarray]
    ) -> None:
        data = [p.data for p in params]
        self._run_update(
            group, params, lambda bufs, fresh, **hp: _core.sgd_step(data, grads, bufs, fresh, **hp)
        )

    def _run_update(self, group: dict[str, Any], params: list[Tensor], kernel: Any) -> Any:
        """Gathers the momentum state of ``params`` and calls
        ``kernel(momentum_buffers, fresh, **hyperparameters)``, the eager step's kernel or a
        captured training step's. If it fails, buffers made for it stay "without history"."""
        bufs = None
        fresh: list[bool] = []
        if group["momentum"] != 0:
            items = self.state._items
            for p in params:
                item = items.get(id(p))
                fresh.append(item is None or item[1].get("momentum_buffer") is None)
            (bufs,), _ = self._gather(params, ("momentum_buffer",))
        try:
            return kernel(
                bufs,
                fresh,
                lr=float(group["lr"]),
                momentum=float(group["momentum"]),
                dampening=float(group["dampening"]),
                weight_decay=float(group["weight_decay"]),
                nesterov=bool(group["nesterov"]),
                maximize=bool(group["maximize"]),
            )
        except Exception:
            # Nothing was updated: buffers made for this step must stay "without history".
            for p, new in zip(params, fresh):
                if new:
                    self.state[p].pop("momentum_buffer", None)
            raise
