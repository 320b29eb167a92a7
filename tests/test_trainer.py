"""Trainer: the loop against a NumPy reference, accumulation, penalties, compile, evaluation."""

from __future__ import annotations

import io
import math
import sys

import ferrograd as fg
import numpy as np
import pytest
from ferrograd import nn, optim
from ferrograd.data import DataLoader
from ferrograd.train import Callback, NonFiniteLossError, Trainer
from reference import mlp_minibatch_sgd


def _regression_data(n: int = 50, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 3))
    y = np.sin(x.sum(axis=1, keepdims=True)) + 0.1 * x[:, :1]
    return x, y


def _tanh_mlp(seed: int = 0) -> nn.Module:
    fg.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).double()


@pytest.mark.parametrize(
    ("batch_size", "accum", "l1", "l2"),
    [(8, 1, 0.0, 0.0), (7, 3, 0.0, 0.0), (50, 1, 0.0, 0.0), (8, 2, 1e-3, 0.0), (8, 1, 0.0, 1e-2)],
)
def test_fit_without_shuffling_follows_the_numpy_reference(batch_size, accum, l1, l2):
    x, y = _regression_data()
    model = _tanh_mlp()
    init = [p.data.copy() for p in model.parameters()]
    trainer = Trainer(
        model,
        nn.MSELoss(),
        optim.SGD(model.parameters(), lr=0.1),
        grad_accum_steps=accum,
        l1=l1,
        l2=l2,
    )
    history = trainer.fit((x, y), epochs=4, batch_size=batch_size, shuffle=False, verbose=0)
    want_losses, want = mlp_minibatch_sgd(x, y, init, 0.1, 4, batch_size, accum, l1, l2)
    np.testing.assert_allclose(history["loss"], want_losses, rtol=1e-10)
    for p, w in zip(model.parameters(), want):
        np.testing.assert_allclose(p.data, w, rtol=1e-9, atol=1e-12)
    assert history["loss"][-1] < history["loss"][0]


def test_gradient_accumulation_equals_the_large_batch():
    x, y = _regression_data(64)
    results = []
    for batch_size, accum in ((32, 1), (8, 4), (16, 2)):
        model = _tanh_mlp(3)
        trainer = Trainer(
            model, nn.MSELoss(), optim.Adam(model.parameters(), lr=0.01), grad_accum_steps=accum
        )
        trainer.fit((x, y), epochs=3, batch_size=batch_size, shuffle=False, verbose=0)
        results.append([p.data.copy() for p in model.parameters()])
        assert trainer.global_step == 3 * 2
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_a_last_short_group_is_weighted_by_its_samples():
    x, y = _regression_data(50)  # batches of 8: 6 full, one of 2; groups of 4 -> 32 and 18
    model = _tanh_mlp(4)
    init = [p.data.copy() for p in model.parameters()]
    Trainer(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05), grad_accum_steps=4).fit(
        (x, y), epochs=1, batch_size=8, shuffle=False, verbose=0
    )
    _, want = mlp_minibatch_sgd(x, y, init, 0.05, 1, 8, accum=4)
    for p, w in zip(model.parameters(), want):
        np.testing.assert_allclose(p.data, w, rtol=1e-9, atol=1e-12)


def test_shuffled_epochs_follow_the_loader_order_and_reshuffle():
    x, y = _regression_data(40)
    model = _tanh_mlp(5)
    init = [p.data.copy() for p in model.parameters()]
    fg.manual_seed(11)
    loader = DataLoader((x, y), batch_size=10, shuffle=True)
    orders = []
    for epoch in range(3):
        loader.set_epoch(epoch)
        orders.append(np.concatenate([xb[:, 0] for xb, _ in loader]))
    assert not np.array_equal(orders[0], orders[1])
    for order in orders:
        np.testing.assert_array_equal(np.sort(order), np.sort(x[:, 0]))
    Trainer(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1)).fit(
        loader, epochs=3, verbose=0
    )
    # The same batches by hand: gather each epoch's order, then plain SGD.
    index = {v: i for i, v in enumerate(x[:, 0])}
    w = [a.copy() for a in init]
    for order in orders:
        idx = np.array([index[v] for v in order])
        _, w = mlp_minibatch_sgd(x[idx], y[idx], w, 0.1, 1, 10)
    for p, want in zip(model.parameters(), w):
        np.testing.assert_allclose(p.data, want, rtol=1e-9, atol=1e-12)


