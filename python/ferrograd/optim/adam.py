"""Adam and AdamW: adaptive moments, with coupled or decoupled weight decay."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core
from ..tensor import Tensor
from ._adam_family import AdamFamily

__all__ = ["Adam", "AdamW"]


class Adam(AdamFamily):
    r"""Adam with PyTorch's update rule (``torch.optim.Adam``).

    For each parameter :math:`p` with gradient :math:`g` (negated when ``maximize``), at its
    step :math:`t` (counted per parameter, from 1):

    .. math::
        g &\leftarrow g + \lambda p \quad (\text{weight\_decay } \lambda \ne 0) \\
        m &\leftarrow \beta_1 m + (1 - \beta_1) g \\
        v &\leftarrow \beta_2 v + (1 - \beta_2) g^2 \\
        \hat v &\leftarrow \max(\hat v, v) \text{ with amsgrad, else } v \\
        p &\leftarrow p - \frac{\text{lr}}{1 - \beta_1^t} \cdot
             \frac{m}{\sqrt{\hat v} / \sqrt{1 - \beta_2^t} + \epsilon}

    (``eps`` is added after the square root and the bias correction.)

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters or parameter groups (see :class:`Optimizer`).
    lr : float
        Learning rate (default 1e-3).
    betas : tuple of float
        :math:`(\beta_1, \beta_2)`, decay rates of the moments (default (0.9, 0.999)).
    eps : float
        Added to the denominator (default 1e-8).
    weight_decay : float
        Coupled weight decay, an L2 penalty folded into the gradient (default 0). For
        decoupled decay use :class:`AdamW`.
    amsgrad : bool
        Use the running maximum of the second moment (AMSGrad).
    maximize : bool
        Maximize the objective instead of minimizing it.
    decoupled_weight_decay : bool
        Decay the weights directly, as :class:`AdamW` does.

    Notes
    -----
    State per parameter: ``step`` (0-d float64 array), ``exp_avg``, ``exp_avg_sq`` and, with
    amsgrad, ``max_exp_avg_sq``.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn, optim
    >>> w = nn.Parameter(np.array([1.0, -2.0]))
    >>> opt = optim.Adam([w], lr=0.1)
    >>> w.grad = np.array([0.5, 0.5])
    >>> opt.step()
    >>> np.round(w.data, 6).tolist()
    [0.9, -2.1]
    """

    _flags = ("amsgrad", "maximize", "decoupled_weight_decay")

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )

    def _step_group(
        self, group: dict[str, Any], params: list[Tensor], grads: list[np.ndarray]
    ) -> None:
        data = [p.data for p in params]
        self._run_update(
            group,
            params,
            lambda m, v, vmax, steps, **hp: _core.adam_step(data, grads, m, v, vmax, steps, **hp),
        )

    def _run_update(self, group: dict[str, Any], params: list[Tensor], kernel: Any) -> Any:
        """Gathers the moments and step numbers of ``params``, calls
        ``kernel(exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, **hyperparameters)`` (the eager
        step's kernel or a captured training step's) and records the steps once it succeeds."""
        amsgrad = bool(group["amsgrad"])
        keys = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if amsgrad else ("exp_avg", "exp_avg_sq")
        cols, steps = self._gather(params, keys)
        beta1, beta2 = group["betas"]
        result = kernel(
            cols[0],
            cols[1],
            cols[2] if amsgrad else None,
            steps,
            lr=float(group["lr"]),
            beta1=float(beta1),
            beta2=float(beta2),
            eps=float(group["eps"]),
            weight_decay=float(group["weight_decay"]),
            amsgrad=amsgrad,
            maximize=bool(group["maximize"]),
            decoupled_weight_decay=bool(group.get("decoupled_weight_decay", False)),
        )
        self._commit_steps(params, steps)
        return result


class AdamW(Adam):
    r"""Adam with decoupled weight decay (``torch.optim.AdamW``).

    Before the Adam update the weights shrink directly, :math:`p \leftarrow p (1 -
    \text{lr} \cdot \lambda)`, instead of adding :math:`\lambda p` to the gradient; the
    decay then does not pass through the adaptive scaling, so every weight decays at the
    same rate whatever the size of its gradients.

    Parameters
    ----------
    params, lr, betas, eps, amsgrad, maximize
        As for :class:`Adam`.
    weight_decay : float
        Decoupled weight decay coefficient :math:`\lambda` (default 1e-2).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn, optim
    >>> w = nn.Parameter(np.array([1.0]))
    >>> opt = optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = np.array([0.0])
    >>> opt.step()
    >>> w.data.tolist()
    [0.95]
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )
