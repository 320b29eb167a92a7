"""conv2d, max_pool2d and avg_pool2d: kernels against direct-loop references, gradients by
finite differences, the Tensor and layer wrappers, a small CNN, and error messages."""

from __future__ import annotations

import math
from typing import Any

import ferrograd
import ferrograd.functional as F
import numpy as np
import pytest
import reference as ref
from ferrograd import DTypeError, ShapeError, nn, ops, tensor
from helpers import FLOATS, assert_close, with_layout
from hypothesis import given
from hypothesis import strategies as st

# --------------------------------------------------------------------------- strategies


def _out_len(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


@st.composite
def conv_cases(draw: Any) -> dict[str, Any]:
    """A small convolution whose output is not empty, with its inputs."""
    groups = draw(st.integers(1, 2))
    cpg, opg = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    n = draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    h = draw(st.integers(max(1, dilation[0] * (kh - 1) + 1 - 2 * padding[0]), 7))
    w = draw(st.integers(max(1, dilation[1] * (kw - 1) + 1 - 2 * padding[1]), 7))
    dtype = draw(st.sampled_from(FLOATS))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    return {
        "x": rng.uniform(-2, 2, (n, groups * cpg, h, w)).astype(dtype),
        "w": rng.uniform(-1, 1, (groups * opg, cpg, kh, kw)).astype(dtype),
        "b": rng.uniform(-1, 1, groups * opg).astype(dtype) if draw(st.booleans()) else None,
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "groups": groups,
    }


@st.composite
def pool_cases(draw: Any, dilate: bool = True) -> dict[str, Any]:
    """A small pooling (padding at most half the kernel, non-empty output) and its input."""
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilate else (1, 1)
    h = draw(st.integers(max(1, d[0] * (k[0] - 1) + 1 - 2 * p[0]), 7))
    w = draw(st.integers(max(1, d[1] * (k[1] - 1) + 1 - 2 * p[1]), 7))
    lead = draw(st.sampled_from([(2, 2), (1, 3), (3,)]))
    dtype = draw(st.sampled_from(FLOATS))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return {
        "x": rng.uniform(-3, 3, (*lead, h, w)).astype(dtype),
        "kernel_size": k,
        "stride": s if draw(st.booleans()) else None,
        "padding": p,
        "dilation": d,
        "ceil_mode": draw(st.booleans()),
    }


def _conv_kwargs(c: dict[str, Any]) -> dict[str, Any]:
    return {k: c[k] for k in ("stride", "padding", "dilation", "groups")}


# --------------------------------------------------------------------------- conv2d


@given(conv_cases())
def test_conv2d_forward_and_backward_match_reference(c: dict[str, Any]) -> None:
    x, w, b, kw = c["x"], c["w"], c["b"], _conv_kwargs(c)
    y = ops.conv2d(x, w, b, **kw)
    terms = w[0].size
    assert_close(y, ref.conv2d_ref(x, w, b, **kw), x.dtype, reduce_len=terms)
    g = np.random.default_rng(1).uniform(-1, 1, y.shape).astype(x.dtype)
    gx, gw, gb = ops.conv2d_backward(g, x, w, b, **kw)
    ex, ew, eb = ref.conv2d_grad_ref(g, x, w, **kw)
    assert_close(gx, ex, x.dtype, reduce_len=w.shape[0] * w[0, 0].size)
    assert_close(gw, ew, x.dtype, reduce_len=y.shape[0] * y[0, 0].size)
    assert_close(gb, eb, x.dtype, reduce_len=y.shape[0] * y[0, 0].size)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_max_pool2d_two_by_two_ties_nans_and_signed_zeros(dtype: type, stride: int) -> None:
    # Few distinct values, so windows have ties, NaNs (one or several) and both zeros.
    rng = np.random.default_rng(stride)
    x = rng.choice(np.array([-0.0, 0.0, 1.0, 1.0, np.nan, -np.inf]), size=(3, 4, 7, 9))
    x = x.astype(dtype)
    y, idx = ops.max_pool2d(x, 2, stride=stride, return_indices=True)
    want, want_idx = ref.max_pool2d_ref(x, 2, stride=stride)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(y, want.astype(dtype))
    np.testing.assert_array_equal(np.signbit(y), np.signbit(want))


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"stride": 2, "padding": 1},
        {"stride": (1, 2), "padding": (2, 0), "dilation": (2, 1)},
        {"padding": "same", "dilation": 2},
        {"groups": 2, "padding": 1},
    ],
)
def test_conv2d_backward_by_finite_differences(kw: dict[str, Any]) -> None:
    rng = np.random.default_rng(0)
    x, w, b = (
        rng.standard_normal((2, 4, 5, 6)),
        rng.standard_normal((4, 4 // kw.get("groups", 1), 3, 2)),
        rng.standard_normal(4),
    )
    ferrograd.check_backward(
        lambda x_, w_, b_: ops.conv2d(x_, w_, b_, **kw),
        lambda g, x_, w_, b_: ops.conv2d_backward(g, x_, w_, b_, **kw),
        [x, w, b],
    )


def test_conv2d_padding_strings_and_unbatched_input() -> None:
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((3, 6, 5)), rng.standard_normal((2, 3, 2, 4))
    # "same" with even kernels pads one more zero at the end (bottom, right), as PyTorch.
    y = ops.conv2d(x, w, padding="same", dilation=(1, 2))
    assert y.shape == (2, 6, 5)
    assert_close(
        y, ref.conv2d_ref(x[None], w, padding=(0, 1, 3, 3), dilation=(1, 2))[0], np.float64
    )
    assert_close(ops.conv2d(x, w, padding="valid"), ref.conv2d_ref(x[None], w)[0], np.float64)
    g = rng.standard_normal(y.shape)
    gx, gw, gb = ops.conv2d_backward(g, x, w, padding="same", dilation=(1, 2))
    ex, ew, _ = ref.conv2d_grad_ref(g[None], x[None], w, padding=(0, 1, 3, 3), dilation=(1, 2))
    assert_close(gx, ex[0], np.float64, reduce_len=16)
    assert_close(gw, ew, np.float64, reduce_len=30)
    assert gx.shape == x.shape and gb.shape == (2,)
    gx_none, gw2, _ = ops.conv2d_backward(
        g, x, w, padding="same", dilation=(1, 2), input_grad=False
    )
    assert gx_none is None
    np.testing.assert_array_equal(gw2, gw)


@pytest.mark.parametrize("layout", ["strided", "fortran", "reversed"])
def test_conv2d_any_memory_layout(layout: str) -> None:
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((2, 3, 3, 3))
    want = ops.conv2d(x, w, padding=1)
    np.testing.assert_array_equal(
        ops.conv2d(with_layout(x, layout), with_layout(w, layout), padding=1), want
    )


def test_conv2d_dtypes() -> None:
    x32 = np.ones((1, 1, 3, 3), np.float32)
    assert ops.conv2d(x32, np.ones((1, 1, 2, 2), np.float32)).dtype == np.float32
    assert ops.conv2d(x32, np.ones((1, 1, 2, 2))).dtype == np.float64
    assert ops.conv2d(x32, np.ones((1, 1, 2, 2), np.float32), np.ones(1)).dtype == np.float32
    with pytest.raises(DTypeError, match="float32 or float64"):
        ops.conv2d(np.ones((1, 1, 3, 3), np.int64), np.ones((1, 1, 2, 2), np.int64))


def test_conv2d_large_batch_is_split_consistently() -> None:
    # Big enough to split the batch over threads; every item must equal its own convolution,
    # and repeated runs must give identical bits.
    rng = np.random.default_rng(4)
    x = rng.standard_normal((16, 4, 12, 12)).astype(np.float32)
    w = rng.standard_normal((8, 2, 3, 3)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    y = ops.conv2d(x, w, b, padding=1, groups=2)
    for i in (0, 7, 15):
        assert_close(
            y[i : i + 1],
            ops.conv2d(x[i : i + 1], w, b, padding=1, groups=2),
            np.float32,
            reduce_len=18,
        )
    g = rng.standard_normal(y.shape).astype(np.float32)
    first = ops.conv2d_backward(g, x, w, b, padding=1, groups=2)
    again = ops.conv2d_backward(g, x, w, b, padding=1, groups=2)
    for a, e in zip(first, again):
        np.testing.assert_array_equal(a, e)
    gx1, _, _ = ops.conv2d_backward(g[:1], x[:1], w, b, padding=1, groups=2)
    assert_close(first[0][:1], gx1, np.float32, reduce_len=36)
    parts = [
        ops.conv2d_backward(g[i : i + 1], x[i : i + 1], w, b, padding=1, groups=2)
        for i in range(16)
    ]
    assert_close(
        first[1],
        sum(p[1].astype(np.float64) for p in parts),
        np.float32,
        reduce_len=16 * 144,
        atol=1e-3,
    )
    assert_close(
        first[2],
        sum(p[2].astype(np.float64) for p in parts),
        np.float32,
        reduce_len=16 * 144,
        atol=1e-3,
    )


def test_conv2d_empty_batch() -> None:
    y = ops.conv2d(np.zeros((0, 2, 4, 4)), np.ones((3, 2, 3, 3)), np.ones(3))
    assert y.shape == (0, 3, 2, 2)
    gx, gw, gb = ops.conv2d_backward(y, np.zeros((0, 2, 4, 4)), np.ones((3, 2, 3, 3)))
    assert gx.shape == (0, 2, 4, 4) and not gw.any() and not gb.any()


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "pattern"),
    [
        (((1, 3, 4, 4), (2, 3, 3)), {}, ShapeError, "weight has shape"),
        (((3, 4), (2, 3, 3, 3)), {}, ShapeError, "input has shape"),
        (((1, 3, 4, 4), (2, 2, 3, 3)), {}, ShapeError, "3 channels"),
        (((1, 4, 4, 4), (3, 2, 3, 3)), {"groups": 2}, ShapeError, "divisible by groups"),
        (((1, 3, 2, 2), (2, 3, 3, 3)), {}, ShapeError, "smaller than the dilated kernel"),
        (((1, 3, 4, 4), (2, 3, 3, 3)), {"stride": 0}, ValueError, "stride must be positive"),
        (((1, 3, 4, 4), (2, 3, 3, 3)), {"padding": -1}, ValueError, "padding must be non-negative"),
        (((1, 3, 4, 4), (2, 3, 3, 3)), {"dilation": (1, 0)}, ValueError, "dilation"),
        (((1, 3, 4, 4), (2, 3, 3, 3)), {"groups": 0}, ValueError, "groups must be positive"),
        (((1, 3, 4, 4), (2, 3, 3, 3)), {"stride": 2, "padding": "same"}, ValueError, "strided"),
        (((1, 3, 4, 4), (2, 3, 3, 3)), {"padding": "full"}, ValueError, "padding must be"),
        (((1, 3, 4, 4), (2, 3, 3, 3)), {"stride": 1.5}, DTypeError, "stride must be an int"),
        (((1, 3, 4, 4), (2, 3, 3, 3)), {"stride": (1, 2, 3)}, ValueError, "pair"),
        (((1, 0, 4, 4), (2, 0, 3, 3)), {}, ShapeError, "non-zero"),
    ],
)
def test_conv2d_errors_name_the_argument(
    args: tuple[Any, ...], kwargs: dict[str, Any], exc: type, pattern: str
) -> None:
    x, w = (np.ones(s) for s in args)
    with pytest.raises(exc, match=pattern):
        ops.conv2d(x, w, **kwargs)


def test_conv2d_bias_and_grad_shapes_are_checked() -> None:
    x, w = np.ones((1, 3, 4, 4)), np.ones((2, 3, 3, 3))
    with pytest.raises(ShapeError, match=r"bias has shape \(3,\), expected \(2,\)"):
        ops.conv2d(x, w, np.ones(3))
    with pytest.raises(ShapeError, match="bias has shape"):
        ops.conv2d(x, w, np.ones((2, 1)))
    with pytest.raises(ShapeError, match="grad_output has shape"):
        ops.conv2d_backward(np.ones((1, 2, 3, 3)), x, w)
    with pytest.raises(ShapeError, match="unbatched"):
        ops.conv2d_backward(np.ones((1, 2, 2, 2)), x[0], w)


# --------------------------------------------------------------------------- pooling


@given(pool_cases())
def test_max_pool2d_matches_reference(c: dict[str, Any]) -> None:
    x = c.pop("x")
    y, idx = ops.max_pool2d(x, **c, return_indices=True)
    ey, eidx = ref.max_pool2d_ref(x, **c)
    assert y.dtype == x.dtype and idx.dtype == np.int64
    np.testing.assert_array_equal(y, ey.astype(x.dtype))
    np.testing.assert_array_equal(idx, eidx)
    g = np.random.default_rng(0).standard_normal(y.shape)
    gx = ops.max_pool2d_backward(g, x, **c)
    assert_close(gx, ref.max_pool2d_grad_ref(g, x, **c), x.dtype, reduce_len=4)
    np.testing.assert_array_equal(gx, ops.max_pool2d_backward(g, x, **c, indices=idx))


@given(pool_cases(dilate=False), st.booleans(), st.sampled_from([None, 1, 5]))
def test_avg_pool2d_matches_reference(c: dict[str, Any], include_pad: bool, div: Any) -> None:
    x = c.pop("x")
    c.pop("dilation")
    kw = {**c, "count_include_pad": include_pad, "divisor_override": div}
    y = ops.avg_pool2d(x, **kw)
    terms = c["kernel_size"][0] * c["kernel_size"][1]
    assert_close(y, ref.avg_pool2d_ref(x, **kw), x.dtype, reduce_len=terms)
    g = np.random.default_rng(0).standard_normal(y.shape)
    assert_close(
        ops.avg_pool2d_backward(g, x, **kw),
        ref.avg_pool2d_grad_ref(g, x, **kw),
        x.dtype,
        reduce_len=terms,
    )


def test_max_pool2d_semantics() -> None:
    x = np.array([[[1.0, 3.0, 3.0], [np.nan, 0.0, -np.inf], [2.0, 2.0, 1.0]]])
    y, idx = ops.max_pool2d(x, 2, stride=1, return_indices=True)
    assert np.isnan(y[0, 0, 0]) and idx[0, 0, 0] == 3  # NaN propagates
    assert y[0, 0, 1] == 3.0 and idx[0, 0, 1] == 1  # first maximum wins ties
    # ceil_mode keeps a last partial window; padding counts as -inf
    y = ops.max_pool2d(-np.ones((1, 5, 5)), 2, ceil_mode=True)
    assert y.shape == (1, 3, 3) and (y == -1).all()
    assert ops.max_pool2d(-np.ones((1, 4, 4)), 3, stride=2, padding=1).max() == -1


@pytest.mark.parametrize(
    "kw",
    [
        {"kernel_size": 2},
        {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 1)},
        {"kernel_size": 2, "dilation": 2, "ceil_mode": True, "stride": 2},
    ],
)
def test_pool_backward_by_finite_differences(kw: dict[str, Any]) -> None:
    # distinct values, so the maxima do not change under the finite-difference step
    x = np.random.default_rng(0).permutation(2 * 3 * 6 * 5).reshape(2, 3, 6, 5) / 7.0
    ferrograd.check_backward(
        lambda v: ops.max_pool2d(v, **kw), lambda g, v: ops.max_pool2d_backward(g, v, **kw), [x]
    )
    akw = {k: v for k, v in kw.items() if k != "dilation"}
    for extra in ({}, {"count_include_pad": False}, {"divisor_override": 3}):
        ferrograd.check_backward(
            lambda v, e=extra: ops.avg_pool2d(v, **akw, **e),
            lambda g, v, e=extra: ops.avg_pool2d_backward(g, v, **akw, **e),
            [x],
        )


