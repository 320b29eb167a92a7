"""The captured training step leaves parameters and optimizer state as eager steps do."""

from __future__ import annotations

import warnings

import ferrograd as fg
import numpy as np
import pytest
from ferrograd import nn, optim, tensor

RNG = np.random.default_rng(0)
X = RNG.standard_normal((24, 6))
LABELS = np.arange(24) % 4
VALUES = RNG.standard_normal((24, 4))


def mlp(act: nn.Module) -> nn.Module:
    return nn.Sequential(nn.Linear(6, 12), act, nn.Linear(12, 4)).double()


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 6, 3, padding=1, stride=2),
        nn.Tanh(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(6 * 2 * 2, 4),
    ).double()


OPTIMIZERS = {
    "sgd": lambda p: optim.SGD(p, lr=0.05),
    "sgd momentum nesterov wd": lambda p: optim.SGD(
        p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3
    ),
    "sgd dampening": lambda p: optim.SGD(p, lr=0.05, momentum=0.5, dampening=0.3),
    "adam": lambda p: optim.Adam(p, lr=1e-2),
    "adam amsgrad wd": lambda p: optim.Adam(p, lr=1e-2, amsgrad=True, weight_decay=1e-2),
    "adamw": lambda p: optim.AdamW(p, lr=1e-2),
}
MODELS = {
    "mlp relu": lambda: mlp(nn.ReLU()),
    "mlp tanh": lambda: mlp(nn.Tanh()),
    "mlp gelu": lambda: mlp(nn.GELU()),
    "mlp leaky": lambda: mlp(nn.LeakyReLU(0.1)),
    "mlp sigmoid silu": lambda: nn.Sequential(
        nn.Linear(6, 8), nn.Sigmoid(), nn.Linear(8, 8), nn.SiLU(), nn.Linear(8, 4)
    ).double(),
}
LOSSES = {
    "cross_entropy": (lambda: nn.CrossEntropyLoss(), LABELS),
    "cross_entropy smoothed": (lambda: nn.CrossEntropyLoss(label_smoothing=0.1), LABELS),
    "mse": (lambda: nn.MSELoss(), VALUES),
    "huber": (lambda: nn.HuberLoss(delta=0.5), VALUES),
}


def run(make_model, make_opt, make_loss, x, y, compiled, steps=20):
    fg.manual_seed(0)
    model = make_model()
    opt = make_opt(model.parameters())
    loss_fn = make_loss()
    losses = []
    step = fg.compile(model, loss_fn, opt) if compiled else None
    if compiled:
        assert step.compiled, step.reason
    for _ in range(steps):
        if compiled:
            losses.append(step(x, y))
        else:
            opt.zero_grad()
            loss = loss_fn(model(tensor(x)), y)
            loss.backward()
            opt.step()
            losses.append(float(loss.data))
    return model, opt, losses


