"""Learning-rate schedules against their closed forms (tests/reference.py)."""

from __future__ import annotations

from typing import Any, Callable

import ferrograd as fg
import numpy as np
import pytest
import reference as ref
from ferrograd import nn
from ferrograd.optim import SGD, Adagrad, Adam
from ferrograd.optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    OneCycleLR,
    ReduceLROnPlateau,
    StepLR,
)

BASES = (0.1, 0.02)


def make_opt(cls: Any = SGD, **kw: Any) -> Any:
    groups = [{"params": [nn.Parameter(np.zeros(3))], "lr": b} for b in BASES]
    return cls(groups, **kw)


def lr_sequence(sched: LRScheduler, opt: Any, n: int) -> np.ndarray:
    """Learning rates in force at epochs 0..n-1 (shape (n, groups))."""
    out = []
    for _ in range(n):
        last = sched.get_last_lr()
        assert last == [g["lr"] for g in opt.param_groups]
        out.append(last)
        opt.step()
        sched.step()
    return np.array(out)


def expected(fn: Callable[[float, int], float], n: int) -> np.ndarray:
    return np.array([[fn(b, t) for b in BASES] for t in range(n)])


SCHEDULES: list[tuple[str, Callable[[Any], LRScheduler], Callable[[float, int], float], int]] = [
    ("step", lambda o: StepLR(o, step_size=3), lambda b, t: ref.step_lr_ref(b, t, 3), 12),
    (
        "step_gamma",
        lambda o: StepLR(o, step_size=2, gamma=0.5),
        lambda b, t: ref.step_lr_ref(b, t, 2, 0.5),
        12,
    ),
    (
        "multistep",
        lambda o: MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
        lambda b, t: ref.multistep_lr_ref(b, t, [2, 5, 5, 9], 0.3),
        14,
    ),
    (
        "exponential",
        lambda o: ExponentialLR(o, gamma=0.9),
        lambda b, t: ref.exponential_lr_ref(b, t, 0.9),
        30,
    ),
    (
        "cosine",
        lambda o: CosineAnnealingLR(o, T_max=10, eta_min=0.001),
        lambda b, t: ref.cosine_lr_ref(b, t, 10, 0.001),
        35,  # past T_max: the cosine continues, as in PyTorch
    ),
    (
        "cosine_to_zero",
        lambda o: CosineAnnealingLR(o, T_max=7),
        lambda b, t: ref.cosine_lr_ref(b, t, 7),
        8,
    ),
    (
        "linear_warmup",
        lambda o: LinearLR(o, start_factor=0.1, total_iters=4),
        lambda b, t: ref.linear_lr_ref(b, t, 0.1, 1.0, 4),
        10,
    ),
    ("linear_defaults", LinearLR, lambda b, t: ref.linear_lr_ref(b, t, 1 / 3, 1.0, 5), 9),
    (
        "linear_decay",
        lambda o: LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=6),
        lambda b, t: ref.linear_lr_ref(b, t, 1.0, 0.2, 6),
        10,
    ),
]


