"""An optimizer checks a parameter group's hyperparameters again only when the group changed
since the last step: every kind of change must still take effect, and bad values must still
raise before anything is updated."""

from __future__ import annotations

from typing import Any

import ferrograd
import numpy as np
import pytest
import reference as ref
from ferrograd import nn
from ferrograd.optim import SGD, Adam, AdamW, lr_scheduler

SHAPES = [(4, 3), (3,)]
DEFAULTS = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}


def _params(seed: int = 0) -> list[nn.Parameter]:
    rng = np.random.default_rng(seed)
    return [nn.Parameter(rng.standard_normal(s)) for s in SHAPES]


def _grads(steps: int, seed: int = 1) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s) for s in SHAPES] for _ in range(steps)]


def _step(opt: Any, params: list[nn.Parameter], grads: list[np.ndarray]) -> None:
    for p, g in zip(params, grads):
        p.grad = g.copy()
    opt.step()


@pytest.mark.parametrize(
    "changes",
    [
        {"lr": 0.05},
        {"betas": (0.5, 0.9)},
        {"eps": 1e-2},
        {"weight_decay": 0.3},
        {"lr": np.float64(0.02), "betas": [0.7, 0.95]},  # converted by the check
    ],
)
def test_hyperparameters_edited_between_steps_take_effect(changes: dict[str, Any]) -> None:
    params = _params()
    start = [p.data.copy() for p in params]
    grads = _grads(5)
    opt = Adam(params, lr=1e-3)
    hypers = []
    for t, g in enumerate(grads):
        if t == 2:
            opt.param_groups[0].update(changes)
        _step(opt, params, g)
        hyper = dict(DEFAULTS)
        if t >= 2:
            hyper.update({k: (tuple(v) if k == "betas" else float(v)) for k, v in changes.items()})
        hypers.append(hyper)
    want = ref.adam_schedule_ref(start, grads, hypers)
    for p, w in zip(params, want):
        np.testing.assert_allclose(p.data, w, rtol=1e-10, atol=1e-12)
    group = opt.param_groups[0]
    assert type(group["lr"]) is float and type(group["betas"]) is tuple


def test_scheduler_lr_takes_effect_every_step() -> None:
    params = _params()
    start = [p.data.copy() for p in params]
    grads = _grads(6)
    opt = Adam(params, lr=0.1)
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    for g in grads:
        _step(opt, params, g)
        sched.step()
    hypers = [{**DEFAULTS, "lr": 0.1 * 0.5**t} for t in range(6)]
    want = ref.adam_schedule_ref(start, grads, hypers)
    for p, w in zip(params, want):
        np.testing.assert_allclose(p.data, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("key", "value", "error", "match"),
    [
        ("lr", -1.0, ferrograd.ArgumentError, "Adam: lr must be at least 0, got -1.0"),
        ("lr", "0.1", ferrograd.DTypeError, "Adam: lr must be a real number, got '0.1'"),
        ("betas", (1.5, 0.9), ferrograd.ArgumentError, r"Adam: betas\[0\] must be"),
        ("eps", float("nan"), ferrograd.ArgumentError, "Adam: eps must be"),
        ("weight_decay", -0.1, ferrograd.ArgumentError, "Adam: weight_decay must be"),
        ("amsgrad", "yes", ferrograd.DTypeError, "Adam: amsgrad must be True or False"),
    ],
)
def test_bad_values_set_between_steps_still_raise(
    key: str, value: Any, error: type, match: str
) -> None:
    params = _params()
    opt = Adam(params)
    grads = _grads(3)
    _step(opt, params, grads[0])
    _step(opt, params, grads[1])
    before = [p.data.copy() for p in params]
    state = opt.state_dict()
    opt.param_groups[0][key] = value
    for p, g in zip(params, grads[2]):
        p.grad = g
    with pytest.raises(error, match=match):
        opt.step()
    for p, b in zip(params, before):  # nothing changed
        np.testing.assert_array_equal(p.data, b)
    for i, st in opt.state_dict()["state"].items():
        np.testing.assert_array_equal(st["step"], state["state"][i]["step"])
    with pytest.raises(error, match=match):  # and again: a failed check is not remembered
        opt.step()


def test_bad_value_in_a_second_group_changes_nothing() -> None:
    a, b = _params(0), _params(1)
    opt = Adam([{"params": a}, {"params": b, "lr": 0.01}])
    grads = _grads(2)
    _step(opt, a + b, grads[0] + grads[0])
    before = [p.data.copy() for p in a + b]
    opt.param_groups[1]["lr"] = -0.5
    for p, g in zip(a + b, grads[1] + grads[1]):
        p.grad = g
    with pytest.raises(ferrograd.ArgumentError, match="Adam: lr must be at least 0"):
        opt.step()
    for p, w in zip(a + b, before):
        np.testing.assert_array_equal(p.data, w)


