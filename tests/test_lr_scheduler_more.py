"""LambdaLR, CosineAnnealingWarmRestarts and SequentialLR: long sequences against closed forms,
float epochs, state-dict round trips (resumed runs continue the same sequence), errors."""

from __future__ import annotations

import math
import warnings
from typing import Any

import ferrograd as fg
import numpy as np
import pytest
from ferrograd import nn
from ferrograd.optim import SGD
from ferrograd.optim.lr_scheduler import (
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)
from reference import warm_restarts_ref

BASES = (0.1, 0.02)


def make_opt() -> SGD:
    return SGD([{"params": [nn.Parameter(np.zeros(3))], "lr": b} for b in BASES])


def run(sched: Any, opt: SGD, n: int) -> np.ndarray:
    """Learning rates in force at epochs 0..n-1, shape (n, groups)."""
    out = []
    for _ in range(n):
        last = sched.get_last_lr()
        assert last == [g["lr"] for g in opt.param_groups]
        out.append(last)
        opt.step()
        sched.step()
    return np.array(out)


# ----------------------------------------------------------------------------------- LambdaLR


class Warmup:
    """A callable object with state (kept by the state dict, as in PyTorch)."""

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def __call__(self, epoch: int) -> float:
        return min(1.0, (epoch + 1) / self.steps)


def test_lambda_lr_one_function_and_one_per_group():
    t = np.arange(60)
    opt = make_opt()
    got = run(LambdaLR(opt, lambda e: 0.95**e), opt, 60)
    np.testing.assert_allclose(got, np.outer(0.95**t, BASES), rtol=1e-13)
    opt = make_opt()
    got = run(LambdaLR(opt, [lambda e: 1 / (1 + e), Warmup(10)]), opt, 60)
    np.testing.assert_allclose(got[:, 0], BASES[0] / (1 + t), rtol=1e-13)
    np.testing.assert_allclose(got[:, 1], BASES[1] * np.minimum(1, (t + 1) / 10), rtol=1e-13)


def test_lambda_lr_state_dict_round_trip():
    opt = make_opt()
    sched = LambdaLR(opt, [lambda e: 0.9**e, Warmup(10)])
    whole = run(sched, opt, 30)
    opt = make_opt()
    sched = LambdaLR(opt, [lambda e: 0.9**e, Warmup(10)])
    first = run(sched, opt, 12)
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None, {"steps": 10}] and "optimizer" not in state
    # resuming as in PyTorch: make the scheduler, then load the optimizer (its lr) and it
    opt2 = make_opt()
    warm = Warmup(99)
    resumed = LambdaLR(opt2, [lambda e: 0.9**e, warm])
    opt2.load_state_dict(opt.state_dict())
    resumed.load_state_dict(state)
    assert warm.steps == 10 and resumed.last_epoch == 12
    rest = run(resumed, opt2, 18)
    np.testing.assert_allclose(np.vstack([first, rest]), whole, rtol=1e-15)


def test_lambda_lr_errors():
    with pytest.raises(fg.ArgumentError, match="expected 2 lr_lambdas"):
        LambdaLR(make_opt(), [lambda e: 1.0])
    with pytest.raises(fg.DTypeError, match="lr_lambda must be a function"):
        LambdaLR(make_opt(), 0.5)
    with pytest.raises(fg.DTypeError, match="optimizer must be"):
        LambdaLR(None, lambda e: 1.0)
    with pytest.raises(fg.DTypeError, match=r"lr_lambda\(0\) must be a real number"):
        LambdaLR(make_opt(), lambda e: "fast")


# ---------------------------------------------------------------- CosineAnnealingWarmRestarts


@pytest.mark.parametrize(("T_0", "T_mult", "eta_min"), [(10, 1, 0.0), (5, 2, 1e-3), (3, 3, 0.0)])
def test_warm_restarts_sequence(T_0, T_mult, eta_min):
    opt = make_opt()
    got = run(CosineAnnealingWarmRestarts(opt, T_0, T_mult, eta_min), opt, 120)
    t = np.arange(120)
    for k, base in enumerate(BASES):
        np.testing.assert_allclose(got[:, k], warm_restarts_ref(t, base, T_0, T_mult, eta_min))


@pytest.mark.parametrize(("T_0", "T_mult"), [(10, 1), (5, 2), (3, 3)])
def test_warm_restarts_float_epochs_follow_the_batches(T_0, T_mult):
    opt = make_opt()
    sched = CosineAnnealingWarmRestarts(opt, T_0, T_mult, eta_min=0.001)
    iters = 7
    epochs = [e + i / iters for e in range(40) for i in range(iters)]
    got = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # documented usage: no deprecation warning
        for epoch in epochs:
            sched.step(epoch)
            got.append(sched.get_last_lr())
            assert sched.last_epoch == math.floor(epoch)
    got = np.array(got)
    for k, base in enumerate(BASES):
        want = warm_restarts_ref(epochs, base, T_0, T_mult, 0.001)
        np.testing.assert_allclose(got[:, k], want, rtol=1e-12, atol=1e-15)
    # back to whole epochs: step() continues from the last one
    sched.step(17)
    sched.step()
    want = warm_restarts_ref([18], BASES[0], T_0, T_mult, 0.001)[0]
    assert sched.get_last_lr()[0] == pytest.approx(want, rel=1e-12)


