"""Number-for-number parity with PyTorch, run only where PyTorch is installed.

The suite's references are the NumPy formulas in tests/reference.py; this file is a second,
independent check of the semantics (defaults, reductions, edge rules) against PyTorch itself.
"""

from __future__ import annotations

import ferrograd as fg
import ferrograd.functional as F
import numpy as np
import pytest
from ferrograd import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional
RNG = np.random.default_rng(0)


def t(x: np.ndarray, grad: bool = False):
    return torch.tensor(x, dtype=torch.float64, requires_grad=grad)


def check(ours, ref_fn, x, *rest, rtol=1e-10, atol=1e-12):
    """Compares forward values and input gradients (through autograd on both sides)."""
    xt = t(x, grad=True)
    ref = ref_fn(xt, *rest)
    ref.sum().backward() if ref.dim() else ref.backward()
    xf = fg.tensor(x, requires_grad=True)
    out = ours(xf)
    out.sum().backward() if out.ndim else out.backward()
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(xf.grad, xt.grad.numpy(), rtol=rtol, atol=atol)


LOGITS = RNG.standard_normal((6, 4)) * 3
LABELS = np.array([0, 3, -100, 1, 2, 3])
WEIGHT = np.array([0.5, 1.0, 2.0, 0.25])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy(reduction, smoothing):
    kw = {"reduction": reduction, "label_smoothing": smoothing}
    check(
        lambda x: F.cross_entropy(x, LABELS, weight=WEIGHT, **kw),
        lambda x: TF.cross_entropy(x, torch.tensor(LABELS), weight=t(WEIGHT), **kw),
        LOGITS,
    )
    p = RNG.dirichlet(np.ones(4), 6)
    check(
        lambda x: F.cross_entropy(x, p, weight=WEIGHT, **kw),
        lambda x: TF.cross_entropy(x, t(p), weight=t(WEIGHT), **kw),
        LOGITS,
    )


def test_cross_entropy_spatial_and_nll():
    x = RNG.standard_normal((2, 3, 4, 5))
    y = RNG.integers(0, 3, (2, 4, 5))
    y[0, 0, 0] = -100
    check(
        lambda a: F.cross_entropy(a, y, weight=WEIGHT[:3]),
        lambda a: TF.cross_entropy(a, torch.tensor(y), weight=t(WEIGHT[:3])),
        x,
    )
    check(
        lambda a: F.nll_loss(a, LABELS, weight=WEIGHT),
        lambda a: TF.nll_loss(a, torch.tensor(LABELS), weight=t(WEIGHT)),
        LOGITS,
    )


def test_binary_losses():
    p = RNG.uniform(0.0, 1.0, (5, 3))
    p[0, 0], p[1, 1] = 0.0, 1.0  # the clamp at -100
    y = RNG.uniform(0, 1, (5, 3))
    w = RNG.uniform(0.5, 2, 3)
    got = F.binary_cross_entropy(p, y, weight=w, reduction="none")
    want = TF.binary_cross_entropy(t(p), t(y), weight=t(w), reduction="none").numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)
    x = RNG.standard_normal((5, 3)) * 10
    pw = np.array([1.0, 3.0, 0.5])
    check(
        lambda a: F.binary_cross_entropy_with_logits(a, y, weight=w, pos_weight=pw),
        lambda a: TF.binary_cross_entropy_with_logits(a, t(y), weight=t(w), pos_weight=t(pw)),
        x,
    )


