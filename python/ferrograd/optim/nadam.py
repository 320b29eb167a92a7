"""NAdam: Adam with Nesterov momentum and a momentum schedule."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core
from ..tensor import Tensor
from ._adam_family import AdamFamily

__all__ = ["NAdam"]


class NAdam(AdamFamily):
    r"""NAdam with PyTorch's update rule (``torch.optim.NAdam``).

    For each parameter :math:`p` with gradient :math:`g` (negated when ``maximize``), at its
    step :math:`t` (counted per parameter, from 1), with momentum decay :math:`\psi`:

    .. math::
        g &\leftarrow g + \lambda p \quad (\text{weight\_decay } \lambda \ne 0;
             \text{ or } p \leftarrow p (1 - \text{lr} \cdot \lambda) \text{ when decoupled}) \\
        \mu_t &= \beta_1 (1 - \tfrac12 \, 0.96^{t \psi}) \\
        m &\leftarrow \beta_1 m + (1 - \beta_1) g \\
        v &\leftarrow \beta_2 v + (1 - \beta_2) g^2 \\
        d &= \sqrt{v / (1 - \beta_2^t)} + \epsilon \\
        p &\leftarrow p - \text{lr} \frac{1 - \mu_t}{1 - \prod_{i \le t} \mu_i} \frac{g}{d}
             - \text{lr} \frac{\mu_{t+1}}{1 - \prod_{i \le t+1} \mu_i} \frac{m}{d}

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters or parameter groups (see :class:`Optimizer`).
    lr : float
        Learning rate (default 2e-3).
    betas : tuple of float
        :math:`(\beta_1, \beta_2)`, decay rates of the moments (default (0.9, 0.999)).
    eps : float
        Added to the denominator (default 1e-8).
    weight_decay : float
        Weight decay (default 0): an L2 penalty folded into the gradient, or decoupled.
    momentum_decay : float
        :math:`\psi` of the momentum schedule (default 4e-3).
    decoupled_weight_decay : bool
        Decay the weights directly, as AdamW does (NAdamW).
    maximize : bool
        Maximize the objective instead of minimizing it.

    Notes
    -----
    State per parameter: ``step`` and ``mu_product`` (0-d float64 arrays: the step count and
    the product of the :math:`\mu_i` so far), ``exp_avg`` and ``exp_avg_sq``.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn, optim
    >>> w = nn.Parameter(np.array([1.0, -2.0]))
    >>> opt = optim.NAdam([w], lr=0.1)
    >>> w.grad = np.array([0.5, -0.5])
    >>> opt.step()
    >>> np.round(w.data, 4).tolist()
    [0.8944, -1.8944]
    """

    _reals = ("momentum_decay",)
    _flags = ("decoupled_weight_decay", "maximize")

    _scalar_state = ("step", "mu_product")

    def __init__(
        self,
        params: Any,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
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
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )

    def _step_group(
        self, group: dict[str, Any], params: list[Tensor], grads: list[np.ndarray]
    ) -> None:
        (m, v), steps = self._gather(params, ("exp_avg", "exp_avg_sq"))
        products = []
        for p in params:
            prod = self.state[p].get("mu_product")
            products.append(1.0 if prod is None else float(prod))
        beta1, beta2 = group["betas"]
        new_products = _core.nadam_step(
            [p.data for p in params],
            grads,
            m,
            v,
            steps,
            products,
            lr=float(group["lr"]),
            beta1=float(beta1),
            beta2=float(beta2),
            eps=float(group["eps"]),
            weight_decay=float(group["weight_decay"]),
            momentum_decay=float(group["momentum_decay"]),
            decoupled_weight_decay=bool(group["decoupled_weight_decay"]),
            maximize=bool(group["maximize"]),
        )
        self._commit_steps(params, steps)
        for p, prod in zip(params, new_products):
            self.state[p]["mu_product"] = np.array(prod, dtype=np.float64)