def test_warm_restarts_state_dict_round_trip():
    opt = make_opt()
    whole = run(CosineAnnealingWarmRestarts(opt, 4, 2), opt, 50)
    opt = make_opt()
    sched = CosineAnnealingWarmRestarts(opt, 4, 2)
    first = run(sched, opt, 21)
    opt2 = make_opt()
    resumed = CosineAnnealingWarmRestarts(opt2, 4, 2)
    opt2.load_state_dict(opt.state_dict())
    resumed.load_state_dict(sched.state_dict())
    assert (resumed.T_i, resumed.T_cur) == (sched.T_i, sched.T_cur)
    np.testing.assert_allclose(np.vstack([first, run(resumed, opt2, 29)]), whole, rtol=1e-15)


def test_warm_restarts_errors():
    name = "CosineAnnealingWarmRestarts"
    with pytest.raises(fg.ArgumentError, match=f"{name}: T_0 must be a positive int"):
        CosineAnnealingWarmRestarts(make_opt(), 0)
    with pytest.raises(fg.DTypeError, match="T_0 must be an int"):
        CosineAnnealingWarmRestarts(make_opt(), 2.5)
    with pytest.raises(fg.ArgumentError, match="T_mult must be a positive int, got 0"):
        CosineAnnealingWarmRestarts(make_opt(), 2, T_mult=0)
    with pytest.raises(fg.DTypeError, match="T_mult must be an int"):
        CosineAnnealingWarmRestarts(make_opt(), 2, T_mult=1.5)
    with pytest.raises(fg.DTypeError, match="eta_min must be a real number"):
        CosineAnnealingWarmRestarts(make_opt(), 2, eta_min="0")
    sched = CosineAnnealingWarmRestarts(make_opt(), 2)
    with pytest.raises(fg.ArgumentError, match="epoch must be at least 0"):
        sched.step(-1)
    with pytest.raises(fg.DTypeError, match="epoch must be a real number"):
        sched.step("3")


# ------------------------------------------------------------------------------ SequentialLR


def test_sequential_warmup_then_cosine():
    opt = make_opt()
    warm = LinearLR(opt, start_factor=0.1, total_iters=4)
    cos = CosineAnnealingLR(opt, T_max=30, eta_min=0.0)
    got = run(SequentialLR(opt, [warm, cos], milestones=[4]), opt, 34)
    t = np.arange(34)
    for k, base in enumerate(BASES):
        ramp = base * (0.1 + 0.9 * t / 4)
        cosine = base * (1 + np.cos(np.pi * (t - 4) / 30)) / 2
        np.testing.assert_allclose(got[:, k], np.where(t < 4, ramp, cosine), rtol=1e-12)


def test_sequential_three_schedulers_each_restart_at_their_milestone():
    opt = make_opt()
    scheds = [
        ExponentialLR(opt, gamma=0.9),
        StepLR(opt, step_size=2, gamma=0.5),
        LambdaLR(opt, lambda e: 1.0 / (1 + e)),
    ]
    got = run(SequentialLR(opt, scheds, milestones=[3, 8]), opt, 40)
    t = np.arange(40)
    first = 0.9**t
    second = 0.5 ** ((t - 3) // 2)
    third = 1.0 / (1 + np.maximum(t - 8, 0))
    factor = np.where(t < 3, first, np.where(t < 8, second, third))
    np.testing.assert_allclose(got, np.outer(factor, BASES), rtol=1e-12)


def _sequential(opt):
    return SequentialLR(
        opt,
        [LinearLR(opt, start_factor=0.5, total_iters=3), CosineAnnealingWarmRestarts(opt, 5, 2)],
        milestones=[3],
    )


def test_sequential_state_dict_round_trip():
    opt = make_opt()
    whole = run(_sequential(opt), opt, 40)
    opt = make_opt()
    sched = _sequential(opt)
    first = run(sched, opt, 17)
    state = sched.state_dict()
    assert len(state["_schedulers"]) == 2 and "optimizer" not in state
    opt2 = make_opt()
    resumed = _sequential(opt2)
    opt2.load_state_dict(opt.state_dict())
    resumed.load_state_dict(state)
    np.testing.assert_allclose(np.vstack([first, run(resumed, opt2, 23)]), whole, rtol=1e-15)


def test_sequential_errors():
    opt = make_opt()
    a = StepLR(opt, 2)
    with pytest.raises(fg.ArgumentError, match="at least one scheduler"):
        SequentialLR(opt, [], milestones=[])
    with pytest.raises(fg.DTypeError, match="schedulers must be a list"):
        SequentialLR(opt, a, milestones=[])
    with pytest.raises(fg.ArgumentError, match="one milestone fewer than schedulers"):
        SequentialLR(opt, [a, StepLR(opt, 3)], milestones=[])
    with pytest.raises(fg.ArgumentError, match="same optimizer"):
        SequentialLR(opt, [a, StepLR(make_opt(), 3)], milestones=[2])
    with pytest.raises(fg.ArgumentError, match="ReduceLROnPlateau"):
        SequentialLR(opt, [a, ReduceLROnPlateau(opt)], milestones=[2])
    with pytest.raises(fg.DTypeError, match=r"schedulers\[1\] must be a learning-rate"):
        SequentialLR(opt, [a, "cosine"], milestones=[2])
    with pytest.raises(fg.DTypeError, match=r"milestones\[0\] must be an int"):
        SequentialLR(opt, [a, StepLR(opt, 3)], milestones=[2.5])
