"""Online learning: ``Trainer.partial_fit`` on a stream of batches, including a drifting one.

Batches arrive one at a time; each is first used to test the model (its accuracy on data it
has not seen yet: "test, then train") and then to train it with one optimizer step,
``trainer.partial_fit(x, y)``. The optimizer's state (Adam's moments) carries over from call
to call, so the stream trains the model as ``fit`` would, without ever holding the whole data.

The concept behind the labels (an XOR pattern: is ``x0 * x1 > 0``?) stays put for the first
part of the stream, then rotates, a little with every batch, by 90 degrees in all, which
flips the labels. A copy of the model frozen when the drift starts shows what happens
without online updates.

Run: ``python examples/online_learning.py`` (``FERROGRAD_EXAMPLES_FAST=1`` for a quick run).
"""

from __future__ import annotations

import copy

import ferrograd as fg
import numpy as np
from _fast import full_or_fast
from ferrograd import metrics, nn, optim
from ferrograd.train import Trainer

BATCH = 32


def make_batch(rng: np.random.Generator, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """A batch of points labelled by the XOR pattern rotated by ``angle`` (radians)."""
    x = rng.uniform(-1.0, 1.0, (BATCH, 2)).astype(np.float32)
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * x[:, 0] + s * x[:, 1], -s * x[:, 0] + c * x[:, 1]
    return x, (u * v > 0).astype(np.int64)


def main() -> None:
    stable, drifting, window = full_or_fast((200, 300, 100), (120, 180, 60))
    angles = np.concatenate([np.zeros(stable), np.linspace(0, np.pi / 2, drifting)])
    rng = np.random.default_rng(0)

    fg.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 2)
    )
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01))
    frozen = None
    online_hits, frozen_hits = [], []
    for t, angle in enumerate(angles):
        x, y = make_batch(rng, angle)
        if t == stable:  # the drift begins: keep a copy that will never learn again
            frozen = copy.deepcopy(model)
        online_hits.append(metrics.accuracy(y, trainer.predict(x).argmax(1)))  # test ...
        if frozen is not None:
            with fg.no_grad():
                frozen_hits.append(metrics.accuracy(y, frozen(x).data.argmax(1)))
        trainer.partial_fit(x, y)  # ... then train

    print(f"{'batches':>9}  {'rotation':>8}  {'online':>6}  {'frozen':>6}")
    for start in range(0, len(angles), window):
        stop = start + window
        online = np.mean(online_hits[start:stop])
        after = [h for t, h in enumerate(frozen_hits, stable) if start <= t < stop]
        frozen_acc = f"{np.mean(after):6.3f}" if after else "     -"
        degrees = np.degrees(angles[stop - 1])
        print(f"{start:>4}-{stop - 1:<4}  {degrees:7.0f}°  {online:6.3f}  {frozen_acc}")

    before_drift = np.mean(online_hits[stable - window : stable])
    end_online = np.mean(online_hits[-window:])
    end_frozen = np.mean(frozen_hits[-window:])
    assert before_drift > 0.9, before_drift  # learned the stationary stream
    assert end_online > 0.85, end_online  # kept up with the drift
    assert end_frozen < 0.3, end_frozen  # the frozen model is now mostly wrong


if __name__ == "__main__":
    main()
