"""Multi-target regression: one network predicts three quantities at once.

The model's last layer has one output per target, the loss is ``nn.MSELoss`` over all of
them, and ``ferrograd.metrics.r2(..., multioutput="raw_values")`` scores each target on its
own. The targets here live on very different scales (about 100, 1 and 0.01), so the mean
squared error of the raw targets is almost all about the largest one: the network ignores
the small targets. Standardizing the targets (``StandardScaler`` fitted on the training
targets, predictions mapped back with ``inverse_transform``) gives each target the same
weight, and every target is learned.

Run: ``python examples/multi_target.py`` (``FERROGRAD_EXAMPLES_FAST=1`` for a quick run).
"""

from __future__ import annotations

import ferrograd as fg
import numpy as np
from _fast import full_or_fast
from ferrograd import metrics, nn, optim
from ferrograd.data import StandardScaler, train_test_split
from ferrograd.train import Trainer

TARGETS = ("position", "product", "curvature")


def make_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Four inputs, three nonlinear targets of scales 100, 1 and 0.01."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (n, 4)).astype(np.float32)
    y = np.stack(
        [
            100 * (np.sin(x[:, 0]) + x[:, 1]),
            x[:, 2] * x[:, 3],
            0.01 * (x[:, 0] ** 2 - x[:, 2]),
        ],
        axis=1,
    )
    y += 0.02 * y.std(axis=0) * rng.standard_normal(y.shape)
    return x, y.astype(np.float32)


def fit_and_predict(x_train, y_train, x_test, epochs: int) -> np.ndarray:
    fg.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 3)
    )
    trainer = Trainer(model, nn.MSELoss(), optim.Adam(model.parameters(), lr=3e-3))
    trainer.fit((x_train, y_train), epochs=epochs, batch_size=32, verbose=0)
    return trainer.predict(x_test)


def main() -> None:
    n, epochs = full_or_fast((3000, 40), (2000, 30))
    x, y = make_data(n, seed=0)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, seed=0)

    raw = fit_and_predict(x_train, y_train, x_test, epochs)
    scaler = StandardScaler().fit(y_train)  # fitted on the training targets only
    scaled = fit_and_predict(x_train, scaler.transform(y_train), x_test, epochs)
    scaled = scaler.inverse_transform(scaled)

    r2_raw = metrics.r2(y_test, raw, multioutput="raw_values")
    r2_scaled = metrics.r2(y_test, scaled, multioutput="raw_values")
    mae_scaled = metrics.mae(y_test, scaled, multioutput="raw_values")
    print(f"{'target':>10}  {'std':>7}  {'R2 raw':>7}  {'R2 scaled':>9}  {'MAE scaled':>10}")
    for k, name in enumerate(TARGETS):
        print(
            f"{name:>10}  {y_test[:, k].std():7.3g}  {r2_raw[k]:7.3f}  {r2_scaled[k]:9.3f}"
            f"  {mae_scaled[k]:10.4g}"
        )

    assert np.all(r2_scaled > 0.9), r2_scaled
    assert r2_raw[0] > 0.9 and min(r2_raw[1:]) < 0.5, r2_raw  # the small targets were ignored


if __name__ == "__main__":
    main()
