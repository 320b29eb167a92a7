"""``NeuralNetClassifier`` and ``NeuralNetRegressor``: any ferrograd module as a scikit-learn
estimator, trained by the :class:`~ferrograd.train.Trainer`."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .. import nn, ops, optim
from ..data import DataLoader
from ..exceptions import ArgumentError, ShapeError
from ..functional import sigmoid
from ..tensor import get_default_dtype
from ..train import Callback, Trainer
from . import _common as C

_OPTIMIZERS = {
    "sgd": optim.SGD,
    "adam": optim.Adam,
    "adamw": optim.AdamW,
    "rmsprop": optim.RMSprop,
    "adagrad": optim.Adagrad,
}

_PARAMS_DOC = """
    Parameters
    ----------
    module : nn.Module class, factory callable, or nn.Module instance
        Called as ``module(**module_params)`` at fit. If it takes parameters named
        ``n_features_in`` and/or ``n_outputs`` (and ``module_params`` does not set them),
        they are filled from the data: ``X.shape[1]`` (the channels of image input) and the
        number of classes / targets, so one factory fits any data. An instance is
        deep-copied at each fit (a class or factory is the form that clones cleanly).
    loss : loss module or class, optional
        Default: ``nn.CrossEntropyLoss()`` (classifier; ``nn.BCEWithLogitsLoss()`` when the
        module has a single output for two classes) or ``nn.MSELoss()`` (regressor).
    optimizer : str or optimizer class, default "adam"
        ``"adam"``, ``"adamw"``, ``"sgd"``, ``"rmsprop"``, ``"adagrad"`` or a class such as
        ``ferrograd.optim.SGD``, called as ``optimizer(params, lr=lr, **optimizer_params)``.
    lr : float, default 1e-3
    max_epochs : int, default 10
    batch_size : int, default 32
    module_params, optimizer_params : dict, optional
    validation_fraction : float, optional
        Holds out this fraction of the training data (stratified by class for the
        classifier); ``history_`` then has ``val_loss`` (and ``val_accuracy``) per epoch,
        which callbacks such as ``EarlyStopping`` can monitor.
    callbacks : callable returning a list of ferrograd Callbacks, optional
        E.g. ``lambda: [EarlyStopping(patience=3)]``: called at each fit, so clones and
        refits never share callback state (a list is deep-copied at each fit instead).
    random_state : int, RandomState or None
        Seeds initialisation, dropout, shuffling and the validation split; the global
        generator is left as it was. None draws from ferrograd's generator.
    warm_start : bool, default False
        Continue training the fitted module and optimizer for ``max_epochs`` more.
    verbose : int, default 0
        The Trainer's verbosity (0 silent, 1 progress bars, 2 a line per epoch).
    compile : {"auto", True, False}, default "auto"
        Whether steps run as one captured Rust call (see :class:`ferrograd.train.Trainer`).

    Attributes
    ----------
    model_ : nn.Module
        The trained module.
    optimizer_ : ferrograd optimizer
    history_ : ferrograd.train.History
        Per epoch: loss, metrics, validation results, lr, seconds.
    n_features_in_ : int
    n_outputs_ : int
    n_iter_ : int
        Epochs run by the last fit.
    compiled_ : bool
        Whether the last fit ran captured Rust steps.
