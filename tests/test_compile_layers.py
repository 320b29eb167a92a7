"""The captured step with batch norm, layer norm, dropout, RMSprop, Adagrad and user modules
whose forward is a chain of layers: the same losses, parameters, buffers and optimizer state
as eager steps."""

from __future__ import annotations

import ferrograd as fg
import numpy as np
import pytest
from ferrograd import functional as F
from ferrograd import nn, optim, tensor

RNG = np.random.default_rng(1)
X = RNG.standard_normal((24, 6))
LABELS = np.arange(24) % 4
IMAGES = RNG.standard_normal((8, 2, 6, 6))


def bn_mlp(**bn) -> nn.Module:
    return nn.Sequential(
        nn.Linear(6, 12), nn.BatchNorm1d(12, **bn), nn.ReLU(), nn.Linear(12, 4)
    ).double()


def bn_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.BatchNorm2d(4, momentum=0.3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 3 * 3, 4),
    ).double()


def ln_dropout_mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(6, 12),
        nn.LayerNorm(12),
        nn.Tanh(),
        nn.Dropout(0.3),
        nn.Linear(12, 8),
        nn.LayerNorm(8, elementwise_affine=False),
        nn.Dropout(0.5),
        nn.Linear(8, 4),
    ).double()


class Net(nn.Module):
    """Submodules registered in another order than forward calls them."""

    def __init__(self) -> None:
        super().__init__()
        self.fc2 = nn.Linear(12, 4)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(0.2)
        self.body = nn.Sequential(nn.Linear(6, 12), nn.BatchNorm1d(12))

    def forward(self, x):
        h = self.body(x)
        h = self.act(h)
        return self.fc2(self.drop(h))


MODELS = {
    "bn mlp": (bn_mlp, X),
    "bn mlp no affine": (lambda: bn_mlp(affine=False), X),
    "bn mlp no running stats": (lambda: bn_mlp(track_running_stats=False), X),
    "bn cnn": (bn_cnn, IMAGES),
    "layer norm and dropout": (ln_dropout_mlp, X),
    "user module": (lambda: Net().double(), X),
}
OPTIMIZERS = {
    "sgd momentum": lambda p: optim.SGD(p, lr=0.05, momentum=0.9),
    "adam": lambda p: optim.Adam(p, lr=1e-2),
    "rmsprop": lambda p: optim.RMSprop(p, lr=1e-2),
    "rmsprop momentum centered wd": lambda p: optim.RMSprop(
        p, lr=1e-2, momentum=0.5, centered=True, weight_decay=1e-2
    ),
    "rmsprop maximize": lambda p: optim.RMSprop(p, lr=1e-3, alpha=0.9, maximize=True),
    "adagrad": lambda p: optim.Adagrad(p, lr=0.1),
    "adagrad decay wd init": lambda p: optim.Adagrad(
        p, lr=0.1, lr_decay=0.05, weight_decay=1e-2, initial_accumulator_value=0.1, eps=1e-6
    ),
}


