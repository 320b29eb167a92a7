"""Lets every ``ferrograd.functional`` function take :class:`~ferrograd.Tensor` inputs.

With plain arrays a function runs as is. When any argument is a Tensor, the function runs on
the underlying arrays and the result is a Tensor whose backward calls ``<name>_backward``
with the same arguments; the gradients it returns line up with the leading arguments
(the input, or each float input of a multi-input loss).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from typing import Any, Callable

import numpy as np

from ..exceptions import FerrogradError
from ..tensor import Owned, Tensor, _make, _needs_grad

# Losses of (input - target): the gradient with respect to the target is the negated one.
_TARGET_NEGATED = {"mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss"}


def _with_target_grad(bwd: Callable[..., Any]) -> Callable[..., Any]:
    def both(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        g = bwd(*args, **kwargs)
        return g, -g

    return both


def differentiable(fwd: Callable[..., Any], bwd: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps ``fwd`` so that Tensor arguments are tracked, with ``bwd`` as its gradient."""
    sig = inspect.signature(fwd)
    bsig = inspect.signature(bwd).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in bsig.values())

    @functools.wraps(fwd)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not any(type(a) is Tensor or isinstance(a, Tensor) for a in args) and not any(
            isinstance(v, Tensor) for v in kwargs.values()
        ):
            return fwd(*args, **kwargs)
        bound = sig.bind(*args, **kwargs)
        pos = list(bound.args)
        kw = dict(bound.kwargs)
        arrays = [a.data if isinstance(a, Tensor) else a for a in pos]
        kw_arrays = {k: (v.data if isinstance(v, Tensor) else v) for k, v in kw.items()}
        out = fwd(*arrays, **kw_arrays)

        # Arguments go to the backward by name; forward-only options (such as ``inplace``)
        # that the backward does not take are left out.
        named = {k: (v.data if isinstance(v, Tensor) else v) for k, v in bound.arguments.items()}
        bkw = named if takes_any else {k: v for k, v in named.items() if k in bsig}

        def backward(g: Any) -> Any:
            res = bwd(g, **bkw)
            res = res if isinstance(res, tuple) else (res,)
            for i, a in enumerate(pos):
                if isinstance(a, Tensor) and a.requires_grad and (i >= len(res) or res[i] is None):
                    name = list(sig.parameters)[i]
                    raise FerrogradError(
                        f"{fwd.__name__}: no gradient with respect to '{name}' is available; "
                        f"pass it as a plain array or call .detach() on it"
                    )
            return res

        return _make(out, pos, backward)

    return wrapper


def differentiable_fused(
    fwd: Callable[..., Any], bwd: Callable[..., Any], fused: Callable[..., Any]
) -> Callable[..., Any]:
    """:func:`differentiable` for a loss that also has ``fused(..., grad_output)`` returning
    ``(loss, grad)`` in one pass.

    When the first argument is the only one that needs a gradient and the loss is reduced
    (mean or sum, so its gradient is linear in one number), the forward computes the gradient
    for ``grad_output = 1`` along with the loss, and the backward only scales it in place and
    hands it over (see :class:`~ferrograd.tensor.Owned`): the logits are read once instead of
    twice. A second backward through the same graph, or an upstream gradient that is not
    finite, goes through ``bwd``. The gradient is computed and held even if ``backward`` never
    runs, so evaluation should run under :class:`~ferrograd.no_grad`. Otherwise this is
    :func:`differentiable`.
    """
    plain = differentiable(fwd, bwd)
    sig = inspect.signature(fwd)
    first = next(iter(sig.parameters))

    @functools.wraps(fwd)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = sig.bind(*args, **kwargs)
        x = bound.arguments.get(first)
        others = [v for k, v in bound.arguments.items() if k != first]
        if (
            not isinstance(x, Tensor)
            or not _needs_grad([x])
            or any(isinstance(v, Tensor) and v.requires_grad for v in others)
            or bound.arguments.get("reduction", "mean") == "none"
        ):
            return plain(*args, **kwargs)
        named = {k: (v.data if isinstance(v, Tensor) else v) for k, v in bound.arguments.items()}
        try:
            loss, grad_one = fused(**named)
        except Exception:
            # Bad arguments: let the general path raise, under this function's name.
            return plain(*args, **kwargs)

        held = [grad_one]

        def backward(g: Any) -> tuple[Any]:
            g = np.asarray(g)
            scale = g.reshape(())
            grad = None
            if np.isfinite(scale):
                # pop() without a test first, so two threads running backward through one
                # graph never both take it.
                with contextlib.suppress(IndexError):
                    grad = held.pop()
            if grad is None:
                # Already handed out (a second backward through this graph), or an upstream
                # gradient that is not finite (inf * 0 would put NaN where the gradient is 0
                # by construction, on ignored rows): the general path.
                return (bwd(g, **named),)
            if scale != 1:
                grad *= grad.dtype.type(scale)
            return (Owned(grad),)

        return _make(loss, list(bound.args), backward)

    return wrapper


def wrap_module(namespace: dict[str, Any], names: list[str]) -> None:
    """Replaces each function in ``names`` that has a ``<name>_backward`` by its wrapper
    (one that uses ``<name>_with_grad`` where there is one)."""
    for name in names:
        bwd = namespace.get(f"{name}_backward")
        if name.endswith("_backward") or bwd is None:
            continue
        if name in _TARGET_NEGATED:
            bwd = _with_target_grad(bwd)
        fused = namespace.get(f"{name}_with_grad")
        if fused is not None:
            namespace[name] = differentiable_fused(namespace[name], bwd, fused)
        else:
            namespace[name] = differentiable(namespace[name], bwd)