@pytest.mark.parametrize("reduction", ["batchmean", "sum", "mean", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    x = np.log(RNG.dirichlet(np.ones(5), 4))
    q = RNG.dirichlet(np.ones(5), 4)
    q[0, 0] = 0.0
    target = np.log(q + 1e-3) if log_target else q
    check(
        lambda a: F.kl_div(a, target, reduction=reduction, log_target=log_target),
        lambda a: TF.kl_div(a, t(target), reduction=reduction, log_target=log_target),
        x,
    )


def test_regression_losses():
    x, y = RNG.standard_normal((4, 5)) * 2, RNG.standard_normal((4, 5))
    for ours, ref, kw in [
        (F.mse_loss, TF.mse_loss, {}),
        (F.l1_loss, TF.l1_loss, {}),
        (F.huber_loss, TF.huber_loss, {"delta": 0.7}),
        (F.smooth_l1_loss, TF.smooth_l1_loss, {"beta": 0.7}),
    ]:
        check(lambda a, o=ours, k=kw: o(a, y, **k), lambda a, r=ref, k=kw: r(a, t(y), **k), x)


def test_margin_and_embedding_losses():
    x = RNG.standard_normal((6, 4))
    check(
        lambda a: F.multi_margin_loss(a, np.abs(LABELS) % 4, p=2, margin=0.7, weight=WEIGHT),
        lambda a: TF.multi_margin_loss(
            a, torch.tensor(np.abs(LABELS) % 4), p=2, margin=0.7, weight=t(WEIGHT)
        ),
        x,
    )
    s = np.where(RNG.random((6, 4)) > 0.5, 1.0, -1.0)
    check(
        lambda a: F.hinge_embedding_loss(a, s, margin=0.5),
        lambda a: TF.hinge_embedding_loss(a, t(s), margin=0.5),
        x,
    )
    check(lambda a: F.soft_margin_loss(a, s), lambda a: TF.soft_margin_loss(a, t(s)), x)
    b, sign = RNG.standard_normal((6, 4)), np.where(RNG.random(6) > 0.5, 1.0, -1.0)
    check(
        lambda a: F.cosine_embedding_loss(a, b, sign, margin=0.1),
        lambda a: TF.cosine_embedding_loss(a, t(b), t(sign), margin=0.1),
        x,
    )
    p, n = RNG.standard_normal((6, 4)), RNG.standard_normal((6, 4))
    for swap in (False, True):
        check(
            lambda a, sw=swap: F.triplet_margin_loss(a, p, n, margin=0.5, p=1.5, swap=sw),
            lambda a, sw=swap: TF.triplet_margin_loss(a, t(p), t(n), margin=0.5, p=1.5, swap=sw),
            x,
        )


@pytest.mark.parametrize(
    "name,kw",
    [
        ("relu", {}),
        ("leaky_relu", {"negative_slope": 0.3}),
        ("sigmoid", {}),
        ("tanh", {}),
        ("gelu", {}),
        ("gelu", {"approximate": "tanh"}),
        ("elu", {"alpha": 0.5}),
        ("silu", {}),
        ("softplus", {"beta": 2.0, "threshold": 5.0}),
        ("softmax", {"dim": 0}),
        ("log_softmax", {"dim": 1}),
    ],
)
def test_activations(name, kw):
    x = RNG.standard_normal((5, 4)) * 4
    check(lambda a: getattr(F, name)(a, **kw), lambda a: getattr(TF, name)(a, **kw), x)


def test_linear_state_dict_moves_between_frameworks():
    fg.manual_seed(0)
    ours = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).double()
    theirs = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)
    ).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = RNG.standard_normal((5, 4))
    np.testing.assert_allclose(
        ours(fg.tensor(x)).data, theirs(t(x)).detach().numpy(), rtol=1e-12, atol=1e-14
    )


def check_op(fwd, bwd, ref_fn, x, *, rtol=1e-12, atol=1e-12):
    """An ops kernel and its backward kernel against a PyTorch function and its autograd."""
    xt = t(x, grad=True)
    ref = ref_fn(xt)
    g = RNG.standard_normal(tuple(ref.shape))
    ref.backward(t(g))
    with np.errstate(all="ignore"):
        out = fwd(x)
        grad = bwd(g, x)
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=rtol, atol=atol)


EDGES = np.array([[-2.0, -1.0, 0.0, 0.5], [1.0, 3.0, np.nan, -0.0], [1.0, 1.0, -1.0, 2.0]])


def test_abs_log1p_clamp():
    ops = fg.ops
    check_op(ops.abs, ops.abs_backward, torch.abs, EDGES)
    pos = np.abs(RNG.standard_normal((3, 4)))
    check_op(ops.log1p, ops.log1p_backward, torch.log1p, pos - 0.5)
    for lo, hi in [(-1.0, 1.0), (None, 0.5), (0.0, None), (2.0, 1.0), (np.nan, None)]:
        check_op(
            lambda x, lo=lo, hi=hi: ops.clamp(x, lo, hi),
            lambda g, x, lo=lo, hi=hi: ops.clamp_backward(g, x, lo, hi),
            lambda x, lo=lo, hi=hi: torch.clamp(x, lo, hi),
            EDGES,
        )


