"""Recurrent layers (RNN, LSTM, GRU): forward against a step-by-step float64 reference,
autograd against finite differences, PyTorch's parameter names/shapes, and input checking."""

from __future__ import annotations

import warnings
from typing import Any

import ferrograd
import ferrograd.nn.rnn as rnn_module
import numpy as np
import pytest
from ferrograd import DTypeError, ShapeError, Tensor, nn
from helpers import assert_close
from reference import rnn_ref

MODES = ("RNN_TANH", "RNN_RELU", "LSTM", "GRU")
# the fused Rust kernel when the extension has it, and always the step-by-step path
IMPLEMENTATIONS = ["fused", "stepwise"] if rnn_module._FUSED else ["stepwise"]
needs_fused = pytest.mark.skipif(not rnn_module._FUSED, reason="no fused recurrent kernel")


@pytest.fixture(autouse=True, params=IMPLEMENTATIONS)
def implementation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(rnn_module, "_FUSED", request.param == "fused")
    return str(request.param)


def make(mode: str, input_size: int = 3, hidden_size: int = 4, **kw: Any) -> nn.RNNBase:
    if mode == "LSTM":
        return nn.LSTM(input_size, hidden_size, **kw)
    if mode == "GRU":
        return nn.GRU(input_size, hidden_size, **kw)
    nonlinearity = "tanh" if mode == "RNN_TANH" else "relu"
    return nn.RNN(input_size, hidden_size, nonlinearity=nonlinearity, **kw)


def run(model: nn.RNNBase, x: Any, h0: Any = None, c0: Any = None) -> tuple[Any, Any, Any]:
    """(output, h_n, c_n) whatever the layer type (c_n None but for LSTM)."""
    if model.mode == "LSTM":
        hx = None if h0 is None else (h0, c0)
        output, (h, c) = model(x, hx)
        return output, h, c
    output, h = model(x, h0)
    return output, h, None


def states(model: nn.RNNBase, batch: int | None, rng: np.random.Generator, dtype: Any) -> Any:
    shape: tuple[int, ...] = (model.num_layers * model.num_directions, model.hidden_size)
    if batch is not None:
        shape = (shape[0], batch, shape[1])
    h0 = rng.standard_normal(shape).astype(dtype)
    c0 = rng.standard_normal(shape).astype(dtype) if model.mode == "LSTM" else None
    return h0, c0


def reference(model: nn.RNNBase, x: Any, h0: Any = None, c0: Any = None) -> Any:
    return rnn_ref(
        model.mode,
        x,
        model.state_dict(),
        model.num_layers,
        model.hidden_size,
        bias=model.bias,
        batch_first=model.batch_first,
        bidirectional=model.bidirectional,
        h0=h0,
        c0=c0,
    )


def check_against_reference(model: nn.RNNBase, x: Any, h0: Any, c0: Any, dtype: Any) -> None:
    out, h, c = run(model, x, h0, c0)
    ref_out, ref_h, ref_c = reference(model, x, h0, c0)
    steps = x.shape[1 if model.batch_first and x.ndim == 3 else 0]
    n = steps * model.num_layers * (model.input_size + model.hidden_size)
    assert_close(out.data, ref_out, dtype, reduce_len=n, atol=1e-5 if dtype == np.float32 else None)
    assert_close(h.data, ref_h, dtype, reduce_len=n, atol=1e-5 if dtype == np.float32 else None)
    if model.mode == "LSTM":
        assert_close(c.data, ref_c, dtype, reduce_len=n, atol=1e-5 if dtype == np.float32 else None)
    else:
        assert c is None


