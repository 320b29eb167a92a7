"""Contrastive learning without labels: NT-Xent (SimCLR) on two augmented views of digits.

Each training image is augmented twice (``RandomShift`` and ``GaussianNoise`` from
:mod:`ferrograd.data`); an encoder and a small projection head map both views, and
``nn.NTXentLoss`` (``F.nt_xent_loss``) pulls the two views of an image together while
pushing them away from every other image in the batch. No label is used.

The encoder's features are then judged by a linear probe: a linear classifier trained on
the features of only 10 labelled digits per class. It is compared with the same probe on the
features of the very same encoder at its random initialisation.

Run: ``python examples/contrastive.py`` (``FERROGRAD_EXAMPLES_FAST=1`` for a quick run).
"""

from __future__ import annotations

import copy

import ferrograd as fg
import numpy as np
from _fast import full_or_fast
from ferrograd import nn, optim
from ferrograd.data import (
    Compose,
    DataLoader,
    GaussianNoise,
    RandomShift,
    StandardScaler,
    load_digits,
    train_test_split,
)
from ferrograd.train import Trainer

LABELS_PER_CLASS = 10


def linear_probe(encoder: nn.Module, x_train, y_train, x_test, y_test) -> float:
    """Test accuracy of a linear classifier on the encoder's features of a few labelled
    training images per class."""
    with fg.no_grad():
        f_train, f_test = encoder(x_train).data, encoder(x_test).data
    few = np.concatenate([np.flatnonzero(y_train == c)[:LABELS_PER_CLASS] for c in range(10)])
    scaler = StandardScaler().fit(f_train[few])
    fg.manual_seed(0)
    probe = nn.Linear(f_train.shape[1], 10)
    trainer = Trainer(probe, nn.CrossEntropyLoss(), optim.Adam(probe.parameters(), lr=0.01))
    trainer.fit((scaler.transform(f_train[few]), y_train[few]), epochs=100, verbose=0)
    return trainer.evaluate((scaler.transform(f_test), y_test))["accuracy"]


def main() -> None:
    epochs = full_or_fast(60, 20)
    x, y = load_digits(as_images=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x / 16, y, test_size=0.3, seed=0, stratify=y
    )

    fg.manual_seed(0)
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 16))
    head = nn.Sequential(nn.ReLU(), nn.Linear(16, 32))  # projection head, dropped afterwards
    at_init = copy.deepcopy(encoder)  # the same encoder, never trained

    augment = Compose([RandomShift(1, seed=1), GaussianNoise(0.2, seed=2)])
    nt_xent = nn.NTXentLoss(temperature=0.5)
    opt = optim.Adam([*encoder.parameters(), *head.parameters()], lr=1e-3)
    loader = DataLoader(x_train, batch_size=256, shuffle=True, seed=0)  # images only
    losses = []
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        total = 0.0
        for images in loader:
            z1 = head(encoder(augment(images)))
            z2 = head(encoder(augment(images)))
            loss = nt_xent(z1, z2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(images)
        losses.append(total / len(x_train))

    random_acc = linear_probe(at_init, x_train, y_train, x_test, y_test)
    learned_acc = linear_probe(encoder, x_train, y_train, x_test, y_test)
    print(f"NT-Xent loss (batch 256): epoch 1 {losses[0]:.3f} -> epoch {epochs} {losses[-1]:.3f}")
    print(f"linear probe, {LABELS_PER_CLASS} labels per class, test accuracy:")
    print(f"  encoder at random initialisation  {random_acc:.3f}")
    print(f"  encoder after contrastive training {learned_acc:.3f}")

    assert losses[-1] < losses[0] - 0.5, losses
    assert learned_acc > random_acc + 0.04, (learned_acc, random_acc)


if __name__ == "__main__":
    main()