@pytest.mark.parametrize(
    ("fn", "kwargs", "exc", "pattern"),
    [
        (ops.max_pool2d, {"kernel_size": 2, "padding": 2}, ValueError, "at most half"),
        (ops.avg_pool2d, {"kernel_size": 3, "padding": (0, 2)}, ValueError, "at most half"),
        (ops.max_pool2d, {"kernel_size": 5}, ShapeError, "output size"),
        (ops.max_pool2d, {"kernel_size": 0}, ValueError, "kernel_size must be positive"),
        (ops.avg_pool2d, {"kernel_size": 2, "stride": 0}, ValueError, "stride must be positive"),
        (ops.avg_pool2d, {"kernel_size": 2, "divisor_override": 0}, ValueError, "divisor_override"),
        (ops.max_pool2d, {"kernel_size": "2"}, DTypeError, "kernel_size must be an int"),
    ],
)
def test_pool_errors_name_the_argument(
    fn: Any, kwargs: dict[str, Any], exc: type, pattern: str
) -> None:
    with pytest.raises(exc, match=pattern):
        fn(np.ones((1, 2, 4, 4)), **kwargs)


def test_pool_shape_errors() -> None:
    with pytest.raises(ShapeError, match="expected"):
        ops.max_pool2d(np.ones((4, 4)), 2)
    with pytest.raises(ShapeError, match="non-zero"):
        ops.avg_pool2d(np.ones((1, 0, 4, 4)), 2)
    with pytest.raises(ShapeError, match="grad_output has shape"):
        ops.avg_pool2d_backward(np.ones((1, 3, 3)), np.ones((1, 4, 4)), 2)
    with pytest.raises(ShapeError, match="do not fit"):
        ops.max_pool2d_backward(np.ones((1, 3, 3)), np.ones((1, 4, 4)), 2)
    with pytest.raises(DTypeError, match="integers"):
        ops.max_pool2d_backward(
            np.ones((1, 2, 2)), np.ones((1, 4, 4)), 2, indices=np.ones((1, 2, 2))
        )
    with pytest.raises(ValueError, match="outside"):
        ops.max_pool2d_backward(
            np.ones((1, 2, 2)), np.ones((1, 4, 4)), 2, indices=np.full((1, 2, 2), 16)
        )
    with pytest.raises(DTypeError):
        ops.max_pool2d(np.ones((1, 4, 4), np.int32), 2)


