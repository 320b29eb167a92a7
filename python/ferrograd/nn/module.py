"""The base class of every layer and model."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from .. import _check
from .._arrays import narrow_float
from ..exceptions import ArgumentError, DTypeError, FerrogradError, ShapeError
from ..tensor import Tensor
from .parameter import Parameter


def _to_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """(device, dtype) from the arguments of :meth:`Module.to`, as PyTorch reads them."""
    unknown = set(kwargs) - {"device", "dtype", "non_blocking"}
    if unknown:
        raise DTypeError(f"Module.to: unexpected keyword argument {sorted(unknown)[0]!r}")
    if len(args) > 2:
        raise DTypeError(f"Module.to: takes at most 2 positional arguments, got {len(args)}")
    _check.flag("Module.to", "non_blocking", kwargs.get("non_blocking", False))
    device, dtype = kwargs.get("device"), kwargs.get("dtype")
    for i, a in enumerate(args):
        if isinstance(a, str) or type(a).__name__ == "device":
            if device is not None or i > 0:
                raise DTypeError(f"Module.to: the device comes first and once, got {args!r}")
            device = a
        elif isinstance(a, (Tensor, np.ndarray)):
            dtype = a.dtype
        elif a is not None:
            if dtype is not None:
                raise DTypeError(f"Module.to: dtype given twice, got {args!r} and {kwargs!r}")
            dtype = a
    return device, dtype


def _check_device(func: str, device: Any) -> None:
    """The CPU ("cpu", "cpu:0" or a torch.device of type cpu), or an ArgumentError."""
    name = str(device)
    if not isinstance(device, str) and type(device).__name__ != "device":
        raise DTypeError(f"{func}: device must be a string such as 'cpu', got {device!r}")
    if name not in ("cpu", "cpu:0"):
        raise ArgumentError(
            f"{func}: ferrograd computes on the CPU only, so device must be 'cpu', got {name!r}"
        )


class IncompatibleKeys(NamedTuple):
    """What :meth:`Module.load_state_dict` found missing or unexpected (``strict=False``)."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of layers and models, with PyTorch's bookkeeping.

    Assigning a :class:`Parameter` or a :class:`Module` to an attribute registers it, so
    :meth:`parameters`, :meth:`state_dict` and friends find it by its dotted name.

    Examples
    --------
    >>> from ferrograd import nn
    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = nn.Linear(4, 2)
    ...     def forward(self, x):
    ...         return self.fc(x)
    >>> [name for name, _ in Net().named_parameters()]
    ['fc.weight', 'fc.bias']
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise FerrogradError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            )
        for d in (self._parameters, self._modules, self._buffers):
            d.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for store in ("_parameters", "_modules", "_buffers"):
            items = d.get(store)
            if items is not None and name in items:
                return items[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for d in (self._parameters, self._modules, self._buffers):
            if name in d:
                del d[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Registers ``param`` under ``name`` (None records an absent parameter)."""
        if param is None:
            self._parameters[name] = None
        else:
            setattr(self, name, param)

    def register_buffer(self, name: str, array: np.ndarray | None) -> None:
        """Registers non-learnable state (like BatchNorm's running mean) saved in state_dict."""
        self._parameters.pop(name, None)
        self._buffers[name] = array

    def add_module(self, name: str, module: Module | None) -> None:
        """Registers a child module under ``name``."""
        if module is not None and not isinstance(module, Module):
            what = (
                f"the class {module.__name__} (create an instance: {module.__name__}(...))"
                if isinstance(module, type)
                else f"{module!r} ({type(module).__name__})"
            )
            raise DTypeError(f"{type(self).__name__}: module {name!r} must be a Module, got {what}")
        self._modules[name] = module

    # ------------------------------------------------------------------ calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; subclasses override it."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ traversal
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every descendant, with dotted names."""
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        """This module and every descendant."""
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct children with their names."""
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator[Module]:
        """Direct children."""
        for _, m in self.named_children():
            yield m

    def named_parameters(
        self, prefix: str = "", recurse: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted name (each parameter once)."""
        seen: set[int] = set()
        mods = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for mod_prefix, m in mods:
            for name, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter (each once)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        """Every buffer with its dotted name."""
        for mod_prefix, m in self.named_modules(prefix):
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{mod_prefix}.{name}" if mod_prefix else name), b

    def buffers(self) -> Iterator[np.ndarray]:
        """Every buffer."""
        for _, b in self.named_buffers():
            yield b

    # ------------------------------------------------------------------ modes
    def train(self, mode: bool = True) -> Module:
        """Sets training mode (dropout active, batch statistics) on this module and below."""
        mode = _check.flag(f"{type(self).__name__}.train", "mode", mode)
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Sets evaluation mode (dropout off, running statistics)."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freezes (False) or unfreezes every parameter, e.g. a pre-trained backbone."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def freeze(self) -> Module:
        """Stops training every parameter of this module and below (``requires_grad_(False)``).

        Examples
        --------
        >>> from ferrograd import nn
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> _ = model[0].freeze()
        >>> [p.requires_grad for p in model.parameters()]
        [False, False, True, True]
        """
        return self.requires_grad_(False)

    def unfreeze(self) -> Module:
        """Trains every parameter of this module and below again."""
        return self.requires_grad_(True)

    def zero_grad(self) -> None:
        """Drops every parameter's gradient."""
        for p in self.parameters():
            p.grad = None

    def apply(self, fn: Any) -> Module:
        """Calls ``fn(module)`` on every descendant, then on this module."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Converts every float parameter (and its gradient) and buffer in place; returns self.

        As ``torch.nn.Module.to``: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``,
        ``to(tensor)`` (its dtype), or the keywords ``device``, ``dtype`` and
        ``non_blocking`` (accepted, without effect). ``dtype`` is float32 or float64; the
        device can only be the CPU (``"cpu"``), where ferrograd computes. The parameter
        objects stay the same, so an optimizer made before keeps working.

        Examples
        --------
        >>> import numpy as np
        >>> from ferrograd import nn
        >>> layer = nn.Linear(2, 1)
        >>> layer.to("cpu", np.float64) is layer, layer.weight.dtype
        (True, dtype('float64'))
        """
        device, dtype = _to_arguments(args, kwargs)
        if device is not None:
            _check_device("Module.to", device)
        if dtype is None:
            return self
        dt = _check.param_dtype("Module.to", dtype)
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None:
                    p.data = p.data.astype(dt, copy=False)
                    if p.grad is not None:
                        p.grad = p.grad.astype(dt, copy=False)
            for k, b in m._buffers.items():
                if b is not None and b.dtype.kind == "f":
                    m._buffers[k] = b.astype(dt, copy=False)
        return self

    def cpu(self) -> Module:
        """Returns self: ferrograd computes on the CPU."""
        return self

    def cuda(self, device: Any = None) -> Module:
        """Not available: ferrograd computes on the CPU only (raises ArgumentError)."""
        raise ArgumentError(
            f"{type(self).__name__}.cuda: ferrograd computes on the CPU only; keep the model "
            "on the CPU (.to('cpu') or no call at all)"
        )

    def summary(self, input_shape: Any = None, dtype: Any = None) -> Any:
        """Prints a table of the layers (with output shapes when ``input_shape`` is given),
        their parameter counts and the totals; returns the
        :class:`~ferrograd.nn.utils.ModelSummary`. See :func:`ferrograd.nn.utils.summary`."""
        from .utils.summary import summary

        result = summary(self, input_shape, dtype=dtype)
        print(result)
        return result

    def float(self) -> Module:
        """Converts to float32."""
        return self.to(np.float32)

    def double(self) -> Module:
        """Converts to float64."""
        return self.to(np.float64)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Copies of every parameter and buffer by dotted name, in PyTorch's naming."""
        out: OrderedDict[str, np.ndarray] = OrderedDict()
        for mod_prefix, m in self.named_modules():
            for name, p in m._parameters.items():
                if p is not None:
                    out[f"{mod_prefix}.{name}" if mod_prefix else name] = p.data.copy()
            for name, b in m._buffers.items():
                if b is not None:
                    out[f"{mod_prefix}.{name}" if mod_prefix else name] = np.array(b, copy=True)
        return out

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> IncompatibleKeys:
        """Copies values from ``state_dict`` into the parameters and buffers.

        Names, shapes and dtypes are checked first and nothing changes unless all fit; the
        error lists every difference. With ``strict=False`` missing and unexpected names are
        allowed and returned.
        """
        func = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise DTypeError(
                f"{func}: state_dict must be a mapping of names to arrays, got "
                f"{type(state_dict).__name__}"
            )
        strict = _check.flag(func, "strict", strict)
        state = {}
        for k, v in state_dict.items():
            arr = v.data if isinstance(v, Tensor) else np.asarray(v)
            if arr.dtype.kind not in "biuf":
                raise DTypeError(f"{func}: {k!r} must be an array of numbers, got {v!r:.60}")
            state[k] = arr
        slots: dict[str, tuple[Module, str, bool]] = {}
        for mod_prefix, m in self.named_modules():
            for name, p in m._parameters.items():
                if p is not None:
                    slots[f"{mod_prefix}.{name}" if mod_prefix else name] = (m, name, True)
            for name, b in m._buffers.items():
                if b is not None:
                    slots[f"{mod_prefix}.{name}" if mod_prefix else name] = (m, name, False)
        missing = [k for k in slots if k not in state]
        unexpected = [k for k in state if k not in slots]
        problems = []
        for key, (m, name, is_param) in slots.items():
            if key not in state:
                continue
            cur = m._parameters[name].data if is_param else m._buffers[name]
            new = state[key]
            if new.shape != cur.shape:
                problems.append(
                    f"size mismatch for {key}: checkpoint has shape {new.shape}, model has "
                    f"{cur.shape}"
                )
            elif new.dtype != cur.dtype and not (new.dtype.kind == cur.dtype.kind == "f"):
                problems.append(
                    f"dtype mismatch for {key}: checkpoint has {new.dtype}, model has {cur.dtype}"
                )
        if strict and (missing or unexpected):
            if missing:
                problems.append("missing keys: " + ", ".join(missing))
            if unexpected:
                problems.append("unexpected keys: " + ", ".join(unexpected))
        if problems:
            raise ShapeError(
                f"load_state_dict: the state does not fit {type(self).__name__}:\n  "
                + "\n  ".join(problems)
            )
        new_values = {}  # converted first, so that a value that does not fit changes nothing
        for key, (m, name, is_param) in slots.items():
            if key in state:
                cur = m._parameters[name].data if is_param else m._buffers[name]
                new_values[key] = narrow_float(f"load_state_dict: {key}", state[key], cur.dtype)
        for key, value in new_values.items():
            m, name, is_param = slots[key]
            if is_param:
                m._parameters[name].data = value
            else:
                m._buffers[name] = value
        return IncompatibleKeys(missing, unexpected)

    def save(self, path: Any) -> None:
        """Writes :meth:`state_dict` to a safetensors file (atomically)."""
        from ..serialization import save

        save(self.state_dict(), path)

    def load(self, path: Any, strict: bool = True) -> IncompatibleKeys:
        """Loads a safetensors file written by :meth:`save` (checks names, shapes, dtypes)."""
        from ..serialization import load

        return self.load_state_dict(load(path), strict=strict)

    # ------------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        """The layer's settings, shown by ``repr``."""
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"
