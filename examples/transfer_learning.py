"""Transfer learning: pre-train on a large task, freeze the backbone, train a new head.

A device reads 32 sensors whose values depend on the position (u, v) of an object in a
strongly nonlinear way. A large dataset of readings with known positions trains a position
regressor. A new task, "in which quadrant is the object?", comes with only 5 labelled
readings per quadrant. Two ways to learn it:

- transfer: load the pre-trained weights, replace the last layer by a new 4-class head
  (``model[-1] = nn.Linear(64, 4)``), freeze the rest (``model[:-1].freeze()``) and train the
  head alone;
- from scratch: the same network trained end to end on the 20 labelled readings.

The backbone already turns readings into features that know where the object is; the
network trained from scratch must learn that from 20 examples. Accuracies are averaged over
five different small labelled sets.

Run: ``python examples/transfer_learning.py`` (``FERROGRAD_EXAMPLES_FAST=1`` for a quick
run).
"""

from __future__ import annotations

import ferrograd as fg
import numpy as np
from _fast import full_or_fast
from ferrograd import nn, optim
from ferrograd.train import Trainer

SENSORS = 32
LABELS_PER_CLASS = 5


class Device:
    """Sensor readings ``sin(z @ W + phase) + noise`` of positions z in [-1, 1]^2."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.W = self.rng.normal(0.0, 5.0, (2, SENSORS))
        self.phase = self.rng.uniform(0.0, 2 * np.pi, SENSORS)

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        z = self.rng.uniform(-1.0, 1.0, (n, 2))
        x = np.sin(z @ self.W + self.phase) + 0.05 * self.rng.standard_normal((n, SENSORS))
        return x.astype(np.float32), z.astype(np.float32)


def network(outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(SENSORS, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, outputs)
    )


def quadrant(z: np.ndarray) -> np.ndarray:
    return (2 * (z[:, 0] > 0) + (z[:, 1] > 0)).astype(np.int64)


def main() -> None:
    n_source, pre_epochs = full_or_fast((5000, 30), (3000, 20))
    device = Device(seed=0)
    x_source, z_source = device.sample(n_source)
    x_pool, z_pool = device.sample(1000)  # the small labelled sets are drawn from here
    x_test, z_test = device.sample(1000)
    y_pool, y_test = quadrant(z_pool), quadrant(z_test)

    fg.manual_seed(0)
    pretrained = network(2)
    source = Trainer(pretrained, nn.MSELoss(), optim.Adam(pretrained.parameters(), lr=2e-3))
    source.fit((x_source, z_source), epochs=pre_epochs, verbose=0)
    position_mae = float(np.abs(source.predict(x_test) - z_test).mean())

    rng = np.random.default_rng(1)
    transfer_accs, scratch_accs = [], []
    for _ in range(5):
        few = np.concatenate(
            [
                rng.choice(np.flatnonzero(y_pool == c), LABELS_PER_CLASS, replace=False)
                for c in range(4)
            ]
        )
        small = (x_pool[few], y_pool[few])

        fg.manual_seed(1)
        model = network(2)
        model.load_state_dict(pretrained.state_dict())
        model[-1] = nn.Linear(64, 4)  # the new head
        model[:-1].freeze()  # the backbone keeps its pre-trained weights
        head = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model[-1].parameters(), lr=0.01))
        head.fit(small, epochs=100, verbose=0)
        transfer_accs.append(head.evaluate((x_test, y_test))["accuracy"])
        assert np.array_equal(model[0].weight.data, pretrained[0].weight.data)

        fg.manual_seed(1)
        scratch = network(4)
        trainer = Trainer(scratch, nn.CrossEntropyLoss(), optim.Adam(scratch.parameters(), 2e-3))
        trainer.fit(small, epochs=100, verbose=0)
        scratch_accs.append(trainer.evaluate((x_test, y_test))["accuracy"])

    transfer, from_scratch = np.mean(transfer_accs), np.mean(scratch_accs)
    print(f"pre-trained position regressor on {n_source} readings: test MAE {position_mae:.3f}")
    print(f"new task, {4 * LABELS_PER_CLASS} labelled readings, test accuracy (mean of 5 sets):")
    print(f"  frozen backbone + new head  {transfer:.3f}")
    print(f"  same network from scratch   {from_scratch:.3f}")

    assert transfer > from_scratch + 0.08, (transfer_accs, scratch_accs)


if __name__ == "__main__":
    main()