# ----------------------------------------------------------------------------- forward


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("given_state", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_forward_matches_reference(
    mode: str, num_layers: int, batch_first: bool, given_state: bool, bidirectional: bool
) -> None:
    ferrograd.manual_seed(1)
    model = make(
        mode,
        num_layers=num_layers,
        batch_first=batch_first,
        bidirectional=bidirectional,
        dtype=np.float64,
    )
    rng = np.random.default_rng(7)
    seq, batch = 5, 3
    x = rng.standard_normal((batch, seq, 3) if batch_first else (seq, batch, 3))
    h0, c0 = states(model, batch, rng, np.float64) if given_state else (None, None)
    out, h, _ = run(model, x, h0, c0)
    dirs = 2 if bidirectional else 1
    assert out.shape == ((batch, seq, dirs * 4) if batch_first else (seq, batch, dirs * 4))
    assert h.shape == (num_layers * dirs, batch, 4)
    check_against_reference(model, x, h0, c0, np.float64)


@pytest.mark.parametrize("mode", MODES)
def test_float32_and_no_bias(mode: str) -> None:
    ferrograd.manual_seed(2)
    model = make(mode, num_layers=2, bias=False, bidirectional=True)
    assert all(p.dtype == np.float32 for p in model.parameters())
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 2, 3)).astype(np.float32)
    h0, c0 = states(model, 2, rng, np.float32)
    check_against_reference(model, x, h0, c0, np.float32)


@pytest.mark.parametrize("mode", MODES)
def test_unbatched_input(mode: str) -> None:
    ferrograd.manual_seed(3)
    model = make(mode, num_layers=2, bidirectional=True, batch_first=True, dtype=np.float64)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 3))
    h0, c0 = states(model, None, rng, np.float64)
    out, h, _ = run(model, x, h0, c0)
    assert out.shape == (5, 8) and h.shape == (4, 4)
    check_against_reference(model, x, h0, c0, np.float64)
    # the same as a batch of one (batch_first does not apply to unbatched input)
    out1, h1, _ = run(model, x[None], h0[:, None], None if c0 is None else c0[:, None])
    np.testing.assert_array_equal(out1.data[0], out.data)
    np.testing.assert_array_equal(h1.data[:, 0], h.data)


def test_tensor_input_and_state_keep_graph() -> None:
    model = nn.GRU(3, 4, dtype=np.float64)
    x = ferrograd.tensor(np.ones((2, 1, 3)), requires_grad=True)
    h0 = ferrograd.tensor(np.zeros((1, 1, 4)), requires_grad=True)
    out, h = model(x, h0)
    (out.sum() + h.sum()).backward()
    assert x.grad is not None and x.grad.shape == (2, 1, 3)
    assert h0.grad is not None and h0.grad.shape == (1, 1, 4)
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())


# ----------------------------------------------------------------------------- gradients