def _classification(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    return x, y


def _classifier(seed: int = 0, dtype=np.float32) -> nn.Module:
    fg.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)).to(dtype)


@pytest.mark.parametrize("opt_name", ["SGD", "Adam", "AdamW"])
def test_compiled_and_eager_training_agree(opt_name):
    x, y = _classification()
    params = []
    for mode in (True, False):
        model = _classifier(1)
        opt = getattr(optim, opt_name)(model.parameters(), lr=0.01)
        trainer = Trainer(model, nn.CrossEntropyLoss(), opt, metrics=[], compile=mode)
        fg.manual_seed(2)
        history = trainer.fit((x, y), epochs=3, batch_size=16, verbose=0)
        assert trainer.compiled is mode
        params.append(([p.data.copy() for p in model.parameters()], history["loss"]))
    (pa, la), (pb, lb) = params
    np.testing.assert_allclose(la, lb, rtol=1e-5)
    for a, b in zip(pa, pb):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_class_probability_targets_train_compiled_as_eager():
    """Soft labels (class probabilities) with CrossEntropyLoss: the captured step takes them
    too, and fit, evaluate and partial_fit agree with eager training."""
    x, labels = _classification()
    y = np.full((len(labels), 3), 0.05, dtype=np.float32)
    y[np.arange(len(labels)), labels] = 0.9
    runs = []
    for mode in (True, False):
        model = _classifier(1)
        trainer = Trainer(
            model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01), compile=mode
        )
        fg.manual_seed(2)
        history = trainer.fit((x, y), (x, y), epochs=3, batch_size=16, verbose=0)
        assert trainer.compiled is mode
        trainer.partial_fit(x[:16], y[:16])
        runs.append(([p.data.copy() for p in model.parameters()], history))
    (pa, ha), (pb, hb) = runs
    np.testing.assert_allclose(ha["loss"], hb["loss"], rtol=1e-5)
    np.testing.assert_allclose(ha["val_loss"], hb["val_loss"], rtol=1e-5)
    assert ha["accuracy"] == hb["accuracy"] and ha["val_accuracy"][-1] > 0.8
    for a, b in zip(pa, pb):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_targets_of_another_shape_are_an_error_compiled_or_not():
    x = np.random.default_rng(0).standard_normal((20, 4)).astype(np.float32)
    y = np.zeros(20, dtype=np.float32)  # the model's output is (20, 1)
    for mode in (True, False):
        fg.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 1))
        trainer = Trainer(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), compile=mode)
        with pytest.raises(fg.ShapeError, match=r"target has shape \(20,\)"):
            trainer.fit((x, y), epochs=1, verbose=0)
        with pytest.raises(fg.ShapeError, match=r"target has shape \(20,\)"):
            trainer.partial_fit(x, y)


def test_compile_true_says_why_it_cannot_capture():
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3, momentum=None))
    trainer = Trainer(
        model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), compile=True
    )
    x, y = _classification(16)
    with pytest.raises(fg.FerrogradError, match="momentum=None"):
        trainer.fit((x, y), epochs=1, verbose=0)


class _SlowOneGroupFrom(Callback):
    """Gives the first parameter group its own learning rate from step ``start`` on, which a
    captured step cannot do (its groups may differ in weight decay only)."""

    def __init__(self, start: int) -> None:
        self.start = start

    def on_batch_begin(self, step, logs=None):
        if step == self.start:
            self.trainer.optimizer.param_groups[0]["lr"] = 0.01


