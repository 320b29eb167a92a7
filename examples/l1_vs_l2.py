"""L1 vs L2 penalties: L1 drives useless weights to zero (sparsity), L2 only shrinks them.

A linear regression with 50 input features of which only 5 matter. ``Trainer(l1=...)`` adds
``l1 * sum|w|`` to the loss and ``Trainer(l2=...)`` adds ``l2 * sum w**2`` (on weight
matrices, not on biases). The gradient of the L1 term has the same size however small a
weight is, so it pushes weights without a use all the way to zero (up to a jitter of the
size of one step); the gradient of the L2 term shrinks with the weight, so L2 makes
weights small but leaves them all non-zero. "Near zero" below means ``|w| < 0.01``.

Run: ``python examples/l1_vs_l2.py`` (``FERROGRAD_EXAMPLES_FAST=1`` for a quick run).
"""

from __future__ import annotations

import ferrograd as fg
import numpy as np
from _fast import full_or_fast
from ferrograd import metrics, nn, optim
from ferrograd.train import Trainer

FEATURES, USEFUL = 50, 5
NEAR_ZERO = 0.01


def make_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, FEATURES)).astype(np.float32)
    coef = np.zeros(FEATURES)
    coef[:USEFUL] = [3.0, -2.0, 1.5, 1.0, -0.5]
    y = x @ coef + 0.5 * rng.standard_normal(n)
    return x, y.astype(np.float32)[:, None]


def main() -> None:
    epochs = full_or_fast(300, 150)
    x_train, y_train = make_data(200, seed=0)
    x_test, y_test = make_data(1000, seed=1)

    print("penalty   useless weights near 0   largest useless |w|   smallest useful |w|   test MSE")
    near_zero, useful = {}, {}
    for name, penalty in (("none", {}), ("L2 0.1", {"l2": 0.1}), ("L1 0.1", {"l1": 0.1})):
        fg.manual_seed(0)
        model = nn.Linear(FEATURES, 1)
        opt = optim.SGD(model.parameters(), lr=0.05)
        trainer = Trainer(model, nn.MSELoss(), opt, **penalty)
        trainer.fit((x_train, y_train), epochs=epochs, batch_size=200, verbose=0)
        w = model.weight.data.ravel()
        near_zero[name] = np.mean(np.abs(w[USEFUL:]) < NEAR_ZERO)
        useful[name] = np.abs(w[:USEFUL]).min()
        mse = metrics.mse(y_test, trainer.predict(x_test))
        print(
            f"{name:<7}  {near_zero[name]:23.0%}  {np.abs(w[USEFUL:]).max():20.3f}"
            f"  {useful[name]:20.3f}  {mse:9.3f}"
        )

    assert near_zero["L1 0.1"] > 0.8, near_zero
    assert useful["L1 0.1"] > 0.3, useful  # the useful weights are kept
    assert near_zero["L2 0.1"] < 0.4 and near_zero["none"] < 0.4, near_zero


if __name__ == "__main__":
    main()
