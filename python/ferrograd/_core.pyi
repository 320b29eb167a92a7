# Stubs of the Rust extension module ferrograd._core (kept in sync with rust/py/src).
# Arrays are float32 or float64 NumPy arrays of one dtype per call.
from collections.abc import Sequence
from typing import Optional, final

import numpy as np
from typing_extensions import Self

__version__: str

def num_threads() -> int: ...
def threads_started() -> bool: ...

# ---- ops (rust/py/src/ops.rs)
def add(a: np.ndarray, b: np.ndarray) -> np.ndarray: ...
def sub(a: np.ndarray, b: np.ndarray) -> np.ndarray: ...
def mul(a: np.ndarray, b: np.ndarray) -> np.ndarray: ...
def div(a: np.ndarray, b: np.ndarray) -> np.ndarray: ...
def add_backward(
    grad_output: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]: ...
def sub_backward(
    grad_output: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]: ...
def mul_backward(
    grad_output: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]: ...
def div_backward(
    grad_output: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]: ...
def exp(x: np.ndarray) -> np.ndarray: ...
def log(x: np.ndarray) -> np.ndarray: ...
def sqrt(x: np.ndarray) -> np.ndarray: ...
def neg(x: np.ndarray) -> np.ndarray: ...
def pow(x: np.ndarray, exponent: float) -> np.ndarray: ...
def copy(x: np.ndarray) -> np.ndarray: ...
def take_rows(x: np.ndarray, indices: np.ndarray) -> np.ndarray: ...
def exp_backward(grad_output: np.ndarray, x: np.ndarray) -> np.ndarray: ...
def log_backward(grad_output: np.ndarray, x: np.ndarray) -> np.ndarray: ...
def sqrt_backward(grad_output: np.ndarray, x: np.ndarray) -> np.ndarray: ...
def neg_backward(grad_output: np.ndarray, x: np.ndarray) -> np.ndarray: ...
def pow_backward(grad_output: np.ndarray, x: np.ndarray, exponent: float) -> np.ndarray: ...
def abs(x: np.ndarray) -> np.ndarray: ...
def abs_backward(grad_output: np.ndarray, x: np.ndarray) -> np.ndarray: ...
def log1p(x: np.ndarray) -> np.ndarray: ...
def log1p_backward(grad_output: np.ndarray, x: np.ndarray) -> np.ndarray: ...
def clamp(
    x: np.ndarray, min: Optional[float] = None, max: Optional[float] = None
) -> np.ndarray: ...
def clamp_backward(
    grad_output: np.ndarray,
    x: np.ndarray,
    min: Optional[float] = None,
    max: Optional[float] = None,
) -> np.ndarray: ...
def sum(
    x: np.ndarray, axes: Optional[Sequence[int]] = None, keepdims: bool = False
) -> np.ndarray: ...
def mean(
    x: np.ndarray, axes: Optional[Sequence[int]] = None, keepdims: bool = False
) -> np.ndarray: ...
def max(
    x: np.ndarray, axes: Optional[Sequence[int]] = None, keepdims: bool = False
) -> np.ndarray: ...
def sum_backward(
    grad_output: np.ndarray,
    x: np.ndarray,
    axes: Optional[Sequence[int]] = None,
    keepdims: bool = False,
) -> np.ndarray: ...
def mean_backward(
    grad_output: np.ndarray,
    x: np.ndarray,
    axes: Optional[Sequence[int]] = None,
    keepdims: bool = False,
) -> np.ndarray: ...
def max_backward(
    grad_output: np.ndarray,
    x: np.ndarray,
    axes: Optional[Sequence[int]] = None,
    keepdims: bool = False,
) -> np.ndarray: ...
def min(
    x: np.ndarray, axes: Optional[Sequence[int]] = None, keepdims: bool = False
) -> np.ndarray: ...
def min_backward(
    grad_output: np.ndarray,
    x: np.ndarray,
    axes: Optional[Sequence[int]] = None,
    keepdims: bool = False,
) -> np.ndarray: ...
def argmax(x: np.ndarray, axis: Optional[int] = None, keepdims: bool = False) -> np.ndarray: ...
def argmin(x: np.ndarray, axis: Optional[int] = None, keepdims: bool = False) -> np.ndarray: ...
def var(
    x: np.ndarray,
    axes: Optional[Sequence[int]] = None,
    correction: float = 1.0,
    keepdims: bool = False,
) -> np.ndarray: ...
def var_backward(
    grad_output: np.ndarray,
    x: np.ndarray,
    axes: Optional[Sequence[int]] = None,
    correction: float = 1.0,
    keepdims: bool = False,
) -> np.ndarray: ...
def std(
    x: np.ndarray,
    axes: Optional[Sequence[int]] = None,
    correction: float = 1.0,
    keepdims: bool = False,
) -> np.ndarray: ...
def std_backward(
    grad_output: np.ndarray,
    x: np.ndarray,
    axes: Optional[Sequence[int]] = None,
    correction: float = 1.0,
    keepdims: bool = False,
) -> np.ndarray: ...
def sum_to_shape(grad: np.ndarray, shape_: Sequence[int]) -> np.ndarray: ...
def softmax(x: np.ndarray, axis: int = ...) -> np.ndarray: ...
def log_softmax(x: np.ndarray, axis: int = ...) -> np.ndarray: ...
def softmax_backward(
    grad_output: np.ndarray, output: np.ndarray, axis: int = ...
) -> np.ndarray: ...
def log_softmax_backward(
    grad_output: np.ndarray, output: np.ndarray, axis: int = ...
) -> np.ndarray: ...
def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray: ...
def matmul_backward(
    grad_output: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]: ...