"""


class _BaseNeuralNet(BaseEstimator):
    """The parameters and the fit loop both wrappers share."""

    _is_classifier = False

    def __init__(
        self,
        module: Any,
        loss: Any = None,
        optimizer: Any = "adam",
        lr: float = 1e-3,
        max_epochs: int = 10,
        batch_size: int = 32,
        module_params: Any = None,
        optimizer_params: Any = None,
        validation_fraction: Any = None,
        callbacks: Any = None,
        random_state: Any = None,
        warm_start: bool = False,
        verbose: int = 0,
        compile: Any = "auto",
    ) -> None:
        self.module = module
        self.loss = loss
        self.optimizer = optimizer
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.module_params = module_params
        self.optimizer_params = optimizer_params
        self.validation_fraction = validation_fraction
        self.callbacks = callbacks
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.compile = compile

    # ================================================================== parameters
    def _check_params(self, owner: str) -> None:
        m = self.module
        if not (isinstance(m, nn.Module) or callable(m)):
            raise ArgumentError(
                f"{owner}: module must be an nn.Module class, a factory returning one, or an "
                f"nn.Module, got {m!r}"
            )
        for name in ("module_params", "optimizer_params"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Mapping):
                raise ArgumentError(f"{owner}: {name} must be a dict or None, got {value!r}")
        if self.module_params and isinstance(m, nn.Module):
            raise ArgumentError(
                f"{owner}: module_params needs module to be a class or factory; got an "
                f"instance of {type(m).__name__}"
            )
        if isinstance(self.optimizer, str):
            C.check_choice(owner, "optimizer", self.optimizer.lower(), list(_OPTIMIZERS))
        elif not callable(self.optimizer):
            raise ArgumentError(
                f"{owner}: optimizer must be a name ({', '.join(_OPTIMIZERS)}) or an optimizer "
                f"class, got {self.optimizer!r}"
            )
        if self.loss is not None and not callable(self.loss):
            raise ArgumentError(f"{owner}: loss must be a loss module or class, got {self.loss!r}")
        C.check_real(owner, "lr", self.lr, 0.0)
        C.check_int(owner, "max_epochs", self.max_epochs, 1)
        C.check_int(owner, "batch_size", self.batch_size, 1)
        if self.validation_fraction is not None:
            C.check_real(
                owner,
                "validation_fraction",
                self.validation_fraction,
                0.0,
                1.0,
                low_open=True,
                high_open=True,
            )
        cbs = self.callbacks
        if cbs is not None and not callable(cbs) and not isinstance(cbs, (list, tuple)):
            raise ArgumentError(
                f"{owner}: callbacks must be a callable returning a list of Callbacks (e.g. "
                f"lambda: [EarlyStopping(patience=3)]), got {cbs!r}"
            )
        C.check_bool(owner, "warm_start", self.warm_start)
        C.check_verbose(owner, self.verbose)
        self._compile_mode(owner)

    def _compile_mode(self, owner: str) -> Any:
        """``compile`` as the Trainer takes it: "auto", True or False."""
        if isinstance(self.compile, str) and self.compile == "auto":
            return "auto"
        if isinstance(self.compile, (bool, np.bool_)):
            return bool(self.compile)
        raise ArgumentError(f"{owner}: compile must be 'auto', True or False, got {self.compile!r}")

    # ================================================================== building
    def _build_module(self, owner: str, n_features_in: int, n_outputs: int, dtype: Any) -> Any:
        module = self.module
        if isinstance(module, nn.Module):
            model = copy.deepcopy(module)
        else:
            kwargs = dict(self.module_params or {})
            names: Mapping[str, Any]
            try:
                names = inspect.signature(module).parameters
            except (TypeError, ValueError):
                names = {}
            for name, value in (("n_features_in", n_features_in), ("n_outputs", n_outputs)):
                if name in names and name not in kwargs:
                    kwargs[name] = value
            model = module(**kwargs)
            if not isinstance(model, nn.Module):
                raise ArgumentError(
                    f"{owner}: module(**module_params) must return an nn.Module, got "
                    f"{type(model).__name__}"
                )
        return model.to(dtype)

    def _make_optimizer(self) -> Any:
        kind = self.optimizer
        factory = _OPTIMIZERS[kind.lower()] if isinstance(kind, str) else kind
        opt = factory(self.model_.parameters(), lr=float(self.lr), **(self.optimizer_params or {}))
        if not isinstance(opt, optim.Optimizer):
            raise ArgumentError(
                f"{type(self).__name__}.fit: optimizer must build a ferrograd optimizer, got "
                f"{type(opt).__name__}"
            )
        return opt

    def _make_loss(self, default: Any) -> Any:
        if self.loss is None:
            return default
        return self.loss() if isinstance(self.loss, type) else copy.deepcopy(self.loss)

    def _make_callbacks(self, owner: str) -> list[Any]:
        cbs = self.callbacks
        if cbs is None:
            return []
        made = list(cbs()) if callable(cbs) else copy.deepcopy(list(cbs))
        for cb in made:
            if not isinstance(cb, Callback):
                raise ArgumentError(
                    f"{owner}: callbacks must give ferrograd.train.Callback objects, got {cb!r}"
                )
        return made

    # ================================================================== subclass hooks
    def _prepare_targets(
        self, X: Any, y: Any, first_pass: bool, owner: str
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Validated ``X``, ``y`` (labels or values) and the module's number of outputs."""
        raise NotImplementedError

    def _encode(self, y: np.ndarray, owner: str) -> np.ndarray:
        """The targets the module trains on, in the form its output calls for."""
        raise NotImplementedError

    def _read_output(self, out: np.ndarray, owner: str) -> None:
        """Learns from a first output how targets and predictions are laid out."""

    def _default_loss(self) -> Any:
        raise NotImplementedError

    # ================================================================== fitting
    def fit(self, X: Any, y: Any) -> Any:
        """Builds the module (unless ``warm_start`` and fitted) and trains it on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...) for modules
            taking images or sequences
        y : array-like of shape (n_samples,) (labels or values) or (n_samples, n_targets)

        Returns
        -------
        self
        """
        owner = f"{type(self).__name__}.fit"
        self._check_params(owner)
        first_pass = not self.warm_start or "model_" not in self.__dict__
        X, y, n_outputs = self._prepare_targets(X, y, first_pass, owner)
        rs = C.random_state(owner, self.random_state)
        with C.seeded(rs):
            if first_pass:
                dtype = X.dtype
                model = self._build_module(owner, X.shape[1], n_outputs, dtype)
                self.model_ = model
                self._dtype = np.dtype(dtype)
                self.n_outputs_ = n_outputs
                self._read_output(C.forward(model, X[:2].astype(dtype)), owner)
                self.optimizer_ = self._make_optimizer()
            X = X.astype(self._dtype, copy=False)
            targets = self._encode(y, owner)
            val = None
            if self.validation_fraction is not None:
                train_idx, val_idx = C.split_indices(
                    owner,
                    len(X),
                    float(self.validation_fraction),
                    rs,
                    y if self._is_classifier else None,
                )
                val = (X[val_idx], targets[val_idx])
                X, targets = X[train_idx], targets[train_idx]
            loader = DataLoader(
                (X, targets), batch_size=int(self.batch_size), shuffle=True, seed=C.draw_seed(rs)
            )
            trainer = Trainer(
                self.model_,
                self._make_loss(self._default_loss()),
                self.optimizer_,
                compile=self._compile_mode(owner),
            )
            history = trainer.fit(
                loader,
                val,
                epochs=int(self.max_epochs),
                callbacks=self._make_callbacks(owner),
                verbose=min(int(self.verbose), 2),
            )
            self.model_.zero_grad()
        self.history_ = history
        self.n_iter_ = len(history)
        self.compiled_ = trainer.compiled
        return self

    def _raw_output(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, allow_nd=True, dtype=(np.float32, np.float64), reset=False)
        return C.forward(self.model_, X.astype(self._dtype, copy=False))

    def _validate_X_y(self, X: Any, y: Any, first_pass: bool, regression: bool) -> Any:
        first = np.dtype(get_default_dtype())
        other = np.dtype(np.float64 if first == np.float32 else np.float32)
        return validate_data(
            self,
            X,
            y,
            allow_nd=True,
            dtype=(first, other),
            multi_output=regression,
            y_numeric=regression,
            reset=first_pass,
        )

    # ================================================================== pickling
    def __getstate__(self) -> dict[str, Any]:
        return C.optimizer_state_for_pickle(dict(super().__getstate__()), "optimizer_")

    def __setstate__(self, state: dict[str, Any]) -> None:
        saved = state.pop("optimizer__state", None)
        super().__setstate__(state)
        if saved is not None:
            self.optimizer_ = self._make_optimizer()
            self.optimizer_.load_state_dict(saved)