@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 1)])
def test_min_argmax_argmin(dim):
    ops = fg.ops
    x = np.array([[3.0, 1.0, 1.0, 2.0], [0.5, 0.5, 4.0, 4.0], [2.0, -1.0, 7.0, -1.0]])
    kw = {} if dim is None else {"dim": dim}
    check_op(
        lambda v: ops.min(v, axis=dim),
        lambda g, v: ops.min_backward(g, v, axis=dim),
        lambda v: torch.amin(v, **kw),
        x,
    )
    if not isinstance(dim, tuple):
        for name in ("argmax", "argmin"):
            got = getattr(ops, name)(x, axis=dim)
            want = getattr(torch, name)(t(x), **kw).numpy()
            np.testing.assert_array_equal(got, want)
            got = getattr(ops, name)(EDGES, axis=dim, keepdims=True)
            want = getattr(torch, name)(t(EDGES), keepdim=True, **kw).numpy()
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1)])
@pytest.mark.parametrize("correction", [0, 1, 2.5])
def test_var_std(name, dim, correction):
    ops = fg.ops
    x = RNG.standard_normal((3, 5)) + 10.0
    kw = {"correction": correction} if dim is None else {"dim": dim, "correction": correction}
    check_op(
        lambda v: getattr(ops, name)(v, axis=dim, correction=correction),
        lambda g, v: getattr(ops, f"{name}_backward")(g, v, axis=dim, correction=correction),
        lambda v: getattr(torch, name)(v, **kw),
        x,
        rtol=1e-10,
    )


@pytest.mark.parametrize("dim", [None, 1])
def test_var_where_correction_leaves_no_degrees_of_freedom(dim):
    ops = fg.ops
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    kw = {} if dim is None else {"dim": dim}
    for c in (2, 3, 4, 5):
        check_op(
            lambda v, c=c: ops.var(v, axis=dim, correction=c),
            lambda g, v, c=c: ops.var_backward(g, v, axis=dim, correction=c),
            lambda v, c=c: torch.var(v, correction=c, **kw),
            x,
        )


def test_containers_name_like_torch():
    ours = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 4), nn.Tanh())
    theirs = torch.nn.Sequential(
        torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 4), torch.nn.Tanh()
    )
    assert list(ours[1:3].state_dict()) == list(theirs[1:3].state_dict())
    d = {"b": (3, 2), "a": (2, 2)}
    ours_d = nn.ModuleDict({k: nn.Linear(*s) for k, s in d.items()})
    theirs_d = torch.nn.ModuleDict({k: torch.nn.Linear(*s) for k, s in d.items()})
    assert list(ours_d.state_dict()) == list(theirs_d.state_dict())
    theirs_d.load_state_dict({k: torch.tensor(v) for k, v in ours_d.state_dict().items()})
    ours_p = nn.ParameterList([np.zeros(2), np.ones(3)])
    theirs_p = torch.nn.ParameterList([torch.zeros(2), torch.ones(3)])
    assert list(ours_p.state_dict()) == list(theirs_p.state_dict())


