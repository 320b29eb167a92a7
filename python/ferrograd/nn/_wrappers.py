"""Builds modules that hold keyword settings and call one ``ferrograd.functional`` function."""

from __future__ import annotations

from typing import Any

from .module import Module


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
            raise TypeError(f"{name}() takes at most {len(positional)} positional arguments")
        settings = dict(defaults)
        settings.update(zip(positional, args))
        for k, v in kwargs.items():
            if k not in defaults:
                raise TypeError(f"{name}() got an unexpected keyword argument '{k}'")
            settings[k] = v
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
