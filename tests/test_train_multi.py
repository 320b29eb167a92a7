"""Several outputs, hyperparameter search, and fine-tuning with the Trainer."""

from __future__ import annotations

import ferrograd as fg
import numpy as np
import pytest
from ferrograd import nn, optim
from ferrograd.train import Trainer, grid_search, loguniform, randint, random_search


class TwoHeads(nn.Module):
    """A shared trunk with a regression head ("size") and a classification head ("kind")."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(3, 16), nn.Tanh())
        self.size = nn.Linear(16, 2)
        self.kind = nn.Linear(16, 3)

    def forward(self, x):
        h = self.trunk(x)
        return {"size": self.size(h), "kind": self.kind(h)}


def _multi_data(n: int = 90, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3))
    size = np.stack([x[:, 0] + x[:, 1], x[:, 2] ** 2], axis=1)
    kind = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5).astype(np.int64)
    return x, {"size": size, "kind": kind}


def test_multi_target_loss_is_the_weighted_sum_and_metrics_are_per_output():
    x, y = _multi_data()
    fg.manual_seed(0)
    model = TwoHeads().double()
    trainer = Trainer(
        model,
        {"size": nn.MSELoss(), "kind": nn.CrossEntropyLoss()},
        optim.Adam(model.parameters(), lr=0.02),
        loss_weights={"size": 2.0, "kind": 0.5},
        metrics={"size": ["mae"], "kind": ["accuracy"]},
    )
    assert trainer.compile_reason is None or "several outputs" in trainer.compile_reason
    before = trainer.evaluate((x, y))
    out = model(x)
    mse = np.mean((out["size"].data - y["size"]) ** 2)
    z = out["kind"].data
    log_p = z - z.max(1, keepdims=True)
    log_p = log_p - np.log(np.exp(log_p).sum(1, keepdims=True))
    ce = -log_p[np.arange(len(x)), y["kind"]].mean()
    assert before["size_loss"] == pytest.approx(mse, rel=1e-12)
    assert before["kind_loss"] == pytest.approx(ce, rel=1e-12)
    assert before["loss"] == pytest.approx(2.0 * mse + 0.5 * ce, rel=1e-12)
    assert before["size_mae"] == pytest.approx(np.mean(np.abs(out["size"].data - y["size"])))
    assert before["kind_accuracy"] == pytest.approx(np.mean(z.argmax(1) == y["kind"]))
    history = trainer.fit((x, y), (x, y), epochs=30, batch_size=16, verbose=0)
    assert {"size_loss", "kind_loss", "size_mae", "kind_accuracy", "val_size_mae"} <= set(
        history.keys()
    )
    for i in range(len(history)):
        assert history["loss"][i] == pytest.approx(
            2.0 * history["size_loss"][i] + 0.5 * history["kind_loss"][i], rel=1e-9
        )
    assert history["val_loss"][-1] < 0.5 * history["val_loss"][0]
    assert history["val_kind_accuracy"][-1] > 0.85
    pred = trainer.predict(x)
    assert set(pred) == {"size", "kind"} and pred["size"].shape == (90, 2)


def test_multi_target_errors_name_what_is_missing():
    x, y = _multi_data(10)
    model = TwoHeads().double()
    trainer = Trainer(
        model, {"size": nn.MSELoss(), "other": nn.MSELoss()}, optim.SGD(model.parameters(), lr=0.1)
    )
    with pytest.raises(fg.FerrogradError, match="other"):
        trainer.fit((x, y), epochs=1, verbose=0)


def _blobs(n: int = 150, seed: int = 0):
    rng = np.random.default_rng(seed)
    centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    y = np.arange(n) % 3
    x = (centers[y] + rng.standard_normal((n, 2))).astype(np.float32)
    return x, y.astype(np.int64)


def _build(config):
    model = nn.Sequential(nn.Linear(2, config["width"]), nn.ReLU(), nn.Linear(config["width"], 3))
    return model, optim.Adam(model.parameters(), lr=config["lr"])


def test_grid_search_tries_every_combination_and_ranks_by_the_best_epoch():
    x, y = _blobs()
    train, val = (x[:100], y[:100]), (x[100:], y[100:])
    space = {"width": [4, 32], "lr": [1e-4, 3e-2], "batch_size": [16]}
    result = grid_search(_build, space, train, val, loss=nn.CrossEntropyLoss(), epochs=6, seed=3)
    assert len(result.trials) == 4
    assert sorted((t.config["width"], t.config["lr"]) for t in result.trials) == [
        (4, 1e-4),
        (4, 3e-2),
        (32, 1e-4),
        (32, 3e-2),
    ]
    scores = [t.score for t in result.trials]
    assert scores == sorted(scores)
    for t in result.trials:
        assert t.score == min(t.history["val_loss"])
    assert result.best_config["lr"] == 3e-2  # the tiny rate cannot get far in 6 epochs
    # each trial scores what a plain Trainer run with the same seed gives
    fg.manual_seed(3)
    model, opt = _build(result.best_config)
    history = Trainer(model, nn.CrossEntropyLoss(), opt).fit(
        train, val, epochs=6, batch_size=16, verbose=0
    )
    assert min(history["val_loss"]) == result.best_score
    again = grid_search(_build, space, train, val, loss=nn.CrossEntropyLoss(), epochs=6, seed=3)
    assert [t.score for t in again.trials] == scores
    table = result.table().splitlines()
    assert table[0].split() == ["batch_size", "lr", "width", "val_loss", "best", "epoch"]
    assert len(table) == 5
    for row, trial in zip(table[1:], result.trials):  # best first, epochs counted from 1
        assert row.split()[-1] == str(trial.best_epoch + 1)
        assert int(row.split()[2]) == trial.config["width"]


def test_random_search_draws_repeatably_from_distributions():
    x, y = _blobs()
    train, val = (x[:100], y[:100]), (x[100:], y[100:])
    space = {"width": randint(4, 33), "lr": loguniform(1e-3, 1e-1), "batch_size": [8, 32]}
    a = random_search(
        _build,
        space,
        train,
        val,
        n_trials=4,
        loss=nn.CrossEntropyLoss(),
        epochs=3,
        seed=7,
        monitor="val_accuracy",
    )
    b = random_search(
        _build,
        space,
        train,
        val,
        n_trials=4,
        loss=nn.CrossEntropyLoss(),
        epochs=3,
        seed=7,
        monitor="val_accuracy",
    )
    assert [t.config for t in a.trials] == [t.config for t in b.trials]
    assert [t.score for t in a.trials] == [t.score for t in b.trials]
    assert a.mode == "max" and a.best_score == max(t.score for t in a.trials)
    for t in a.trials:
        assert 4 <= t.config["width"] < 33 and 1e-3 <= t.config["lr"] < 1e-1
    with pytest.raises(ValueError, match="n_trials"):
        random_search(_build, space, train, val, n_trials=0, loss=nn.CrossEntropyLoss())
    with pytest.raises(fg.FerrogradError, match="needs validation data"):
        grid_search(_build, {"width": [4]}, train, None, loss=nn.CrossEntropyLoss())


def test_fine_tuning_freeze_the_backbone_and_train_a_new_head(tmp_path):
    x, y = _blobs(300, seed=1)
    fg.manual_seed(0)
    base = nn.Sequential(
        nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3)
    )
    Trainer(base, nn.CrossEntropyLoss(), optim.Adam(base.parameters(), lr=0.01)).fit(
        (x, y), epochs=10, verbose=0
    )
    base.save(tmp_path / "pretrained.safetensors")

    # a new task on the same inputs: is the point left of the y axis (2 classes)
    y2 = (x[:, 0] < 0).astype(np.int64)
    model = nn.Sequential(
        nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3)
    )
    model.load(tmp_path / "pretrained.safetensors")
    model[-1] = nn.Linear(32, 2)  # replace the head
    model[:4].freeze()
    backbone = {k: v.copy() for k, v in model.state_dict().items() if not k.startswith("4.")}
    head_params = [p for p in model.parameters() if p.requires_grad]
    assert len(head_params) == 2
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(head_params, lr=0.05))
    trainer.fit((x, y2), epochs=15, verbose=0)
    assert trainer.evaluate((x, y2))["accuracy"] > 0.95
    for k, v in backbone.items():
        np.testing.assert_array_equal(model.state_dict()[k], v)  # the frozen part never moved

    # unfreeze with a smaller learning rate for the backbone (parameter groups)
    model.unfreeze()
    opt = optim.Adam(
        [
            {"params": model[:4].parameters(), "lr": 1e-4},
            {"params": model[4].parameters()},
        ],
        lr=1e-2,
    )
    Trainer(model, nn.CrossEntropyLoss(), opt).fit((x, y2), epochs=2, verbose=0)
    assert not np.array_equal(model.state_dict()["0.weight"], backbone["0.weight"])

    # loading a checkpoint with another head: strict=False reports the differences
    other = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
    result = other.load_state_dict(fg.load(tmp_path / "pretrained.safetensors"), strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == ["4.weight", "4.bias"]


def test_sequential_item_assignment_and_deletion():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 4))
    model[2] = nn.Linear(3, 5)
    assert model(np.zeros((1, 2), np.float32)).shape == (1, 5)
    del model[1]
    assert [k for k in model.state_dict()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    with pytest.raises(IndexError):
        model[5] = nn.ReLU()
    with pytest.raises(TypeError):
        model[0] = "relu"