def linear(x: np.ndarray, weight: np.ndarray, bias: Optional[np.ndarray] = None) -> np.ndarray: ...
def linear_backward(
    grad_output: np.ndarray, x: np.ndarray, weight: np.ndarray, input_grad: bool = True
) -> tuple[Optional[np.ndarray], np.ndarray, np.ndarray]: ...

# ---- functional (rust/py/src/functional/*.rs)

# functional: activations, regression, distribution
def relu(input: np.ndarray) -> np.ndarray: ...
def relu_backward(grad_output: np.ndarray, input: np.ndarray) -> np.ndarray: ...
def leaky_relu(input: np.ndarray, negative_slope: float = 0.01) -> np.ndarray: ...
def leaky_relu_backward(
    grad_output: np.ndarray, input: np.ndarray, negative_slope: float = 0.01
) -> np.ndarray: ...
def sigmoid(input: np.ndarray) -> np.ndarray: ...
def sigmoid_backward(grad_output: np.ndarray, input: np.ndarray) -> np.ndarray: ...
def tanh(input: np.ndarray) -> np.ndarray: ...
def tanh_backward(grad_output: np.ndarray, input: np.ndarray) -> np.ndarray: ...
def gelu(input: np.ndarray, approximate: str = "none") -> np.ndarray: ...
def gelu_backward(
    grad_output: np.ndarray, input: np.ndarray, approximate: str = "none"
) -> np.ndarray: ...
def elu(input: np.ndarray, alpha: float = 1.0) -> np.ndarray: ...
def elu_backward(grad_output: np.ndarray, input: np.ndarray, alpha: float = 1.0) -> np.ndarray: ...
def silu(input: np.ndarray) -> np.ndarray: ...
def silu_backward(grad_output: np.ndarray, input: np.ndarray) -> np.ndarray: ...
def softplus(input: np.ndarray, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray: ...
def softplus_backward(
    grad_output: np.ndarray, input: np.ndarray, beta: float = 1.0, threshold: float = 20.0
) -> np.ndarray: ...
def mse_loss(input: np.ndarray, target: np.ndarray, reduction: str = "mean") -> np.ndarray: ...
def mse_loss_backward(
    grad_output: np.ndarray, input: np.ndarray, target: np.ndarray, reduction: str = "mean"
) -> np.ndarray: ...
def l1_loss(input: np.ndarray, target: np.ndarray, reduction: str = "mean") -> np.ndarray: ...
def l1_loss_backward(
    grad_output: np.ndarray, input: np.ndarray, target: np.ndarray, reduction: str = "mean"
) -> np.ndarray: ...
def huber_loss(
    input: np.ndarray, target: np.ndarray, reduction: str = "mean", delta: float = ...
) -> np.ndarray: ...
def huber_loss_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    reduction: str = "mean",
    delta: float = ...,
) -> np.ndarray: ...
def smooth_l1_loss(
    input: np.ndarray, target: np.ndarray, reduction: str = "mean", beta: float = ...
) -> np.ndarray: ...
def smooth_l1_loss_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    reduction: str = "mean",
    beta: float = ...,
) -> np.ndarray: ...
def entropy(p: np.ndarray, dim: int = ..., base: Optional[float] = None) -> np.ndarray: ...
def entropy_backward(
    grad_output: np.ndarray, p: np.ndarray, dim: int = ..., base: Optional[float] = None
) -> np.ndarray: ...
def cross_entropy_dist(
    p: np.ndarray, q: np.ndarray, dim: int = ..., base: Optional[float] = None
) -> np.ndarray: ...
def cross_entropy_dist_backward(
    grad_output: np.ndarray,
    p: np.ndarray,
    q: np.ndarray,
    dim: int = ...,
    base: Optional[float] = None,
) -> tuple[np.ndarray, np.ndarray]: ...
def kl_div(
    input: np.ndarray, target: np.ndarray, reduction: str = "mean", log_target: bool = False
) -> np.ndarray: ...
def kl_div_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    reduction: str = "mean",
    log_target: bool = False,
) -> np.ndarray: ...