GRAD_CONFIGS = [
    # num_layers, bidirectional, batch_first, bias, given_state
    (1, False, False, True, True),
    (2, True, True, True, False),
    (2, False, False, False, True),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("config", GRAD_CONFIGS, ids=["1layer", "2layer-bidir-bf", "2layer-nobias"])
def test_gradcheck(mode: str, config: tuple[int, bool, bool, bool, bool]) -> None:
    num_layers, bidirectional, batch_first, bias, given_state = config
    ferrograd.manual_seed(5)
    model = make(
        mode,
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=batch_first,
        bias=bias,
        dtype=np.float32,
    ).double()
    rng = np.random.default_rng(6)
    seq, batch = 3, 2
    x = rng.standard_normal((batch, seq, 3) if batch_first else (seq, batch, 3))
    inputs = [Tensor(x, requires_grad=True)]
    h0 = c0 = None
    if given_state:
        h0_, c0_ = states(model, batch, rng, np.float64)
        h0 = Tensor(h0_, requires_grad=True)
        inputs.append(h0)
        if c0_ is not None:
            c0 = Tensor(c0_, requires_grad=True)
            inputs.append(c0)
    params = list(model.parameters())
    inputs += params

    def fn(*_: Tensor) -> Tensor:
        out, h, c = run(model, inputs[0], h0, c0)
        parts = [out.reshape(-1), h.reshape(-1)] + ([c.reshape(-1)] if c is not None else [])
        return ferrograd.concat(parts)

    assert ferrograd.gradcheck(fn, inputs)


def test_relu_rnn_gradient_is_zero_where_inactive() -> None:
    model = nn.RNN(2, 3, nonlinearity="relu", bias=False, dtype=np.float64)
    for p in model.parameters():
        p.data = -np.abs(p.data) - 0.1  # with positive inputs every unit stays off
    out, _ = model(np.ones((4, 1, 2)))
    assert np.all(out.data == 0)
    out.sum().backward()
    assert all(np.all(p.grad == 0) for p in model.parameters())


@needs_fused
class TestFusedKernel:
    @pytest.fixture(autouse=True)
    def implementation(self) -> str:  # overrides the module's: these tests pick their own
        return "fused"

    @pytest.mark.parametrize("mode", MODES)
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_agrees_with_stepwise(
        self, mode: str, dtype: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        ferrograd.manual_seed(8)
        model = make(mode, 5, 7, num_layers=2, bidirectional=True, dtype=dtype)
        rng = np.random.default_rng(9)
        x = Tensor(rng.standard_normal((6, 4, 5)).astype(dtype), requires_grad=True)
        h0, c0 = states(model, 4, rng, dtype)
        weights = rng.standard_normal((6, 4, 14)).astype(dtype)
        results = []
        for fused in (True, False):
            monkeypatch.setattr(rnn_module, "_FUSED", fused)
            model.zero_grad()
            x.grad = None
            out, h, c = run(model, x, h0, c0)
            loss = (out * weights).sum() + h.sum() + (0 if c is None else c.sum())
            loss.backward()
            results.append([out.data, h.data, x.grad] + [p.grad for p in model.parameters()])
        tol = 1e-4 if dtype == np.float32 else 1e-12
        for a, b in zip(*results):
            assert a.dtype == b.dtype == dtype
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)

    @pytest.mark.parametrize(
        ("mode", "loss_kind"),
        [
            (m, k)
            for m in MODES
            for k in ("last", "h_n", "c_n", "last+first+h_n")
            if k != "c_n" or m == "LSTM"
        ],  # only the LSTM has c_n
    )
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("layers_dirs", [(1, False), (2, True)], ids=["1layer", "2layer-bidir"])
    def test_gradients_of_some_steps_agree_with_stepwise(
        self,
        mode: str,
        dtype: Any,
        layers_dirs: tuple[int, bool],
        loss_kind: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # losses that read one step of the output or the final states: the fused path hands
        # the recurrence only those steps (and only the LSTM's h part), the stepwise one dense
        # gradients
        num_layers, bidirectional = layers_dirs
        ferrograd.manual_seed(10)
        model = make(mode, 5, 6, num_layers=num_layers, bidirectional=bidirectional, dtype=dtype)
        rng = np.random.default_rng(11)
        x = Tensor(rng.standard_normal((7, 3, 5)).astype(dtype), requires_grad=True)
        h0_, c0_ = states(model, 3, rng, dtype)
        h0 = Tensor(h0_, requires_grad=True)
        c0 = None if c0_ is None else Tensor(c0_, requires_grad=True)
        w = rng.standard_normal((3, 6 * model.num_directions)).astype(dtype)
        wh = rng.standard_normal((model.num_layers * model.num_directions, 3, 6)).astype(dtype)
        results = []
        for fused in (True, False):
            monkeypatch.setattr(rnn_module, "_FUSED", fused)
            model.zero_grad()
            x.grad = h0.grad = None
            if c0 is not None:
                c0.grad = None
            out, h, c = run(model, x, h0, c0)
            if loss_kind == "last":
                loss = (out[-1] * w).sum()
            elif loss_kind == "h_n":
                loss = (h * wh).sum()
            elif loss_kind == "c_n":
                loss = (c * wh).sum()
            else:
                loss = (out[-1] * w).sum() + (out[0] * w).sum() + (h * wh).sum()
            loss.backward()
            grads = [x.grad, h0.grad] + ([c0.grad] if c0 is not None else [])
            results.append(grads + [p.grad for p in model.parameters()])
        tol = 1e-4 if dtype == np.float32 else 1e-12
        for a, b in zip(*results):
            assert a.dtype == b.dtype == dtype
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)

    @pytest.mark.parametrize("mode", ["LSTM", "GRU"])
    def test_gradcheck_of_the_last_step(self, mode: str) -> None:
        ferrograd.manual_seed(12)
        model = make(mode, 3, 4, num_layers=2, dtype=np.float64)
        rng = np.random.default_rng(13)
        x = Tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)
        inputs = [x, *model.parameters()]

        def fn(*_: Tensor) -> Tensor:
            out, _, _ = run(model, x)
            return out[-1]

        assert ferrograd.gradcheck(fn, inputs)

    def test_compact_gradient_arguments(self) -> None:
        core = ferrograd._core
        rng = np.random.default_rng(14)
        x, h0, c0 = rng.standard_normal((4, 3, 2)), rng.standard_normal((3, 5)), np.zeros((3, 5))
        w_ih, w_hh = rng.standard_normal((20, 2)), rng.standard_normal((20, 5))
        states, saved = core.rnn_forward("LSTM", x, h0, w_ih, w_hh, None, None, c0)
        g = rng.standard_normal((2, 3, 5))  # steps 3 and 1, h part only
        dense = np.zeros_like(states)
        dense[3, :, :5], dense[1, :, :5] = g[0], g[1]
        args = (x, h0, w_ih, w_hh, states, saved, None, None, c0, False, True)
        want = core.rnn_backward("LSTM", dense, *args)
        assert want[5] is None and all(a is not None for a in want[:5])
        got = core.rnn_backward("LSTM", g, *args, [3, 1])
        for a, b in zip(got[:5], want[:5]):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
        h_only = core.rnn_backward("LSTM", np.ascontiguousarray(dense[:, :, :5]), *args)
        for a, b in zip(h_only[:5], want[:5]):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
        with pytest.raises(ValueError, match="twice"):
            core.rnn_backward("LSTM", g, *args, [1, 1])
        with pytest.raises(ValueError, match="step 4"):
            core.rnn_backward("LSTM", g, *args, [4, 1])
        with pytest.raises(ValueError, match="negative"):
            core.rnn_backward("LSTM", g, *args, [-1, 1])
        with pytest.raises(ShapeError, match="grad_states"):
            core.rnn_backward("LSTM", g, *args, [1])
        with pytest.raises(ShapeError, match="grad_states"):
            core.rnn_backward("LSTM", g[:, :, :4], *args, [3, 1])
        with pytest.raises(ShapeError, match="grad_states"):
            core.rnn_backward("LSTM", g, *args)

    def test_rejects_bad_arguments(self) -> None:
        core = ferrograd._core
        x, h0 = np.zeros((2, 3, 4)), np.zeros((3, 5))
        w_ih, w_hh = np.zeros((20, 4)), np.zeros((20, 5))
        c0 = np.zeros((3, 5))
        states, saved = core.rnn_forward("LSTM", x, h0, w_ih, w_hh, None, None, c0)
        assert states.shape == (2, 3, 10) and saved.shape == (2, 3, 20)
        with pytest.raises(ShapeError, match="weight_hh"):
            core.rnn_forward("GRU", x, h0, w_ih, w_hh)
        with pytest.raises(ShapeError, match="c0"):
            core.rnn_forward("LSTM", x, h0, w_ih, w_hh)
        with pytest.raises(ShapeError):
            core.rnn_forward("LSTM", x[0], h0, w_ih, w_hh, None, None, c0)
        with pytest.raises(DTypeError):
            core.rnn_forward("LSTM", x.astype(np.float32), h0, w_ih, w_hh, None, None, c0)
        with pytest.raises(ValueError, match="mode"):
            core.rnn_forward("LSTN", x, h0, w_ih, w_hh, None, None, c0)
        with pytest.raises(ShapeError, match="saved"):
            core.rnn_backward("LSTM", states, x, h0, w_ih, w_hh, states, saved[:1], None, None, c0)


