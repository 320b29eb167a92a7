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
PROBS = np.exp(VALUES) / np.exp(VALUES).sum(axis=1, keepdims=True)  # class probabilities


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
    "cross_entropy probabilities": (lambda: nn.CrossEntropyLoss(), PROBS),
    "cross_entropy probabilities smoothed": (
        lambda: nn.CrossEntropyLoss(label_smoothing=0.2),
        PROBS,
    ),
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


def _decay_weights_only(opt_cls, **hp):
    """Weight matrices with weight decay, biases in a group without (groups that differ in
    weight_decay alone)."""

    def make(params):
        params = list(params)
        weights = [p for p in params if p.ndim > 1]
        biases = [p for p in params if p.ndim == 1]
        return opt_cls(
            [{"params": weights, "weight_decay": 0.05}, {"params": biases, "weight_decay": 0.0}],
            **hp,
        )

    return make


@pytest.mark.parametrize(
    "make_opt",
    [
        _decay_weights_only(optim.SGD, lr=0.05, momentum=0.9, nesterov=True),
        _decay_weights_only(optim.Adam, lr=1e-2),
        _decay_weights_only(optim.AdamW, lr=1e-2, amsgrad=True),
    ],
    ids=["sgd", "adam", "adamw"],
)
def test_groups_differing_in_weight_decay_are_captured(make_opt):
    make_loss, y = LOSSES["cross_entropy"]
    eager = run(MODELS["mlp tanh"], make_opt, make_loss, X, y, compiled=False)
    comp = run(MODELS["mlp tanh"], make_opt, make_loss, X, y, compiled=True)
    assert_same(eager, comp)
    # the decay is read at every call, as every hyperparameter
    model, opt, _ = comp
    step = fg.compile(model, make_loss(), opt)
    opt.param_groups[1]["weight_decay"] = 0.2
    step(X, y)
    eager_model, eager_opt, _ = eager
    eager_opt.param_groups[1]["weight_decay"] = 0.2
    eager_opt.zero_grad()
    make_loss()(eager_model(tensor(X)), y).backward()
    eager_opt.step()
    for p, q in zip(model.parameters(), eager_model.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12, atol=1e-14)


def test_groups_differing_in_anything_but_weight_decay_run_eagerly():
    model = mlp(nn.ReLU())
    params = list(model.parameters())
    opt = optim.SGD([{"params": params[:2]}, {"params": params[2:], "lr": 0.5}], lr=0.1)
    with pytest.warns(UserWarning, match="different hyperparameters"):
        step = fg.compile(model, nn.CrossEntropyLoss(), opt)
    assert not step.compiled


def test_bad_per_parameter_weight_decays_are_refused():
    fg.manual_seed(0)
    model = mlp(nn.ReLU())
    opt = _decay_weights_only(optim.SGD, lr=0.1)(model.parameters())
    step = fg.compile(model, nn.CrossEntropyLoss(), opt)
    before = [p.data.copy() for p in model.parameters()]
    for group in (1, 0):  # a per-parameter value, then the shared one
        opt.param_groups[group]["weight_decay"] = -1.0
        with pytest.raises(ValueError, match="Invalid weight_decay value: -1"):
            step(X, LABELS)
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, b)


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
    with pytest.warns(UserWarning, match="optimizer NAdam"):
        net = mlp(nn.ReLU())
        fg.compile(net, nn.CrossEntropyLoss(), optim.NAdam(net.parameters()))
    with pytest.warns(UserWarning, match="BatchNorm1d with momentum=None"):
        seq = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4, momentum=None))
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
    with pytest.raises(fg.ShapeError, match="class-index targets need an integer dtype"):
        step(X, LABELS.astype(np.float64))  # float targets are class probabilities, (24, 4)
    with pytest.raises(fg.DTypeError, match="class indices"):
        step(X, LABELS.astype(bool))
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


def _flat_views(params):
    flat = np.zeros(sum(p.numel() for p in params), dtype=params[0].dtype)
    views, start = [], 0
    for p in params:
        views.append(flat[start : start + p.numel()].reshape(p.shape))
        start += p.numel()
    return flat, views