# ---- norm (rust/py/src/norm.rs)
def batch_norm_train(
    input: np.ndarray,
    weight: Optional[np.ndarray] = None,
    bias: Optional[np.ndarray] = None,
    running_mean: Optional[np.ndarray] = None,
    running_var: Optional[np.ndarray] = None,
    momentum: float = ...,
    eps: float = ...,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Optional[np.ndarray], Optional[np.ndarray]]: ...
def batch_norm_eval(
    input: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    weight: Optional[np.ndarray] = None,
    bias: Optional[np.ndarray] = None,
    eps: float = ...,
) -> tuple[np.ndarray, np.ndarray]: ...
def batch_norm_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    mean: np.ndarray,
    invstd: np.ndarray,
    weight: Optional[np.ndarray] = None,
    training: bool = True,
    param_grads: bool = True,
) -> tuple[np.ndarray, Optional[np.ndarray], Optional[np.ndarray]]: ...
def layer_norm(
    input: np.ndarray,
    normalized_shape: Sequence[int],
    weight: Optional[np.ndarray] = None,
    bias: Optional[np.ndarray] = None,
    eps: float = ...,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
def layer_norm_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    normalized_shape: Sequence[int],
    mean: np.ndarray,
    invstd: np.ndarray,
    weight: Optional[np.ndarray] = None,
    param_grads: bool = True,
) -> tuple[np.ndarray, Optional[np.ndarray], Optional[np.ndarray]]: ...
def embedding(input: np.ndarray, weight: np.ndarray) -> np.ndarray: ...
def embedding_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    num_embeddings: int,
    padding_idx: Optional[int] = None,
) -> np.ndarray: ...

