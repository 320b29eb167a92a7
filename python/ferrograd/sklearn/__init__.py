"""scikit-learn estimators trained by ferrograd: use ferrograd models in Pipeline,
cross_val_score, GridSearchCV and everything else that takes an estimator.

* :class:`MLPClassifier`, :class:`MLPRegressor`: scikit-learn's multi-layer perceptrons
  (same parameter names, defaults, fitted attributes and training rules, ``solver="adam"``
  or ``"sgd"``), trained by :class:`ferrograd.train.Trainer`.
* :class:`NeuralNetClassifier`, :class:`NeuralNetRegressor`: any ferrograd module (MLP,
  CNN, RNN, custom loss) as an estimator.

scikit-learn is an optional extra (``pip install 'ferrograd[sklearn]'``); ``import
ferrograd`` does not import this module.

All four estimators pass ``sklearn.utils.estimator_checks.check_estimator``. They compute in
float64 for float64 input and in float32 for float32 input; fitted estimators pickle (the
optimizer is stored as its state dict and rebuilt).

Examples
--------
>>> from sklearn.model_selection import cross_val_score
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from ferrograd.data import load_digits
>>> from ferrograd.sklearn import MLPClassifier
>>> X, y = load_digits()
>>> pipe = make_pipeline(StandardScaler(), MLPClassifier((64,), max_iter=20, random_state=0))
>>> scores = cross_val_score(pipe, X, y, cv=3)
>>> bool(scores.mean() > 0.85)
True
"""

from __future__ import annotations

from ..exceptions import FerrogradError


class MissingDependencyError(FerrogradError, ImportError):
    """An optional dependency of the module being imported is not installed."""


try:
    import sklearn as _sklearn
except ImportError as _error:
    raise MissingDependencyError(
        "ferrograd.sklearn needs scikit-learn, an optional extra: "
        "pip install 'ferrograd[sklearn]' (or pip install 'scikit-learn>=1.6')"
    ) from _error

if tuple(int(part) for part in _sklearn.__version__.split(".")[:2] if part.isdigit()) < (1, 6):
    raise MissingDependencyError(
        f"ferrograd.sklearn needs scikit-learn>=1.6, found {_sklearn.__version__}: "
        "pip install -U 'ferrograd[sklearn]'"
    )

from ._mlp import MLPClassifier, MLPRegressor  # noqa: E402
from ._neural_net import NeuralNetClassifier, NeuralNetRegressor  # noqa: E402

__all__ = [
    "MLPClassifier",
    "MLPRegressor",
    "MissingDependencyError",
    "NeuralNetClassifier",
    "NeuralNetRegressor",
]
