"""Optimizers against independent float64 NumPy implementations of the published rules."""

from __future__ import annotations

from typing import Any, Callable

import ferrograd
import numpy as np
import pytest
import reference as ref
from ferrograd import _core, nn, tensor
from ferrograd import optim as optim_mod
from ferrograd.optim import SGD, Adagrad, Adam, AdamW, NAdam, RAdam, RMSprop

# One tensor above the parallel threshold so the chunked path runs too.
SHAPES = [(7, 5), (5,), (3, 4, 2), (129, 257)]
STEPS = 50


def make_params(dtype: Any = np.float64, seed: int = 0) -> list[nn.Parameter]:
    rng = np.random.default_rng(seed)
    return [nn.Parameter(rng.standard_normal(s).astype(dtype)) for s in SHAPES]


def make_grads(steps: int = STEPS, seed: int = 1) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s) for s in SHAPES] for _ in range(steps)]


def run(opt: Any, params: list[nn.Parameter], grads: list[list[Any]]) -> None:
    for step in grads:
        for p, g in zip(params, step):
            p.grad = None if g is None else g.astype(p.dtype)
        opt.step()


REFS: dict[type, Callable[..., list[np.ndarray]]] = {
    SGD: ref.sgd_ref,
    Adam: ref.adam_ref,
    AdamW: lambda ps, gs, **kw: ref.adam_ref(
        ps, gs, decoupled=True, **{"weight_decay": 1e-2, **kw}
    ),
    RMSprop: ref.rmsprop_ref,
    Adagrad: ref.adagrad_ref,
    NAdam: lambda ps, gs, decoupled_weight_decay=False, **kw: ref.nadam_ref(
        ps, gs, decoupled=decoupled_weight_decay, **kw
    ),
    RAdam: lambda ps, gs, decoupled_weight_decay=False, **kw: ref.radam_ref(
        ps, gs, decoupled=decoupled_weight_decay, **kw
    ),
}