# ---- optim (rust/py/src/optim.rs)
# The *_step functions update params and state in place (one dtype per call).
def sgd_step(
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    momentum_buffers: Optional[Sequence[np.ndarray]],
    fresh: Sequence[bool],
    *,
    lr: float,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    maximize: bool,
) -> None: ...
def adam_step(
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    exp_avgs: Sequence[np.ndarray],
    exp_avg_sqs: Sequence[np.ndarray],
    max_exp_avg_sqs: Optional[Sequence[np.ndarray]],
    steps: Sequence[float],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    amsgrad: bool,
    maximize: bool,
    decoupled_weight_decay: bool,
) -> None: ...
def rmsprop_step(
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    square_avgs: Sequence[np.ndarray],
    grad_avgs: Optional[Sequence[np.ndarray]],
    momentum_buffers: Optional[Sequence[np.ndarray]],
    *,
    lr: float,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
    maximize: bool,
) -> None: ...
def adagrad_step(
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    state_sums: Sequence[np.ndarray],
    steps: Sequence[float],
    *,
    lr: float,
    lr_decay: float,
    weight_decay: float,
    eps: float,
    maximize: bool,
) -> None: ...
def nadam_step(
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    exp_avgs: Sequence[np.ndarray],
    exp_avg_sqs: Sequence[np.ndarray],
    steps: Sequence[float],
    mu_products: Sequence[float],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    momentum_decay: float,
    decoupled_weight_decay: bool,
    maximize: bool,
) -> list[float]: ...
def radam_step(
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    exp_avgs: Sequence[np.ndarray],
    exp_avg_sqs: Sequence[np.ndarray],
    steps: Sequence[float],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decoupled_weight_decay: bool,
    maximize: bool,
) -> None: ...
def total_norm(arrays: Sequence[np.ndarray], norm_type: float) -> float: ...
def scale_inplace(arrays: Sequence[np.ndarray], factor: float) -> None: ...
def clamp_inplace(arrays: Sequence[np.ndarray], min: float, max: float) -> None: ...
def weight_penalty(arrays: Sequence[np.ndarray], kind: str) -> float: ...
def weight_penalty_backward(grad_output: float, x: np.ndarray, kind: str) -> np.ndarray: ...

