"""``MLPClassifier`` and ``MLPRegressor``: scikit-learn's multi-layer perceptrons, trained by
the ferrograd :class:`~ferrograd.train.Trainer`.

Parameters, defaults, fitted attributes and training rules are scikit-learn's (see
:mod:`ferrograd.sklearn._mlp_rules` for how its updates map onto ferrograd's optimizers);
``solver="lbfgs"`` is not available.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .. import nn, ops, optim
from ..data import DataLoader
from ..exceptions import ArgumentError, ShapeError
from ..functional import sigmoid
from ..train import History, NonFiniteLossError, Trainer
from . import _common as C
from ._mlp_rules import SklearnRules

_ACTIVATIONS = {
    "identity": nn.Identity,
    "logistic": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
}


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: parameters, the network, the fit loop."""

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: Any = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: Any = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change

    def _checked_hidden_sizes(self, owner: str) -> list[int]:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, (numbers.Integral, np.integer)) and not isinstance(sizes, bool):
            sizes = [sizes]
        try:
            sizes = list(sizes)
        except TypeError:
            sizes = None
        if sizes is None or not all(
            isinstance(s, (numbers.Integral, np.integer)) and not isinstance(s, bool) and int(s) > 0
            for s in sizes
        ):
            raise ArgumentError(
                f"{owner}: hidden_layer_sizes must be a positive int or a sequence of positive "
                f"ints (the width of each hidden layer), got {self.hidden_layer_sizes!r}"
            )
        return [int(s) for s in sizes]

    def _check_params(self, owner: str) -> list[int]:
        """Checks every parameter (as scikit-learn does, at fit); the hidden layer widths."""
        sizes = self._checked_hidden_sizes(owner)
        C.check_choice(owner, "activation", self.activation, list(_ACTIVATIONS))
        if self.solver == "lbfgs":
            raise ArgumentError(
                f"{owner}: solver='lbfgs' is not supported: ferrograd trains with mini-batch "
                "steps, solver='adam' or 'sgd' (scikit-learn's own estimator offers L-BFGS)"
            )
        C.check_choice(owner, "solver", self.solver, ["adam", "sgd"])
        C.check_real(owner, "alpha", self.alpha, 0.0)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            if isinstance(self.batch_size, str):
                raise ArgumentError(
                    f"{owner}: batch_size must be 'auto' or a positive int, got {self.batch_size!r}"
                )
            C.check_int(owner, "batch_size", self.batch_size, 1)
        C.check_choice(
            owner, "learning_rate", self.learning_rate, ["constant", "invscaling", "adaptive"]
        )
        C.check_real(owner, "learning_rate_init", self.learning_rate_init, 0.0, low_open=True)
        C.check_real(owner, "power_t", self.power_t)
        C.check_int(owner, "max_iter", self.max_iter, 1)
        C.check_bool(owner, "shuffle", self.shuffle)
        C.check_real(owner, "tol", self.tol, 0.0)
        C.check_verbose(owner, self.verbose)
        C.check_bool(owner, "warm_start", self.warm_start)
        C.check_real(owner, "momentum", self.momentum, 0.0, 1.0)
        C.check_bool(owner, "nesterovs_momentum", self.nesterovs_momentum)
        C.check_bool(owner, "early_stopping", self.early_stopping)
        C.check_real(
            owner, "validation_fraction", self.validation_fraction, 0.0, 1.0, high_open=True
        )
        C.check_real(owner, "beta_1", self.beta_1, 0.0, 1.0, high_open=True)
        C.check_real(owner, "beta_2", self.beta_2, 0.0, 1.0, high_open=True)
        C.check_real(owner, "epsilon", self.epsilon, 0.0, low_open=True)
        C.check_int(owner, "n_iter_no_change", self.n_iter_no_change, 1)
        return sizes

    # ================================================================== subclass hooks
    def _prepare_targets(
        self, X: Any, y: Any, first_pass: bool, incremental: bool, classes: Any, owner: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Validated ``X``, the targets the network trains on, and ``y`` for scoring."""
        raise NotImplementedError

    def _loss_fn(self) -> Any:
        raise NotImplementedError

    def _validation_score(self, X: np.ndarray, y: np.ndarray) -> float:
        raise NotImplementedError

    # ================================================================== fitting
    def _fit(self, X: Any, y: Any, incremental: bool, classes: Any = None) -> Any:
        owner = f"{type(self).__name__}.{'partial_fit' if incremental else 'fit'}"
        sizes = self._check_params(owner)
        if incremental and self.early_stopping:
            raise ArgumentError(
                f"{owner}: early_stopping=True is not supported by partial_fit (there is no "
                "held-out data in one call); use fit, or early_stopping=False"
            )
        first_pass = not hasattr(self, "model_") or (not self.warm_start and not incremental)
        X, targets, y_score = self._prepare_targets(X, y, first_pass, incremental, classes, owner)
        rs = C.random_state(owner, self.random_state)
        # Drawn first, in scikit-learn's order: the initial weights, then the split.
        units = [X.shape[1], *sizes, self.n_outputs_]
        initial = self._draw_initial_weights(units, rs) if first_pass else None
        dtype = X.dtype if first_pass else self._dtype
        X = X.astype(dtype, copy=False)
        if targets.dtype.kind == "f":
            targets = targets.astype(dtype, copy=False)
        validation = None
        if self.early_stopping:
            stratify = y_score if self._stratify() else None
            train_idx, val_idx = C.split_indices(
                owner, len(X), self.validation_fraction, rs, stratify
            )
            validation = (X[val_idx], y_score[val_idx])
            X, targets = X[train_idx], targets[train_idx]
        with C.seeded(rs):
            if initial is not None:
                self._initialize(initial, dtype)
            if not incremental or getattr(self, "_optimizer", None) is None:
                self._optimizer = self._new_optimizer()
                self._adam_t = 0
                self._learning_rate = float(self.learning_rate_init)
            batch_size = self._batch_size(len(X))
            loader = DataLoader(
                (X, targets),
                batch_size=batch_size,
                shuffle=bool(self.shuffle),
                seed=C.draw_seed(rs) if self.shuffle else None,
            )
            rules = SklearnRules(self, len(X), batch_size, validation)
            # The weight decay the first step will use (set again before each step), so the
            # Trainer knows from the start whether the groups differ.
            self._optimizer.param_groups[0]["weight_decay"] = self.alpha / (
                self._grad_scale * min(batch_size, len(X))
            )
            trainer = Trainer(self.model_, self._loss_fn(), self._optimizer, metrics=[])
            self.n_iter_ = 0
            try:
                trainer.fit(
                    loader,
                    epochs=1 if incremental else self.max_iter,
                    callbacks=[rules],
                    verbose=0,
                )
            except NonFiniteLossError:
                raise ArgumentError(
                    f"{owner}: the training loss became non-finite in epoch {self.n_iter_ + 1}"
                    "; the input data may contain large values and need to be preprocessed "
                    "(e.g. StandardScaler), or learning_rate_init may be too large"
                ) from None
            finally:
                self.model_.zero_grad()
            self.compiled_ = trainer.compiled
        if not all(np.isfinite(p.data).all() for p in self.model_.parameters()):
            raise ArgumentError(
                f"{owner}: training produced non-finite weights; the input data may contain "
                "large values and need to be preprocessed (e.g. StandardScaler)"
            )
        if not incremental and not rules.stopped and self.n_iter_ == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )
        if self.early_stopping and self._best_state is not None:
            self.model_.load_state_dict(self._best_state)
        return self

    def _batch_size(self, n_samples: int) -> int:
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                f"Got batch_size={self.batch_size} larger than the {n_samples} training "
                "samples; it is clipped to the number of samples",
                stacklevel=4,
            )
        return min(int(self.batch_size), n_samples)

    def _stratify(self) -> bool:
        return False

    def _draw_initial_weights(
        self, units: list[int], rs: np.random.RandomState
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """scikit-learn's Glorot-uniform initialisation, drawn from ``rs`` in its order:
        ``(coef, intercept)`` per layer, coef in the (in, out) layout."""
        factor = 2.0 if self.activation == "logistic" else 6.0
        weights = []
        for fan_in, fan_out in zip(units[:-1], units[1:]):
            bound = math.sqrt(factor / (fan_in + fan_out))
            coef = rs.uniform(-bound, bound, (fan_in, fan_out))
            weights.append((coef, rs.uniform(-bound, bound, fan_out)))
        return weights

    def _initialize(self, initial: list[tuple[np.ndarray, np.ndarray]], dtype: Any) -> None:
        """A new network with the given initial weights, and fresh training records."""
        layers: list[Any] = []
        for i, (coef, intercept) in enumerate(initial):
            n_in, n_out = coef.shape
            linear = nn.Linear(n_in, n_out, dtype=dtype)
            linear.weight.data[...] = coef.T
            linear.bias.data[...] = intercept
            layers.append(linear)
            if i < len(initial) - 1:
                layers.append(_ACTIVATIONS[self.activation]())
        self.model_ = nn.Sequential(*layers)
        self._dtype = np.dtype(dtype)
        self.n_layers_ = len(initial) + 1
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_: list[float] = []
        self.history_ = History()
        self._no_improvement_count = 0
        self._best_state: Any = None
        self._optimizer = None
        if self.early_stopping:
            self.validation_scores_: list[float] | None = []
            self.best_validation_score_: float | None = -np.inf
            self.best_loss_: float | None = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf

    def _linears(self) -> list[Any]:
        return [m for m in self.model_ if isinstance(m, nn.Linear)]

    def _new_optimizer(self) -> Any:
        """Weights and intercepts in two groups (only weights carry the L2 penalty); the
        per-step settings come from :class:`SklearnRules`."""
        linears = self._linears()
        groups = [
            {"params": [m.weight for m in linears], "weight_decay": 0.0},
            {"params": [m.bias for m in linears], "weight_decay": 0.0},
        ]
        if self.solver == "adam":
            return optim.Adam(
                groups,
                lr=float(self.learning_rate_init),
                betas=(float(self.beta_1), float(self.beta_2)),
                eps=float(self.epsilon),
            )
        momentum = float(self.momentum)
        return optim.SGD(
            groups,
            lr=self._grad_scale * float(self.learning_rate_init),
            momentum=momentum,
            nesterov=bool(self.nesterovs_momentum) and momentum > 0,
        )

    # ================================================================== fitted model
    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrices in scikit-learn's layout: ``coefs_[i]`` has shape
        (units of layer i, units of layer i+1). Views of the model's weights."""
        self._require_fitted()
        return [m.weight.data.T for m in self._linears()]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Bias vectors, ``intercepts_[i]`` of length (units of layer i+1). Views."""
        self._require_fitted()
        return [m.bias.data for m in self._linears()]

    def _require_fitted(self) -> None:
        if "model_" not in self.__dict__:
            raise AttributeError(f"This {type(self).__name__} instance is not fitted yet")

    def _raw_output(self, X: Any) -> np.ndarray:
        """Validated ``X`` through the network (without the output activation)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        return C.forward(self.model_, X.astype(self._dtype, copy=False))

    # ================================================================== pickling
    def __getstate__(self) -> dict[str, Any]:
        return C.optimizer_state_for_pickle(dict(super().__getstate__()), "_optimizer")

    def __setstate__(self, state: dict[str, Any]) -> None:
        saved = state.pop("_optimizer_state", None)
        super().__setstate__(state)
        if saved is not None:
            self._optimizer = self._new_optimizer()
            self._optimizer.load_state_dict(saved)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier with scikit-learn's parameters and behaviour.

    A drop-in for ``sklearn.neural_network.MLPClassifier`` with ``solver="adam"`` or
    ``"sgd"``, trained by the ferrograd :class:`~ferrograd.train.Trainer` (each step one
    captured Rust call). Softmax outputs and cross-entropy for several classes; one logistic
    output for two classes; one logistic output per label for multilabel targets (a 0/1
    indicator matrix).

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default (100,)
        Width of each hidden layer.
    activation : {"identity", "logistic", "tanh", "relu"}, default "relu"
    solver : {"adam", "sgd"}, default "adam"
        ``"lbfgs"`` is not supported (an error).
    alpha : float, default 1e-4
        L2 penalty as scikit-learn defines it: ``0.5 * alpha * ||W||^2 / n_b`` is added to
        the loss of each batch of ``n_b`` samples (weights only, not intercepts). It is
        applied, exactly, as coupled weight decay ``alpha / n_b`` (divided by the loss scale)
        on the weight matrices.
    batch_size : int or "auto", default "auto"
        ``"auto"`` is ``min(200, n_samples)``; larger values are clipped (with a warning).
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        Schedule of ``solver="sgd"``: ``learning_rate_init / (t + 1) ** power_t`` after each
        epoch (t: samples seen), or a division by 5 whenever the stopping rule fires.
    learning_rate_init : float, default 1e-3
    power_t : float, default 0.5
    max_iter : int, default 200
        Maximum number of epochs.
    shuffle : bool, default True
        Reshuffle the samples every epoch.
    random_state : int, RandomState or None, default None
        Seeds the initialisation, the shuffling and the validation split. ``None`` draws from
        ferrograd's generator (:func:`ferrograd.manual_seed`).
    tol : float, default 1e-4
    verbose : bool or int, default False
        Print the loss after each epoch.
    warm_start : bool, default False
        Continue from the fitted network on the next ``fit`` (with a new optimizer, as
        scikit-learn does).
    momentum : float, default 0.9
    nesterovs_momentum : bool, default True
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the training data (stratified by class), score
        it (accuracy) after each epoch, stop when the score has not improved by ``tol`` for
        more than ``n_iter_no_change`` epochs, and keep the best network.
    validation_fraction : float, default 0.1
    beta_1, beta_2, epsilon : float, default 0.9, 0.999, 1e-8
        Adam's parameters, as scikit-learn defines them (``epsilon`` added to the square root
        of the raw second moment).
    n_iter_no_change : int, default 10
        Without ``early_stopping``: training stops when the training loss has not improved
        by ``tol`` for more than ``n_iter_no_change`` epochs.

    Attributes
    ----------
    classes_ : ndarray
    n_features_in_, n_outputs_, n_layers_ : int
    out_activation_ : str
        ``"softmax"`` or ``"logistic"``.
    loss_ : float
        The last epoch's loss (the mean batch loss including the penalty).
    loss_curve_ : list of float
    best_loss_ : float or None
    n_iter_ : int
        Epochs run by the last ``fit`` (1 after ``partial_fit``).
    t_ : int
        Training samples seen.
    validation_scores_, best_validation_score_ : list, float or None
        With ``early_stopping``.
    coefs_, intercepts_ : list of ndarray
        Weights in scikit-learn's (in, out) layout, views of ``model_``'s parameters.
    model_ : ferrograd.nn.Sequential
        The network (``Linear`` layers and activations; no output activation).
    history_ : ferrograd.train.History
        One row per epoch: ``loss``, ``lr``, ``seconds`` (and ``validation_score``).
    compiled_ : bool
        Whether the last fit ran captured Rust steps.

    Notes
    -----
    With the same ``random_state`` and ``shuffle=False`` the initial weights, every step,
    ``loss_curve_``, the stopping epoch and the final weights are scikit-learn's, to
    rounding. Differences: the shuffling order is drawn differently (the same distribution);
    a multiclass early-stopping split is stratified (scikit-learn stratifies binary targets
    only); ``random_state=None`` draws from :func:`ferrograd.manual_seed`'s generator; not
    offered are ``solver="lbfgs"`` (and ``max_fun``), ``sample_weight``, sparse input and
    ``MLPRegressor(loss="poisson")``.

    Examples
    --------
    >>> from ferrograd.data import load_digits
    >>> from ferrograd.sklearn import MLPClassifier
    >>> X, y = load_digits()
    >>> clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=30, random_state=0)
    >>> clf = clf.fit(X[:1500] / 16, y[:1500])
    >>> clf.score(X[1500:] / 16, y[1500:]) > 0.85
    True
    >>> clf.predict_proba(X[:2] / 16).shape
    (2, 10)
    """

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    # ------------------------------------------------------------------ public API
    def fit(self, X: Any, y: Any) -> MLPClassifier:
        """Trains a new network (or continues one, with ``warm_start``) on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a 0/1 indicator matrix for multilabel classification.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> MLPClassifier:
        """One epoch over ``(X, y)`` (online learning); the optimizer state carries over.

        Parameters
        ----------
        X, y : as for :meth:`fit`
        classes : array-like, required on the first call
            Every class that can appear in ``y`` over all calls.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=True, classes=classes)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels (an indicator matrix for multilabel targets)."""
        out = self._raw_output(X)
        kind = self._label_binarizer.y_type_
        if kind == "multiclass":
            return self.classes_[np.argmax(out, axis=1)]
        if kind == "binary":
            return self.classes_[(out[:, 0] > 0).astype(np.intp)]
        return (out > 0).astype(np.int64)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes) (also for two classes); for
        multilabel targets, the probability of each label."""
        out = self._raw_output(X)
        kind = self._label_binarizer.y_type_
        if kind == "multiclass":
            return ops.softmax(out, axis=1)
        p = sigmoid(out)
        if kind == "binary":
            return np.hstack([1 - p, p])
        return p

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`."""
        out = self._raw_output(X)
        if self._label_binarizer.y_type_ == "multiclass":
            return ops.log_softmax(out, axis=1)
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    # ------------------------------------------------------------------ hooks
    def _prepare_targets(
        self, X: Any, y: Any, first_pass: bool, incremental: bool, classes: Any, owner: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        X, y = validate_data(
            self, X, y, multi_output=True, dtype=(np.float64, np.float32), reset=first_pass
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if incremental:
            self._partial_fit_classes(classes, y, owner)
        elif first_pass:
            self._set_classes(LabelBinarizer().fit(y), owner)
        else:
            seen = unique_labels(y)
            if set(seen) != set(self.classes_):
                raise ArgumentError(
                    f"{owner}: warm_start needs y with the same classes as the previous fit: "
                    f"got {list(seen)}, previously {list(self.classes_)}"
                )
        lb = self._label_binarizer
        if lb.y_type_ == "multiclass":
            unknown = np.setdiff1d(unique_labels(y), self.classes_)
            if len(unknown):
                raise ArgumentError(
                    f"{owner}: y has classes {list(unknown)} not in classes_ {list(self.classes_)}"
                )
            targets = np.searchsorted(self.classes_, y).astype(np.int64)
        else:
            try:
                targets = lb.transform(y).astype(X.dtype)
            except ValueError as e:
                raise ArgumentError(f"{owner}: y does not match classes_: {e}") from None
        if first_pass:
            self.n_outputs_ = targets.shape[1] if lb.y_type_ != "multiclass" else len(self.classes_)
        return X, targets, y

    def _set_classes(self, lb: LabelBinarizer, owner: str) -> None:
        if len(lb.classes_) < 2:
            raise ArgumentError(
                f"{owner}: y has only one class ({lb.classes_[0]!r}); a classifier needs "
                "samples of at least 2 classes"
            )
        self._label_binarizer = lb
        self.classes_ = lb.classes_
        kind = lb.y_type_
        self.out_activation_ = "softmax" if kind == "multiclass" else "logistic"
        n = len(lb.classes_)
        self._grad_scale = 1.0 if kind == "multiclass" else float(1 if kind == "binary" else n)
        self._report_scale = self._grad_scale

    def _partial_fit_classes(self, classes: Any, y: np.ndarray, owner: str) -> None:
        if classes is None:
            if not hasattr(self, "classes_"):
                raise ArgumentError(
                    f"{owner}: classes must be given on the first call to partial_fit (every "
                    "class the stream can contain)"
                )
            return
        if y.ndim == 2 and y.shape[1] > 1:
            lb = LabelBinarizer().fit(y)
        else:
            lb = LabelBinarizer().fit(np.asarray(classes))
        if hasattr(self, "classes_"):
            if not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
                raise ArgumentError(
                    f"{owner}: classes={list(np.unique(classes))} differs from classes_ "
                    f"{list(self.classes_)} of the earlier calls"
                )
            return
        self._set_classes(lb, owner)

    def _loss_fn(self) -> Any:
        if self._label_binarizer.y_type_ == "multiclass":
            return nn.CrossEntropyLoss()
        return nn.BCEWithLogitsLoss()

    def _stratify(self) -> bool:
        return not self._label_binarizer.y_type_.startswith("multilabel")

    def _validation_score(self, X: np.ndarray, y: np.ndarray) -> float:
        out = C.forward(self.model_, X)
        kind = self._label_binarizer.y_type_
        if kind == "multiclass":
            pred = self.classes_[np.argmax(out, axis=1)]
        elif kind == "binary":
            pred = self.classes_[(out[:, 0] > 0).astype(np.intp)]
        else:
            pred = (out > 0).astype(np.int64)
        return float(accuracy_score(y, pred))


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor with scikit-learn's parameters and behaviour.

    Identity output units, squared error (``0.5 * mean((y - pred) ** 2)``, one or several
    targets). Parameters and attributes are those of :class:`MLPClassifier` (without
    ``classes_``; ``early_stopping`` scores R^2 on a random split).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd.sklearn import MLPRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, (400, 2))
    >>> Y = np.column_stack([X[:, 0] * X[:, 1], np.sin(3 * X[:, 0])])
    >>> reg = MLPRegressor((32, 32), learning_rate_init=1e-2, max_iter=200, random_state=0)
    >>> reg.fit(X, Y).score(X, Y) > 0.9
    True
    """

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X: Any, y: Any) -> MLPRegressor:
        """Trains a new network (or continues one, with ``warm_start``) on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X: Any, y: Any) -> MLPRegressor:
        """One epoch over ``(X, y)`` (online learning); the optimizer state carries over."""
        return self._fit(X, y, incremental=True)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values, shape (n_samples,) for one target, else (n_samples, n_targets)."""
        out = self._raw_output(X)
        return out.ravel() if out.shape[1] == 1 else out

    def _prepare_targets(
        self, X: Any, y: Any, first_pass: bool, incremental: bool, classes: Any, owner: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        X, y = validate_data(
            self,
            X,
            y,
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=first_pass,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        targets = y.reshape(len(y), -1).astype(X.dtype if first_pass else self._dtype)
        if first_pass:
            self.n_outputs_ = targets.shape[1]
            self.out_activation_ = "identity"
            self._grad_scale = 0.5 * self.n_outputs_
            self._report_scale = 0.5
        elif targets.shape[1] != self.n_outputs_:
            raise ShapeError(
                f"{owner}: y has {targets.shape[1]} targets, but the fitted network has "
                f"{self.n_outputs_}"
            )
        return X, targets, y

    def _loss_fn(self) -> Any:
        return nn.MSELoss()

    def _validation_score(self, X: np.ndarray, y: np.ndarray) -> float:
        out = C.forward(self.model_, X)
        return float(r2_score(y, out.ravel() if out.shape[1] == 1 else out))
