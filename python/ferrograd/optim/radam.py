"""RAdam: Adam with the variance of its adaptive learning rate rectified."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core
from ..tensor import Tensor
from ._adam_family import AdamFamily

__all__ = ["RAdam"]


class RAdam(AdamFamily):
    r"""RAdam with PyTorch's update rule (``torch.optim.RAdam``).

    For each parameter :math:`p` with gradient :math:`g` (negated when ``maximize``), at its
    step :math:`t` (counted per parameter, from 1):

    .. math::
        g &\leftarrow g + \lambda p \quad (\text{weight\_decay } \lambda \ne 0;
             \text{ or } p \leftarrow p (1 - \text{lr} \cdot \lambda) \text{ when decoupled}) \\
        m &\leftarrow \beta_1 m + (1 - \beta_1) g, \quad
        v \leftarrow \beta_2 v + (1 - \beta_2) g^2, \quad
        \hat m = m / (1 - \beta_1^t) \\
        \rho_\infty &= 2 / (1 - \beta_2) - 1, \quad
        \rho_t = \rho_\infty - 2 t \beta_2^t / (1 - \beta_2^t) \\
        p &\leftarrow p - \text{lr} \, \hat m \, r_t
             \frac{\sqrt{1 - \beta_2^t}}{\sqrt{v} + \epsilon}
             \text{ if } \rho_t > 5, \text{ else } p - \text{lr} \, \hat m \\
        r_t &= \sqrt{\frac{(\rho_t - 4)(\rho_t - 2)\rho_\infty}
                          {(\rho_\infty - 4)(\rho_\infty - 2)\rho_t}}

    With the default :math:`\beta_2 = 0.999` the first five steps are plain momentum steps.

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
        Weight decay (default 0): an L2 penalty folded into the gradient, or decoupled.
    decoupled_weight_decay : bool
        Decay the weights directly, as AdamW does (RAdamW).
    maximize : bool
        Maximize the objective instead of minimizing it.

    Notes
    -----
    State per parameter: ``step`` (0-d float64 array), ``exp_avg`` and ``exp_avg_sq``.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn, optim
    >>> w = nn.Parameter(np.array([1.0]))
    >>> opt = optim.RAdam([w], lr=0.1)
    >>> w.grad = np.array([2.0])
    >>> opt.step()
    >>> w.data.tolist()
    [0.8]
    """

    _flags = ("decoupled_weight_decay", "maximize")

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )

    def _step_group(
        self, group: dict[str, Any], params: list[Tensor], grads: list[np.ndarray]
    ) -> None:
        (m, v), steps = self._gather(params, ("exp_avg", "exp_avg_sq"))
        beta1, beta2 = group["betas"]
        _core.radam_step(
            [p.data for p in params],
            grads,
            m,
            v,
            steps,
            lr=float(group["lr"]),
            beta1=float(beta1),
            beta2=float(beta2),
            eps=float(group["eps"]),
            weight_decay=float(group["weight_decay"]),
            decoupled_weight_decay=bool(group["decoupled_weight_decay"]),
            maximize=bool(group["maximize"]),
        )
        self._commit_steps(params, steps)