def _two_group_run(compile_mode, start, partial=False):
    x, y = _classification()
    model = _classifier(1, np.float64)
    weights = [p for p in model.parameters() if p.ndim == 2]
    biases = [p for p in model.parameters() if p.ndim == 1]
    opt = optim.SGD([{"params": weights}, {"params": biases}], lr=0.05, momentum=0.9)
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, metrics=[], compile=compile_mode)
    fg.manual_seed(2)
    history = trainer.fit(
        (x, y), epochs=2, batch_size=16, verbose=0, callbacks=[_SlowOneGroupFrom(start)]
    )
    if partial:
        trainer.partial_fit(x[:16], y[:16])
    return trainer, [p.data.copy() for p in model.parameters()], history["loss"]


@pytest.mark.parametrize("start", [0, 5])
def test_groups_made_different_during_training_continue_eagerly(start):
    """A callback that gives the groups different hyperparameters mid-run: the captured step
    hands over to eager steps at that step, and the run equals an eager one throughout."""
    captured, params, losses = _two_group_run("auto", start, partial=True)
    assert not captured.compiled and "different hyperparameters" in captured.compile_reason
    _, eager_params, eager_losses = _two_group_run(False, start, partial=True)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-12)
    for a, b in zip(params, eager_params):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    with pytest.raises(fg.FerrogradError, match="can no longer be captured"):
        _two_group_run(True, start)


def test_evaluate_equals_the_loss_and_accuracy_of_one_big_batch():
    x, y = _classification(100)
    model = _classifier(2)
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters()))
    got = trainer.evaluate((x, y), batch_size=7)
    logits = model(x).data.astype(np.float64)
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    assert got["loss"] == pytest.approx(-log_p[np.arange(100), y].mean(), rel=1e-5)
    assert got["accuracy"] == pytest.approx(np.mean(logits.argmax(axis=1) == y))
    np.testing.assert_allclose(
        trainer.predict(x, batch_size=9), model(x).data, rtol=1e-5, atol=1e-6
    )


def test_evaluate_and_predict_use_eval_mode_and_restore_train_mode():
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3))
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    x, y = _classification(20)
    a = trainer.predict(x)
    b = trainer.predict(x)
    np.testing.assert_array_equal(a, b)  # no dropout
    assert model.training and model[1].training
    model.eval()
    trainer.evaluate((x, y))
    assert not model.training


def test_float64_data_is_cast_to_the_model_dtype_once():
    x, y = _classification(40)
    model = _classifier(3)
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    trainer.fit((x.astype(np.float64), y), epochs=1, verbose=0)
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert trainer.predict(x.astype(np.float64)).dtype == np.float32


def test_validation_split_is_seeded_and_logged():
    x, y = _classification(100)
    runs = []
    for _ in range(2):
        model = _classifier(4)
        fg.manual_seed(9)
        trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters()))
        history = trainer.fit((x, y), validation_split=0.2, epochs=2, verbose=0)
        runs.append(history["val_loss"])
        assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"} <= set(history)
    assert runs[0] == runs[1]


def test_partial_fit_on_a_stream_reaches_fit_accuracy():
    x, y = _classification(600, seed=3)
    x_test, y_test = _classification(400, seed=4)
    model = _classifier(5)
    online = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01))
    for _ in range(8):
        for start in range(0, len(x), 32):
            loss = online.partial_fit(x[start : start + 32], y[start : start + 32])
            assert math.isfinite(loss)
    online_acc = online.evaluate((x_test, y_test))["accuracy"]
    batch_model = _classifier(5)
    offline = Trainer(
        batch_model, nn.CrossEntropyLoss(), optim.Adam(batch_model.parameters(), lr=0.01)
    )
    offline.fit((x, y), epochs=8, batch_size=32, verbose=0)
    offline_acc = offline.evaluate((x_test, y_test))["accuracy"]
    assert online_acc > 0.85
    assert abs(online_acc - offline_acc) <= 0.02
    steps = online.optimizer.state[next(model.parameters())]["step"]
    assert float(steps) == 8 * 19  # the optimizer state carried over every call


