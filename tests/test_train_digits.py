"""End to end on the bundled digits: the Trainer reaches the accuracy a user expects.

Five seeded 60/20/20 splits (stratified), standardized; the accuracy on the held-out test part
is averaged over the splits, since 360 test digits make one split's figure move by 0.3% per
digit.
"""

from __future__ import annotations

import ferrograd as fg
import numpy as np
from ferrograd import nn, optim
from ferrograd.data import StandardScaler, load_digits, train_val_test_split
from ferrograd.train import Trainer

SPLITS = range(5)


def _splits(as_images: bool):
    x, y = load_digits(as_images=as_images)
    for seed in SPLITS:
        yield train_val_test_split(x, y, val_size=0.2, test_size=0.2, seed=seed, stratify=y)


def test_mlp_64_128_10_reaches_097_on_digits():
    accs = []
    for x_tr, x_va, x_te, y_tr, y_va, y_te in _splits(False):
        scaler = StandardScaler().fit(x_tr)
        fg.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
        trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3))
        trainer.fit(
            (scaler.transform(x_tr), y_tr),
            (scaler.transform(x_va), y_va),
            epochs=30,
            batch_size=32,
            verbose=0,
        )
        assert trainer.compiled
        accs.append(trainer.evaluate((scaler.transform(x_te), y_te))["accuracy"])
    assert np.mean(accs) >= 0.97, accs
    assert min(accs) >= 0.96, accs


def test_small_cnn_reaches_098_on_digit_images():
    accs = []
    for x_tr, x_va, x_te, y_tr, y_va, y_te in _splits(True):
        mean, std = x_tr.mean(), x_tr.std()
        fg.manual_seed(0)
        model = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 4, 10),
        )
        trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=2e-3))
        trainer.fit(
            ((x_tr - mean) / std, y_tr),
            ((x_va - mean) / std, y_va),
            epochs=30,
            batch_size=32,
            verbose=0,
        )
        assert trainer.compiled
        accs.append(trainer.evaluate(((x_te - mean) / std, y_te))["accuracy"])
    assert np.mean(accs) >= 0.98, accs
