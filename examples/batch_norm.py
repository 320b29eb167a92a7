"""Batch normalization vs none: the same deep network, the same seed, the same optimizer.

A deep MLP of sigmoid layers (four hidden layers of 64) is hard to train: each sigmoid
squeezes its input and its gradient is at most 1/4, so the signal reaching the first
layers is tiny and plain SGD barely moves them. ``nn.BatchNorm1d`` after each linear layer
re-centres and rescales every unit over the batch, so each sigmoid works in its steep
range; the same network then trains in a few epochs. Both networks start from the same
linear weights (batch norm draws no random numbers at initialisation).

Run: ``python examples/batch_norm.py`` (``FERROGRAD_EXAMPLES_FAST=1`` for a quick run).
"""

from __future__ import annotations

import ferrograd as fg
from _fast import full_or_fast
from ferrograd import nn, optim
from ferrograd.data import load_digits, train_test_split
from ferrograd.train import Trainer


def network(batch_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(4):
        layers.append(nn.Linear(64, 64))
        if batch_norm:
            layers.append(nn.BatchNorm1d(64))
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers, nn.Linear(64, 10))


def main() -> None:
    epochs = full_or_fast(10, 4)
    x, y = load_digits()
    x_train, x_val, y_train, y_val = train_test_split(x / 16, y, test_size=0.3, seed=0, stratify=y)
    results = {}
    for batch_norm in (False, True):
        fg.manual_seed(0)
        model = network(batch_norm)
        opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        trainer = Trainer(model, nn.CrossEntropyLoss(), opt)
        history = trainer.fit((x_train, y_train), (x_val, y_val), epochs=epochs, verbose=0)
        results[batch_norm] = history
        name = "batch norm" if batch_norm else "no norm"
        losses = " ".join(f"{v:.2f}" for v in history["loss"])
        print(f"{name:>10}: training loss per epoch {losses}")
        print(f"{'':>10}  validation accuracy {history['val_accuracy'][-1]:.3f}")

    plain, normed = results[False], results[True]
    assert normed["loss"][-1] < 0.5 * plain["loss"][-1], (normed["loss"], plain["loss"])
    assert normed["val_accuracy"][-1] > plain["val_accuracy"][-1] + 0.5


if __name__ == "__main__":
    main()