# ----------------------------------------------------------------------------- parameters


def test_state_dict_names_and_shapes_match_pytorch() -> None:
    lstm = nn.LSTM(10, 20, num_layers=2, bidirectional=True)
    expected_lstm = [
        ("weight_ih_l0", (80, 10)),
        ("weight_hh_l0", (80, 20)),
        ("bias_ih_l0", (80,)),
        ("bias_hh_l0", (80,)),
        ("weight_ih_l0_reverse", (80, 10)),
        ("weight_hh_l0_reverse", (80, 20)),
        ("bias_ih_l0_reverse", (80,)),
        ("bias_hh_l0_reverse", (80,)),
        ("weight_ih_l1", (80, 40)),
        ("weight_hh_l1", (80, 20)),
        ("bias_ih_l1", (80,)),
        ("bias_hh_l1", (80,)),
        ("weight_ih_l1_reverse", (80, 40)),
        ("weight_hh_l1_reverse", (80, 20)),
        ("bias_ih_l1_reverse", (80,)),
        ("bias_hh_l1_reverse", (80,)),
    ]
    assert [(k, v.shape) for k, v in lstm.state_dict().items()] == expected_lstm

    gru = nn.GRU(10, 20)
    expected_gru = [
        ("weight_ih_l0", (60, 10)),
        ("weight_hh_l0", (60, 20)),
        ("bias_ih_l0", (60,)),
        ("bias_hh_l0", (60,)),
    ]
    assert [(k, v.shape) for k, v in gru.state_dict().items()] == expected_gru

    rnn = nn.RNN(10, 20, num_layers=2, nonlinearity="relu", bias=False)
    expected_rnn = [
        ("weight_ih_l0", (20, 10)),
        ("weight_hh_l0", (20, 20)),
        ("weight_ih_l1", (20, 20)),
        ("weight_hh_l1", (20, 20)),
    ]
    assert [(k, v.shape) for k, v in rnn.state_dict().items()] == expected_rnn

    seq = nn.Sequential(nn.GRU(3, 5, bidirectional=True))
    assert list(seq.state_dict())[:2] == ["0.weight_ih_l0", "0.weight_hh_l0"]