# --------------------------------------------------------------------------- autograd and layers


def test_functional_tensor_gradients() -> None:
    rng = np.random.default_rng(5)
    x, w, b = (
        rng.standard_normal((2, 2, 5, 5)),
        rng.standard_normal((4, 1, 3, 3)),
        rng.standard_normal(4),
    )
    assert ferrograd.gradcheck(
        lambda x_, w_, b_: F.conv2d(x_, w_, bias=b_, stride=2, padding=1, groups=2), [x, w, b]
    )
    assert ferrograd.gradcheck(lambda x_, w_: F.conv2d(x_, w_, None, 1, "same", 2, 2), [x, w])
    xd = rng.permutation(2 * 2 * 25).reshape(2, 2, 5, 5) / 3.0
    assert ferrograd.gradcheck(lambda v: F.max_pool2d(v, 3, 2, 1), [xd])
    assert ferrograd.gradcheck(lambda v: F.avg_pool2d(v, 3, 2, 1, count_include_pad=False), [xd])
    t = tensor(xd, requires_grad=True)
    out, idx = F.max_pool2d(t, 2, return_indices=True)
    assert isinstance(out, ferrograd.Tensor) and isinstance(idx, np.ndarray)
    np.testing.assert_array_equal(out.data, ops.max_pool2d(xd, 2))
    assert isinstance(F.conv2d(x, w, groups=2), np.ndarray)