def assert_same(a, b):
    (ma, oa, la), (mb, ob, lb) = a, b
    np.testing.assert_allclose(la, lb, rtol=1e-12, atol=1e-14)
    for p, q in zip(ma.parameters(), mb.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12, atol=1e-14)
    sa, sb = oa.state_dict()["state"], ob.state_dict()["state"]
    assert sa.keys() == sb.keys()
    for k in sa:
        for key in sa[k]:
            np.testing.assert_allclose(sa[k][key], sb[k][key], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("opt", OPTIMIZERS)
@pytest.mark.parametrize("model", MODELS)
def test_compiled_mlp_equals_eager_after_20_steps(model, opt):
    make_loss, y = LOSSES["cross_entropy"]
    eager = run(MODELS[model], OPTIMIZERS[opt], make_loss, X, y, compiled=False)
    comp = run(MODELS[model], OPTIMIZERS[opt], make_loss, X, y, compiled=True)
    assert_same(eager, comp)


@pytest.mark.parametrize("loss", LOSSES)
def test_compiled_losses_equal_eager(loss):
    make_loss, y = LOSSES[loss]
    eager = run(MODELS["mlp tanh"], OPTIMIZERS["adam"], make_loss, X, y, compiled=False)
    comp = run(MODELS["mlp tanh"], OPTIMIZERS["adam"], make_loss, X, y, compiled=True)
    assert_same(eager, comp)


@pytest.mark.parametrize("opt", ["sgd momentum nesterov wd", "adam"])
def test_compiled_cnn_equals_eager(opt):
    x = RNG.standard_normal((8, 1, 8, 8))
    y = np.arange(8) % 4
    make_loss = LOSSES["cross_entropy"][0]
    eager = run(cnn, OPTIMIZERS[opt], make_loss, x, y, compiled=False, steps=10)
    comp = run(cnn, OPTIMIZERS[opt], make_loss, x, y, compiled=True, steps=10)
    assert_same(eager, comp)


def test_float32_compiled_tracks_eager():
    make_loss, y = LOSSES["cross_entropy"]

    def model():
        return nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 4))

    x = X.astype(np.float32)
    (ma, _, la), (mb, _, lb) = (
        run(model, OPTIMIZERS["adam"], make_loss, x, y, compiled=c) for c in (False, True)
    )
    np.testing.assert_allclose(la, lb, rtol=1e-5)
    for p, q in zip(ma.parameters(), mb.parameters()):
        assert p.dtype == np.float32
        np.testing.assert_allclose(p.data, q.data, rtol=1e-4, atol=1e-6)


def test_mixing_eager_and_compiled_steps_and_schedulers():
    fg.manual_seed(0)
    a = mlp(nn.ReLU())
    fg.manual_seed(0)
    b = mlp(nn.ReLU())
    oa, ob = optim.Adam(a.parameters(), lr=0.05), optim.Adam(b.parameters(), lr=0.05)
    sa, sb = optim.lr_scheduler.StepLR(oa, 3, 0.5), optim.lr_scheduler.StepLR(ob, 3, 0.5)
    loss_fn = nn.CrossEntropyLoss()
    step = fg.compile(b, loss_fn, ob)
    for i in range(10):
        oa.zero_grad()
        loss_fn(a(tensor(X)), LABELS).backward()
        oa.step()
        sa.step()
        if i % 2:
            step(X, LABELS)
        else:
            ob.zero_grad()
            loss_fn(b(tensor(X)), LABELS).backward()
            ob.step()
        sb.step()
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12, atol=1e-14)


def test_resuming_from_a_checkpoint_continues_the_same_trajectory(tmp_path):
    fg.manual_seed(0)
    model = mlp(nn.Tanh())
    opt = optim.Adam(model.parameters(), lr=1e-2)
    step = fg.compile(model, nn.CrossEntropyLoss(), opt)
    for _ in range(5):
        step(X, LABELS)
    model.save(tmp_path / "m.safetensors")
    opt_state = opt.state_dict()
    for _ in range(5):
        step(X, LABELS)
    want = [p.data.copy() for p in model.parameters()]

    fg.manual_seed(1)
    model2 = mlp(nn.Tanh())
    model2.load(tmp_path / "m.safetensors")
    opt2 = optim.Adam(model2.parameters(), lr=1e-2)
    opt2.load_state_dict(opt_state)
    step2 = fg.compile(model2, nn.CrossEntropyLoss(), opt2)
    for _ in range(5):
        step2(X, LABELS)
    for p, w in zip(model2.parameters(), want):
        np.testing.assert_array_equal(p.data, w)


