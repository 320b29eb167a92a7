"""Containers: layers in sequence, in a list or by name, and parameters in a list."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from ..exceptions import ArgumentError, DTypeError
from ..tensor import Tensor
from .module import Module
from .parameter import Parameter


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
        """The module at ``idx``; a slice gives a Sequential of the same module objects
        under their own names, as in PyTorch (``model[1:3]`` holds ``"1"`` and ``"2"``)."""
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return self._modules[self._name_at(idx)]

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


def _key(func: str, key: Any) -> str:
    """A child's name: a string without dots (dots separate names in a state dict)."""
    if not isinstance(key, str):
        raise DTypeError(f"{func}: keys must be strings, got {key!r} ({type(key).__name__})")
    if "." in key or key == "":
        raise ArgumentError(f"{func}: a key must be a non-empty string without '.', got {key!r}")
    return key


class ModuleDict(Module):
    """Modules by name, registered so that their parameters are found and saved.

    Behaves like an ordered ``dict`` of str to :class:`Module` (insertion order). The
    state-dict names are ``<key>.<parameter>``, as in PyTorch.

    Parameters
    ----------
    modules : mapping or iterable of (str, Module) pairs, optional

    Examples
    --------
    >>> from ferrograd import nn
    >>> heads = nn.ModuleDict({"cls": nn.Linear(4, 3), "box": nn.Linear(4, 2)})
    >>> list(heads.state_dict())
    ['cls.weight', 'cls.bias', 'box.weight', 'box.bias']
    >>> heads["cls"].out_features, "box" in heads, len(heads)
    (3, True, 2)
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(key)
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(_key("ModuleDict", key), module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> Any:
        """The names, in insertion order."""
        return self._modules.keys()

    def items(self) -> Any:
        """(name, module) pairs."""
        return self._modules.items()

    def values(self) -> Any:
        """The modules."""
        return self._modules.values()

    def pop(self, key: str) -> Module:
        """Removes the module ``key`` and returns it."""
        module = self[key]
        del self._modules[key]
        return module

    def clear(self) -> None:
        """Removes every module."""
        self._modules.clear()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Adds (or replaces) modules from a mapping or an iterable of (name, module) pairs."""
        if isinstance(modules, (Mapping, ModuleDict)):
            pairs = list(modules.items())
        elif isinstance(modules, (Module, str, bytes)) or not isinstance(modules, Iterable):
            raise DTypeError(
                "ModuleDict.update: modules must be a mapping or an iterable of (name, module) "
                f"pairs, got {type(modules).__name__}"
            )
        else:
            pairs = []
            for i, pair in enumerate(modules):
                if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                    raise DTypeError(
                        f"ModuleDict.update: element {i} must be a (name, module) pair, got "
                        f"{pair!r:.60}"
                    )
                pairs.append((pair[0], pair[1]))
        for key, module in pairs:
            self[key] = module


def _as_parameter(func: str, value: Any) -> Parameter:
    """``value`` as a Parameter: kept when it is one; a Tensor or float array becomes one."""
    if isinstance(value, Parameter):
        return value
    data = value.data if isinstance(value, Tensor) else value
    if not isinstance(data, np.ndarray) or data.dtype.kind != "f":
        raise DTypeError(
            f"{func}: values must be Parameters, Tensors or float arrays, got "
            f"{type(value).__name__}"
        )
    return Parameter(data)


class ParameterList(Module):
    """A list of parameters registered under the names ``"0"``, ``"1"``, ...

    Tensors and float arrays added to it become :class:`Parameter` objects (as in PyTorch,
    where a tensor given to a ParameterList is wrapped).

    Parameters
    ----------
    values : iterable of Parameter, Tensor or float ndarray, optional

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> scales = nn.ParameterList([nn.Parameter(np.ones(3)) for _ in range(2)])
    >>> scales.append(np.zeros(2))
    ParameterList(
      (0): Parameter containing: [float64 of shape (3,)]
      (1): Parameter containing: [float64 of shape (3,)]
      (2): Parameter containing: [float64 of shape (2,)]
    )
    >>> list(scales.state_dict()), len(list(scales.parameters()))
    (['0', '1', '2'], 3)
    """

    def __init__(self, values: Iterable[Any] | None = None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def _index(self, idx: Any) -> str:
        if isinstance(idx, (bool, np.bool_)) or not isinstance(idx, (int, np.integer)):
            raise DTypeError(f"ParameterList: indices must be ints, got {type(idx).__name__}")
        n = len(self._parameters)
        if not -n <= idx < n:
            raise IndexError(f"ParameterList: index {idx} is out of range for {n} parameters")
        return str(int(idx) % n)

    def __getitem__(self, idx: int | slice) -> Any:
        if isinstance(idx, slice):
            return ParameterList(list(self._parameters.values())[idx])
        return self._parameters[self._index(idx)]

    def __setitem__(self, idx: int, value: Any) -> None:
        self._parameters[self._index(idx)] = _as_parameter("ParameterList", value)

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters.values())

    def __iadd__(self, values: Iterable[Any]) -> ParameterList:
        return self.extend(values)

    def append(self, value: Any) -> ParameterList:
        """Adds a parameter at the end."""
        self._parameters[str(len(self._parameters))] = _as_parameter("ParameterList", value)
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        """Adds parameters at the end."""
        if isinstance(values, (Tensor, np.ndarray, str, bytes)) or not isinstance(values, Iterable):
            raise DTypeError(
                "ParameterList.extend: values must be an iterable of parameters, got "
                f"{type(values).__name__}"
            )
        for v in list(values):
            self.append(v)
        return self

    def __repr__(self) -> str:
        lines = [
            f"({k}): Parameter containing: [{p.dtype} of shape {p.shape}]"
            for k, p in self._parameters.items()
        ]
        return "ParameterList(\n  " + "\n  ".join(lines) + "\n)" if lines else "ParameterList()"