# functional: margin, contrastive (rust/py/src/functional/{margin,contrastive}.rs)
# Targets of the ±1 losses have the input's dtype; multi_margin labels are int64.
def hinge_loss(
    input: np.ndarray, target: np.ndarray, margin: float = 1.0, reduction: str = "mean"
) -> np.ndarray: ...
def hinge_loss_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    margin: float = 1.0,
    reduction: str = "mean",
) -> np.ndarray: ...
def hinge_embedding_loss(
    input: np.ndarray, target: np.ndarray, margin: float = 1.0, reduction: str = "mean"
) -> np.ndarray: ...
def hinge_embedding_loss_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    margin: float = 1.0,
    reduction: str = "mean",
) -> np.ndarray: ...
def soft_margin_loss(
    input: np.ndarray, target: np.ndarray, reduction: str = "mean"
) -> np.ndarray: ...
def soft_margin_loss_backward(
    grad_output: np.ndarray, input: np.ndarray, target: np.ndarray, reduction: str = "mean"
) -> np.ndarray: ...
def multi_margin_loss(
    input: np.ndarray,
    target: np.ndarray,
    p: int = 1,
    margin: float = 1.0,
    weight: Optional[np.ndarray] = None,
    reduction: str = "mean",
) -> np.ndarray: ...
def multi_margin_loss_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    p: int = 1,
    margin: float = 1.0,
    weight: Optional[np.ndarray] = None,
    reduction: str = "mean",
) -> np.ndarray: ...
def cosine_embedding_loss(
    input1: np.ndarray,
    input2: np.ndarray,
    target: np.ndarray,
    margin: float = 0.0,
    reduction: str = "mean",
) -> np.ndarray: ...
def cosine_embedding_loss_backward(
    grad_output: np.ndarray,
    input1: np.ndarray,
    input2: np.ndarray,
    target: np.ndarray,
    margin: float = 0.0,
    reduction: str = "mean",
) -> tuple[np.ndarray, np.ndarray]: ...
def triplet_margin_loss(
    anchor: np.ndarray,
    positive: np.ndarray,
    negative: np.ndarray,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-06,
    swap: bool = False,
    reduction: str = "mean",
) -> np.ndarray: ...
def triplet_margin_loss_backward(
    grad_output: np.ndarray,
    anchor: np.ndarray,
    positive: np.ndarray,
    negative: np.ndarray,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-06,
    swap: bool = False,
    reduction: str = "mean",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
def nt_xent_loss(
    z1: np.ndarray, z2: np.ndarray, temperature: float = 0.5, reduction: str = "mean"
) -> np.ndarray: ...
def nt_xent_loss_backward(
    grad_output: np.ndarray,
    z1: np.ndarray,
    z2: np.ndarray,
    temperature: float = 0.5,
    reduction: str = "mean",
) -> tuple[np.ndarray, np.ndarray]: ...

# ---- recurrent layers (rust/py/src/rnn.rs)
def rnn_forward(
    mode: str,
    input: np.ndarray,
    h0: np.ndarray,
    weight_ih: np.ndarray,
    weight_hh: np.ndarray,
    bias_ih: Optional[np.ndarray] = None,
    bias_hh: Optional[np.ndarray] = None,
    c0: Optional[np.ndarray] = None,
    reverse: bool = False,
) -> tuple[np.ndarray, np.ndarray]: ...
def rnn_backward(
    mode: str,
    grad_states: np.ndarray,
    input: np.ndarray,
    h0: np.ndarray,
    weight_ih: np.ndarray,
    weight_hh: np.ndarray,
    states: np.ndarray,
    saved: np.ndarray,
    bias_ih: Optional[np.ndarray] = None,
    bias_hh: Optional[np.ndarray] = None,
    c0: Optional[np.ndarray] = None,
    reverse: bool = False,
    need_input_grad: bool = True,
    grad_steps: Optional[Sequence[int]] = None,
) -> tuple[
    Optional[np.ndarray],
    np.ndarray,
    Optional[np.ndarray],
    np.ndarray,
    np.ndarray,
    Optional[np.ndarray],
    Optional[np.ndarray],
]: ...

# conv
def conv2d(
    input: np.ndarray,
    weight: np.ndarray,
    bias: Optional[np.ndarray] = None,
    stride: Sequence[int] = ...,
    padding: Sequence[int] = ...,
    dilation: Sequence[int] = ...,
    groups: int = 1,
) -> np.ndarray: ...
def conv2d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    weight: np.ndarray,
    stride: Sequence[int] = ...,
    padding: Sequence[int] = ...,
    dilation: Sequence[int] = ...,
    groups: int = 1,
    input_grad: bool = True,
) -> tuple[Optional[np.ndarray], np.ndarray, np.ndarray]: ...
def max_pool2d(
    input: np.ndarray,
    kernel_size: Sequence[int],
    stride: Optional[Sequence[int]] = None,
    padding: Sequence[int] = ...,
    dilation: Sequence[int] = ...,
    ceil_mode: bool = False,
) -> tuple[np.ndarray, np.ndarray]: ...
def max_pool2d_backward(
    grad_output: np.ndarray, indices: np.ndarray, input_shape: Sequence[int]
) -> np.ndarray: ...
def avg_pool2d(
    input: np.ndarray,
    kernel_size: Sequence[int],
    stride: Optional[Sequence[int]] = None,
    padding: Sequence[int] = ...,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Optional[int] = None,
) -> np.ndarray: ...
def avg_pool2d_backward(
    grad_output: np.ndarray,
    input_shape: Sequence[int],
    kernel_size: Sequence[int],
    stride: Optional[Sequence[int]] = None,
    padding: Sequence[int] = ...,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Optional[int] = None,
) -> np.ndarray: ...

# functional: classification (rust/py/src/functional/classification.rs)
# Class-index targets are int64 arrays; class-probability targets have the input's dtype.
# ignore_index defaults to -100 (shown as ... because the runtime signature does).
def cross_entropy(
    input: np.ndarray,
    target: np.ndarray,
    weight: Optional[np.ndarray] = None,
    ignore_index: int = ...,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> np.ndarray: ...
def cross_entropy_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    weight: Optional[np.ndarray] = None,
    ignore_index: int = ...,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> np.ndarray: ...
def cross_entropy_with_grad(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    weight: Optional[np.ndarray] = None,
    ignore_index: int = ...,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]: ...
def nll_loss(
    input: np.ndarray,
    target: np.ndarray,
    weight: Optional[np.ndarray] = None,
    ignore_index: int = ...,
    reduction: str = "mean",
) -> np.ndarray: ...
def nll_loss_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    weight: Optional[np.ndarray] = None,
    ignore_index: int = ...,
    reduction: str = "mean",
) -> np.ndarray: ...
def binary_cross_entropy(
    input: np.ndarray,
    target: np.ndarray,
    weight: Optional[np.ndarray] = None,
    reduction: str = "mean",
) -> np.ndarray: ...
def binary_cross_entropy_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    weight: Optional[np.ndarray] = None,
    reduction: str = "mean",
) -> np.ndarray: ...
def binary_cross_entropy_with_logits(
    input: np.ndarray,
    target: np.ndarray,
    weight: Optional[np.ndarray] = None,
    reduction: str = "mean",
    pos_weight: Optional[np.ndarray] = None,
) -> np.ndarray: ...
def binary_cross_entropy_with_logits_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    target: np.ndarray,
    weight: Optional[np.ndarray] = None,
    reduction: str = "mean",
    pos_weight: Optional[np.ndarray] = None,
) -> np.ndarray: ...