@pytest.mark.parametrize("name", ["NAdam", "RAdam"])
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"lr": 0.01, "weight_decay": 0.1},
        {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
        {"betas": (0.8, 0.9), "eps": 1e-6, "maximize": True},
    ],
)
def test_nadam_radam(name, kw):
    torch.set_default_dtype(torch.float64)  # float64 step and mu_product on both sides
    try:
        shapes = [(4, 3), (5,)]
        start = [RNG.standard_normal(s) for s in shapes]
        ours = [nn.Parameter(p.copy()) for p in start]
        theirs = [torch.tensor(p.copy(), requires_grad=True) for p in start]
        opt = getattr(fg.optim, name)(ours, **kw)
        topt = getattr(torch.optim, name)(theirs, **kw)
        for _ in range(12):
            for p, q in zip(ours, theirs):
                g = RNG.standard_normal(p.shape)
                p.grad = g
                q.grad = torch.tensor(g)
            opt.step()
            topt.step()
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-12, atol=1e-13)
    finally:
        torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"stride": 2, "padding": 2, "groups": 2},
        {"dilation": 2, "padding": "same", "bias": False},
        {"padding": "valid", "stride": 3},
    ],
)
def test_conv1d_with_copied_weights(kw):
    fg.manual_seed(0)
    ours = nn.Conv1d(4, 6, 3, **kw).double()
    theirs = torch.nn.Conv1d(4, 6, 3, **kw).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    for shape in [(3, 4, 11), (4, 11)]:
        x = RNG.standard_normal(shape)
        xf, xt = fg.tensor(x, requires_grad=True), t(x, grad=True)
        yf, yt = ours(xf), theirs(xt)
        np.testing.assert_allclose(yf.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        gy = RNG.standard_normal(yf.shape)
        yf.backward(gy)
        yt.backward(t(gy))
        np.testing.assert_allclose(xf.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize(
    ("shape", "size"),
    [((2, 3, 7, 5), (3, 2)), ((1, 2, 9, 9), 4), ((2, 6, 5), (None, 3)), ((1, 1, 3, 4), (5, 7))],
)
def test_adaptive_avg_pool2d(shape, size):
    check(nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size), RNG.standard_normal(shape))


@pytest.mark.parametrize(
    ("shape", "groups", "affine"), [((4, 6, 5, 3), 3, True), ((2, 4, 7), 4, False)]
)
def test_group_norm_with_copied_weights(shape, groups, affine):
    ours = nn.GroupNorm(groups, shape[1], affine=affine, dtype=np.float64)
    theirs = torch.nn.GroupNorm(groups, shape[1], affine=affine).double()
    if affine:
        ours.weight.data = RNG.uniform(0.5, 2.0, shape[1])
        ours.bias.data = RNG.standard_normal(shape[1])
        theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    check(ours, theirs, RNG.standard_normal(shape) * 2 + 1, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("batched", [True, False])
def test_recurrent_cells_with_copied_weights(name, batched):
    fg.manual_seed(0)
    ours = getattr(nn, name)(3, 4, dtype=np.float64)
    theirs = getattr(torch.nn, name)(3, 4).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    lead = (5,) if batched else ()
    x, h = RNG.standard_normal((*lead, 3)), RNG.standard_normal((*lead, 4))
    xf, xt = fg.tensor(x, requires_grad=True), t(x, grad=True)
    hf, ht = fg.tensor(h, requires_grad=True), t(h, grad=True)
    if name == "LSTMCell":
        c = RNG.standard_normal((*lead, 4))
        of, ot = ours(xf, (hf, c)), theirs(xt, (ht, t(c)))
        yf, yt = of[0] * 2 + of[1] * of[1], ot[0] * 2 + ot[1] * ot[1]
    else:
        yf, yt = ours(xf, hf), theirs(xt, ht)
    np.testing.assert_allclose(yf.data, yt.detach().numpy(), rtol=1e-12, atol=1e-13)
    yf.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(xf.grad, xt.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(hf.grad, ht.grad.numpy(), rtol=1e-12, atol=1e-13)
    for k, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, getattr(theirs, k).grad.numpy(), rtol=1e-12, atol=1e-13)


def _lr_run(make, lib, n, epochs=None):
    """Learning rates of a schedule built by ``make(opt, lib)`` with two groups over ``n``
    steps (or at the given float ``epochs``), in ferrograd (lib=ours) or PyTorch."""
    import warnings

    from ferrograd import optim

    if lib == "torch":
        ps = [torch.nn.Parameter(torch.zeros(2)) for _ in range(2)]
        opt = torch.optim.SGD([{"params": [ps[0]], "lr": 0.1}, {"params": [ps[1]], "lr": 0.02}])
        sched = make(opt, torch.optim.lr_scheduler)
    else:
        opt = optim.SGD([{"params": [nn.Parameter(np.zeros(2))], "lr": b} for b in (0.1, 0.02)])
        sched = make(opt, optim.lr_scheduler)
    out = [sched.get_last_lr()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(n if epochs is None else len(epochs)):
            opt.step()
            sched.step() if epochs is None else sched.step(epochs[i])
            out.append(sched.get_last_lr())
    return np.array(out, dtype=np.float64)


SCHEDULES = {
    "lambda": lambda o, S: S.LambdaLR(o, [lambda e: 0.97**e, lambda e: 1 / (1 + 0.1 * e)]),
    "restarts": lambda o, S: S.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=1e-4),
    "restarts_1": lambda o, S: S.CosineAnnealingWarmRestarts(o, T_0=7),
    "sequential": lambda o, S: S.SequentialLR(
        o,
        [
            S.LinearLR(o, start_factor=0.1, total_iters=5),
            S.CosineAnnealingLR(o, T_max=20),
            S.StepLR(o, step_size=3, gamma=0.5),
        ],
        milestones=[5, 25],
    ),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_new_lr_schedulers_match_torch(name):
    ours = _lr_run(SCHEDULES[name], "ours", 80)
    theirs = _lr_run(SCHEDULES[name], "torch", 80)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_warm_restarts_float_epochs_match_torch():
    epochs = [e + i / 6 for e in range(50) for i in range(6)]
    ours = _lr_run(SCHEDULES["restarts"], "ours", 0, epochs)
    theirs = _lr_run(SCHEDULES["restarts"], "torch", 0, epochs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize(
    "shape,pad",
    [
        ((2, 5), (2, 3)),
        ((2, 3, 5), (4, 1)),
        ((1, 2, 4, 5), (2, 1, 3, 0)),
        ((1, 2, 3, 4, 3), (2, 1, 0, 3, 1, 2)),
    ],
)
def test_pad_modes(mode, shape, pad):
    x = RNG.standard_normal(shape)
    out_shape = list(shape)
    for k in range(len(pad) // 2):
        out_shape[-1 - k] += pad[2 * k] + pad[2 * k + 1]
    g = RNG.standard_normal(out_shape)  # weights, so each copy's gradient counts apart
    check(lambda a: F.pad(a, pad, mode=mode) * g, lambda a: TF.pad(a, pad, mode=mode) * t(g), x)


# ferrograd's loss layers against torch.nn's of the same name, built with the same arguments
LOSS_LAYERS = [
    ("MSELoss", (), {"reduction": "sum"}, "xy"),
    ("L1Loss", (), {}, "xy"),
    ("HuberLoss", ("sum", 0.4), {}, "xy"),
    ("SmoothL1Loss", (), {"beta": 0.3}, "xy"),
    ("CrossEntropyLoss", (WEIGHT,), {"label_smoothing": 0.1}, "ce"),
    ("NLLLoss", (WEIGHT,), {"reduction": "sum"}, "ce"),
    ("BCELoss", (), {}, "bce"),
    ("BCEWithLogitsLoss", (), {"pos_weight": WEIGHT}, "xt"),
    ("KLDivLoss", (), {"reduction": "batchmean"}, "kl"),
    ("HingeEmbeddingLoss", (0.6,), {}, "signs"),
    ("SoftMarginLoss", (), {"reduction": "sum"}, "signs"),
    ("MultiMarginLoss", (2, 0.7, WEIGHT), {}, "mm"),
    ("CosineEmbeddingLoss", (0.1,), {}, "cos"),
    ("TripletMarginLoss", (0.5, 1.5, 1e-6, True), {}, "triplet"),
]


@pytest.mark.parametrize("name,args,kw,data", LOSS_LAYERS, ids=[c[0] for c in LOSS_LAYERS])
def test_loss_layers(name, args, kw, data):
    import inspect

    ours_sig = inspect.signature(getattr(nn, name)).parameters
    theirs = {
        k: v
        for k, v in inspect.signature(getattr(torch.nn, name)).parameters.items()
        if k not in ("size_average", "reduce")
    }
    assert list(ours_sig) == list(theirs)
    assert [p.default for p in ours_sig.values()] == [p.default for p in theirs.values()]
    tw = lambda v: t(v) if isinstance(v, np.ndarray) else v  # noqa: E731
    ours = getattr(nn, name)(*args, **kw)
    ref = getattr(torch.nn, name)(*[tw(a) for a in args], **{k: tw(v) for k, v in kw.items()})
    x, y = RNG.standard_normal((6, 4)), RNG.standard_normal((6, 4))
    s = np.where(RNG.random((6, 4)) > 0.5, 1.0, -1.0)
    ones, dist, cls = 1.0 * (s > 0), RNG.dirichlet(np.ones(4), 6), np.abs(LABELS) % 4
    inputs = {
        "xy": (x, (y,), (t(y),)),
        "ce": (x, (cls,), (torch.tensor(cls),)),
        "bce": (RNG.uniform(0.05, 0.95, (6, 4)), (ones,), (t(ones),)),
        "xt": (x, (ones,), (t(ones),)),
        "kl": (np.log(RNG.dirichlet(np.ones(4), 6)), (dist,), (t(dist),)),
        "signs": (x, (s,), (t(s),)),
        "mm": (x, (cls,), (torch.tensor(cls),)),
        "cos": (x, (y, s[:, 0]), (t(y), t(s[:, 0]))),
        "triplet": (x, (y, s), (t(y), t(s))),
    }[data]
    x0, rest, trest = inputs
    check(lambda a: ours(a, *rest), lambda a: ref(a, *trest), x0)


@pytest.mark.parametrize("p", [0.5, 1, 1.5, 2, 3, float("inf")])
def test_norm_gradient_at_zero(p):
    x = np.zeros((2, 3))
    x[0] = RNG.standard_normal(3)
    check(lambda a: a.norm(p, dim=1), lambda a: a.norm(p, dim=1), x)
    check(lambda a: a[1].norm(p), lambda a: a[1].norm(p), x)