def test_group_replaced_or_keys_changed() -> None:
    params = _params()
    opt = SGD(params, lr=0.1)
    grads = _grads(2)
    _step(opt, params, grads[0])
    group = opt.param_groups[0]
    opt.param_groups[0] = {**group, "lr": "fast"}  # a new dict with the same other values
    with pytest.raises(ferrograd.DTypeError, match="SGD: lr must be a real number"):
        opt.step()
    opt.param_groups[0] = group
    del group["maximize"]  # a key removed: the check runs (and needs it)
    with pytest.raises(KeyError):
        opt.step()


def test_mutable_extra_value_keeps_the_check_running() -> None:
    """A group holding a mutable value is checked on every step (its contents could change in
    place), and still steps correctly."""
    params = _params()
    opt = Adam([{"params": params, "tags": ["backbone"]}])
    grads = _grads(3)
    for g in grads:
        _step(opt, params, g)
    want = ref.adam_schedule_ref(_params(), grads, [DEFAULTS] * 3)
    for p, w in zip(params, want):
        np.testing.assert_allclose(p.data, w, rtol=1e-10, atol=1e-12)
    opt.param_groups[0]["lr"] = -1.0
    with pytest.raises(ferrograd.ArgumentError):
        opt.step()


def test_add_param_group_between_steps() -> None:
    a, b = _params(0), _params(1)
    start_b = [p.data.copy() for p in b]
    opt = Adam(a, lr=0.01)
    grads = _grads(4)
    _step(opt, a, grads[0])
    _step(opt, a, grads[1])
    opt.add_param_group({"params": b, "lr": 0.05, "betas": (0.8, 0.99)})
    _step(opt, a + b, grads[2] + grads[2])
    _step(opt, a + b, grads[3] + grads[3])
    want_b = ref.adam_schedule_ref(
        start_b, grads[2:], [{**DEFAULTS, "lr": 0.05, "betas": (0.8, 0.99)}] * 2
    )
    for p, w in zip(b, want_b):
        np.testing.assert_allclose(p.data, w, rtol=1e-10, atol=1e-12)
    want_a = ref.adam_schedule_ref(_params(0), grads, [{**DEFAULTS, "lr": 0.01}] * 4)
    for p, w in zip(a, want_a):
        np.testing.assert_allclose(p.data, w, rtol=1e-10, atol=1e-12)


def test_load_state_dict_between_steps() -> None:
    """Loading hyperparameters (and state) into an optimizer that has stepped takes effect:
    it then steps as a fresh optimizer loaded with the same state dict."""
    params, other = _params(0), _params(0)
    grads = _grads(4)
    opt = AdamW(params, lr=0.01)
    for g in grads[:2]:
        _step(opt, params, g)
    saved = AdamW(other, lr=0.2, weight_decay=0.5, betas=(0.6, 0.7))
    for g in grads[:2]:
        _step(saved, other, g)
    opt.load_state_dict(saved.state_dict())
    assert opt.param_groups[0]["lr"] == 0.2
    fresh_params = [nn.Parameter(p.data.copy()) for p in params]
    fresh = AdamW(fresh_params)
    fresh.load_state_dict(saved.state_dict())
    for g in grads[2:]:
        _step(opt, params, g)
        _step(fresh, fresh_params, g)
    for p, f in zip(params, fresh_params):
        np.testing.assert_array_equal(p.data, f.data)
    bad = saved.state_dict()
    bad["param_groups"][0]["lr"] = -3.0
    with pytest.raises(ferrograd.ArgumentError, match="AdamW: lr must be at least 0"):
        opt.load_state_dict(bad)


def test_parameter_data_and_grad_replaced_between_steps() -> None:
    params = _params()
    grads = _grads(4)
    opt = Adam(params, lr=0.01)
    for g in grads[:2]:
        _step(opt, params, g)
    rng = np.random.default_rng(7)
    params[0].data = rng.standard_normal(SHAPES[0])  # new values, same shape
    fresh_params = [nn.Parameter(p.data.copy()) for p in params]
    fresh = Adam(fresh_params)
    fresh.load_state_dict(opt.state_dict())
    for g in grads[2:]:
        _step(opt, params, g)
        _step(fresh, fresh_params, g)
    for p, f in zip(params, fresh_params):
        np.testing.assert_array_equal(p.data, f.data)
    # A gradient of another shape, or of no real numbers, is still refused.
    params[1].grad = np.ones(5)
    with pytest.raises(ferrograd.ShapeError, match=r"params'\]\[1\] has shape \(5,\)"):
        opt.step()
    params[1].grad = np.ones(3, dtype=complex)
    with pytest.raises(ferrograd.DTypeError, match="must hold real numbers"):
        opt.step()
    # A parameter whose data changed shape is refused by its state's check.
    params[1].grad = None
    params[0].data = np.zeros((2, 2))
    params[0].grad = np.zeros((2, 2))
    with pytest.raises(ferrograd.ShapeError, match="'exp_avg' has shape"):
        opt.step()


def test_state_edited_between_steps_is_checked() -> None:
    params = _params()
    opt = Adam(params)
    grads = _grads(3)
    _step(opt, params, grads[0])
    _step(opt, params, grads[1])
    opt.state[params[0]]["step"] = np.array(-2.0)
    with pytest.raises(ferrograd.ArgumentError, match=r"'step' .* must be a number >= 0"):
        _step(opt, params, grads[2])
