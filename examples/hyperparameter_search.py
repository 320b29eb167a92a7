"""Hyperparameter search: ``grid_search`` trains one model per configuration and ranks them.

The task is three interleaved spirals (``make_spirals``), split into training, validation
and test data. ``grid_search`` tries every combination of the hidden width and the
learning rate; each trial starts from the same random state (``seed``), is trained on the
training data and scored by its best validation accuracy (``monitor="val_accuracy"``). The
trials come back ranked, best first (``result.table()``); the best model is then checked
once on the test data, which the search never saw (``trial.model`` holds the weights of
its last epoch). ``random_search`` works the same way
with values drawn from distributions (``loguniform(1e-4, 1e-1)``, ``randint(8, 129)``).

Run: ``python examples/hyperparameter_search.py`` (``FERROGRAD_EXAMPLES_FAST=1`` for a quick
run).
"""

from __future__ import annotations

import ferrograd as fg
from _fast import full_or_fast
from ferrograd import metrics, nn, optim
from ferrograd.data import make_spirals, train_val_test_split
from ferrograd.train import grid_search


def build(config: dict) -> tuple[nn.Module, optim.Optimizer]:
    """A fresh model and optimizer for one configuration."""
    width = config["width"]
    model = nn.Sequential(
        nn.Linear(2, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 3)
    )
    return model, optim.Adam(model.parameters(), lr=config["lr"])


def main() -> None:
    epochs = full_or_fast(40, 15)
    x, y = make_spirals(900, n_classes=3, noise=0.05, seed=0)
    x_train, x_val, x_test, y_train, y_val, y_test = train_val_test_split(
        x, y, val_size=0.2, test_size=0.2, seed=0, stratify=y
    )
    space = {"width": [8, 32, 128], "lr": [1e-3, 1e-2, 1e-1]}
    result = grid_search(
        build,
        space,
        (x_train, y_train),
        (x_val, y_val),
        loss=nn.CrossEntropyLoss(),
        epochs=epochs,
        batch_size=32,
        monitor="val_accuracy",
        seed=0,
    )
    print(result.table())

    best = result.best_trial
    with fg.no_grad():
        scores = best.model.eval()(x_test).data
    test_acc = metrics.accuracy(y_test, scores.argmax(axis=1))
    print(f"best: {best.config}, test accuracy {test_acc:.3f}")

    ranked = [t.score for t in result.trials]
    assert len(ranked) == 9 and ranked == sorted(ranked, reverse=True)
    assert ranked[0] - ranked[-1] > 0.2, ranked  # the choice matters
    assert test_acc > 0.9, test_acc


if __name__ == "__main__":
    main()
