r"""Weight penalties for the loss, and how they relate to weight decay.

Three ways to keep weights small
--------------------------------
**Coupled weight decay** — ``weight_decay=λ`` of :class:`~ferrograd.optim.SGD`,
:class:`~ferrograd.optim.Adam`, :class:`~ferrograd.optim.RMSprop` and
:class:`~ferrograd.optim.Adagrad`. The optimizer adds ``λ * w`` to each gradient, which is
the gradient of the L2 penalty ``(λ/2) * sum w²`` added to the loss. With plain SGD it is
exactly L2 regularization. With adaptive optimizers (Adam, RMSprop, Adagrad) the added term
is divided by the same running gradient scale as the rest of the gradient, so weights with
large gradients are hardly decayed at all: the regularization is weaker and uneven.

**Decoupled weight decay** — :class:`~ferrograd.optim.AdamW`. The weights shrink directly,
``w <- w * (1 - lr * λ)``, outside the adaptive scaling, so every weight decays at the same
relative rate. This is the usual choice for Adam-style training (typical ``λ`` 1e-2 to
1e-1); note that the decay per step follows the learning-rate schedule.

**Explicit penalties** — :func:`l2_penalty` and :func:`l1_penalty` return differentiable
loss terms. Use them when the regularizer should be part of the objective: to report it in the
loss, to penalize only some parameters (say weights but not biases, though parameter groups
with ``weight_decay=0`` do that too), or for L1, which pushes weights to exactly zero
(sparsity) and has no weight-decay equivalent.

The 1/2 convention
------------------
``l2_penalty(params) = sum w²`` with no factor 1/2, so its gradient is ``2 w``. Adding
``(λ/2) * l2_penalty(params)`` to the loss is therefore the same as ``weight_decay=λ`` in
SGD (or coupled Adam). Do not combine both unless you mean to count the penalty twice.

Examples
--------
>>> import numpy as np
>>> from ferrograd import nn, tensor
>>> from ferrograd.nn.utils import l1_penalty, l2_penalty
>>> w = nn.Parameter(np.array([1.0, -2.0]))
>>> l2_penalty([w]).item(), l1_penalty([w]).item()
(5.0, 3.0)
>>> loss = 0.5 * l2_penalty([w])
>>> loss.backward()
>>> w.grad.tolist()
[1.0, -2.0]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Union

import numpy as np

from ... import _core
from ...autograd import record
from ...tensor import Tensor, get_default_dtype

__all__ = ["l1_penalty", "l2_penalty"]


def _penalty(kind: str, parameters: Union[Tensor, Iterable[Any]]) -> Tensor:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parents = list(parameters)
    arrays = [np.asarray(p.data if isinstance(p, Tensor) else p) for p in parents]
    if not arrays:
        return Tensor(np.zeros((), dtype=get_default_dtype()))
    dtype = np.result_type(*arrays)
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)
    value = _core.weight_penalty(arrays, kind)

    def backward(g: np.ndarray) -> tuple[Any, ...]:
        s = float(g)
        return tuple(
            _core.weight_penalty_backward(s, x, kind)
            if isinstance(p, Tensor) and p.requires_grad
            else None
            for p, x in zip(parents, arrays)
        )

    return record(np.asarray(value, dtype=dtype), parents, backward, f"{kind}_penalty")


def l1_penalty(parameters: Union[Tensor, Iterable[Any]]) -> Tensor:
    """``sum |w|`` over every element of every parameter, as a differentiable loss term.

    The gradient is ``sign(w)`` (0 where ``w`` is 0). Multiply by a coefficient and add it
    to the loss; it drives small weights to exactly zero.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        For example ``model.parameters()``, or only the weight matrices.

    Returns
    -------
    Tensor
        A 0-d tensor of the parameters' dtype (float64 when they mix dtypes).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> model = nn.Linear(3, 2)
    >>> reg = 1e-4 * l1_penalty(p for n, p in model.named_parameters() if n.endswith("weight"))
    >>> reg.shape
    ()
    """
    return _penalty("l1", parameters)


def l2_penalty(parameters: Union[Tensor, Iterable[Any]]) -> Tensor:
    """``sum w²`` over every element of every parameter, as a differentiable loss term.

    No factor 1/2: the gradient is ``2 w``, so ``loss + (λ/2) * l2_penalty(params)`` matches
    ``weight_decay=λ`` of SGD (see the module notes for AdamW's decoupled decay).

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        For example ``model.parameters()``.

    Returns
    -------
    Tensor
        A 0-d tensor of the parameters' dtype (float64 when they mix dtypes).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> w = nn.Parameter(np.array([3.0, 4.0]))
    >>> l2_penalty([w]).item()
    25.0
    """
    return _penalty("l2", parameters)