def test_unsupported_models_fall_back_to_eager_with_a_warning():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(6, 4)

        def forward(self, x):
            return self.fc(x) * 2.0

    fg.manual_seed(0)
    model = Custom().double()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.warns(UserWarning, match="Custom.*running eagerly"):
        step = fg.compile(model, nn.CrossEntropyLoss(), opt)
    assert not step.compiled
    first = step(X, LABELS)
    for _ in range(20):
        last = step(X, LABELS)
    assert last < first
    with pytest.warns(UserWarning, match="optimizer RMSprop"):
        fg.compile(mlp(nn.ReLU()), nn.CrossEntropyLoss(), optim.RMSprop(model.parameters()))
    with pytest.warns(UserWarning, match="Dropout"):
        seq = nn.Sequential(nn.Linear(6, 4), nn.Dropout(0.5))
        fg.compile(seq, nn.CrossEntropyLoss(), optim.SGD(seq.parameters(), lr=0.1))


def test_bad_input_raises_typed_errors_and_changes_nothing():
    fg.manual_seed(0)
    model = mlp(nn.ReLU())
    opt = optim.Adam(model.parameters(), lr=1e-2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        step = fg.compile(model, nn.CrossEntropyLoss(), opt)
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(fg.ShapeError):
        step(X[:, :5], LABELS)
    with pytest.raises(ValueError, match="label"):
        step(X, LABELS + 10)
    with pytest.raises(fg.ShapeError, match=r"class-probability target has shape \(24,\)"):
        step(X, LABELS.astype(np.float64))  # as the eager loss: float targets are probabilities
    with pytest.raises(fg.DTypeError, match="target must hold integer class indices"):
        step(X, LABELS.astype(str))
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, b)
    assert len(opt.state) == 0 or all(
        float(s.get("step", 0)) == 0 for s in opt.state_dict()["state"].values()
    )


def test_a_failed_compiled_sgd_step_leaves_momentum_without_history():
    make_loss = LOSSES["cross_entropy"][0]
    make_opt = OPTIMIZERS["sgd dampening"]
    fg.manual_seed(0)
    model = MODELS["mlp tanh"]()
    opt = make_opt(model.parameters())
    step = fg.compile(model, make_loss(), opt)
    with pytest.raises(ValueError, match="label"):
        step(X, LABELS + 10)
    assert all("momentum_buffer" not in opt.state[p] for p in model.parameters())
    for _ in range(5):
        step(X, LABELS)
    eager_model, _, _ = run(MODELS["mlp tanh"], make_opt, make_loss, X, LABELS, False, steps=5)
    for p, q in zip(model.parameters(), eager_model.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12, atol=1e-14)


def test_a_float64_batch_is_cast_to_the_float32_model_with_one_warning():
    from ferrograd.nn import _cast

    def run(x):
        fg.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 4))
        step = fg.compile(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
        step(x, np.zeros((8, 4), np.float32))
        return model[0].weight.data

    x = np.random.default_rng(0).standard_normal((8, 6))
    _cast._warned.clear()
    with pytest.warns(fg.DTypeCastWarning, match="compiled step: input of dtype float64"):
        got = run(x)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, run(x.astype(np.float32)))


def test_class_probability_targets_run_the_step_eagerly():
    """Valid for the eager loss, not captured: the step gives what an eager step gives."""
    probs = np.random.default_rng(3).dirichlet(np.ones(4), size=24)

    def run(compiled):
        fg.manual_seed(0)
        model = mlp(nn.Tanh())
        opt = optim.Adam(model.parameters(), lr=1e-2)
        if compiled:
            step = fg.compile(model, nn.CrossEntropyLoss(), opt)
            losses = [step(X, probs) for _ in range(3)]
        else:
            losses = []
            for _ in range(3):
                opt.zero_grad()
                loss = nn.CrossEntropyLoss()(model(tensor(X)), probs)
                loss.backward()
                opt.step()
                losses.append(float(loss.data))
        return losses, [p.data.copy() for p in model.parameters()]

    (lc, pc), (le, pe) = run(True), run(False)
    np.testing.assert_allclose(lc, le, rtol=1e-12)
    for a, b in zip(pc, pe):
        np.testing.assert_array_equal(a, b)