def test_partial_fit_matches_the_same_steps_in_fit():
    x, y = _classification(64)
    a, b = _classifier(6), _classifier(6)
    ta = Trainer(a, nn.CrossEntropyLoss(), optim.Adam(a.parameters(), lr=0.01), metrics=[])
    tb = Trainer(b, nn.CrossEntropyLoss(), optim.Adam(b.parameters(), lr=0.01), metrics=[])
    ta.fit((x, y), epochs=2, batch_size=16, shuffle=False, verbose=0)
    for _ in range(2):
        for s in range(0, 64, 16):
            tb.partial_fit(x[s : s + 16], y[s : s + 16])
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_non_finite_loss_stops_with_the_epoch_and_step_and_applies_nothing():
    x, y = _regression_data(40)
    y[25] = np.nan
    model = _tanh_mlp(7)
    trainer = Trainer(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), compile=False)
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, step 4 \(batch 4 of 5\)") as info:
        trainer.fit((x, y), epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert "nan" in str(info.value)
    for p in model.parameters():
        assert np.isfinite(p.data).all()


def test_verbose_modes_print_a_line_per_epoch_or_nothing(monkeypatch):
    x, y = _classification(40)
    for verbose, lines in ((0, 0), (1, 3), (2, 3)):
        out = io.StringIO()
        monkeypatch.setattr(sys, "stdout", out)
        model = _classifier(8)
        Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters())).fit(
            (x, y), (x, y), epochs=3, verbose=verbose
        )
        text = out.getvalue().strip()
        got = text.splitlines() if text else []
        assert len(got) == lines, got  # stdout is no terminal: no bar
        if lines:
            assert got[0].startswith("Epoch 1/3 - loss ")
            assert "val_accuracy" in got[-1]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"grad_accum_steps": 0}, "grad_accum_steps"),
        ({"clip_grad_norm": -1.0}, "clip_grad_norm"),
        ({"l2": -0.1}, "l2"),
        ({"compile": "yes"}, "compile"),
    ],
)
def test_bad_trainer_arguments_are_clear_errors(kwargs, match):
    model = _classifier()
    with pytest.raises((ValueError, TypeError), match=match):
        Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), **kwargs)


def test_bad_fit_arguments_are_clear_errors():
    model = _classifier()
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    x, y = _classification(10)
    with pytest.raises(TypeError, match="is a class"):
        Trainer(model, nn.CrossEntropyLoss, optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(fg.ShapeError, match="different numbers of samples"):
        trainer.fit((x, y[:5]), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        trainer.fit((x, y), epochs=1, batch_size=0, verbose=0)
    with pytest.raises(fg.FerrogradError, match="validation_split"):
        trainer.fit((x, y), validation_split=1.5, epochs=1, verbose=0)
    with pytest.raises(fg.FerrogradError, match="must be an"):
        trainer.fit(42, epochs=1, verbose=0)
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(fg.FerrogradError):
        trainer.fit((x, y), (x, y), validation_split=0.2, epochs=1, verbose=0)
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, b)  # a refused call changes nothing


def test_clip_grad_norm_limits_each_step():
    x, y = _regression_data(16)
    y = y * 1000  # huge gradients
    model = _tanh_mlp(9)
    before = [p.data.copy() for p in model.parameters()]
    Trainer(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=1.0), clip_grad_norm=0.5).fit(
        (x, y), epochs=1, batch_size=16, verbose=0
    )
    moved = math.sqrt(
        sum(float(((p.data - b) ** 2).sum()) for p, b in zip(model.parameters(), before))
    )
    assert moved == pytest.approx(0.5, rel=1e-6)  # one step of lr * clipped norm (+1e-6 guard)


def test_scheduler_is_stepped_per_epoch_and_logged():
    x, y = _classification(32)
    model = _classifier()
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    history = Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=sched).fit(
        (x, y), epochs=3, verbose=0
    )
    assert history["lr"] == [0.1, 0.05, 0.025]
    assert opt.param_groups[0]["lr"] == 0.0125


def test_one_cycle_is_stepped_per_batch():
    x, y = _classification(64)
    model = _classifier()
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=8)
    Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=sched).fit(
        (x, y), epochs=2, batch_size=16, verbose=0
    )
    assert sched.last_epoch == 8
