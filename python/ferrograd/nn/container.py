"""Containers: layers in sequence, or in a list."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

from .module import Module


class Sequential(Module):
    """Runs its modules one after another; children are named "0", "1", ... as in PyTorch.

    Examples
    --------
    >>> from ferrograd import nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> [k for k in model.state_dict()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, *modules: Any):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, idx: int | slice) -> Any:
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return Sequential(*mods[idx])
        return mods[idx]

    def __setitem__(self, idx: int, module: Module) -> None:
        """Replaces the module at ``idx`` (keeping its name), e.g. a new head for fine-tuning."""
        if not isinstance(module, Module):
            raise TypeError(
                f"Sequential: only Modules can be assigned, got {type(module).__name__}"
            )
        self._modules[self._name_at(idx)] = module

    def __delitem__(self, idx: int | slice) -> None:
        names = list(self._modules)
        targets = names[idx] if isinstance(idx, slice) else [self._name_at(idx)]
        for name in targets:
            del self._modules[name]
        if all(name.isdigit() for name in names):
            # Keep the names 0, 1, 2, ... as PyTorch does.
            kept = list(self._modules.values())
            self._modules.clear()
            for i, m in enumerate(kept):
                self._modules[str(i)] = m

    def _name_at(self, idx: int) -> str:
        names = list(self._modules)
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise TypeError(f"Sequential: indices must be ints, got {type(idx).__name__}")
        if not -len(names) <= idx < len(names):
            raise IndexError(f"Sequential: index {idx} is out of range for {len(names)} modules")
        return names[idx]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        """Adds a module at the end."""
        self.add_module(str(len(self._modules)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered ("0", "1", ...)."""

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        for m in modules or []:
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        """Adds a module at the end."""
        self.add_module(str(len(self._modules)), module)
        return self

    def __getitem__(self, idx: int) -> Any:
        return list(self._modules.values())[idx]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())