def run(make_model, make_opt, x, compiled, steps=8, eval_from=None, dtype=np.float64):
    """Losses of ``steps`` steps (the model switched to eval mode from step ``eval_from``),
    with the model and optimizer."""
    fg.manual_seed(0)
    model = make_model()
    if dtype == np.float32:
        model = model.float()
    x = x.astype(dtype)
    opt = make_opt(model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    step = fg.compile(model, loss_fn, opt) if compiled else None
    if compiled:
        assert step.compiled, step.reason
    losses = []
    for i in range(steps):
        if i == eval_from:
            model.eval()
        if compiled:
            losses.append(step(x, LABELS[: len(x)]))
        else:
            opt.zero_grad()
            loss = loss_fn(model(tensor(x)), LABELS[: len(x)])
            loss.backward()
            opt.step()
            losses.append(float(loss.data))
    return model, opt, losses


def assert_same(a, b, rtol=1e-12, atol=1e-14):
    (ma, oa, la), (mb, ob, lb) = a, b
    np.testing.assert_allclose(la, lb, rtol=rtol, atol=atol)
    sa, sb = ma.state_dict(), mb.state_dict()  # parameters and buffers
    assert sa.keys() == sb.keys()
    for k in sa:
        np.testing.assert_allclose(sa[k], sb[k], rtol=rtol, atol=atol, err_msg=k)
    qa, qb = oa.state_dict()["state"], ob.state_dict()["state"]
    assert qa.keys() == qb.keys()
    for k in qa:
        assert qa[k].keys() == qb[k].keys()
        for key in qa[k]:
            np.testing.assert_allclose(qa[k][key], qb[k][key], rtol=rtol, atol=atol)


@pytest.mark.parametrize("opt", ["sgd momentum", "adam", "rmsprop momentum centered wd"])
@pytest.mark.parametrize("model", MODELS)
def test_layers_equal_eager_in_train_then_eval_mode(model, opt):
    make, x = MODELS[model]
    eager = run(make, OPTIMIZERS[opt], x, compiled=False, eval_from=5)
    comp = run(make, OPTIMIZERS[opt], x, compiled=True, eval_from=5)
    assert_same(eager, comp)


@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_rmsprop_and_adagrad_equal_eager(opt):
    make = MODELS["bn mlp"][0]
    assert_same(
        run(make, OPTIMIZERS[opt], X, compiled=False), run(make, OPTIMIZERS[opt], X, compiled=True)
    )


def test_float32_batch_norm_and_dropout_track_eager():
    make = MODELS["user module"][0]
    eager = run(make, OPTIMIZERS["adam"], X, compiled=False, dtype=np.float32)
    comp = run(make, OPTIMIZERS["adam"], X, compiled=True, dtype=np.float32)
    assert comp[0].fc2.weight.dtype == np.float32
    assert_same(eager, comp, rtol=1e-5, atol=1e-6)


def test_running_statistics_follow_the_batch_norm_formulas():
    """One compiled step against the running-statistics update written out in NumPy."""
    fg.manual_seed(0)
    model = bn_mlp(momentum=0.25)
    w, b = model[0].weight.data.copy(), model[0].bias.data.copy()
    step = fg.compile(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    step(X, LABELS)
    h = X @ w.T + b
    bn = model[1]
    np.testing.assert_allclose(bn.running_mean, 0.25 * h.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, 0.75 + 0.25 * h.var(axis=0, ddof=1), rtol=1e-12)
    assert int(bn.num_batches_tracked) == 1
    model.eval()
    before = bn.running_mean.copy()
    step(X, LABELS)
    np.testing.assert_array_equal(bn.running_mean, before)
    assert int(bn.num_batches_tracked) == 1


def test_dropout_masks_are_eager_masks_and_eval_is_the_identity():
    """Kept elements are scaled by 1/(1-p), about p of them are dropped, and with the same
    seed the compiled output is the eager output; in eval mode the layer does nothing."""
    fg.manual_seed(0)
    model = nn.Sequential(nn.Linear(50, 400), nn.Dropout(0.3)).double()
    x = RNG.standard_normal((64, 50))
    y = RNG.standard_normal((64, 400))
    opt = optim.SGD(model.parameters(), lr=0.0)
    step = fg.compile(model, nn.MSELoss(), opt)
    plain = F.linear(x, model[0].weight.data, model[0].bias.data)
    fg.manual_seed(7)
    _, out = step.run(x, y, keep_output=True)
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(out[kept], plain[kept] / 0.7, rtol=1e-12)
    fg.manual_seed(7)
    eager = model(tensor(x)).data
    np.testing.assert_array_equal(out, eager)
    model.eval()
    _, out = step.run(x, y, keep_output=True)
    np.testing.assert_allclose(out, plain, rtol=1e-12)


def test_gradients_with_batch_norm_equal_eager_gradients():
    fg.manual_seed(0)
    model = bn_mlp()
    fg.manual_seed(0)
    twin = bn_mlp()
    step = fg.compile(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    grads = [np.zeros_like(p.data) for p in model.parameters()]
    loss, _ = step.gradients(X, LABELS, grads)
    eager = nn.CrossEntropyLoss()(twin(tensor(X)), LABELS)
    eager.backward()
    assert loss == pytest.approx(float(eager.data), rel=1e-12)
    for g, p in zip(grads, twin.parameters()):
        np.testing.assert_allclose(g, p.grad, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(model[1].running_var, twin[1].running_var, rtol=1e-12)
    assert int(model[1].num_batches_tracked) == 1


class _Functional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(6, 8), nn.Linear(8, 4)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


class _Twice(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 6)

    def forward(self, x):
        return self.fc(self.fc(x))


class _Skip(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(6, 6), nn.Linear(6, 6)

    def forward(self, x):
        return self.fc2(self.fc1(x)) + x


class _Unused(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.spare = nn.Linear(6, 4), nn.Linear(4, 4)

    def forward(self, x):
        return self.fc1(x)


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        (_Functional, r"_Functional.forward \(not a straight chain"),
        (_Twice, r"_Twice.forward \(calls a submodule more than once\)"),
        (_Skip, r"_Skip.forward \(not a straight chain"),
        (_Unused, r"parameters outside the captured layers"),
        (lambda: nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4, momentum=None)), "momentum"),
        (lambda: nn.Sequential(nn.Linear(6, 4), nn.GroupNorm(2, 4)), "layer GroupNorm"),
    ],
)
def test_models_that_are_not_chains_run_eagerly_with_the_reason(model, reason):
    fg.manual_seed(0)
    m = model().double()
    opt = optim.SGD(m.parameters(), lr=0.1)
    with pytest.warns(UserWarning, match="running eagerly"):
        step = fg.compile(m, nn.MSELoss(), opt)
    assert not step.compiled
    assert step.reason is not None
    assert __import__("re").search(reason, step.reason), step.reason
    # the forward still works (its submodules were restored after the trace)
    y = np.zeros(np.shape(m(tensor(X)).data))
    first = step(X, y)
    assert step(X, y) < first


def test_unsupported_optimizer_options_and_optimizers_are_refused():
    m = bn_mlp()
    with pytest.warns(UserWarning, match="optimizer NAdam"):
        step = fg.compile(m, nn.CrossEntropyLoss(), optim.NAdam(m.parameters()))
    assert step.reason == "optimizer NAdam"


def test_batch_norm_input_of_the_wrong_rank_is_the_eager_shape_error():
    fg.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.BatchNorm2d(6), nn.Linear(6, 4)).double()
    step = fg.compile(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    assert step.compiled, step.reason
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(fg.ShapeError):
        model(tensor(X))  # eagerly: BatchNorm2d wants 4-D input
    with pytest.raises(fg.ShapeError, match="BatchNorm"):
        step(X, LABELS)
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, b)
    assert int(model[1].num_batches_tracked) == 0


def test_gradients_of_a_user_module_come_in_the_order_of_its_parameters():
    """Net registers fc2 before the layers forward calls first: gradients() still fills
    ``grads`` in the order of model.parameters()."""
    fg.manual_seed(0)
    model = Net().double().eval()
    fg.manual_seed(0)
    twin = Net().double().eval()
    step = fg.compile(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    assert step.compiled, step.reason
    grads = [np.zeros_like(p.data) for p in model.parameters()]
    step.gradients(X, LABELS, grads)
    nn.CrossEntropyLoss()(twin(tensor(X)), LABELS).backward()
    for g, p in zip(grads, twin.parameters()):
        np.testing.assert_allclose(g, p.grad, rtol=1e-10, atol=1e-14)


class _Blocks(nn.Module):
    """A chain through a ModuleList and a nested user module."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 8)])
        self.head = _Head()

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x)


class _Head(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm, self.out = nn.LayerNorm(8), nn.Linear(8, 4)

    def forward(self, x):
        return self.out(self.norm(x))


def test_module_lists_and_nested_modules_are_traced():
    make = lambda: _Blocks().double()  # noqa: E731
    eager = run(make, OPTIMIZERS["adam"], X, compiled=False)
    comp = run(make, OPTIMIZERS["adam"], X, compiled=True)
    assert_same(eager, comp)


def test_changing_dropout_p_or_momentum_after_compiling_is_seen():
    def make_run(compiled):
        fg.manual_seed(0)
        model = nn.Sequential(
            nn.Linear(6, 12), nn.BatchNorm1d(12), nn.Dropout(0.5), nn.Linear(12, 4)
        ).double()
        opt = optim.SGD(model.parameters(), lr=0.1)
        loss_fn = nn.CrossEntropyLoss()
        step = fg.compile(model, loss_fn, opt)
        losses = []
        for i in range(6):
            if i == 3:
                model[1].momentum, model[2].p = 0.7, 0.2
            if compiled:
                losses.append(step(X, LABELS))
            else:
                opt.zero_grad()
                loss = loss_fn(model(tensor(X)), LABELS)
                loss.backward()
                opt.step()
                losses.append(float(loss.data))
        return model, opt, losses

    assert_same(make_run(False), make_run(True))
