"""Builds modules that hold keyword settings and call one ``ferrograd.functional`` function."""

from __future__ import annotations

from typing import Any, Callable

from .. import _check
from ..exceptions import ArgumentError, DTypeError
from .module import Module

_Check = Callable[[str, str, Any], Any]

#: Checks of settings whose name says more than the type of their default.
_BY_NAME: dict[str, _Check] = {
    "approximate": lambda f, n, v: _check.choice(f, n, v, ["none", "tanh"]),
    "label_smoothing": _check.probability,
    "temperature": lambda f, n, v: _check.real(f, n, v, 0.0, low_open=True),
    "eps": lambda f, n, v: _check.real(f, n, v, 0.0),
    "delta": lambda f, n, v: _check.real(f, n, v, 0.0, low_open=True),
    "threshold": lambda f, n, v: _check.real(f, n, v, finite=False),
    "dim": _check.axis,
    "ignore_index": lambda f, n, v: _check.count(f, n, v, -(2**63), 2**63 - 1),
}


def _check_setting(func: str, fn_name: str, key: str, value: Any, default: Any) -> Any:
    """``value`` of the setting ``key`` checked as the functional ``fn_name`` will use it."""
    if key == "reduction":
        options = ["none", "mean", "sum"] + (["batchmean"] if fn_name == "kl_div" else [])
        return _check.choice(func, key, value, options)
    if key == "p" and fn_name == "multi_margin_loss":
        return _check.count(func, key, value, 1, 2)
    if key == "p":
        return _check.real(func, key, value, 0.0, low_open=True)
    if key == "beta" and fn_name == "smooth_l1_loss":
        return _check.real(func, key, value, 0.0)
    if key == "beta" and fn_name == "softplus":
        beta = _check.real(func, key, value)
        if beta == 0.0:
            raise ArgumentError(f"{func}: beta must be non-zero, got {value!r}")
        return beta
    if key in _BY_NAME:
        return _BY_NAME[key](func, key, value)
    if isinstance(default, bool):
        return _check.flag(func, key, value)
    if isinstance(default, float):
        return _check.real(func, key, value)
    if isinstance(default, str) and not isinstance(value, str):
        raise DTypeError(f"{func}: {key} must be a str, got {value!r}")
    return value


def functional_module(
    name: str, fn_name: str, defaults: dict[str, Any], doc: str, positional: tuple[str, ...] = ()
) -> type[Module]:
    """A Module class whose ``forward(*inputs)`` is ``F.<fn_name>(*inputs, **settings)``.

    ``positional`` names settings that may also be passed positionally to the constructor, in
    PyTorch's order (e.g. ``nn.LeakyReLU(0.2)``, ``nn.Softmax(1)``).
    """

    def __init__(self: Module, *args: Any, **kwargs: Any) -> None:
        Module.__init__(self)
        if len(args) > len(positional):
            raise DTypeError(
                f"{name}() takes at most {len(positional)} positional arguments, got {len(args)}"
            )
        given = dict(zip(positional, args))
        for k, v in kwargs.items():
            if k not in defaults:
                raise DTypeError(f"{name}() got an unexpected keyword argument '{k}'")
            given[k] = v
        settings = dict(defaults)
        for k, v in given.items():
            settings[k] = _check_setting(name, fn_name, k, v, defaults[k])
        object.__setattr__(self, "settings", settings)

    def forward(self: Module, *inputs: Any) -> Any:
        from .. import functional as F

        return getattr(F, fn_name)(*inputs, **self.settings)

    def extra_repr(self: Module) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.settings.items() if defaults.get(k) is not v)

    return type(
        name,
        (Module,),
        {
            "__init__": __init__,
            "forward": forward,
            "extra_repr": extra_repr,
            "__doc__": doc,
            "__module__": "ferrograd.nn",
        },
    )
