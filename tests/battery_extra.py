"""Cases of the child-interpreter batteries beyond ``ferrograd.ops`` (see test_bad_input.py).

``huge_cases``: every public function and layer fed views far too large to copy or to hold
the result of (zero-stride ``np.broadcast_to`` views of 2**40 elements and more). Each must
raise ``MemoryError`` (as NumPy does), never abort the interpreter. A case marked ``small``
has a result small enough to exist; it may also return one.

``misuse_cases``: calls that once crashed or panicked (the compiled step with a target it
cannot use, ...): each must raise the given ferrograd error type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

#: Rows of the huge (rows, 16) views: 2**36 * 16 = 2**40 elements.
ROWS = 2**36


@dataclass
class Expect:
    """One call and the error it must raise (``small``: a returned result also passes)."""

    op: str
    label: str
    run: Callable[[], Any]
    error: type[BaseException] = MemoryError
    small: bool = False


def huge(shape: tuple[int, ...], dtype: Any = np.float32, value: float = 0.0) -> np.ndarray:
    """A read-only zero-stride view of ``shape`` filled with ``value``."""
    return np.broadcast_to(np.asarray(value, dtype=dtype), shape)


def _views() -> dict[str, Any]:
    probs = np.broadcast_to(np.full(16, 1 / 16, np.float32), (ROWS, 16))
    return {
        "h1": huge((2**40,)),
        "h2": huge((ROWS, 16)),
        "p2": probs,
        "labels": huge((ROWS,), np.int64),
        "signs": huge((ROWS,), np.float32, 1.0),
        "signs1": huge((2**40,), np.float32, 1.0),
        "h3": huge((2**36, 1, 16)),
        "h4": huge((2**34, 1, 8, 8)),
        "g4": huge((2**34, 2, 6, 6)),
        "p4": huge((2**34, 1, 4, 4)),
        "seq": huge((2**32, 16, 16)),
    }


def _functional_cases(v: dict[str, Any]) -> list[Expect]:
    import ferrograd.functional as F

    h1, h2, p2, lab, s1, s2 = v["h1"], v["h2"], v["p2"], v["labels"], v["signs1"], v["signs"]
    h4, g4, p4 = v["h4"], v["g4"], v["p4"]
    one = np.float32(1.0)
    w = np.ones((2, 1, 3, 3), np.float32)
    calls: dict[str, Callable[[], Any]] = {}
    for act in ("relu", "leaky_relu", "sigmoid", "tanh", "gelu", "elu", "silu", "softplus"):
        calls[act] = lambda a=act: getattr(F, a)(h1)
        calls[f"{act}_backward"] = lambda a=act: getattr(F, f"{a}_backward")(h1, h1)
    for sm in ("softmax", "log_softmax"):
        calls[sm] = lambda a=sm: getattr(F, a)(h2, dim=-1)
        calls[f"{sm}_backward"] = lambda a=sm: getattr(F, f"{a}_backward")(h2, h2, dim=-1)
    for loss in ("mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "kl_div"):
        calls[loss] = lambda a=loss: getattr(F, a)(h1, h1, reduction="none")
        calls[f"{loss}_backward"] = lambda a=loss: getattr(F, f"{a}_backward")(one, h1, h1)
    for loss in ("hinge_embedding_loss", "hinge_loss", "soft_margin_loss"):
        calls[loss] = lambda a=loss: getattr(F, a)(h1, s1, reduction="none")
        calls[f"{loss}_backward"] = lambda a=loss: getattr(F, f"{a}_backward")(one, h1, s1)
    for loss in ("binary_cross_entropy", "binary_cross_entropy_with_logits"):
        calls[loss] = lambda a=loss: getattr(F, a)(h1, h1, reduction="none")
        calls[f"{loss}_backward"] = lambda a=loss: getattr(F, f"{a}_backward")(one, h1, h1)
    for loss in ("cross_entropy", "nll_loss", "multi_margin_loss"):
        calls[loss] = lambda a=loss: getattr(F, a)(h2, lab, reduction="none")
        calls[f"{loss}_backward"] = lambda a=loss: getattr(F, f"{a}_backward")(one, h2, lab)
    calls["cross_entropy_with_grad"] = lambda: F.cross_entropy_with_grad(h2, lab)
    calls["cosine_embedding_loss"] = lambda: F.cosine_embedding_loss(h2, h2, s2)
    calls["cosine_embedding_loss_backward"] = lambda: F.cosine_embedding_loss_backward(
        one, h2, h2, s2
    )
    calls["nt_xent_loss"] = lambda: F.nt_xent_loss(h2, h2)
    calls["nt_xent_loss_backward"] = lambda: F.nt_xent_loss_backward(one, h2, h2)
    calls["triplet_margin_loss"] = lambda: F.triplet_margin_loss(h2, h2, h2)
    calls["triplet_margin_loss_backward"] = lambda: F.triplet_margin_loss_backward(one, h2, h2, h2)
    calls["entropy"] = lambda: F.entropy(p2)
    calls["entropy_backward"] = lambda: F.entropy_backward(huge((ROWS,)), p2)
    calls["cross_entropy_dist"] = lambda: F.cross_entropy_dist(p2, p2)
    calls["cross_entropy_dist_backward"] = lambda: F.cross_entropy_dist_backward(
        huge((ROWS,)), p2, p2
    )
    calls["conv2d"] = lambda: F.conv2d(h4, w)
    calls["conv2d_backward"] = lambda: F.conv2d_backward(g4, h4, w)
    calls["max_pool2d"] = lambda: F.max_pool2d(h4, 2)
    calls["avg_pool2d"] = lambda: F.avg_pool2d(h4, 2)
    calls["avg_pool2d_backward"] = lambda: F.avg_pool2d_backward(p4, h4, 2)
    calls["batch_norm"] = lambda: F.batch_norm(h2, None, None, training=True)
    calls["layer_norm"] = lambda: F.layer_norm(h2, 16)
    calls["embedding"] = lambda: F.embedding(lab, np.ones((3, 16), np.float32))
    calls["linear"] = lambda: F.linear(h2, np.ones((2, 16), np.float32))
    calls["dropout"] = lambda: F.dropout(h1, 0.5)
    calls["one_hot"] = lambda: F.one_hot(lab, 3)
    calls["pad"] = lambda: F.pad(h2, (1, 1))
    calls["pad_backward"] = lambda: F.pad_backward(huge((ROWS, 18)), h2, (1, 1))
    cases = [Expect(f"functional.{k}", "huge input", fn) for k, fn in calls.items()]
    # huge parameters with a small input: the result would fit, the copy of the view does not
    cases += [
        Expect("functional.embedding", "huge weight", lambda: F.embedding([0, 1], h2), small=True),
        Expect("functional.layer_norm", "huge weight", lambda: F.layer_norm(
            np.ones((2, 2**40), np.float32), 2**40, weight=h1), small=True),
        Expect("functional.batch_norm", "huge running stats", lambda: F.batch_norm(
            np.ones((2, 2**40), np.float32), h1, h1), small=True),
    ]  # fmt: skip
    return cases


def _ops_cases(v: dict[str, Any]) -> list[Expect]:
    from ferrograd import ops

    h1, h2, h4, g4, p4 = v["h1"], v["h2"], v["h4"], v["g4"], v["p4"]
    one = np.float32(1.0)
    w2 = np.ones((4, 16), np.float32)
    w4 = np.ones((2, 1, 3, 3), np.float32)
    calls: dict[str, Callable[[], Any]] = {}
    for op in ("add", "sub", "mul", "div"):
        calls[op] = lambda o=op: getattr(ops, o)(h1, np.float32(2.0))
        calls[f"{op}_backward"] = lambda o=op: getattr(ops, f"{o}_backward")(h1, h1, h1)
    for op in ops.UNARY:
        calls[op] = lambda o=op: getattr(ops, o)(h1)
        calls[f"{op}_backward"] = lambda o=op: getattr(ops, f"{o}_backward")(h1, h1)
    calls["pow"] = lambda: ops.pow(h1, 3.0)
    calls["pow_backward"] = lambda: ops.pow_backward(h1, h1, 3.0)
    calls["clamp"] = lambda: ops.clamp(h1, -1.0, 1.0)
    calls["clamp_backward"] = lambda: ops.clamp_backward(h1, h1, -1.0, 1.0)
    for op in ("sum", "mean", "max", "min", "var", "std"):
        calls[op] = lambda o=op: getattr(ops, o)(h2, axis=1)
        calls[f"{op}_backward"] = lambda o=op: getattr(ops, f"{o}_backward")(one, h1)
    for op in ("argmax", "argmin"):
        calls[op] = lambda o=op: getattr(ops, o)(h2, axis=1)
    for op in ("softmax", "log_softmax"):
        calls[op] = lambda o=op: getattr(ops, o)(h2)
        calls[f"{op}_backward"] = lambda o=op: getattr(ops, f"{o}_backward")(h2, h2)
    calls["matmul"] = lambda: ops.matmul(h2, w2.T)
    calls["matmul_backward"] = lambda: ops.matmul_backward(huge((ROWS, 4)), h2, w2.T)
    calls["linear"] = lambda: ops.linear(h2, w2)
    calls["linear_backward"] = lambda: ops.linear_backward(huge((ROWS, 4)), h2, w2)
    calls["sum_to_shape"] = lambda: ops.sum_to_shape(h1, (1,))
    calls["conv2d"] = lambda: ops.conv2d(h4, w4)
    calls["conv2d_backward"] = lambda: ops.conv2d_backward(g4, h4, w4)
    calls["max_pool2d"] = lambda: ops.max_pool2d(h4, 2)
    calls["max_pool2d_backward"] = lambda: ops.max_pool2d_backward(p4, h4, 2)
    calls["avg_pool2d"] = lambda: ops.avg_pool2d(h4, 2)
    calls["avg_pool2d_backward"] = lambda: ops.avg_pool2d_backward(p4, h4, 2)
    cases = [Expect(f"ops.{k}", "huge input", fn) for k, fn in calls.items()]
    # views in, views out (NumPy's own reshape and transpose): no copy is needed
    for name, fn in {
        "reshape": lambda: ops.reshape(h2, (-1,)),
        "reshape_backward": lambda: ops.reshape_backward(h1, h2),
        "transpose": lambda: ops.transpose(h2),
        "transpose_backward": lambda: ops.transpose_backward(h2),
    }.items():
        cases.append(Expect(f"ops.{name}", "huge view", fn, small=True))
    return cases


def _nn_cases(v: dict[str, Any]) -> list[Expect]:
    import ferrograd as fg
    from ferrograd import nn, optim

    h1, h2, lab, h4, seq = v["h1"], v["h2"], v["labels"], v["h4"], v["seq"]
    fg.manual_seed(0)
    layers: dict[str, tuple[Callable[[], Any], Any]] = {
        "Linear": (lambda: nn.Linear(16, 4), h2),
        "Conv2d": (lambda: nn.Conv2d(1, 2, 3), h4),
        "MaxPool2d": (lambda: nn.MaxPool2d(2), h4),
        "AvgPool2d": (lambda: nn.AvgPool2d(2), h4),
        "Dropout": (lambda: nn.Dropout(0.5), h1),
        "BatchNorm1d": (lambda: nn.BatchNorm1d(16), h2),
        "BatchNorm2d": (lambda: nn.BatchNorm2d(1), h4),
        "LayerNorm": (lambda: nn.LayerNorm(16), h2),
        "Embedding": (lambda: nn.Embedding(3, 16), lab),
        "RNN": (lambda: nn.RNN(16, 4), seq),
        "LSTM": (lambda: nn.LSTM(16, 4), seq),
        "GRU": (lambda: nn.GRU(16, 4), seq),
        "Sequential": (lambda: nn.Sequential(nn.Linear(16, 4), nn.ReLU()), h2),
        "Conv1d": (lambda: nn.Conv1d(1, 2, 3), v["h3"]),
        "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d(3), h4),
        "GroupNorm": (lambda: nn.GroupNorm(4, 16), h2),
        "RNNCell": (lambda: nn.RNNCell(16, 4), h2),
        "LSTMCell": (lambda: nn.LSTMCell(16, 4), h2),
        "GRUCell": (lambda: nn.GRUCell(16, 4), h2),
        "ModuleDict": (lambda: nn.ModuleDict({"fc": nn.Linear(16, 4)})["fc"], h2),
    }
    for act in ("ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "ELU", "SiLU", "Softplus"):
        layers[act] = (lambda a=act: getattr(nn, a)(), h1)
    for act in ("Softmax", "LogSoftmax"):
        layers[act] = (lambda a=act: getattr(nn, a)(dim=-1), h2)
    cases = [
        Expect(f"nn.{name}", "huge input", lambda make=make, x=x: make()(x))
        for name, (make, x) in layers.items()
    ]
    # views in, views out: nothing to copy
    cases.append(Expect("nn.Identity", "huge input", lambda: nn.Identity()(h1), small=True))
    cases.append(Expect("nn.Flatten", "huge input", lambda: nn.Flatten()(h4), small=True))
    # a view becomes a parameter without a copy (as PyTorch wraps a tensor)
    cases.append(
        Expect("nn.ParameterList", "huge view", lambda: nn.ParameterList([h1]), small=True)
    )
    losses = {
        "MSELoss": (h1, h1), "L1Loss": (h1, h1), "HuberLoss": (h1, h1),
        "SmoothL1Loss": (h1, h1), "KLDivLoss": (h1, h1), "BCELoss": (h1, h1),
        "BCEWithLogitsLoss": (h1, h1), "SoftMarginLoss": (h1, v["signs1"]),
        "HingeEmbeddingLoss": (h1, v["signs1"]), "HingeLoss": (h1, v["signs1"]),
        "CrossEntropyLoss": (h2, lab), "NLLLoss": (h2, lab), "MultiMarginLoss": (h2, lab),
        "CosineEmbeddingLoss": (h2, h2, v["signs"]), "TripletMarginLoss": (h2, h2, h2),
        "NTXentLoss": (h2, h2),
    }  # fmt: skip
    cases += [
        Expect(f"nn.{name}", "huge input", lambda n=name, a=args: getattr(nn, n)()(*a))
        for name, args in losses.items()
    ]

    def tensor_ops() -> dict[str, Callable[[], Any]]:
        t = fg.tensor(h1, requires_grad=True)
        t2 = fg.tensor(h2, requires_grad=True)
        return {
            "tensor": lambda: fg.tensor(h1).exp(),
            "Tensor.__mul__": lambda: t * 2.0,
            "Tensor.__add__": lambda: t + t,
            "Tensor.sum.backward": lambda: t.sum().backward(),
            "Tensor.__matmul__": lambda: t2 @ fg.tensor(np.ones((16, 4), np.float32)),
            "functional.relu(Tensor)": lambda: fg.functional.relu(t),
        }

    cases += [Expect(name, "huge tensor", fn) for name, fn in tensor_ops().items()]

    def compiled(loss: Any, y: Any) -> Any:
        model = nn.Sequential(nn.Linear(16, 4))
        return fg.compile(model, loss, optim.SGD(model.parameters(), lr=0.1))(h2, y)

    cases += [
        Expect("compile", "huge batch, CrossEntropyLoss", lambda: compiled(
            nn.CrossEntropyLoss(), lab)),
        Expect("compile", "huge batch, MSELoss", lambda: compiled(
            nn.MSELoss(), huge((ROWS, 4)))),
    ]  # fmt: skip
    return cases


def huge_cases() -> list[Expect]:
    """Every public function and layer on views too large to copy."""
    v = _views()
    return _functional_cases(v) + _ops_cases(v) + _nn_cases(v)


def misuse_cases() -> list[Expect]:
    """Calls that once crashed: each must raise its typed error."""
    import ferrograd as fg
    from ferrograd import nn, optim

    x = np.ones((4, 5), np.float32)
    targets: dict[str, Any] = {
        "(4, 2) target for (4, 3) output": np.zeros((4, 2), np.float32),
        "(4, 5) target for (4, 3) output": np.zeros((4, 5), np.float32),
        "(4,) target for (4, 3) output": np.zeros(4, np.float32),
        "0-d target": np.float32(0.0),
        "empty target": np.zeros((0, 3), np.float32),
        "None target": None,
        "scalar target": 1.5,
        "(12,) target": np.zeros(12, np.float32),
        "string target": "abc",
        "object target": np.array([object()] * 12).reshape(4, 3),
    }
    labels: dict[str, Any] = {
        "(4, 3) labels": np.zeros((4, 3), np.int64),
        "(2,) labels": np.zeros(2, np.int64),
        "(5,) labels": np.zeros(5, np.int64),
        "0-d label": np.int64(0),
        "empty labels": np.zeros(0, np.int64),
        "None labels": None,
        "label 3 of 3 classes": np.array([0, 1, 2, 3]),
        "label -1": np.array([0, 1, 2, -1]),
        "uint64 label 2**64-100": np.array([0, 1, 2, 2**64 - 100], np.uint64),
        "float labels": np.zeros(4, np.float32),
    }

    def step(loss: Any, y: Any, out_features: int = 3) -> Any:
        model = nn.Sequential(nn.Linear(5, out_features))
        opt = optim.Adam(model.parameters(), lr=0.1)
        return fg.compile(model, loss, opt)(x, y)

    cases = []
    for label, y in targets.items():
        for loss in ("MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss"):
            cases.append(
                Expect(
                    "compile",
                    f"{loss}, {label}",
                    lambda lo=loss, y=y: step(getattr(nn, lo)(), y),
                    fg.FerrogradError,
                )
            )
    cases.append(
        Expect(
            "compile",
            "MSELoss, (4,) target for (4, 1) output",
            lambda: step(nn.MSELoss(), np.zeros(4, np.float32), out_features=1),
            fg.ShapeError,
        )
    )
    for label, y in labels.items():
        cases.append(
            Expect(
                "compile",
                f"CrossEntropyLoss, {label}",
                lambda y=y: step(nn.CrossEntropyLoss(), y),
                fg.FerrogradError,
            )
        )
    return cases


BATTERIES: dict[str, Callable[[], list[Expect]]] = {
    "huge": huge_cases,
    "misuse": misuse_cases,
}