@pytest.mark.parametrize("mode", MODES)
def test_init_is_uniform_in_pytorch_bound_and_seeded(mode: str) -> None:
    ferrograd.manual_seed(11)
    a = make(mode, 6, 16, num_layers=2)
    ferrograd.manual_seed(11)
    b = make(mode, 6, 16, num_layers=2)
    bound = 1 / np.sqrt(16)
    values = np.concatenate([v.reshape(-1) for v in a.state_dict().values()])
    assert values.dtype == np.float32
    assert np.all(np.abs(values) <= bound) and np.max(np.abs(values)) > 0.9 * bound
    assert abs(float(np.mean(values))) < 0.1 * bound
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        np.testing.assert_array_equal(va, vb)


def test_load_state_dict_round_trip_and_dtype() -> None:
    ferrograd.manual_seed(12)
    src = nn.LSTM(3, 4, num_layers=2, dtype=np.float64)
    dst = nn.LSTM(3, 4, num_layers=2, dtype=np.float64)
    dst.load_state_dict(src.state_dict())
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    np.testing.assert_array_equal(src(x)[0].data, dst(x)[0].data)
    with pytest.raises(ShapeError, match="weight_ih_l0"):
        nn.LSTM(5, 4, num_layers=2).load_state_dict(src.state_dict())
    assert all(p.dtype == np.float64 for p in nn.GRU(2, 3, dtype=np.float64).parameters())


