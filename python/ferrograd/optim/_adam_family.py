"""What Adam, NAdam and RAdam share: their defaults and the check of their parameter groups."""

from __future__ import annotations

from typing import Any, ClassVar

from .. import _check
from .optimizer import Optimizer


class AdamFamily(Optimizer):
    """An optimizer with Adam's hyperparameters (``lr``, ``betas``, ``eps``,
    ``weight_decay``) plus the non-negative reals ``_reals`` and the flags ``_flags`` of the
    subclass, all checked by :func:`ferrograd._check.adam_group`."""

    _reals: ClassVar[tuple[str, ...]] = ()
    _flags: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        params: Any,
        *,
        lr: float,
        betas: tuple[float, float],
        eps: float,
        weight_decay: float,
        **more: Any,
    ) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, **more)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check.adam_group(type(self).__name__, group, self._reals, self._flags)
