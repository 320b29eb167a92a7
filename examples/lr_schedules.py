"""Learning-rate decay: the same network and data under several learning-rate schedules.

Mini-batch SGD with a high learning rate moves fast but, near a minimum, keeps jumping
around it (each small batch points somewhere else); a low rate settles but takes long to
get there. A schedule starts high and ends low. Compared here, each passed to
``Trainer(scheduler=...)`` (stepped once per epoch; ``OneCycleLR`` once per batch):
constant rates (high and low), ``StepLR``, ``ExponentialLR``, ``CosineAnnealingLR`` and
``OneCycleLR`` (warm up, then anneal). The task is a noisy nonlinear regression whose noise
alone gives a mean squared error of 0.09. Every schedule settles where the high constant
rate cannot, and the best of them ends below the low constant rate.

Run: ``python examples/lr_schedules.py`` (``FERROGRAD_EXAMPLES_FAST=1`` for a quick run).
"""

from __future__ import annotations

import ferrograd as fg
import numpy as np
from _fast import full_or_fast
from ferrograd import nn, optim
from ferrograd.optim import lr_scheduler
from ferrograd.train import Trainer

HIGH, LOW = 0.05, 0.005
BATCH = 16


def make_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.standard_normal((n, 8)).astype(np.float32)
    y = np.sin(2 * x[:, 0]) + x[:, 1] * x[:, 2] + 0.3 * rng.standard_normal(n)
    return x, y.astype(np.float32)[:, None]


def main() -> None:
    epochs = full_or_fast(30, 12)
    rng = np.random.default_rng(0)
    train, val = make_data(2000, rng), make_data(2000, rng)
    steps_per_epoch = -(-len(train[0]) // BATCH)
    schedules = {
        f"constant {HIGH}": (HIGH, lambda opt: None),
        f"constant {LOW}": (LOW, lambda opt: None),
        "StepLR": (HIGH, lambda opt: lr_scheduler.StepLR(opt, step_size=epochs // 3, gamma=0.2)),
        "ExponentialLR": (HIGH, lambda opt: lr_scheduler.ExponentialLR(opt, 0.02 ** (1 / epochs))),
        "CosineAnnealingLR": (HIGH, lambda opt: lr_scheduler.CosineAnnealingLR(opt, epochs)),
        "OneCycleLR": (
            HIGH,
            lambda opt: lr_scheduler.OneCycleLR(
                opt, max_lr=HIGH, epochs=epochs, steps_per_epoch=steps_per_epoch
            ),
        ),
    }

    print(f"{'schedule':>17}  {'lr: first':>9}  {'middle':>7}  {'last':>7}  {'val MSE':>7}")
    final = {}
    for name, (lr, make_scheduler) in schedules.items():
        fg.manual_seed(0)
        model = nn.Sequential(
            nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1)
        )
        opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        trainer = Trainer(model, nn.MSELoss(), opt, scheduler=make_scheduler(opt))
        history = trainer.fit(train, val, epochs=epochs, batch_size=BATCH, verbose=0)
        lrs = history["lr"]  # the rate at the start of each epoch
        final[name] = history["val_loss"][-1]
        print(
            f"{name:>17}  {lrs[0]:9.4f}  {lrs[epochs // 2]:7.4f}  {lrs[-1]:7.4f}"
            f"  {final[name]:7.3f}"
        )

    decayed = [
        final[name] for name in ("StepLR", "ExponentialLR", "CosineAnnealingLR", "OneCycleLR")
    ]
    assert max(decayed) < 0.5 * final[f"constant {HIGH}"], final  # all settle, unlike HIGH
    assert min(decayed) < final[f"constant {LOW}"] - 0.015, final  # and end below LOW


if __name__ == "__main__":
    main()
