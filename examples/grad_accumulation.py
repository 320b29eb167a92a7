"""Gradient accumulation: several small batches per optimizer step equal one large batch.

``Trainer(grad_accum_steps=k)`` runs the forward and backward pass of ``k`` micro-batches,
adds up their gradients (each micro-batch's loss weighted by its share of the samples) and
then makes one optimizer step. Training with batches of 32 and ``k = 8`` is therefore the
same computation as training with batches of 256, while only 32 samples' activations are in
memory at a time. The parameters after training agree to float32 rounding; plain batches of
32 (eight times as many steps) end somewhere else. (This holds for models whose output for
a sample does not depend on the rest of its batch, i.e. without batch norm in training mode.)

Run: ``python examples/grad_accumulation.py`` (``FERROGRAD_EXAMPLES_FAST=1`` for a quick
run).
"""

from __future__ import annotations

import ferrograd as fg
import numpy as np
from _fast import full_or_fast
from ferrograd import nn, optim
from ferrograd.data import StandardScaler, load_digits
from ferrograd.train import Trainer


def train(batch_size: int, accum: int, epochs: int, x: np.ndarray, y: np.ndarray):
    fg.manual_seed(0)  # the same initial weights and the same shuffling for every run
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    trainer = Trainer(
        model,
        nn.CrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=1e-3),
        grad_accum_steps=accum,
    )
    history = trainer.fit((x, y), epochs=epochs, batch_size=batch_size, verbose=0)
    weights = np.concatenate([p.data.ravel() for p in model.parameters()])
    return weights, history["loss"][-1], trainer.global_step


def main() -> None:
    epochs = full_or_fast(10, 3)
    x, y = load_digits()
    x = StandardScaler().fit_transform(x)

    large, large_loss, large_steps = train(256, 1, epochs, x, y)
    accum, accum_loss, accum_steps = train(32, 8, epochs, x, y)
    small, small_loss, small_steps = train(32, 1, epochs, x, y)
    diff_accum = np.abs(accum - large).max()
    diff_small = np.abs(small - large).max()
    print(f"{'run':>26}  {'steps':>5}  {'final loss':>10}  {'max |w - w_256|':>15}")
    print(f"{'batch 256':>26}  {large_steps:5d}  {large_loss:10.6f}  {0:15.1e}")
    print(
        f"{'batch 32, grad_accum 8':>26}  {accum_steps:5d}  {accum_loss:10.6f}  {diff_accum:15.1e}"
    )
    print(f"{'batch 32':>26}  {small_steps:5d}  {small_loss:10.6f}  {diff_small:15.1e}")

    assert accum_steps == large_steps
    assert np.allclose(accum, large, rtol=1e-4, atol=1e-5), diff_accum
    assert diff_small > 1e-2, diff_small  # without accumulation it really is another run


if __name__ == "__main__":
    main()