def test_gradients_into_one_flat_buffer_equal_the_eager_gradients():
    fg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    opt = optim.Adam(model.parameters(), lr=0.1)
    step = fg.compile(model, nn.CrossEntropyLoss(), opt)
    x = np.random.default_rng(0).standard_normal((5, 4))
    y = np.array([0, 1, 2, 1, 0])
    before = [p.data.copy() for p in model.parameters()]
    _, views = _flat_views(list(model.parameters()))
    loss, out = step.gradients(x, y, views, keep_output=True)
    np.testing.assert_allclose(out, model(x).data, rtol=1e-12)
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, b)  # no update
    assert opt.state_dict()["state"] == {}
    eager = nn.CrossEntropyLoss()(model(x), y)
    eager.backward()
    assert loss == pytest.approx(float(eager.data), rel=1e-12)
    for v, p in zip(views, model.parameters()):
        np.testing.assert_allclose(v, p.grad, rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="one gradient array per parameter"):
        step.gradients(x, y, views[:-1])


def test_run_keeps_the_output_and_skips_non_finite_steps():
    fg.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 2)).double()
    opt = optim.Adam(model.parameters(), lr=0.1)
    step = fg.compile(model, nn.MSELoss(), opt)
    x = np.random.default_rng(1).standard_normal((4, 3))
    y = np.zeros((4, 2))
    want_out = model(x).data.copy()
    loss, out = step.run(x, y, keep_output=True)
    np.testing.assert_allclose(out, want_out, rtol=1e-12)
    params = [p.data.copy() for p in model.parameters()]
    state = opt.state_dict()
    y[1, 1] = np.nan
    loss, _ = step.run(x, y, skip_non_finite=True)
    assert np.isnan(loss)
    for p, b in zip(model.parameters(), params):
        np.testing.assert_array_equal(p.data, b)
    after = opt.state_dict()
    assert float(after["state"][0]["step"]) == float(state["state"][0]["step"]) == 1.0
    sgd_model = nn.Sequential(nn.Linear(3, 2)).double()
    sgd = optim.SGD(sgd_model.parameters(), lr=0.1, momentum=0.9)
    sgd_step = fg.compile(sgd_model, nn.MSELoss(), sgd)
    sgd_step.run(x, y, skip_non_finite=True)
    assert all("momentum_buffer" not in sgd.state[p] for p in sgd_model.parameters())


TARGET_MISMATCHES = [
    (nn.MSELoss, (24,)),  # the output is (24, 4)
    (nn.MSELoss, (24, 1)),
    (nn.MSELoss, (12, 8)),  # as many elements, another shape
    (nn.MSELoss, (96,)),
    (nn.HuberLoss, (24, 3)),
    (nn.CrossEntropyLoss, (24, 1)),
    (nn.CrossEntropyLoss, (12,)),
    (nn.CrossEntropyLoss, (24, 3)),  # class probabilities of the wrong shape
]


@pytest.mark.parametrize(("make_loss", "target_shape"), TARGET_MISMATCHES)
def test_a_target_of_the_wrong_shape_is_the_eager_error_and_changes_nothing(
    make_loss, target_shape
):
    """The captured step once read targets by the output's shape: too few values crashed
    the interpreter, a different shape of the same size was silently accepted."""
    fg.manual_seed(0)
    model = mlp(nn.Tanh())
    opt = optim.Adam(model.parameters(), lr=1e-2)
    step = fg.compile(model, make_loss(), opt)
    assert step.compiled
    float_target = make_loss is not nn.CrossEntropyLoss or len(target_shape) == 2
    y = (
        RNG.standard_normal(target_shape)
        if float_target
        else np.zeros(target_shape, dtype=np.int64)
    )
    with pytest.raises(fg.ShapeError) as eager:
        make_loss()(model(tensor(X)), y)
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(fg.ShapeError) as compiled:
        step(X, y)
    with pytest.raises(fg.ShapeError):
        step.gradients(X, y, _flat_views(list(model.parameters()))[1])
    shape_text = str(target_shape)
    assert shape_text in str(compiled.value) and shape_text in str(eager.value)
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, b)
    assert len(opt.state) == 0 or all(
        float(s.get("step", 0)) == 0 for s in opt.state_dict()["state"].values()
    )


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