def test_conv2d_layer_parameters_and_init() -> None:
    ferrograd.manual_seed(0)
    conv = nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, groups=2)
    params = dict(conv.named_parameters())
    assert list(params) == ["weight", "bias"]
    assert params["weight"].shape == (6, 2, 3, 2) and params["bias"].shape == (6,)
    assert conv.weight.dtype == np.float32
    bound = 1 / math.sqrt(2 * 3 * 2)
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.5 * bound
    assert nn.Conv2d(1, 2, 3, bias=False).bias is None
    assert nn.Conv2d(1, 2, 3, dtype=np.float64).weight.dtype == np.float64
    assert "Conv2d(4, 6, kernel_size=(3, 2), stride=(2, 2)" in repr(conv)
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(3, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")


def test_layers_gradcheck_and_unbatched_input() -> None:
    ferrograd.manual_seed(1)
    conv = nn.Conv2d(2, 3, 3, padding=1, dilation=(1, 2)).double()
    x = np.random.default_rng(6).standard_normal((2, 2, 4, 5))
    assert ferrograd.gradcheck(lambda v, w, b: conv(v), [x, conv.weight, conv.bias])
    unbatched = conv(tensor(x[0]))
    np.testing.assert_allclose(unbatched.data, conv(tensor(x)).data[0], rtol=1e-12)
    xd = np.random.default_rng(7).permutation(2 * 2 * 36).reshape(2, 2, 6, 6) / 5.0
    assert ferrograd.gradcheck(lambda v: nn.MaxPool2d(2, padding=1, ceil_mode=True)(v), [xd])
    assert ferrograd.gradcheck(lambda v: nn.AvgPool2d(3, stride=2, padding=1)(v), [xd])
    assert nn.MaxPool2d(2).stride == 2 and nn.AvgPool2d(3, 1).stride == 1


def test_small_cnn_trains_and_passes_gradcheck() -> None:
    ferrograd.manual_seed(2)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 3 * 3, 3),
    )
    x = np.random.default_rng(8).standard_normal((4, 1, 6, 6)).astype(np.float32)
    out = model(tensor(x))
    assert out.shape == (4, 3) and out.dtype == np.float32
    out.sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name
    assert set(model.state_dict()) == {"0.weight", "0.bias", "4.weight", "4.bias"}
    model.double()
    xt = tensor(x.astype(np.float64), requires_grad=True)
    assert ferrograd.gradcheck(lambda v, *ps: model(v), [xt, *model.parameters()])