@final
class StepPlan:
    """A captured model (layers and loss) whose steps run entirely in Rust."""

    def __new__(
        cls, layers: list[tuple[str, list[int], list[float]]], loss: str, loss_arg: float = 0.0
    ) -> Self: ...
    @property
    def n_params(self) -> int: ...
    @property
    def n_buffers(self) -> int: ...
    def shapes(self, x_shape: list[int]) -> list[list[int]]: ...
    def rmsprop(
        self,
        x: np.ndarray,
        target: np.ndarray,
        params: list[np.ndarray],
        square_avgs: list[np.ndarray],
        grad_avgs: Optional[list[np.ndarray]],
        momentum_buffers: Optional[list[np.ndarray]],
        *,
        lr: float,
        alpha: float,
        eps: float,
        weight_decay: float,
        momentum: float,
        centered: bool,
        maximize: bool,
        keep_output: bool = False,
        skip_non_finite: bool = False,
        weight_decays: Optional[list[float]] = None,
        buffers: Optional[list[np.ndarray]] = None,
    ) -> tuple[float, Optional[np.ndarray], bool]: ...
    def adagrad(
        self,
        x: np.ndarray,
        target: np.ndarray,
        params: list[np.ndarray],
        state_sums: list[np.ndarray],
        steps: list[float],
        *,
        lr: float,
        lr_decay: float,
        weight_decay: float,
        eps: float,
        maximize: bool,
        keep_output: bool = False,
        skip_non_finite: bool = False,
        weight_decays: Optional[list[float]] = None,
        buffers: Optional[list[np.ndarray]] = None,
    ) -> tuple[float, Optional[np.ndarray], bool]: ...
    def adam(
        self,
        x: np.ndarray,
        target: np.ndarray,
        params: list[np.ndarray],
        exp_avgs: list[np.ndarray],
        exp_avg_sqs: list[np.ndarray],
        max_exp_avg_sqs: Optional[list[np.ndarray]],
        steps: list[float],
        *,
        lr: float,
        beta1: float,
        beta2: float,
        eps: float,
        weight_decay: float,
        amsgrad: bool,
        maximize: bool,
        decoupled_weight_decay: bool,
        keep_output: bool = False,
        skip_non_finite: bool = False,
        weight_decays: Optional[list[float]] = None,
        buffers: Optional[list[np.ndarray]] = None,
    ) -> tuple[float, Optional[np.ndarray], bool]: ...
    def sgd(
        self,
        x: np.ndarray,
        target: np.ndarray,
        params: list[np.ndarray],
        momentum_buffers: Optional[list[np.ndarray]],
        fresh: list[bool],
        *,
        lr: float,
        momentum: float,
        dampening: float,
        weight_decay: float,
        nesterov: bool,
        maximize: bool,
        keep_output: bool = False,
        skip_non_finite: bool = False,
        weight_decays: Optional[list[float]] = None,
        buffers: Optional[list[np.ndarray]] = None,
    ) -> tuple[float, Optional[np.ndarray], bool]: ...
    def gradients(
        self,
        x: np.ndarray,
        target: np.ndarray,
        params: list[np.ndarray],
        grads: list[np.ndarray],
        *,
        keep_output: bool = False,
        skip_non_finite: bool = False,
        buffers: Optional[list[np.ndarray]] = None,
    ) -> tuple[float, Optional[np.ndarray], bool]: ...
