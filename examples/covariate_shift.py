"""Covariate shift: the test inputs come from another distribution than the training inputs.

Two digit classifiers are trained on the same images: one on inputs standardized with a
``StandardScaler`` fitted on the training data, one on raw inputs with ``nn.BatchNorm1d``
layers (the first one standardizes the inputs inside the network, with running statistics
of the training batches). Each is tested on three test sets:

- clean: drawn like the training data;
- faint ink: every pixel times 0.25 (another scanner); the same images, so the same labels;
- moved: every image moved one pixel to the right.

Statistics of the training data do not fix the shift: the scaler applies the *training*
mean and standard deviation to the faint test images, and batch norm in evaluation mode
does the same with its running statistics. Statistics of the (unlabelled) test inputs do
fix a shift that only rescales each input feature: refitting the scaler on the test inputs,
or re-estimating the batch-norm statistics on them (what ``torch.optim.swa_utils.update_bn``
does; known as AdaBN). Neither helps much when the shift moves information between
features, as moving the images does: that needs a model that is invariant to it (trained
with ``RandomShift`` augmentation, or convolutional).

Run: ``python examples/covariate_shift.py`` (``FERROGRAD_EXAMPLES_FAST=1`` for a quick run).
"""

from __future__ import annotations

import copy

import ferrograd as fg
import numpy as np
from _fast import full_or_fast
from ferrograd import metrics, nn, optim
from ferrograd.data import StandardScaler, load_digits, train_test_split
from ferrograd.train import Trainer


def faint(x: np.ndarray) -> np.ndarray:
    return 0.25 * x


def moved(x: np.ndarray) -> np.ndarray:
    images = x.reshape(-1, 8, 8)
    out = np.zeros_like(images)
    out[:, :, 1:] = images[:, :, :-1]
    return out.reshape(-1, 64)


def batch_norm_net() -> nn.Sequential:
    return nn.Sequential(
        nn.BatchNorm1d(64), nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 10)
    )


def reestimated(model: nn.Module, x: np.ndarray) -> nn.Module:
    """A copy of ``model`` whose batch-norm statistics are those of the inputs ``x``."""
    adapted = copy.deepcopy(model)
    for layer in adapted.modules():
        if isinstance(layer, nn.BatchNorm1d):
            layer.reset_running_stats()
            layer.momentum = None  # the average over the batches seen (here one: all of x)
    adapted.train()
    with fg.no_grad():
        adapted(x.astype(np.float32))
    return adapted.eval()


def main() -> None:
    epochs = full_or_fast(20, 8)
    x, y = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, seed=0, stratify=y)
    tests = {"clean": x_test, "faint ink": faint(x_test), "moved": moved(x_test)}

    scaler = StandardScaler().fit(x_train)
    fg.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    trainer = Trainer(mlp, nn.CrossEntropyLoss(), optim.Adam(mlp.parameters(), lr=1e-3))
    trainer.fit((scaler.transform(x_train), y_train), epochs=epochs, verbose=0)

    fg.manual_seed(0)
    bn_model = batch_norm_net()
    trainer = Trainer(bn_model, nn.CrossEntropyLoss(), optim.Adam(bn_model.parameters(), 1e-3))
    trainer.fit((x_train, y_train), epochs=epochs, verbose=0)

    def accuracy(model: nn.Module, inputs: np.ndarray) -> float:
        with fg.no_grad():
            scores = model.eval()(inputs.astype(np.float32)).data
        return metrics.accuracy(y_test, scores.argmax(axis=1))

    rows = {
        "scaler fitted on train": lambda t: accuracy(mlp, scaler.transform(t)),
        "scaler refit on test inputs": lambda t: accuracy(mlp, StandardScaler().fit_transform(t)),
        "batch norm, running stats": lambda t: accuracy(bn_model, t),
        "batch norm, test-input stats": lambda t: accuracy(reestimated(bn_model, t), t),
    }
    print(f"{'test accuracy':>28}  " + "  ".join(f"{name:>9}" for name in tests))
    acc = {}
    for row, evaluate in rows.items():
        acc[row] = {name: evaluate(t) for name, t in tests.items()}
        print(f"{row:>28}  " + "  ".join(f"{acc[row][name]:9.3f}" for name in tests))

    for row in ("scaler fitted on train", "batch norm, running stats"):
        assert acc[row]["faint ink"] < acc[row]["clean"] - 0.3, acc[row]  # the shift hurts
    for row in ("scaler refit on test inputs", "batch norm, test-input stats"):
        assert acc[row]["faint ink"] > acc[row]["clean"] - 0.02, acc[row]  # and is undone
    for row in rows:
        assert acc[row]["moved"] < acc[row]["clean"] - 0.3, acc[row]  # this one is not


if __name__ == "__main__":
    main()