def test_max_pool2d_backward_refuses_uint64_indices_that_would_wrap() -> None:
    x = np.random.default_rng(0).standard_normal((1, 1, 4, 4))
    g = np.ones((1, 1, 2, 2))
    _, idx = ops.max_pool2d(x, 2, return_indices=True)
    want = ops.max_pool2d_backward(g, x, 2, indices=idx)
    np.testing.assert_array_equal(
        ops.max_pool2d_backward(g, x, 2, indices=idx.astype(np.uint64)), want
    )
    wrapped = idx.astype(np.uint64)
    wrapped[0, 0, 1, 1] = np.uint64(2**64 - 11)  # -11 as int64
    with pytest.raises(
        ferrograd.ArgumentError, match=r"indices has the value 18446744073709551605"
    ):
        ops.max_pool2d_backward(g, x, 2, indices=wrapped)
    wrapped[0, 0, 1, 1] = np.uint64(2**63)  # the first value outside int64
    with pytest.raises(ferrograd.ArgumentError, match="9223372036854775808"):
        ops.max_pool2d_backward(g, x, 2, indices=wrapped)


@pytest.mark.parametrize("backward", [ops.conv2d_backward, F.conv2d_backward])
def test_conv2d_backward_checks_its_bias_like_the_forward(backward: Any) -> None:
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3))
    g = rng.standard_normal((2, 4, 3, 3))
    want = ops.conv2d_backward(g, x, w)
    for ok in (None, np.zeros(4), [1, 2, 3, 4]):
        for got, exp in zip(backward(g, x, w, ok), want):
            np.testing.assert_array_equal(got, exp)
    for bad, error in [
        ("abc", DTypeError),
        ({"a": 1}, DTypeError),
        (np.zeros(4, complex), DTypeError),
        (np.zeros(3), ShapeError),
        (np.zeros((4, 1)), ShapeError),
        (1.5, ShapeError),
    ]:
        with pytest.raises(error, match="conv2d_backward: bias"):
            backward(g, x, w, bad)
        with pytest.raises(error, match="conv2d: bias"):
            ops.conv2d(x, w, bad)
