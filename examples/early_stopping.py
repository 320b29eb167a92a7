"""Early stopping: stop when the validation loss stops improving, keep the best weights,
and draw the training and validation curves into a PNG file.

A wide network trained on only 200 digits soon fits them perfectly: the training loss keeps
falling while the validation loss, after a minimum, rises again (overfitting).
``EarlyStopping(monitor="val_loss", patience=PATIENCE, restore_best_weights=True)`` ends training
five epochs after the best validation loss and puts back the weights of that epoch.
``History.plot`` writes the curves (loss and accuracy, training and validation) with
matplotlib to ``early_stopping.png`` in the folder named by ``FERROGRAD_EXAMPLES_OUT``
(default: the current directory).

Run: ``python examples/early_stopping.py`` (``FERROGRAD_EXAMPLES_FAST=1`` for a quick run).
"""

from __future__ import annotations

import ferrograd as fg
import numpy as np
from _fast import full_or_fast, output_dir
from ferrograd import nn, optim
from ferrograd.data import StandardScaler, load_digits, train_test_split
from ferrograd.train import EarlyStopping, Trainer

MAX_EPOCHS = 200
PATIENCE = 8


def main() -> None:
    n_train = full_or_fast(400, 200)
    x, y = load_digits()
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, train_size=n_train, test_size=400, seed=0, stratify=y
    )
    rng = np.random.default_rng(0)  # a fifth of the training labels are wrong
    wrong = rng.random(len(y_train)) < 0.2
    y_train = np.where(wrong, (y_train + rng.integers(1, 10, len(y_train))) % 10, y_train)
    scaler = StandardScaler().fit(x_train)
    x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)

    fg.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
    )
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3))
    stopper = EarlyStopping(monitor="val_loss", patience=PATIENCE, restore_best_weights=True)
    history = trainer.fit(
        (x_train, y_train), (x_val, y_val), epochs=MAX_EPOCHS, callbacks=[stopper], verbose=0
    )
    path = output_dir() / "early_stopping.png"
    history.plot(
        path,
        title=f"{n_train} training digits (20% mislabelled), early stopping (patience {PATIENCE})",
    )

    best_epoch, best_val_loss = history.best("val_loss")
    restored = trainer.evaluate((x_val, y_val))["loss"]
    ran = len(history)
    print(
        f"ran {ran} of {MAX_EPOCHS} epochs; best validation loss {best_val_loss:.4f} "
        f"at epoch {best_epoch + 1}"
    )
    print(
        f"training loss: {history['loss'][best_epoch]:.4f} there, {history['loss'][-1]:.4f} "
        f"at the end; validation loss at the end {history['val_loss'][-1]:.4f}"
    )
    print(f"validation loss with the restored weights {restored:.4f}")
    print(f"curves written to {path}")

    assert ran < MAX_EPOCHS and stopper.stopped_epoch is not None
    assert ran == best_epoch + 1 + PATIENCE  # stopped PATIENCE epochs after the best one
    assert history["val_loss"][-1] > best_val_loss  # it had started to overfit
    assert abs(restored - best_val_loss) < 1e-5 * best_val_loss  # the best weights are back
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


if __name__ == "__main__":
    main()
