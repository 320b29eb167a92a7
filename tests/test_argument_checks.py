"""Settings of layers, initialisers, optimizers and schedulers are checked when they are made.

Each bad value gets a DTypeError (wrong kind: a string, a float for a size, a truthy object for
a flag) or an ArgumentError (right kind, out of range) whose message names the class, the
argument, what was expected and what came; nothing is truncated or concatenated silently, and
nothing hangs.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from typing import Any, Callable

import ferrograd as fg
import numpy as np
import pytest
from ferrograd import nn

WRONG_TYPE = fg.DTypeError
OUT_OF_RANGE = fg.ArgumentError

LAYER_CASES: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("Linear", lambda: nn.Linear(2.5, 3), WRONG_TYPE, r"in_features must be an int, got 2\.5"),
    ("Linear", lambda: nn.Linear(5, "3"), WRONG_TYPE, "out_features must be an int, got '3'"),
    ("Linear", lambda: nn.Linear(-1, 3), OUT_OF_RANGE, "in_features must be a non-negative int"),
    ("Linear", lambda: nn.Linear(2, 3, bias="no"), WRONG_TYPE, "bias must be True or False"),
    ("Linear", lambda: nn.Linear(2, 3, dtype="abc"), WRONG_TYPE, "dtype must be float32 or"),
    ("Linear", lambda: nn.Linear(2**41, 3), OUT_OF_RANGE, "in_features must be at most"),
    ("Conv2d", lambda: nn.Conv2d(0, 2, 3), OUT_OF_RANGE, "in_channels must be a positive int"),
    ("Conv2d", lambda: nn.Conv2d(3, 2, 3, groups=2), OUT_OF_RANGE, "divisible by groups"),
    ("Conv2d", lambda: nn.Conv2d(1, 2, 3, padding_mode="x"), OUT_OF_RANGE, "padding_mode"),
    ("Conv2d", lambda: nn.Conv2d(1, 2, "3"), WRONG_TYPE, "kernel_size"),
    ("MaxPool2d", lambda: nn.MaxPool2d(0), OUT_OF_RANGE, "kernel_size must be positive"),
    ("MaxPool2d", lambda: nn.MaxPool2d(2, ceil_mode=1), WRONG_TYPE, "ceil_mode must be True"),
    ("AvgPool2d", lambda: nn.AvgPool2d(2, padding=-1), OUT_OF_RANGE, "padding must be non-neg"),
    ("AvgPool2d", lambda: nn.AvgPool2d(2, divisor_override=0), OUT_OF_RANGE, "divisor_override"),
    ("Dropout", lambda: nn.Dropout("0.5"), WRONG_TYPE, "Dropout: p must be a real number"),
    ("Dropout", lambda: nn.Dropout(1.5), OUT_OF_RANGE, r"Dropout: p must be in \[0, 1\]"),
    ("Dropout", lambda: nn.Dropout(float("nan")), OUT_OF_RANGE, "got nan"),
    ("Flatten", lambda: nn.Flatten(start_dim=1.0), WRONG_TYPE, "start_dim must be an int"),
    ("BatchNorm1d", lambda: nn.BatchNorm1d(0), OUT_OF_RANGE, "num_features must be a positive"),
    ("BatchNorm1d", lambda: nn.BatchNorm1d(3, momentum=2.0), OUT_OF_RANGE, "momentum"),
    ("BatchNorm2d", lambda: nn.BatchNorm2d(3, eps=-1.0), OUT_OF_RANGE, "eps must be at least 0"),
    ("BatchNorm2d", lambda: nn.BatchNorm2d(3, affine="yes"), WRONG_TYPE, "affine must be True"),
    ("LayerNorm", lambda: nn.LayerNorm(None), WRONG_TYPE, "normalized_shape must be an int"),
    ("LayerNorm", lambda: nn.LayerNorm([2, -1]), OUT_OF_RANGE, r"normalized_shape\[1\]"),
    ("LayerNorm", lambda: nn.LayerNorm(3, bias=None), WRONG_TYPE, "bias must be True or False"),
    ("Embedding", lambda: nn.Embedding(3.0, 2), WRONG_TYPE, "num_embeddings must be an int"),
    ("Embedding", lambda: nn.Embedding(3, 2, padding_idx=3), ValueError, "padding_idx"),
    ("RNN", lambda: nn.RNN(5, 6, nonlinearity="gelu"), OUT_OF_RANGE, "nonlinearity must be"),
    ("RNN", lambda: nn.RNN(5, 0), OUT_OF_RANGE, "hidden_size must be a positive int, got 0"),
    ("LSTM", lambda: nn.LSTM(5, 6, dropout="0.1"), WRONG_TYPE, "dropout must be a real number"),
    ("LSTM", lambda: nn.LSTM(5, 6, dropout=1.5), OUT_OF_RANGE, r"dropout must be in \[0, 1\]"),
    ("GRU", lambda: nn.GRU(5, 6, num_layers=2**62), OUT_OF_RANGE, "num_layers must be at most"),
    ("GRU", lambda: nn.GRU(5, 6, num_layers=0), OUT_OF_RANGE, "num_layers must be a positive"),
    ("GRU", lambda: nn.GRU(5, 6, bidirectional=2), WRONG_TYPE, "bidirectional must be True"),
    ("GRU", lambda: nn.GRU(5, 6, batch_first="yes"), WRONG_TYPE, "batch_first must be True"),
    ("LeakyReLU", lambda: nn.LeakyReLU("0.1"), WRONG_TYPE, "negative_slope must be a real"),
    ("GELU", lambda: nn.GELU("fast"), OUT_OF_RANGE, "approximate must be one of"),
    ("Softmax", lambda: nn.Softmax(dim=1.5), WRONG_TYPE, "dim must be an int"),
    ("Softplus", lambda: nn.Softplus(beta=None), WRONG_TYPE, "beta must be a real number"),
    ("MSELoss", lambda: nn.MSELoss(reduction="avg"), OUT_OF_RANGE, "reduction must be one of"),
    ("KLDivLoss", lambda: nn.KLDivLoss(reduction="avg"), OUT_OF_RANGE, "'batchmean'"),
    ("CrossEntropyLoss", lambda: nn.CrossEntropyLoss(label_smoothing=2), OUT_OF_RANGE, "label"),
    ("CrossEntropyLoss", lambda: nn.CrossEntropyLoss(ignore_index=1.5), WRONG_TYPE, "ignore_"),
    ("HuberLoss", lambda: nn.HuberLoss(delta=0.0), OUT_OF_RANGE, "delta must be greater than 0"),
    ("MultiMarginLoss", lambda: nn.MultiMarginLoss(p=3), OUT_OF_RANGE, "p must be at most 2"),
    ("TripletMarginLoss", lambda: nn.TripletMarginLoss(swap=1), WRONG_TYPE, "swap must be True"),
    ("NTXentLoss", lambda: nn.NTXentLoss(temperature=0), OUT_OF_RANGE, "temperature must be"),
    ("MSELoss", lambda: nn.MSELoss("mean"), WRONG_TYPE, "at most 0 positional arguments"),
    ("MSELoss", lambda: nn.MSELoss(size_average=True), WRONG_TYPE, "unexpected keyword"),
    ("Sequential", lambda: nn.Sequential(nn.Linear), WRONG_TYPE, "the class Linear"),
    ("Sequential", lambda: nn.Sequential(nn.ReLU(), "relu"), WRONG_TYPE, "module '1' must be"),
    ("Conv1d", lambda: nn.Conv1d(2, 4, 3, stride=0), OUT_OF_RANGE, "stride must be a positive"),
    ("Conv1d", lambda: nn.Conv1d(2, 4, 3, bias="yes"), WRONG_TYPE, "bias must be True or"),
    ("AdaptiveAvgPool2d", lambda: nn.AdaptiveAvgPool2d("7"), WRONG_TYPE, "output_size must be"),
    ("GroupNorm", lambda: nn.GroupNorm(4, 6), OUT_OF_RANGE, "divisible by num_groups"),
    ("LSTMCell", lambda: nn.LSTMCell(3, -2), OUT_OF_RANGE, "hidden_size must be a positive"),
    ("GRUCell", lambda: nn.GRUCell("3", 2), WRONG_TYPE, "input_size must be an int"),
    ("ModuleDict", lambda: nn.ModuleDict({1: nn.ReLU()}), WRONG_TYPE, "keys must be strings"),
    ("ParameterList", lambda: nn.ParameterList([None]), WRONG_TYPE, "Parameters, Tensors or"),
]


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [case[1:] for case in LAYER_CASES],
    ids=[f"{c[0]}-{i}" for i, c in enumerate(LAYER_CASES)],
)
def test_layer_settings_are_checked(make: Callable[[], Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match) as info:
        make()
    assert isinstance(info.value, fg.FerrogradError)


def test_every_layer_class_has_a_checked_setting() -> None:
    covered = {c[0] for c in LAYER_CASES}
    layers = {"Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "Dropout", "Flatten", "BatchNorm1d"}
    layers |= {"BatchNorm2d", "LayerNorm", "Embedding", "RNN", "LSTM", "GRU", "Sequential"}
    layers |= {"Conv1d", "AdaptiveAvgPool2d", "GroupNorm", "LSTMCell", "GRUCell", "ModuleDict"}
    layers |= {"ParameterList"}
    assert layers <= covered


def test_a_huge_layer_count_fails_at_once_instead_of_hanging() -> None:
    code = (
        "import ferrograd as fg\n"
        "try:\n"
        "    fg.nn.GRU(5, 6, num_layers=2**62)\n"
        "except fg.ArgumentError as e:\n"
        "    print('refused:', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert "refused: GRU: num_layers must be at most 65536" in out.stdout


def test_in_features_zero_follows_pytorch() -> None:
    """PyTorch allows 0 input features: an empty weight and a zero bias (its bound is 0)."""
    layer = nn.Linear(0, 3)
    assert layer.weight.shape == (3, 0)
    np.testing.assert_array_equal(layer.bias.data, np.zeros(3))
    x = fg.tensor(np.zeros((2, 0), np.float32), requires_grad=True)
    y = layer(x)
    np.testing.assert_array_equal(y.data, np.zeros((2, 3)))
    y.sum().backward()
    assert x.grad.shape == (2, 0) and layer.weight.grad.shape == (3, 0)
    np.testing.assert_array_equal(layer.bias.grad, [2.0, 2.0, 2.0])
    assert nn.Linear(3, 0)(fg.tensor(np.ones((2, 3), np.float32))).shape == (2, 0)


def test_init_functions_check_their_tensor() -> None:
    w = np.zeros((3, 4))
    assert nn.init.xavier_uniform_(w, generator=np.random.default_rng(0)) is w
    assert np.all(w != 0) and np.all(np.abs(w) <= np.sqrt(6 / 7))
    with pytest.raises(fg.DTypeError, match="xavier_uniform_: tensor must be a ferrograd Tensor"):
        nn.init.xavier_uniform_([[1.0, 2.0]])
    with pytest.raises(fg.DTypeError, match="must hold floats, got dtype int64"):
        nn.init.kaiming_uniform_(np.zeros((2, 2), np.int64))
    ro = np.zeros((2, 2))
    ro.flags.writeable = False
    with pytest.raises(fg.DTypeError, match="read-only"):
        nn.init.normal_(ro)
    with pytest.raises(fg.ArgumentError, match="mode must be one of 'fan_in', 'fan_out'"):
        nn.init.kaiming_normal_(np.zeros((2, 2)), mode="fan")
    with pytest.raises(fg.DTypeError, match=r"generator must be a numpy\.random\.Generator"):
        nn.init.uniform_(np.zeros(2), generator=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        empty = nn.Parameter(np.zeros((3, 0), np.float32))
        assert nn.init.kaiming_uniform_(empty) is empty
    assert "zero-element tensor is a no-op" in str(caught[0].message)


def _step_with_grad(grad: Any) -> None:
    p = nn.Parameter(np.zeros(2, np.float32))
    opt = fg.optim.SGD([p], lr=0.1)
    p.grad = grad
    opt.step()


_X = np.ones((2, 3), np.float32)
_MODEL = nn.Sequential(nn.Linear(3, 2))

#: The unclear messages a probe found, each now naming the function, the argument, what was
#: expected and what came.
MESSAGES: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    (
        "layer_norm None",
        lambda: fg.functional.layer_norm(_X, None),
        fg.DTypeError,
        r"layer_norm: normalized_shape must be an int or a non-empty sequence of ints, got None",
    ),
    (
        "softmax huge dim",
        lambda: fg.functional.softmax(_X, dim=2**70),
        fg.ShapeError,
        r"softmax: dim 1180591620717411303424 is out of range for an input of 2 dimension\(s\)"
        r" \(expected -2 to 1\)",
    ),
    (
        "Dropout string",
        lambda: nn.Dropout("0.5"),
        fg.DTypeError,
        r"Dropout: p must be a real number, got '0\.5' \(str\)",
    ),
    (
        "Adam betas string",
        lambda: fg.optim.Adam(_MODEL.parameters(), betas="ab"),
        fg.DTypeError,
        r"Adam: betas must be a pair of numbers, got 'ab' \(str\)",
    ),
    (
        "Linear float size",
        lambda: nn.Linear(2.5, 3),
        fg.DTypeError,
        r"Linear: in_features must be an int, got 2\.5 \(float\)",
    ),
    (
        "Linear string size",
        lambda: nn.Linear(5, "3"),
        fg.DTypeError,
        r"Linear: out_features must be an int, got '3' \(str\)",
    ),
    (
        "xavier list",
        lambda: nn.init.xavier_uniform_([[0.0] * 3] * 3),
        fg.DTypeError,
        r"xavier_uniform_: tensor must be a ferrograd Tensor or Parameter or a NumPy float "
        r"array, got list",
    ),
    (
        "grad string",
        lambda: _step_with_grad("abc"),
        fg.DTypeError,
        r"SGD\.step: the gradient of param_groups\[0\]\['params'\]\[0\] must be a NumPy "
        r"array, got str",
    ),
    (
        "grad complex",
        lambda: _step_with_grad(np.ones(2) + 1j),
        fg.DTypeError,
        r"SGD\.step: the gradient of .* must hold real numbers, got dtype complex128",
    ),
    (
        "cat list",
        lambda: fg.cat([fg.tensor(_X), [1, 2]]),
        fg.ShapeError,
        r"concat: tensors\[1\] has shape \(2,\) but tensors\[0\] has shape \(2, 3\); all must "
        r"have the same shape except along axis 0",
    ),
    (
        "cat string",
        lambda: fg.cat([fg.tensor(_X), "ab"]),
        fg.DTypeError,
        r"concat: tensors\[1\]: data must be numbers .* got dtype <U2",
    ),
    (
        "StepLR zero",
        lambda: fg.optim.lr_scheduler.StepLR(fg.optim.SGD(_MODEL.parameters()), step_size=0),
        fg.ArgumentError,
        r"StepLR: step_size must be a positive int, got 0",
    ),
    (
        "LambdaLR not callable",
        lambda: fg.optim.lr_scheduler.LambdaLR(fg.optim.SGD(_MODEL.parameters()), 0.1),
        fg.DTypeError,
        r"LambdaLR: lr_lambda must be a function of the epoch \(or a list of them\), got 0\.1",
    ),
    (
        "CosineAnnealingWarmRestarts T_mult",
        lambda: fg.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            fg.optim.SGD(_MODEL.parameters()), 5, T_mult=0.5
        ),
        fg.DTypeError,
        r"CosineAnnealingWarmRestarts: T_mult must be an int, got 0\.5",
    ),
    (
        "Conv2d unbatched",
        lambda: nn.Conv2d(3, 2, 3)(np.ones((4, 8, 8), np.float32)),
        fg.ShapeError,
        r"conv2d: input has 4 channels \(shape \(4, 8, 8\)\), but weight of shape "
        r"\(2, 3, 3, 3\) with groups=1 expects weight\.shape\[1\] \* groups = 3 channels",
    ),
    (
        "compile loss class",
        lambda: fg.compile(_MODEL, nn.CrossEntropyLoss, fg.optim.SGD(_MODEL.parameters())),
        fg.DTypeError,
        r"compile: loss_fn must be a loss module such as nn\.CrossEntropyLoss\(\) .* got the "
        r"class CrossEntropyLoss \(create an instance: CrossEntropyLoss\(\.\.\.\)\)",
    ),
    (
        "matmul objects",
        lambda: fg.ops.matmul(np.ones((2, 2), dtype=object), np.ones((2, 2))),
        fg.DTypeError,
        r"matmul: a has dtype object, but ferrograd computes on numbers",
    ),
    (
        "tensor string",
        lambda: fg.tensor("abc"),
        fg.DTypeError,
        r"tensor: data must be numbers \(booleans, integers or floats\), got dtype <U3 from "
        r"str 'abc'",
    ),
    (
        "tensor None",
        lambda: fg.tensor(None),
        fg.DTypeError,
        r"tensor: data must be numbers .* got dtype object from NoneType None",
    ),
]


@pytest.mark.parametrize(
    ("make", "error", "match"), [m[1:] for m in MESSAGES], ids=[m[0] for m in MESSAGES]
)
def test_messages_name_function_argument_expectation_and_value(
    make: Callable[[], Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        make()


def test_linear_zero_features_is_not_a_zero_division() -> None:
    assert nn.Linear(0, 3).weight.shape == (3, 0)  # as PyTorch (see the test above)


def test_argument_error_is_a_ferrograd_error_and_a_value_error() -> None:
    assert issubclass(fg.ArgumentError, fg.FerrogradError)
    assert issubclass(fg.ArgumentError, ValueError)
    assert "ArgumentError" in fg.__all__
    with pytest.raises(fg.ArgumentError, match="reduction must be 'none', 'mean' or 'sum'"):
        fg.functional.mse_loss(_X, _X, reduction="avg")
    with pytest.raises(fg.ArgumentError, match=r"label 5 at index 1, but input has 3 classes"):
        fg.functional.cross_entropy(np.zeros((2, 3)), np.array([0, 5]))  # from the Rust core


_X4 = np.ones((2, 3, 6, 6))
_LAB = np.array([0, 1])

#: Flags and integer settings of functional calls: strict types, typed errors.
FUNCTIONAL_SETTINGS: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("relu inplace", lambda: fg.functional.relu(_X, inplace=np.ones(2)), WRONG_TYPE, "inplace"),
    (
        "kl_div log_target",
        lambda: fg.functional.kl_div(_X, _X, log_target="no"),
        WRONG_TYPE,
        "kl_div: log_target must be True or False, got 'no'",
    ),
    (
        "triplet swap",
        lambda: fg.functional.triplet_margin_loss(_X, _X, _X, swap=[1]),
        WRONG_TYPE,
        "swap must be True or False",
    ),
    (
        "max_pool2d ceil_mode",
        lambda: fg.functional.max_pool2d(_X4, 2, ceil_mode="yes"),
        WRONG_TYPE,
        "max_pool2d: ceil_mode must be True or False",
    ),
    (
        "max_pool2d return_indices",
        lambda: fg.functional.max_pool2d(_X4, 2, return_indices=np.ones(2)),
        WRONG_TYPE,
        "return_indices",
    ),
    (
        "avg_pool2d count_include_pad",
        lambda: fg.ops.avg_pool2d(_X4, 2, count_include_pad=None),
        WRONG_TYPE,
        "count_include_pad must be True or False",
    ),
    (
        "batch_norm training",
        lambda: fg.functional.batch_norm(_X, None, None, training=np.ones(3)),
        WRONG_TYPE,
        "batch_norm: training must be True or False",
    ),
    (
        "sum keepdims",
        lambda: fg.ops.sum(_X, axis=0, keepdims="yes"),
        WRONG_TYPE,
        "sum: keepdims must be True or False",
    ),
    (
        "cross_entropy huge ignore_index",
        lambda: fg.functional.cross_entropy(np.zeros((2, 3)), _LAB, ignore_index=2**70),
        OUT_OF_RANGE,
        "ignore_index must be at most 9223372036854775807",
    ),
    (
        "clip_grad_norm_ None",
        lambda: nn.utils.clip_grad_norm_([nn.Parameter(np.ones(2))], None),
        WRONG_TYPE,
        "clip_grad_norm_: max_norm must be a real number, got None",
    ),
    (
        "clip_grad_norm_ norm_type",
        lambda: nn.utils.clip_grad_norm_([nn.Parameter(np.ones(2))], 1.0, norm_type="l2"),
        OUT_OF_RANGE,
        "norm_type must be a positive number or 'inf', got 'l2'",
    ),
    (
        "clip_grad_value_ string",
        lambda: nn.utils.clip_grad_value_([nn.Parameter(np.ones(2))], "1"),
        WRONG_TYPE,
        "clip_grad_value_: clip_value must be a real number",
    ),
    (
        "Dropout None",
        lambda: nn.Dropout(0.5)(None),
        WRONG_TYPE,
        "Dropout: input: data must be numbers",
    ),
    (
        "Dropout ints",
        lambda: nn.Dropout(0.5)(np.ones(3, int)),
        WRONG_TYPE,
        "Dropout: input must hold floats in training, got dtype int64",
    ),
    (
        "BatchNorm1d ragged",
        lambda: nn.BatchNorm1d(3, affine=False, track_running_stats=False)([[1, 2], [3]]),
        fg.ShapeError,
        "BatchNorm1d: input: data is not a rectangular array",
    ),
    (
        "GRU ragged",
        lambda: nn.GRU(3, 2)([[1, 2], [3]]),
        fg.ShapeError,
        "GRU: input: data is not a rectangular array",
    ),
]


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [c[1:] for c in FUNCTIONAL_SETTINGS],
    ids=[c[0] for c in FUNCTIONAL_SETTINGS],
)
def test_functional_settings_and_layer_inputs(make: Callable[[], Any], error: type, match: str):
    with pytest.raises(error, match=match):
        make()


def test_clip_grad_checks_every_gradient_before_changing_any() -> None:
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))
    ro = np.full(3, 10.0)
    ro.flags.writeable = False
    a.grad, b.grad = ro[:2], "abc"
    with pytest.raises(fg.DTypeError, match=r"gradient of parameters\[1\] must be a NumPy array"):
        nn.utils.clip_grad_value_([a, b], 1.0)
    assert a.grad is not None and a.grad.base is ro  # untouched: no copy was put in its place
    b.grad = np.ones(4)
    with pytest.raises(fg.ShapeError, match=r"parameters\[1\] has shape \(4,\)"):
        nn.utils.clip_grad_norm_([a, b], 1.0)
    b.grad = np.ones(3) + 1j
    with pytest.raises(fg.DTypeError, match="must hold real numbers, got dtype complex128"):
        nn.utils.clip_grad_norm_([a, b], 1.0)


#: Settings and state of the rest of the public API.
OTHER_CASES: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("manual_seed float", lambda: fg.manual_seed(1.5), WRONG_TYPE, "manual_seed: seed must be"),
    ("manual_seed negative", lambda: fg.manual_seed(-1), OUT_OF_RANGE, "non-negative int"),
    ("set_default_dtype", lambda: fg.set_default_dtype("abc"), WRONG_TYPE, "float32 or float64"),
    ("set_default_dtype None", lambda: fg.set_default_dtype(None), WRONG_TYPE, "got None"),
    ("Module.to", lambda: nn.Linear(2, 1).to(np.int32), WRONG_TYPE, "Module.to: dtype must be"),
    ("Module.to device", lambda: nn.Linear(2, 1).to("cuda"), OUT_OF_RANGE, "CPU only"),
    ("orthogonal_", lambda: nn.init.orthogonal_(_X, gain=None), WRONG_TYPE, "gain must be"),
    ("Module.train", lambda: nn.Linear(2, 1).train("no"), WRONG_TYPE, "Linear.train: mode"),
    ("Tensor requires_grad", lambda: fg.tensor([1.0], requires_grad="yes"), WRONG_TYPE, "requ"),
    ("Tensor.astype", lambda: fg.tensor([1.0]).astype("abc"), WRONG_TYPE, "Tensor.astype: dtype"),
    ("Tensor.flatten", lambda: fg.tensor(_X).flatten(2.5), WRONG_TYPE, "start_dim must be an int"),
    ("save path", lambda: fg.save({"w": _X}, 3), WRONG_TYPE, "save: path must be a str"),
    ("load path", lambda: fg.load(None), WRONG_TYPE, "load: path must be a str"),
    (
        "load_state_dict list",
        lambda: nn.Linear(2, 1).load_state_dict([1, 2]),
        WRONG_TYPE,
        "Linear.load_state_dict: state_dict must be a mapping of names to arrays, got list",
    ),
    (
        "load_state_dict strings",
        lambda: nn.Linear(2, 1).load_state_dict({"weight": "abc", "bias": np.zeros(1)}),
        WRONG_TYPE,
        "'weight' must be an array of numbers",
    ),
    (
        "optimizer load_state_dict",
        lambda: fg.optim.SGD(nn.Linear(2, 1).parameters()).load_state_dict({"state": {}}),
        WRONG_TYPE,
        "SGD.load_state_dict: state_dict must be a mapping with 'state' and 'param_groups'",
    ),
    (
        "optimizer load_state_dict groups",
        lambda: fg.optim.SGD(nn.Linear(2, 1).parameters()).load_state_dict(
            {"state": {}, "param_groups": [{"lr": 0.1}]}
        ),
        WRONG_TYPE,
        r"param_groups'\]\[0\] must be a dict with a 'params' list",
    ),
]


@pytest.mark.parametrize(
    ("make", "error", "match"), [c[1:] for c in OTHER_CASES], ids=[c[0] for c in OTHER_CASES]
)
def test_other_settings_are_checked(make: Callable[[], Any], error: type, match: str) -> None:
    try:
        with pytest.raises(error, match=match):
            make()
    finally:
        fg.set_default_dtype(np.float32)
        fg.manual_seed(0)
