"""Parameters: tensors that a module owns and an optimizer updates."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor


class Parameter(Tensor):
    """A tensor registered as a learnable parameter when assigned to a :class:`Module`.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd.nn import Parameter
    >>> Parameter(np.zeros(3)).requires_grad
    True
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