CASES = [
    (SGD, {"lr": 0.1}),
    (SGD, {"lr": 0.05, "momentum": 0.9}),
    (SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    (SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    (SGD, {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1, "maximize": True}),
    (SGD, {"lr": 0.05, "weight_decay": 0.2, "nesterov": False}),
    (Adam, {}),
    (Adam, {"lr": 0.01, "amsgrad": True}),
    (Adam, {"lr": 0.01, "weight_decay": 0.1}),
    (
        Adam,
        {
            "lr": 0.02,
            "betas": (0.8, 0.99),
            "eps": 1e-6,
            "weight_decay": 0.05,
            "amsgrad": True,
            "maximize": True,
        },
    ),
    (AdamW, {"lr": 0.01}),
    (AdamW, {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True, "maximize": True}),
    (RMSprop, {}),
    (RMSprop, {"centered": True}),
    (RMSprop, {"momentum": 0.9, "alpha": 0.9}),
    (
        RMSprop,
        {"lr": 0.005, "centered": True, "momentum": 0.8, "weight_decay": 0.1, "maximize": True},
    ),
    (Adagrad, {}),
    (Adagrad, {"lr": 0.1, "lr_decay": 0.01}),
    (
        Adagrad,
        {
            "lr": 0.1,
            "lr_decay": 0.05,
            "weight_decay": 0.1,
            "initial_accumulator_value": 0.1,
            "eps": 1e-8,
            "maximize": True,
        },
    ),
    (NAdam, {}),
    (NAdam, {"lr": 0.01, "weight_decay": 0.1}),
    (NAdam, {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    (NAdam, {"betas": (0.8, 0.99), "eps": 1e-6, "momentum_decay": 0.1, "maximize": True}),
    (RAdam, {}),
    (RAdam, {"lr": 0.01, "weight_decay": 0.1}),
    (RAdam, {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    # beta2 = 0.9: rho_t > 5 from the 4th step on; beta2 = 0.5: never rectified.
    (RAdam, {"betas": (0.8, 0.9), "eps": 1e-6, "maximize": True}),
    (RAdam, {"lr": 0.01, "betas": (0.9, 0.5)}),
]


def case_id(case: tuple[type, dict[str, Any]]) -> str:
    cls, kw = case
    return cls.__name__ + "-" + ",".join(f"{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_fifty_steps_match_reference(case: tuple[type, dict[str, Any]]) -> None:
    cls, kw = case
    params = make_params()
    start = [p.data.copy() for p in params]
    grads = make_grads()
    opt = cls(params, **kw)
    run(opt, params, grads)
    want = REFS[cls](start, grads, **kw)
    for p, w in zip(params, want):
        assert p.dtype == np.float64
        np.testing.assert_allclose(p.data, w, rtol=1e-12, atol=1e-12)


def test_first_adam_step_is_bias_corrected() -> None:
    # At t = 1 the corrected moments are g and g², so each weight moves by lr * g / (|g| + eps).
    g = np.array([0.5, -2.0, 1e-3, 0.0])
    w = nn.Parameter(np.zeros(4))
    w.grad = g.copy()
    Adam([w], lr=0.1, eps=1e-8).step()
    np.testing.assert_allclose(w.data, -0.1 * g / (np.abs(g) + 1e-8), rtol=1e-12, atol=0)


def test_defaults_are_pytorchs() -> None:
    p = [nn.Parameter(np.zeros(2))]
    assert SGD(p).defaults == {
        "lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0,
        "nesterov": False, "maximize": False,
    }  # fmt: skip
    d = Adam(p).defaults
    assert (d["lr"], d["betas"], d["eps"], d["weight_decay"], d["amsgrad"]) == (
        1e-3, (0.9, 0.999), 1e-8, 0.0, False,
    )  # fmt: skip
    d = AdamW(p).defaults
    assert (d["lr"], d["weight_decay"], d["decoupled_weight_decay"]) == (1e-3, 1e-2, True)
    d = RMSprop(p).defaults
    assert (d["lr"], d["alpha"], d["eps"], d["momentum"], d["centered"]) == (
        1e-2, 0.99, 1e-8, 0.0, False,
    )  # fmt: skip
    d = Adagrad(p).defaults
    assert (d["lr"], d["lr_decay"], d["initial_accumulator_value"], d["eps"]) == (
        1e-2, 0.0, 0.0, 1e-10,
    )  # fmt: skip
    d = NAdam(p).defaults
    assert (d["lr"], d["betas"], d["eps"], d["weight_decay"], d["momentum_decay"]) == (
        2e-3, (0.9, 0.999), 1e-8, 0.0, 4e-3,
    )  # fmt: skip
    assert d["decoupled_weight_decay"] is False
    d = RAdam(p).defaults
    assert (d["lr"], d["betas"], d["eps"], d["weight_decay"], d["decoupled_weight_decay"]) == (
        1e-3, (0.9, 0.999), 1e-8, 0.0, False,
    )  # fmt: skip


def test_param_groups_with_their_own_lr() -> None:
    params = make_params()
    start = [p.data.copy() for p in params]
    grads = make_grads(20)
    backbone, head = params[:2], params[2:]
    opt = SGD(
        [{"params": backbone, "lr": 0.01}, {"params": head, "momentum": 0.5}],
        lr=0.1,
        momentum=0.9,
    )
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.1]
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.5]
    run(opt, params, grads)
    want_b = ref.sgd_ref(start[:2], [g[:2] for g in grads], lr=0.01, momentum=0.9)
    want_h = ref.sgd_ref(start[2:], [g[2:] for g in grads], lr=0.1, momentum=0.5)
    for p, w in zip(params, want_b + want_h):
        np.testing.assert_allclose(p.data, w, rtol=1e-12, atol=1e-12)


def test_add_param_group_takes_defaults() -> None:
    a, b = nn.Parameter(np.ones(3)), nn.Parameter(np.ones(2))
    opt = Adam([a], lr=0.1)
    opt.add_param_group({"params": b, "lr": 0.5})
    assert opt.param_groups[1]["lr"] == 0.5
    assert opt.param_groups[1]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ferrograd.ArgumentError, match=r"Adam: lr must be at least 0, got -1\.0"):
        opt.add_param_group({"params": [nn.Parameter(np.ones(1))], "lr": -1.0})


def test_skips_params_without_grad_and_frozen_ones() -> None:
    # b gets a gradient only every other step, so its own step count (bias correction) lags.
    rng = np.random.default_rng(3)
    a, b, c = (nn.Parameter(rng.standard_normal(4)) for _ in range(3))
    c.requires_grad_(False)
    start = [x.data.copy() for x in (a, b, c)]
    grads = [
        [rng.standard_normal(4), rng.standard_normal(4) if t % 2 else None, np.ones(4)]
        for t in range(10)
    ]
    opt = Adam([a, b, c], lr=0.05)
    run(opt, [a, b, c], grads)
    want = ref.adam_ref(start[:2], [g[:2] for g in grads], lr=0.05)
    np.testing.assert_allclose(a.data, want[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.data, want[1], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(c.data, start[2])
    assert c not in opt.state
    assert float(opt.state[a]["step"]) == 10 and float(opt.state[b]["step"]) == 5


CHECKPOINT_CASES = [
    (SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    (Adam, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01}),
    (AdamW, {"lr": 0.01}),
    (RMSprop, {"centered": True, "momentum": 0.5}),
    (Adagrad, {"lr": 0.1, "lr_decay": 0.01}),
    (NAdam, {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    (RAdam, {"lr": 0.01, "betas": (0.9, 0.9), "weight_decay": 0.01}),
]


@pytest.mark.parametrize("case", CHECKPOINT_CASES, ids=[case_id(c) for c in CHECKPOINT_CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_state_dict_resume_is_exact(case: tuple[type, dict[str, Any]], dtype: Any) -> None:
    cls, kw = case
    grads = make_grads(12)
    params = make_params(dtype)
    opt = cls(params, **kw)
    run(opt, params, grads[:5])
    saved_params = [p.data.copy() for p in params]
    saved = opt.state_dict()
    run(opt, params, grads[5:])  # uninterrupted run
    assert sorted(saved["state"]) == list(range(len(SHAPES)))
    assert saved["param_groups"][0]["params"] == list(range(len(SHAPES)))

    resumed = [nn.Parameter(x.copy()) for x in saved_params]
    opt2 = cls(resumed, lr=123.0)  # hyperparameters come back from the checkpoint
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == kw.get("lr", opt.defaults["lr"])
    run(opt2, resumed, grads[5:])
    for p, q in zip(params, resumed):
        np.testing.assert_array_equal(p.data, q.data)
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    for k in s1:
        for key in s1[k]:
            np.testing.assert_array_equal(s1[k][key], s2[k][key])


def test_state_dict_is_a_copy_and_load_checks_layout() -> None:
    params = make_params()
    opt = Adam(params)
    run(opt, params, make_grads(2))
    sd = opt.state_dict()
    before = sd["state"][0]["exp_avg"].copy()
    run(opt, params, make_grads(1, seed=9))
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], before)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        Adam([{"params": params[:1]}, {"params": params[1:]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        Adam(params[:2]).load_state_dict(sd)
    other = [nn.Parameter(np.zeros((2, 2))) for _ in SHAPES]
    with pytest.raises(ferrograd.ShapeError, match="exp_avg"):
        Adam(other).load_state_dict(sd)


@pytest.mark.parametrize("case", CASES[::3], ids=[case_id(c) for c in CASES[::3]])
def test_float32(case: tuple[type, dict[str, Any]]) -> None:
    cls, kw = case
    params = make_params(np.float32)
    start = [p.data.astype(np.float64) for p in params]
    grads = [[g.astype(np.float32) for g in step] for step in make_grads(20)]
    opt = cls(params, **kw)
    run(opt, params, grads)
    want = REFS[cls](start, grads, **kw)
    for p, w in zip(params, want):
        assert p.dtype == np.float32
        np.testing.assert_allclose(p.data, w, rtol=2e-4, atol=2e-5)
    for st in opt.state.values():
        for v in st.values():
            if isinstance(v, np.ndarray) and v.ndim:
                assert v.dtype == np.float32


def test_mixed_dtypes_in_one_group() -> None:
    a = nn.Parameter(np.ones(3, np.float32))
    b = nn.Parameter(np.ones(2, np.float64))
    a.grad, b.grad = np.full(3, 0.5, np.float32), np.full(2, 0.5)
    SGD([a, b], lr=0.1).step()
    assert a.dtype == np.float32 and b.dtype == np.float64
    np.testing.assert_allclose(a.data, 0.95, rtol=1e-7)
    np.testing.assert_allclose(b.data, 0.95, rtol=1e-15)


def test_zero_grad() -> None:
    params = make_params()
    opt = SGD(params)
    for p in params:
        p.grad = np.ones_like(p.data)
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in params)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_step_with_closure_returns_loss() -> None:
    w = nn.Parameter(np.array([2.0]))
    opt = SGD([w], lr=0.25)

    def closure() -> Any:
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss.item()) == 4.0
    assert w.data.tolist() == [1.0]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: SGD(p, lr=-0.1), "SGD: lr must be at least 0, got -0.1"),
        (lambda p: SGD(p, momentum=-1.0), "SGD: momentum must be at least 0"),
        (lambda p: SGD(p, weight_decay=-1.0), "SGD: weight_decay must be at least 0"),
        (lambda p: SGD(p, nesterov=True), "nesterov=True needs momentum > 0 and dampening 0"),
        (lambda p: SGD(p, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
        (lambda p: Adam(p, lr=-1.0), "Adam: lr must be at least 0"),
        (lambda p: Adam(p, eps=-1.0), "Adam: eps must be at least 0"),
        (lambda p: Adam(p, betas=(1.0, 0.999)), r"Adam: betas\[0\] must be in \[0, 1\)"),
        (lambda p: Adam(p, betas=(0.9, -0.1)), r"betas\[1\] must be in \[0, 1\), got -0.1"),
        (lambda p: AdamW(p, weight_decay=-0.1), "AdamW: weight_decay must be at least 0"),
        (lambda p: RMSprop(p, alpha=-0.5), "RMSprop: alpha must be at least 0"),
        (lambda p: RMSprop(p, momentum=-0.5), "RMSprop: momentum must be at least 0"),
        (lambda p: Adagrad(p, lr_decay=-0.5), "Adagrad: lr_decay must be at least 0"),
        (lambda p: Adagrad(p, initial_accumulator_value=-1), "initial_accumulator_value"),
        (lambda p: Adagrad(p, eps=-1.0), "Adagrad: eps must be at least 0"),
        (lambda p: SGD(p, lr=float("nan")), "SGD: lr must be at least 0, got nan"),
        (lambda p: NAdam(p, lr=-1.0), "NAdam: lr must be at least 0"),
        (lambda p: NAdam(p, momentum_decay=-1.0), "NAdam: momentum_decay must be at least 0"),
        (lambda p: NAdam(p, betas=(0.9, 1.0)), r"NAdam: betas\[1\] must be in \[0, 1\)"),
        (lambda p: RAdam(p, eps=-1.0), "RAdam: eps must be at least 0"),
        (lambda p: RAdam(p, weight_decay=-0.1), "RAdam: weight_decay must be at least 0"),
    ],
)
def test_invalid_hyperparameters(make: Callable[[Any], Any], match: str) -> None:
    with pytest.raises(ferrograd.ArgumentError, match=match):
        make([nn.Parameter(np.zeros(2))])


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: Adam(p, betas="ab"), r"Adam: betas must be a pair of numbers, got 'ab'"),
        (lambda p: Adam(p, betas=5), "Adam: betas must be a pair of numbers, got 5"),
        (lambda p: Adam(p, lr="0.1"), "Adam: lr must be a real number, got '0.1'"),
        (lambda p: Adam(p, amsgrad="yes"), "Adam: amsgrad must be True or False"),
        (lambda p: SGD(p, momentum=None), "SGD: momentum must be a real number, got None"),
        (lambda p: SGD(p, nesterov=1), "SGD: nesterov must be True or False, got 1"),
        (lambda p: RMSprop(p, centered="no"), "RMSprop: centered must be True or False"),
        (lambda p: Adagrad(p, eps=[1e-10]), "Adagrad: eps must be a real number"),
        (lambda p: NAdam(p, decoupled_weight_decay=1), "NAdam: decoupled_weight_decay must be"),
        (lambda p: RAdam(p, betas=0.9), "RAdam: betas must be a pair of numbers"),
    ],
)
def test_hyperparameters_of_the_wrong_type(make: Callable[[Any], Any], match: str) -> None:
    with pytest.raises(ferrograd.DTypeError, match=match):
        make([nn.Parameter(np.zeros(2))])


def test_invalid_constructions() -> None:
    w = nn.Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([])
    with pytest.raises(TypeError, match="ordered collections"):
        SGD({w})
    with pytest.raises(TypeError, match="single Tensor"):
        SGD(w)
    with pytest.raises(TypeError, match="only optimize Tensors"):
        SGD([np.zeros(2)])
    with pytest.raises(ValueError, match="same parameter twice"):
        SGD([w, w])


def test_bad_group_change_raises_and_leaves_params_alone() -> None:
    params = make_params()
    opt = Adam(params)
    for p in params:
        p.grad = np.ones_like(p.data)
    before = [p.data.copy() for p in params]
    opt.param_groups[0]["lr"] = -1.0
    with pytest.raises(ferrograd.ArgumentError, match="Adam: lr must be at least 0"):
        opt.step()
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p.data, b)
    params[0].grad = np.ones(3)
    opt.param_groups[0]["lr"] = 0.1
    with pytest.raises(ferrograd.ShapeError, match=r"params'\]\[0\] has shape \(3,\)"):
        opt.step()


def test_kernel_checks_its_input() -> None:
    kw = dict(
        lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False,
        maximize=False, decoupled_weight_decay=False,
    )  # fmt: skip
    p, g, m, v = (np.zeros(4) for _ in range(4))
    _core.adam_step([p], [g], [m], [v], None, [1.0], **kw)
    with pytest.raises(ferrograd.ShapeError, match=r"exp_avgs\[0\] has shape"):
        _core.adam_step([p], [g], [np.zeros(3)], [v], None, [1.0], **kw)
    with pytest.raises(ferrograd.DTypeError, match=r"grads\[0\] is float32"):
        _core.adam_step([p], [g.astype(np.float32)], [m], [v], None, [1.0], **kw)
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.adam_step([np.zeros((4, 4))[:, 0]], [g], [m], [v], None, [1.0], **kw)
    ro = np.zeros(4)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _core.adam_step([ro], [g], [m], [v], None, [1.0], **kw)
    with pytest.raises(ValueError, match="shares memory"):
        _core.adam_step([p], [g], [p], [v], None, [1.0], **kw)
    with pytest.raises(ValueError, match="1 params but 2 steps"):
        _core.adam_step([p], [g], [m], [v], None, [1.0, 2.0], **kw)
    with pytest.raises(ValueError, match="amsgrad"):
        _core.adam_step([p], [g], [m], [v], None, [1.0], **{**kw, "amsgrad": True})
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        _core.adam_step([p], [g], [m], [v], None, [1.0], **{**kw, "beta2": 1.0})
    with pytest.raises(ferrograd.DTypeError, match="float32 or float64"):
        _core.sgd_step(
            [np.zeros(2, np.int64)], [np.zeros(2)], None, [], lr=0.1, momentum=0.0,
            dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False,
        )  # fmt: skip
    # a strided gradient is fine (copied once)
    gs = np.ones((4, 2))[:, 0]
    _core.adam_step([p], [gs], [m], [v], None, [2.0], **kw)
    assert np.all(p < 0)


def test_non_contiguous_parameter_is_made_contiguous() -> None:
    w = nn.Parameter(np.ones((3, 4)).T)
    w.grad = np.ones((4, 3))
    SGD([w], lr=0.5).step()
    assert w.data.flags.c_contiguous
    np.testing.assert_array_equal(w.data, np.full((4, 3), 0.5))


@pytest.mark.parametrize(
    "make", [lambda p: SGD(p, lr=0.1, momentum=0.9), lambda p: Adam(p, lr=0.01)]
)
def test_gradient_accumulation_equals_full_batch(make: Callable[[Any], Any]) -> None:
    ferrograd.manual_seed(0)
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((12, 4)), rng.standard_normal((12, 3))
    k = 4

    def loss_fn(model: nn.Module, xb: np.ndarray, yb: np.ndarray) -> Any:
        return ((model(tensor(xb)) - tensor(yb)) ** 2).mean()

    full = nn.Linear(4, 3).double()
    acc = nn.Linear(4, 3).double()
    acc.load_state_dict(full.state_dict())
    opt_full, opt_acc = make(full.parameters()), make(acc.parameters())
    for _ in range(3):
        opt_full.zero_grad()
        loss_fn(full, x, y).backward()
        opt_full.step()

        opt_acc.zero_grad()
        for xb, yb in zip(np.split(x, k), np.split(y, k)):
            (loss_fn(acc, xb, yb) / k).backward()
        opt_acc.step()
    for a, b in zip(full.parameters(), acc.parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-13)


def test_trains_a_small_model() -> None:
    ferrograd.manual_seed(1)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3
    model = nn.Linear(3, 1)
    opt = optim_mod.AdamW(model.parameters(), lr=0.05, weight_decay=0.0)
    for _ in range(300):
        opt.zero_grad()
        loss = ((model(tensor(x)) - tensor(y)) ** 2).mean()
        loss.backward()
        opt.step()
    assert float(loss.item()) < 1e-4


ALL_OPTIMIZERS = {
    "SGD": lambda g: SGD(g, lr=0.1, momentum=0.9),
    "Adam": lambda g: Adam(g, amsgrad=True),
    "AdamW": lambda g: AdamW(g),
    "RMSprop": lambda g: RMSprop(g, momentum=0.5, centered=True),
    "Adagrad": lambda g: Adagrad(g),
    "NAdam": lambda g: NAdam(g, weight_decay=0.1),
    "RAdam": lambda g: RAdam(g, decoupled_weight_decay=True, weight_decay=0.1),
}

BAD_GRADS = {
    "complex": lambda p: np.ones(p.shape) + 1j,
    "string": lambda p: "abc",
    "list": lambda p: [1.0] * p.data.size,
    "object array": lambda p: np.full(p.shape, object()),
    "wrong shape": lambda p: np.ones(p.data.size + 1),
}


@pytest.mark.parametrize("bad", sorted(BAD_GRADS))
@pytest.mark.parametrize("name", sorted(ALL_OPTIMIZERS))
def test_a_failed_step_changes_nothing(name: str, bad: str) -> None:
    """A bad gradient anywhere (the last group, the float32 bucket of a mixed group) fails the
    step before any parameter or state is touched, with a typed error naming the parameter."""
    first = make_params(np.float64)
    mixed = [nn.Parameter(np.ones(3)), nn.Parameter(np.ones(4, np.float32))]
    opt = ALL_OPTIMIZERS[name]([{"params": first}, {"params": mixed, "lr": 0.01}])
    for p in first + mixed:
        p.grad = np.ones(p.shape, p.dtype)
    opt.step()  # some state exists already
    before = [p.data.copy() for p in first + mixed]
    state = {k: v for k, v in opt.state_dict()["state"].items()}
    mixed[1].grad = BAD_GRADS[bad](mixed[1])
    error = ferrograd.ShapeError if bad == "wrong shape" else ferrograd.DTypeError
    with pytest.raises(error, match=r"param_groups\[1\]\['params'\]\[1\]"):
        opt.step()
    for p, b in zip(first + mixed, before):
        np.testing.assert_array_equal(p.data, b)
    after = opt.state_dict()["state"]
    assert list(after) == list(state)
    for k in state:
        for key, v in state[k].items():
            np.testing.assert_array_equal(after[k][key], v)


def test_state_of_the_wrong_shape_fails_the_step_before_any_update() -> None:
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))
    opt = Adam([{"params": [a]}, {"params": [b]}])
    for p in (a, b):
        p.grad = np.ones_like(p.data)
    opt.step()
    opt.state[b]["exp_avg"] = np.zeros(5)
    before = a.data.copy()
    with pytest.raises(ferrograd.ShapeError, match=r"state 'exp_avg' has shape \(5,\)"):
        opt.step()
    np.testing.assert_array_equal(a.data, before)
    opt.state[b]["exp_avg"] = np.zeros(3)
    opt.state[b]["step"] = np.array(np.nan)
    with pytest.raises(ferrograd.ArgumentError, match="'step'"):
        opt.step()
    np.testing.assert_array_equal(a.data, before)


def test_nadam_keeps_mu_product_as_scalar_state() -> None:
    params = make_params()
    opt = NAdam(params, lr=0.01)
    run(opt, params, make_grads(3))
    st = opt.state[params[0]]
    assert st["mu_product"].shape == () and st["mu_product"].dtype == np.float64
    mus = [0.9 * (1 - 0.5 * 0.96 ** (t * 4e-3)) for t in (1, 2, 3)]
    assert float(st["mu_product"]) == pytest.approx(np.prod(mus), rel=1e-15)
    st["mu_product"] = np.array(-1.0)
    with pytest.raises(ferrograd.ArgumentError, match="'mu_product'"):
        opt.step()


def test_nadam_radam_kernels_check_their_input() -> None:
    p, g = np.zeros(3), np.ones(3)
    kw = dict(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)
    with pytest.raises(ferrograd.ShapeError, match="exp_avgs"):
        _core.nadam_step(
            [p], [g], [np.zeros(2)], [np.zeros(3)], [1.0], [1.0],
            momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False, **kw,
        )  # fmt: skip
    with pytest.raises(ferrograd.ArgumentError, match="mu_products"):
        _core.nadam_step(
            [p], [g], [np.zeros(3)], [np.zeros(3)], [1.0], [],
            momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False, **kw,
        )  # fmt: skip
    with pytest.raises(ferrograd.ArgumentError, match="steps"):
        _core.radam_step(
            [p], [g], [np.zeros(3)], [np.zeros(3)], [0.0],
            decoupled_weight_decay=False, maximize=False, **kw,
        )  # fmt: skip
    with pytest.raises(ferrograd.DTypeError, match="exp_avg_sqs"):
        _core.radam_step(
            [p], [g], [np.zeros(3)], [np.zeros(3, np.float32)], [1.0],
            decoupled_weight_decay=False, maximize=False, **kw,
        )  # fmt: skip
    np.testing.assert_array_equal(p, np.zeros(3))