@pytest.mark.parametrize(
    ("make", "formula", "n"), [s[1:] for s in SCHEDULES], ids=[s[0] for s in SCHEDULES]
)
def test_sequence_matches_formula(
    make: Callable[[Any], LRScheduler], formula: Callable[[float, int], float], n: int
) -> None:
    opt = make_opt()
    got = lr_sequence(make(opt), opt, n)
    np.testing.assert_allclose(got, expected(formula, n), rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize(
    ("make", "formula", "n"), [s[1:] for s in SCHEDULES], ids=[s[0] for s in SCHEDULES]
)
def test_state_dict_resume(
    make: Callable[[Any], LRScheduler], formula: Callable[[float, int], float], n: int
) -> None:
    opt = make_opt()
    sched = make(opt)
    whole = lr_sequence(sched, opt, n)

    opt = make_opt()
    sched = make(opt)
    first = lr_sequence(sched, opt, n // 2)
    opt_state, sched_state = opt.state_dict(), sched.state_dict()
    assert "optimizer" not in sched_state
    opt2 = make_opt()
    sched2 = make(opt2)
    opt2.load_state_dict(opt_state)
    sched2.load_state_dict(sched_state)
    rest = lr_sequence(sched2, opt2, n - n // 2)
    np.testing.assert_array_equal(np.concatenate([first, rest]), whole)


@pytest.mark.parametrize(
    ("make", "formula"),
    [
        (lambda o: StepLR(o, step_size=3, gamma=0.5), lambda b, t: ref.step_lr_ref(b, t, 3, 0.5)),
        (
            lambda o: CosineAnnealingLR(o, T_max=10),
            lambda b, t: ref.cosine_lr_ref(b, t, 10),
        ),
        (
            lambda o: LinearLR(o, start_factor=0.5, total_iters=4),
            lambda b, t: ref.linear_lr_ref(b, t, 0.5, 1.0, 4),
        ),
        (lambda o: ExponentialLR(o, gamma=0.8), lambda b, t: ref.exponential_lr_ref(b, t, 0.8)),
        (
            lambda o: MultiStepLR(o, milestones=[3, 6]),
            lambda b, t: ref.multistep_lr_ref(b, t, [3, 6]),
        ),
    ],
)
def test_step_with_epoch_uses_closed_form(
    make: Callable[[Any], LRScheduler], formula: Callable[[float, int], float]
) -> None:
    opt = make_opt()
    sched = make(opt)
    for epoch in (7, 2, 5):
        with pytest.warns(UserWarning, match="deprecated"):
            sched.step(epoch)
        want = [formula(b, epoch) for b in BASES]
        np.testing.assert_allclose(sched.get_last_lr(), want, rtol=1e-12)


ONE_CYCLE = [
    {},
    {"anneal_strategy": "linear"},
    {"three_phase": True},
    {"pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0},
    {"three_phase": True, "anneal_strategy": "linear", "pct_start": 0.4},
]


@pytest.mark.parametrize("kw", ONE_CYCLE, ids=[str(k) for k in ONE_CYCLE])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_one_cycle(kw: dict[str, Any], optimizer: str) -> None:
    total, max_lrs = 40, [1.0, 0.3]
    if optimizer == "sgd":
        opt = make_opt(SGD, momentum=0.9)
    else:
        opt = make_opt(Adam, betas=(0.9, 0.98))
    sched = OneCycleLR(opt, max_lr=max_lrs, total_steps=total, **kw)
    ref_kw = {
        "pct_start": kw.get("pct_start", 0.3),
        "div_factor": kw.get("div_factor", 25.0),
        "final_div_factor": kw.get("final_div_factor", 1e4),
        "anneal": kw.get("anneal_strategy", "cos"),
        "three_phase": kw.get("three_phase", False),
    }
    for step in range(total):
        for group, m in zip(opt.param_groups, max_lrs):
            lr, mom = ref.one_cycle_ref(step, total, m, **ref_kw)
            assert group["lr"] == pytest.approx(lr, rel=1e-12, abs=1e-15)
            got_m = group["momentum"] if optimizer == "sgd" else group["betas"][0]
            assert got_m == pytest.approx(mom, rel=1e-12)
            if optimizer == "adam":
                assert group["betas"][1] == 0.98
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="tried to step 41 times"):
        sched.step()


def test_one_cycle_epochs_and_resume() -> None:
    opt = make_opt(SGD, momentum=0.9)
    sched = OneCycleLR(opt, max_lr=0.5, epochs=3, steps_per_epoch=10, cycle_momentum=False)
    assert sched.total_steps == 30
    assert opt.param_groups[0]["momentum"] == 0.9
    whole = lr_sequence(sched, opt, 30)
    opt = make_opt(SGD, momentum=0.9)
    sched = OneCycleLR(opt, max_lr=0.5, epochs=3, steps_per_epoch=10, cycle_momentum=False)
    first = lr_sequence(sched, opt, 12)
    o, s = opt.state_dict(), sched.state_dict()
    opt2 = make_opt(SGD, momentum=0.9)
    sched2 = OneCycleLR(opt2, max_lr=0.5, epochs=3, steps_per_epoch=10, cycle_momentum=False)
    opt2.load_state_dict(o)
    sched2.load_state_dict(s)
    np.testing.assert_array_equal(np.concatenate([first, lr_sequence(sched2, opt2, 18)]), whole)


PLATEAU_METRICS = [
    1.0, 0.9, 0.95, 0.9, 0.91, 0.92, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9, 0.84, 0.84, 0.84,
    0.8399, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9,
]  # fmt: skip


@pytest.mark.parametrize(
    "kw",
    [
        {"patience": 2},
        {"patience": 1, "factor": 0.5, "cooldown": 2},
        {"patience": 0, "factor": 0.5, "min_lr": 0.004},
        {"patience": 1, "threshold": 0.05, "threshold_mode": "abs"},
        {"patience": 1, "threshold": 0.01},
        {"mode": "max", "patience": 2, "factor": 0.2},
        {"mode": "max", "patience": 1, "threshold": 0.02, "threshold_mode": "abs"},
    ],
)
def test_reduce_on_plateau(kw: dict[str, Any]) -> None:
    opt = make_opt()
    sched = ReduceLROnPlateau(opt, **kw)
    got = []
    for m in PLATEAU_METRICS:
        sched.step(m)
        got.append(sched.get_last_lr())
        assert got[-1] == [g["lr"] for g in opt.param_groups]
    want = np.array([ref.plateau_ref(b, PLATEAU_METRICS, **kw) for b in BASES]).T
    np.testing.assert_allclose(np.array(got), want, rtol=1e-12)


def test_reduce_on_plateau_resume_and_errors() -> None:
    opt = make_opt()
    sched = ReduceLROnPlateau(opt, patience=1, cooldown=1, min_lr=[0.0, 0.01])
    for m in PLATEAU_METRICS[:9]:
        sched.step(m)
    o, s = opt.state_dict(), sched.state_dict()
    rest_a = []
    for m in PLATEAU_METRICS[9:]:
        sched.step(m)
        rest_a.append(sched.get_last_lr())
    opt2 = make_opt()
    sched2 = ReduceLROnPlateau(opt2)
    opt2.load_state_dict(o)
    sched2.load_state_dict(s)
    rest_b = []
    for m in PLATEAU_METRICS[9:]:
        sched2.step(np.float64(m))
        rest_b.append(sched2.get_last_lr())
    assert rest_a == rest_b
    assert min(r[1] for r in rest_b) >= 0.01
    with pytest.raises(fg.ArgumentError, match=r"factor must be in \[0, 1\), got 1\.0"):
        ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(fg.ArgumentError, match="mode must be one of 'min', 'max', got 'median'"):
        ReduceLROnPlateau(opt, mode="median")
    with pytest.raises(fg.ArgumentError, match="threshold_mode must be one of"):
        ReduceLROnPlateau(opt, threshold_mode="pct")
    with pytest.raises(fg.ArgumentError, match=r"min_lr must have one value per .* \(2\), got 1"):
        ReduceLROnPlateau(opt, min_lr=[0.1])
    with pytest.raises(fg.DTypeError, match="metrics must be a number, got 'abc'"):
        ReduceLROnPlateau(opt).step("abc")


def test_errors() -> None:
    opt = make_opt()
    with pytest.raises(fg.ArgumentError, match=r"LinearLR: start_factor must be in \(0, 1\]"):
        LinearLR(opt, start_factor=0.0)
    with pytest.raises(fg.ArgumentError, match=r"LinearLR: end_factor must be in \[0, 1\]"):
        LinearLR(opt, end_factor=1.5)
    with pytest.raises(fg.ArgumentError, match="total_iters must be a positive int, got 0"):
        LinearLR(opt, total_iters=0)
    with pytest.raises(fg.ArgumentError, match="give total_steps, or epochs and steps_per_epoch"):
        OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(fg.ArgumentError, match="total_steps must be a positive int, got 0"):
        OneCycleLR(opt, max_lr=1.0, total_steps=0)
    with pytest.raises(fg.ArgumentError, match=r"pct_start must be in \[0, 1\], got 1\.5"):
        OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=1.5)
    with pytest.raises(fg.ArgumentError, match="anneal_strategy must be one of 'cos', 'linear'"):
        OneCycleLR(opt, max_lr=1.0, total_steps=10, anneal_strategy="exp")
    with pytest.raises(fg.ArgumentError, match="max_lr must have one value per parameter group"):
        OneCycleLR(opt, max_lr=[1.0], total_steps=10)
    with pytest.raises(fg.ArgumentError, match="needs an optimizer with momentum or betas"):
        OneCycleLR(make_opt(Adagrad), max_lr=1.0, total_steps=10)
    with pytest.raises(fg.DTypeError, match=r"optimizer must be a ferrograd\.optim\.Optimizer"):
        StepLR(object(), step_size=1)  # type: ignore[arg-type]
    with pytest.raises(fg.ArgumentError, match="StepLR: step_size must be a positive int, got 0"):
        StepLR(opt, step_size=0)
    with pytest.raises(fg.DTypeError, match=r"StepLR: step_size must be an int, got 2\.5"):
        StepLR(opt, step_size=2.5)
    with pytest.raises(fg.ArgumentError, match="CosineAnnealingLR: T_max must be a positive int"):
        CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(fg.DTypeError, match=r"milestones\[1\] must be an int, got 'a'"):
        MultiStepLR(opt, milestones=[1, "a"])
    with pytest.raises(fg.DTypeError, match="ExponentialLR: gamma must be a real number"):
        ExponentialLR(opt, gamma="0.9")
    with pytest.raises(KeyError, match="initial_lr"):
        StepLR(make_opt(), step_size=1, last_epoch=3)


def test_schedulers_drive_the_optimizer() -> None:
    # The lr the scheduler sets is the one the next optimizer step uses.
    w = nn.Parameter(np.zeros(1))
    opt = SGD([w], lr=1.0)
    sched = StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        w.grad = np.ones(1)
        opt.step()
        sched.step()
    assert w.data.tolist() == [-(1.0 + 0.5 + 0.25)]