class NeuralNetClassifier(ClassifierMixin, _BaseNeuralNet):
    __doc__ = (
        """Any ferrograd module as a scikit-learn classifier.

    Labels of any kind are encoded as ``0..n_classes-1`` (``classes_``); the module maps
    ``X`` to one score per class (logits, trained with cross-entropy), or, for two classes,
    to a single logit. ``predict`` takes the best score, ``predict_proba`` their softmax
    (the sigmoid of a single logit).
    """
        + _PARAMS_DOC
        + """
    classes_ : ndarray
        The class labels.

    Examples
    --------
    >>> from ferrograd import nn
    >>> from ferrograd.data import load_digits
    >>> from ferrograd.sklearn import NeuralNetClassifier
    >>> def mlp(n_features_in, n_outputs, hidden=32):
    ...     return nn.Sequential(nn.Linear(n_features_in, hidden), nn.ReLU(),
    ...                          nn.Linear(hidden, n_outputs))
    >>> X, y = load_digits()
    >>> clf = NeuralNetClassifier(mlp, lr=1e-2, max_epochs=10, random_state=0)
    >>> clf.fit(X[:1500] / 16, y[:1500]).score(X[1500:] / 16, y[1500:]) > 0.9
    True
    """
    )

    _is_classifier = True

    def predict(self, X: Any) -> np.ndarray:
        """The most likely class of each sample."""
        out = self._raw_output(X)
        if self._single_logit:
            return self.classes_[(out.reshape(len(out)) > 0).astype(np.intp)]
        return self.classes_[np.argmax(out, axis=1)]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes)."""
        out = self._raw_output(X)
        if self._single_logit:
            p = sigmoid(out.reshape(len(out), 1))
            return np.hstack([1 - p, p])
        return ops.softmax(out, axis=1)

    def _prepare_targets(
        self, X: Any, y: Any, first_pass: bool, owner: str
    ) -> tuple[np.ndarray, np.ndarray, int]:
        X, y = self._validate_X_y(X, y, first_pass, regression=False)
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass"):
            raise ArgumentError(f"{owner}: y must hold class labels (one per sample), got {kind}")
        if first_pass:
            encoder = LabelEncoder().fit(y)
            if len(encoder.classes_) < 2:
                raise ArgumentError(
                    f"{owner}: y has only one class ({encoder.classes_[0]!r}); a classifier "
                    "needs samples of at least 2 classes"
                )
            self._encoder = encoder
            self.classes_ = encoder.classes_
        else:
            unknown = np.setdiff1d(np.unique(y), self.classes_)
            if len(unknown):
                raise ArgumentError(
                    f"{owner}: warm_start: y has classes {list(unknown)} that the first fit "
                    f"did not see ({list(self.classes_)})"
                )
        return X, y, len(self.classes_)

    def _read_output(self, out: np.ndarray, owner: str) -> None:
        n = len(self.classes_)
        if out.ndim == 2 and out.shape[1] == n:
            self._single_logit = False
        elif n == 2 and (out.ndim == 1 or (out.ndim == 2 and out.shape[1] == 1)):
            self._single_logit = True
        else:
            raise ShapeError(
                f"{owner}: the module's output has shape {out.shape[1:]} per batch of "
                f"{out.shape[0]}; a classifier of {n} classes needs ({n},) scores per sample"
                + (" or one logit" if n == 2 else "")
            )
        self._output_ndim = out.ndim

    def _encode(self, y: np.ndarray, owner: str) -> np.ndarray:
        codes = self._encoder.transform(y).astype(np.int64)
        if not self._single_logit:
            return codes
        values = codes.astype(self._dtype)
        return values if self._output_ndim == 1 else values.reshape(-1, 1)

    def _default_loss(self) -> Any:
        return nn.BCEWithLogitsLoss() if self._single_logit else nn.CrossEntropyLoss()


class NeuralNetRegressor(RegressorMixin, _BaseNeuralNet):
    __doc__ = (
        """Any ferrograd module as a scikit-learn regressor.

    The module maps ``X`` to ``(n_samples, n_targets)`` values (or ``(n_samples,)`` for one
    target); ``predict`` has the shape of the ``y`` given to fit.
    """
        + _PARAMS_DOC
        + """
    Examples
    --------
    >>> import numpy as np
    >>> from ferrograd import nn
    >>> from ferrograd.sklearn import NeuralNetRegressor
    >>> def mlp(n_features_in, n_outputs):
    ...     return nn.Sequential(nn.Linear(n_features_in, 32), nn.Tanh(),
    ...                          nn.Linear(32, n_outputs))
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, (500, 3))
    >>> y = np.sin(X.sum(axis=1))
    >>> reg = NeuralNetRegressor(mlp, lr=1e-2, max_epochs=40, random_state=0)
    >>> reg.fit(X, y).score(X, y) > 0.95
    True
    """
    )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values, shaped as the ``y`` given to fit."""
        out = self._raw_output(X)
        if self._y_1d and out.ndim == 2:
            return out.reshape(len(out))
        return out

    def _prepare_targets(
        self, X: Any, y: Any, first_pass: bool, owner: str
    ) -> tuple[np.ndarray, np.ndarray, int]:
        X, y = self._validate_X_y(X, y, first_pass, regression=True)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        n_outputs = 1 if y.ndim == 1 else y.shape[1]
        if first_pass:
            self._y_1d = y.ndim == 1
        elif n_outputs != self.n_outputs_:
            raise ShapeError(
                f"{owner}: warm_start: y has {n_outputs} targets, the fitted module "
                f"{self.n_outputs_}"
            )
        return X, y, n_outputs

    def _read_output(self, out: np.ndarray, owner: str) -> None:
        if out.ndim == 1 and self._y_1d:
            self._output_ndim = 1
            return
        if out.ndim == 2 and out.shape[1] == self.n_outputs_:
            self._output_ndim = 2
            return
        raise ShapeError(
            f"{owner}: the module's output has shape {out.shape[1:]} per sample, but y has "
            f"{self.n_outputs_} target(s): the module must return ({self.n_outputs_},) values "
            "per sample" + (" (or one value)" if self._y_1d else "")
        )

    def _encode(self, y: np.ndarray, owner: str) -> np.ndarray:
        values = y.astype(self._dtype)
        if self._output_ndim == 2 and values.ndim == 1:
            values = values.reshape(-1, 1)
        return values

    def _default_loss(self) -> Any:
        return nn.MSELoss()
