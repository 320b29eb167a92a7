"""A captured training step: forward, loss, backward and optimizer update in one Rust call.

For small models the cost of any eager framework is the per-op overhead of Python, not the
arithmetic. :func:`compile` reads a model that is a chain of supported layers, its loss and its
optimizer once, and returns a callable ``step(x, y) -> loss`` that runs the whole
training step in Rust on the model's own parameter arrays and the optimizer's own state
arrays. Afterwards the parameters and the optimizer state (moments, step counts, momentum
buffers) are what eager steps would have produced, so eager and compiled steps can be mixed,
checkpointed and scheduled (a learning-rate scheduler's changes are read at every call).
Gradients are not written to ``.grad``.

Supported layers: ``Linear``, ``Conv2d``, ``MaxPool2d``, ``AvgPool2d``, ``Flatten``, ``ReLU``,
``LeakyReLU``, ``Sigmoid``, ``Tanh``, ``GELU``, ``ELU``, ``SiLU``, ``Identity``, ``Dropout``,
``BatchNorm1d`` and ``BatchNorm2d`` (with a float ``momentum``) and ``LayerNorm``, chained by a
``Sequential`` or by a user ``Module`` whose ``forward`` only calls its submodules one after
the other, each on the previous one's output (``h = self.fc1(x); h = self.act(h); return
self.fc2(h)``). Such a ``forward`` is traced once, when compiling, with a placeholder input
that supports nothing but being passed to submodules: any other operation (``h * 2``,
``F.relu(h)``, ``h.view(...)``), a submodule called twice or with more arguments refuses the
capture. A ``forward`` whose chain depends on ``self.training`` is traced in the mode the model
is in when compiled. Train and eval modes of batch norm and dropout are read at every call, as
eagerly: in training batch norm normalises with the batch statistics and updates the running
ones, dropout draws its masks from the generator :func:`ferrograd.manual_seed` seeds, in the
same order and with the same values as an eager step would (so compiled and eager runs with
the same seed agree); in eval mode batch norm uses the running statistics and dropout is the
identity.

Losses: ``CrossEntropyLoss`` (class indices or class probabilities, mean, optional label
smoothing), ``MSELoss``, ``L1Loss``, ``HuberLoss``, ``SmoothL1Loss`` (mean). Optimizers:
``SGD``, ``Adam``, ``AdamW``, ``RMSprop`` (with momentum, centered, weight decay) and
``Adagrad`` (with lr_decay, weight decay) with one set of hyperparameters for all parameters,
except that parameter groups may differ in ``weight_decay`` (say, none for biases). Targets
must have the shapes the eager loss accepts. Anything else runs eagerly, with a warning saying
why (also in ``step.reason``).

Examples
--------
>>> import numpy as np
>>> import ferrograd as fg
>>> from ferrograd import nn, optim
>>> fg.manual_seed(0)
>>> model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
>>> opt = optim.Adam(model.parameters(), lr=1e-2)
>>> step = fg.compile(model, nn.CrossEntropyLoss(), opt)
>>> x = np.random.default_rng(0).standard_normal((32, 4)).astype(np.float32)
>>> y = np.arange(32) % 3
>>> first = step(x, y)
>>> for _ in range(50):
...     last = step(x, y)
>>> last < first
True
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np

from . import _core
from ._arrays import as_float, as_int64
from .exceptions import DTypeError, FerrogradError
from .nn._cast import cast_input
from .random import default_generator
from .tensor import Tensor

_ACTS = {"ReLU": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "SiLU": "silu"}
_LOSSES = {
    "CrossEntropyLoss": "cross_entropy",
    "MSELoss": "mse_loss",
    "L1Loss": "l1_loss",
    "HuberLoss": "huber_loss",
    "SmoothL1Loss": "smooth_l1_loss",
}


class Unsupported(FerrogradError):
    """Raised internally when a model, loss or optimizer cannot be captured."""


class _Skipped(Exception):
    """A step whose non-finite loss left everything unchanged (carries the step's result)."""

    def __init__(self, result: tuple[float, Any, bool]) -> None:
        super().__init__()
        self.result = result


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


_OPTIMIZERS = ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad")
_LEAVES = {
    "Linear",
    "LeakyReLU",
    "ELU",
    "GELU",
    "Identity",
    "Dropout",
    "Flatten",
    "Conv2d",
    "MaxPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
    *_ACTS,
}


class _Probe:
    """The placeholder input of a traced ``forward``: it can only be passed to submodules."""

    __slots__ = ()


def _traced_calls(model: Any) -> list[Any]:
    """The submodules ``model.forward`` calls, in order, each on the previous one's output
    (the first on the input, the last giving the output); Unsupported otherwise. Every
    submodule, also those inside a ``ModuleList`` or ``ModuleDict``, is replaced by a spy
    during the trace (a called submodule does not run: its own layers are read afterwards)."""
    name = type(model).__name__
    children = [m for m in model.modules() if m is not model]
    calls: list[tuple[Any, Any, Any]] = []
    saved: list[tuple[Any, Any]] = []

    def spy(child: Any) -> Callable[..., Any]:
        def forward(*args: Any, **kwargs: Any) -> Any:
            if kwargs or len(args) != 1:
                raise Unsupported("a submodule called with other than one argument")
            out = _Probe()
            calls.append((child, args[0], out))
            return out

        return forward

    for child in children:
        saved.append((child, child.__dict__.get("forward")))
        object.__setattr__(child, "forward", spy(child))
    probe = _Probe()
    try:
        result = model.forward(probe)
    except Exception as e:
        why = str(e) if isinstance(e, Unsupported) else f"{type(e).__name__}: {e}"
        raise Unsupported(
            f"{name}.forward (not a straight chain of calls to its submodules: {why:.120})"
        ) from None
    finally:
        for child, old in saved:
            if old is None:
                child.__dict__.pop("forward", None)
            else:
                object.__setattr__(child, "forward", old)
    mods = [c for c, _, _ in calls]
    ok = bool(calls) and calls[0][1] is probe and result is calls[-1][2]
    ok = ok and all(calls[i][1] is calls[i - 1][2] for i in range(1, len(calls)))
    if not ok:
        raise Unsupported(
            f"{name}.forward (not a straight chain of calls to its submodules, each on the "
            "previous one's output)"
        )
    if len({id(m) for m in mods}) != len(mods):
        raise Unsupported(f"{name}.forward (calls a submodule more than once)")
    return mods


def _chain(m: Any) -> list[Any]:
    """The supported layers ``m`` applies, in order."""
    name = type(m).__name__
    if name == "Sequential":
        return [leaf for child in m for leaf in _chain(child)]
    if name in _LEAVES:
        return [m]
    if next(iter(m.children()), None) is not None:
        return [leaf for child in _traced_calls(m) for leaf in _chain(child)]
    raise Unsupported(f"layer {name} (or this configuration of it)")


def _describe_layer(m: Any) -> list[tuple[str, list[int], list[float]]]:
    """The plan entries of one layer, in its current train/eval mode."""
    name = type(m).__name__
    settings = getattr(m, "settings", {})
    if name == "Linear":
        return [("linear", [m.in_features, m.out_features, int(m.bias is not None)], [])]
    if name in _ACTS:
        return [(_ACTS[name], [], [])]
    if name == "LeakyReLU":
        return [("leaky_relu", [], [float(settings["negative_slope"])])]
    if name == "ELU":
        return [("elu", [], [float(settings["alpha"])])]
    if name == "GELU":
        return [("gelu", [], [1.0 if settings["approximate"] == "tanh" else 0.0])]
    if name == "Identity" or (name == "Dropout" and (m.p == 0.0 or not m.training)):
        return []
    if name == "Dropout":
        return [("dropout", [], [])]
    if name in ("BatchNorm1d", "BatchNorm2d"):
        if m.momentum is None:
            raise Unsupported(f"{name} with momentum=None (a cumulative average)")
        ints = [m.num_features, int(m.affine), int(m.track_running_stats), int(m.training)]
        ints += [min(m._ranks), max(m._ranks)]
        return [("batch_norm", ints, [float(m.eps), float(m.momentum)])]
    if name == "LayerNorm":
        w, b = m.weight is not None, m.bias is not None
        return [("layer_norm", [int(w), int(b), *m.normalized_shape], [float(m.eps)])]
    if name == "Flatten":
        if (m.start_dim, m.end_dim) != (1, -1):
            raise Unsupported("Flatten with start_dim != 1 or end_dim != -1")
        return [("flatten", [], [])]
    if name == "Conv2d":
        if getattr(m, "padding_mode", "zeros") != "zeros" or isinstance(m.padding, str):
            raise Unsupported("Conv2d with string padding or a padding_mode other than zeros")
        kh, kw = m.kernel_size
        ints = [m.in_channels, m.out_channels, kh, kw, *m.stride, *m.padding, *m.dilation]
        return [("conv2d", [*ints, m.groups, int(m.bias is not None)], [])]
    if name == "MaxPool2d":
        if getattr(m, "return_indices", False):
            raise Unsupported("MaxPool2d with return_indices")
        ints = [*_pair(m.kernel_size), *_pair(m.stride), *_pair(m.padding), *_pair(m.dilation)]
        return [("max_pool2d", [*ints, int(bool(m.ceil_mode))], [])]
    if name == "AvgPool2d":
        if m.divisor_override is not None:
            raise Unsupported("AvgPool2d with divisor_override")
        ints = [*_pair(m.kernel_size), *_pair(m.stride), *_pair(m.padding)]
        return [("avg_pool2d", [*ints, int(bool(m.ceil_mode)), int(bool(m.count_include_pad))], [])]
    raise Unsupported(f"layer {name} (or this configuration of it)")


def _describe_loss(loss_fn: Any) -> tuple[str, float]:
    name = type(loss_fn).__name__
    if name not in _LOSSES:
        raise Unsupported(f"loss {name}")
    s = dict(getattr(loss_fn, "settings", {}))
    if s.get("reduction", "mean") != "mean":
        raise Unsupported(f"{name} with reduction={s['reduction']!r}")
    if name == "CrossEntropyLoss":
        if s.get("weight") is not None or s.get("ignore_index", -100) != -100:
            raise Unsupported("CrossEntropyLoss with class weights or a custom ignore_index")
        return "cross_entropy", float(s.get("label_smoothing", 0.0))
    if name == "HuberLoss":
        return "huber_loss", float(s["delta"])
    if name == "SmoothL1Loss":
        return "smooth_l1_loss", float(s["beta"])
    return _LOSSES[name], 0.0


def _one_group(optimizer: Any, params: list[Tensor]) -> tuple[dict[str, Any], list[float] | None]:
    """The hyperparameters shared by every parameter's group, and the weight decay of each
    parameter when the groups differ in it (and in nothing else), else None."""
    owner: dict[int, dict[str, Any]] = {}
    for g in optimizer.param_groups:
        for p in g["params"]:
            owner[id(p)] = g
    groups = []
    for p in params:
        if id(p) not in owner:
            raise Unsupported("a model parameter that the optimizer does not update")
        if not p.requires_grad:
            raise Unsupported("frozen parameters")
        groups.append(owner[id(p)])
    first = groups[0]
    keys = [k for k in first if k not in ("params", "weight_decay")]
    for g in groups[1:]:
        if g is not first and any(g.get(k) != first.get(k) for k in keys):
            raise Unsupported("parameter groups with different hyperparameters")
    decays = [float(g["weight_decay"]) for g in groups]
    return first, (decays if len(set(decays)) > 1 else None)


def _float_target(y: Any) -> bool:
    data = y.data if isinstance(y, Tensor) else y
    kind = getattr(data, "dtype", None)
    if kind is None:
        try:
            kind = np.asarray(data).dtype
        except (TypeError, ValueError):
            return False
    return bool(kind.kind == "f")


def _what(value: Any) -> str:
    if isinstance(value, type):
        return f"the class {value.__name__} (create an instance: {value.__name__}(...))"
    return f"{value!r:.80} ({type(value).__name__})"


def _check_arguments(model: Any, loss_fn: Any, optimizer: Any) -> None:
    """Typed errors for arguments that can never make a training step."""
    from .nn import Module
    from .optim import Optimizer

    if not isinstance(model, Module):
        raise DTypeError(f"compile: model must be an nn.Module, got {_what(model)}")
    if isinstance(loss_fn, type) or not callable(loss_fn):
        raise DTypeError(
            "compile: loss_fn must be a loss module such as nn.CrossEntropyLoss() or a "
            f"function of (output, target), got {_what(loss_fn)}"
        )
    if not isinstance(optimizer, Optimizer):
        raise DTypeError(
            f"compile: optimizer must be a ferrograd.optim.Optimizer, got {_what(optimizer)}"
        )


def _dropout_mask(shape: tuple[int, ...], p: float, dtype: np.dtype[Any]) -> np.ndarray:
    """The mask an eager dropout would draw for an input of ``shape`` (same generator calls)."""
    if p == 1.0:
        return np.zeros(shape, dtype=dtype)
    keep = default_generator().random(shape) >= p
    return np.ascontiguousarray(keep.astype(dtype) * dtype.type(1.0 / (1.0 - p)))


class CompiledStep:
    """``step(x, y) -> loss``: one training step of ``model`` (see :func:`compile`)."""

    def __init__(self, model: Any, loss_fn: Any, optimizer: Any) -> None:
        _check_arguments(model, loss_fn, optimizer)
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.params = list(model.parameters())
        self.reason: str | None = None
        self._plan: Any = None
        try:
            kind = type(optimizer).__name__
            if kind not in _OPTIMIZERS:
                raise Unsupported(f"optimizer {kind}")
            self._layers = _chain(model)
            # Parameters in the order of the chain (a traced forward may call its submodules
            # in another order than they were registered in).
            chained = [p for m in self._layers for p in m.parameters()]
            if len(chained) != len(self.params) or {id(p) for p in chained} != {
                id(p) for p in self.params
            }:
                raise Unsupported("parameters outside the captured layers")
            # Where each chained parameter is in model.parameters() (whose order callers of
            # gradients() use).
            where = {id(p): i for i, p in enumerate(self.params)}
            self._order = [where[id(p)] for p in chained]
            self.params = chained
            # Layers whose plan depends on the train/eval mode: a plan per combination.
            self._modal = [
                m
                for m in self._layers
                if type(m).__name__ in ("Dropout", "BatchNorm1d", "BatchNorm2d")
            ]
            self._plans: dict[tuple[Any, ...], tuple[Any, list[Any]]] = {}
            self._shapes: dict[tuple[Any, ...], list[list[int]]] = {}
            self._loss = _describe_loss(loss_fn)
            if not self.params:
                raise Unsupported("a model without parameters")
            if len({p.dtype for p in self.params}) != 1:
                raise Unsupported("parameters of mixed dtypes")
            _one_group(optimizer, self.params)
            self._plan, _ = self._plan_for(self._modes())
            if self._plan.n_params != len(self.params):
                raise Unsupported("parameters outside the captured layers")
            self._kind = kind
            self._labels = self._loss[0] == "cross_entropy"
        except Unsupported as e:
            self._plan = None
            self.reason = str(e)
            warnings.warn(
                f"ferrograd.compile: {e} is not supported by the captured step; running eagerly",
                stacklevel=3,
            )

    def _modes(self) -> tuple[Any, ...]:
        """What the plan of the mode-dependent layers depends on: their mode, a dropout's
        ``p`` and a batch norm's ``momentum`` (read at every call, as eagerly)."""
        return tuple(
            (m.training, getattr(m, "p", None), getattr(m, "momentum", None)) for m in self._modal
        )

    def _plan_for(self, modes: tuple[Any, ...]) -> tuple[Any, list[Any]]:
        """The plan for the layers' current train/eval modes, and what fills its buffers:
        a batch norm's running statistics, or ``(layer index, dropout)`` for a mask."""
        hit = self._plans.get(modes)
        if hit is not None:
            return hit
        layers: list[tuple[str, list[int], list[float]]] = []
        fills: list[Any] = []
        for m in self._layers:
            for d in _describe_layer(m):
                if d[0] == "dropout":
                    fills.append((len(layers), m))
                elif d[0] == "batch_norm" and m.track_running_stats:
                    fills.append(m)
                layers.append(d)
        plan = _core.StepPlan(layers, *self._loss)
        self._plans[modes] = (plan, fills)
        return plan, fills

    def _buffers(self, xa: np.ndarray) -> tuple[Any, list[Any] | None, list[Any]]:
        """The plan for the current modes, its buffers for input ``xa`` (running statistics
        and freshly drawn dropout masks) and the batch norms whose step counts to advance."""
        if not self._modal:
            return self._plan, None, []
        modes = self._modes()
        plan, fills = self._plan_for(modes)
        if not fills:
            return plan, None, []
        buffers: list[Any] = []
        counted: list[Any] = []
        shapes = None
        for f in fills:
            if isinstance(f, tuple):
                index, drop = f
                if shapes is None:
                    key = (modes, xa.shape)
                    shapes = self._shapes.get(key)
                    if shapes is None:
                        shapes = self._shapes[key] = plan.shapes(list(xa.shape))
                buffers.append(_dropout_mask(tuple(shapes[index]), drop.p, xa.dtype))
            else:
                buffers += [f.running_mean, f.running_var]
                if f.training:
                    counted.append(f)
        return plan, buffers, counted

    @property
    def compiled(self) -> bool:
        """True when steps run as one Rust call, False when they run eagerly."""
        return self._plan is not None

    def __call__(self, x: Any, y: Any) -> float:
        return self.run(x, y)[0]

    def run(
        self, x: Any, y: Any, *, keep_output: bool = False, skip_non_finite: bool = False
    ) -> tuple[float, np.ndarray | None]:
        """One step; the loss and, with ``keep_output``, the model's output (the loss's input,
        computed in training mode before the update).

        With ``skip_non_finite`` a step whose loss is NaN or infinite changes nothing: not the
        parameters, nor the optimizer's state or step counts.
        """
        if self._plan is None:
            return self._eager(x, y, keep_output, skip_non_finite)
        xa, ya = self._inputs(x, y)
        group, decays = _one_group(self.optimizer, self.params)
        data = [p.data for p in self.params]
        plan, buffers, counted = self._buffers(xa)
        flags: dict[str, Any] = {"keep_output": keep_output, "skip_non_finite": skip_non_finite}
        if decays is not None:
            flags["weight_decays"] = decays
        if buffers is not None:
            flags["buffers"] = buffers

        def applied(result: tuple[float, Any, bool]) -> tuple[float, Any, bool]:
            if not result[2]:
                # Raised so that the optimizer does not record this step.
                raise _Skipped(result)
            return result

        try:
            if self._kind == "SGD":
                result = self.optimizer._run_update(
                    group,
                    self.params,
                    lambda bufs, fresh, **hp: applied(
                        plan.sgd(xa, ya, data, bufs, fresh, **hp, **flags)
                    ),
                )
            elif self._kind == "RMSprop":
                result = self.optimizer._run_update(
                    group,
                    self.params,
                    lambda sq, ga, bufs, **hp: applied(
                        plan.rmsprop(xa, ya, data, sq, ga, bufs, **hp, **flags)
                    ),
                )
            elif self._kind == "Adagrad":
                result = self.optimizer._run_update(
                    group,
                    self.params,
                    lambda sums, steps, **hp: applied(
                        plan.adagrad(xa, ya, data, sums, steps, **hp, **flags)
                    ),
                )
            else:
                result = self.optimizer._run_update(
                    group,
                    self.params,
                    lambda m, v, vmax, steps, **hp: applied(
                        plan.adam(xa, ya, data, m, v, vmax, steps, **hp, **flags)
                    ),
                )
        except _Skipped as skipped:
            result = skipped.result
        # The forward and the loss ran, so the running statistics moved (as eagerly, also
        # when the update was skipped).
        for bn in counted:
            bn.num_batches_tracked[...] += 1
        return result[0], result[1]

    def _inputs(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """The input and target as the kernel takes them, checked as the eager loss checks
        them (dtype here, shape in the kernel): class indices become int64, class
        probabilities and regression targets the parameters' dtype."""
        func = "compiled step"
        dt = self.params[0].dtype
        xa = as_float(func, "input", cast_input(func, x, dt), dt)
        if self._labels and not _float_target(y):
            ya = as_int64(func, "target", y, "integer class indices or class probabilities")
        else:
            ya = as_float(func, "target", y, dt)
        return np.ascontiguousarray(xa), np.ascontiguousarray(ya)

    def gradients(
        self, x: Any, y: Any, grads: list[np.ndarray], *, keep_output: bool = False
    ) -> tuple[float, np.ndarray | None]:
        """Forward, loss and backward of one step without the update: the gradient of each
        parameter is written into ``grads`` (in the order of ``model.parameters()``;
        C-contiguous arrays of the parameters' shapes and dtype, such as views into one flat
        buffer). For data-parallel training, where the gradients are averaged across processes
        before ``optimizer.step()``.
        """
        if self._plan is None:
            raise FerrogradError(f"compiled step: not captured ({self.reason})")
        xa, ya = self._inputs(x, y)
        data = [p.data for p in self.params]
        plan, buffers, counted = self._buffers(xa)
        if len(grads) == len(self._order):
            grads = [grads[i] for i in self._order]  # into the chain's order
        loss, output, _ = plan.gradients(
            xa, ya, data, grads, keep_output=keep_output, buffers=buffers
        )
        for bn in counted:
            bn.num_batches_tracked[...] += 1
        return loss, output

    def _eager(
        self, x: Any, y: Any, keep_output: bool, skip_non_finite: bool
    ) -> tuple[float, np.ndarray | None]:
        xt = x if isinstance(x, Tensor) else Tensor(x)
        out = self.model(xt)
        loss = self.loss_fn(out, y)  # before zero_grad: a bad target changes nothing
        self.optimizer.zero_grad()
        value = float(loss.data)
        output = np.array(out.data if isinstance(out, Tensor) else out) if keep_output else None
        if skip_non_finite and not math.isfinite(value):
            return value, output
        loss.backward()
        self.optimizer.step()
        return value, output


def compile(model: Any, loss_fn: Any, optimizer: Any) -> Callable[[Any, Any], float]:
    """Captures ``model``'s training step with ``loss_fn`` and ``optimizer``.

    Parameters
    ----------
    model : nn.Module
        A chain of supported layers: a ``Sequential``, or a module whose ``forward`` calls
        its submodules one after the other (see the module docstring).
    loss_fn : nn.Module
        A loss module, e.g. ``nn.CrossEntropyLoss()``.
    optimizer : optim.Optimizer
        ``SGD``, ``Adam``, ``AdamW``, ``RMSprop`` or ``Adagrad`` over the model's
        parameters.

    Returns
    -------
    CompiledStep
        ``step(x, y) -> float``: the loss before the update. ``step.compiled`` says whether
        the step was captured; if not, ``step.reason`` says why and steps run eagerly.
    """
    return CompiledStep(model, loss_fn, optimizer)