def test_repr_and_attributes() -> None:
    assert repr(nn.LSTM(3, 4, num_layers=2, bidirectional=True)) == (
        "LSTM(3, 4, num_layers=2, bidirectional=True)"
    )
    assert repr(nn.RNN(3, 4, nonlinearity="relu", batch_first=True)) == (
        "RNN(3, 4, nonlinearity='relu', batch_first=True)"
    )
    gru = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    assert len(gru.all_weights) == 4 and gru.all_weights[1][0] is gru.weight_ih_l0_reverse
    gru.flatten_parameters()


# ----------------------------------------------------------------------------- dropout


def test_dropout_between_layers_only_in_training() -> None:
    model = nn.LSTM(3, 8, num_layers=2, dropout=0.5, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((5, 4, 3))
    model.eval()
    out_eval, (h_eval, _) = model(x)
    ref_out, _, _ = reference(model, x)
    assert_close(out_eval.data, ref_out, np.float64, reduce_len=100)

    model.train()
    ferrograd.manual_seed(0)
    out_a, (h_a, c_a) = model(x)
    ferrograd.manual_seed(0)
    out_b, _ = model(x)
    np.testing.assert_array_equal(out_a.data, out_b.data)  # seeded
    assert not np.allclose(out_a.data, out_eval.data)  # the mask reached layer 2
    np.testing.assert_array_equal(h_a.data[0], h_eval.data[0])  # layer 1 is untouched
    (out_a.sum() + c_a.sum()).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_dropout_is_identity_for_the_last_layer() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = nn.GRU(3, 4, dropout=0.9, dtype=np.float64)
    x = np.random.default_rng(2).standard_normal((3, 2, 3))
    ref_out, _, _ = reference(model, x)
    assert_close(model.train()(x)[0].data, ref_out, np.float64, reduce_len=50)


# ----------------------------------------------------------------------------- errors


def test_bad_constructor_arguments() -> None:
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size"):
        nn.LSTM(3, 0)
    with pytest.raises(ValueError, match="num_layers"):
        nn.GRU(3, 4, num_layers=0)
    with pytest.raises(ValueError, match="dropout"):
        nn.GRU(3, 4, num_layers=2, dropout=1.5)
    with pytest.warns(UserWarning, match="num_layers=1"):
        nn.LSTM(3, 4, dropout=0.2)
    with pytest.raises(DTypeError, match="dtype"):
        nn.LSTM(3, 4, dtype=np.int32)


@pytest.mark.parametrize("mode", MODES)
def test_bad_input_shapes_name_the_shapes(mode: str) -> None:
    model = make(mode, 3, 4, num_layers=2)
    with pytest.raises(ShapeError, match=r"\(5, 2, 7\).*input_size=3"):
        run(model, np.zeros((5, 2, 7), np.float32))
    with pytest.raises(ShapeError, match=r"\(5,\)"):
        run(model, np.zeros(5, np.float32))
    with pytest.raises(ShapeError, match=r"\(1, 5, 2, 3\)"):
        run(model, np.zeros((1, 5, 2, 3), np.float32))
    with pytest.raises(ShapeError, match="length 0"):
        run(model, np.zeros((0, 2, 3), np.float32))
    x = np.zeros((5, 2, 3), np.float32)
    bad = np.zeros((1, 2, 4), np.float32)
    good = np.zeros((2, 2, 4), np.float32)
    with pytest.raises(ShapeError, match=r"\(1, 2, 4\).*\(2, 2, 4\)"):
        run(model, x, bad, bad if mode == "LSTM" else None)
    if mode == "LSTM":
        with pytest.raises(ShapeError, match=r"c_0 has shape \(1, 2, 4\).*\(2, 2, 4\)"):
            run(model, x, good, bad)
        with pytest.raises(ShapeError, match="tuple"):
            model(x, good)
    # unbatched input needs an unbatched state
    with pytest.raises(ShapeError, match=r"\(2, 2, 4\).*\(2, 4\)"):
        run(model, x[:, 0], good, good if mode == "LSTM" else None)
    with pytest.raises(DTypeError, match="<U1"):
        run(model, np.zeros((5, 2, 3), str))
