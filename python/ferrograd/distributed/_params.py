"""The tensors a distributed call works on, taken from a module, an optimizer or a list."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..nn.module import Module
from ..optim.optimizer import Optimizer
from ..tensor import Tensor


def tensors_of(caller: str, params: Any) -> list[Tensor]:
    """The parameters of a Module or an Optimizer, or the Tensors of an iterable, in order
    and each once."""
    if isinstance(params, Module):
        items: Iterable[Any] = params.parameters()
    elif isinstance(params, Optimizer):
        items = (p for group in params.param_groups for p in group["params"])
    elif isinstance(params, Tensor):
        items = [params]
    elif isinstance(params, Iterable):
        items = params
    else:
        raise TypeError(
            f"{caller}: expected a Module, an Optimizer or an iterable of Tensors, got "
            f"{type(params).__name__}"
        )
    out: list[Tensor] = []
    seen: set[int] = set()
    for i, p in enumerate(items):
        if not isinstance(p, Tensor):
            raise TypeError(f"{caller}: params[{i}] is {type(p).__name__}, not a Tensor")
        if id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out
