"""ferrograd.sklearn: scikit-learn's estimator checks, parity with scikit-learn's MLP, the
NumPy reference of its training formulas, model selection, online learning, any module as
an estimator, errors, pickling, dtypes and seeding."""

from __future__ import annotations

import doctest
import pickle
import subprocess
import sys
import warnings

import ferrograd as fg
import numpy as np
import pytest
from ferrograd import nn, optim
from ferrograd.data import load_digits, train_test_split
from ferrograd.train import EarlyStopping, History
from reference import sklearn_mlp_train

pytest.importorskip("sklearn")

import ferrograd.sklearn as fsk
from ferrograd.sklearn import (
    MLPClassifier,
    MLPRegressor,
    NeuralNetClassifier,
    NeuralNetRegressor,
)
from sklearn import neural_network as sk_nn
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def mlp(n_features_in: int, n_outputs: int, hidden: int = 32) -> nn.Module:
    """A factory adapting to any data (its sizes are filled in at fit)."""
    return nn.Sequential(nn.Linear(n_features_in, hidden), nn.ReLU(), nn.Linear(hidden, n_outputs))


def small_cnn(n_features_in: int, n_outputs: int, channels: int = 8) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(n_features_in, channels, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(channels * 16, n_outputs),
    )


class RowGRU(nn.Module):
    """A custom module: an 8x8 digit read row by row by a GRU, classified from its last state."""

    def __init__(self, n_outputs: int, hidden: int = 32) -> None:
        super().__init__()
        self.gru = nn.GRU(8, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_outputs)

    def forward(self, x: fg.Tensor) -> fg.Tensor:
        _, h = self.gru(x)
        return self.head(h[-1])


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, ...]:
    X, y = load_digits()
    return tuple(train_test_split(X, y, test_size=0.25, seed=0, stratify=y))


def _scaled_digits(n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits()
    X = X.astype(np.float64)[:n]
    return (X - X.mean(0)) / (X.std(0) + 1e-8), y[:n]


# ============================================================== scikit-learn's own checks


@parametrize_with_checks(
    [
        MLPClassifier(hidden_layer_sizes=(32,), random_state=0),
        MLPRegressor(hidden_layer_sizes=(32,), random_state=0),
        NeuralNetClassifier(mlp, lr=1e-2, max_epochs=20, random_state=0),
        NeuralNetRegressor(mlp, lr=1e-2, max_epochs=20, random_state=0),
    ]
)
def test_check_estimator(estimator, check):
    check(estimator)


# ============================================================== parity with scikit-learn

_PARITY_SETTINGS = [
    {},
    {"solver": "sgd", "learning_rate_init": 0.01},
    {"solver": "sgd", "learning_rate": "invscaling", "learning_rate_init": 0.1},
    {
        "solver": "sgd",
        "nesterovs_momentum": False,
        "learning_rate": "adaptive",
        "alpha": 0.01,
        "batch_size": 64,
        "tol": 1e-2,
        "n_iter_no_change": 2,
    },
    {"activation": "tanh", "alpha": 1.0, "batch_size": 77},
    {"activation": "logistic", "alpha": 0.0, "tol": 1e-3, "n_iter_no_change": 3},
    {"activation": "identity", "early_stopping": True, "n_iter_no_change": 3},
]


def _targets(kind: str, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    if kind == "binary":
        return (y > 4).astype(np.int64)
    if kind == "multilabel":
        return np.column_stack([y > 4, y % 2 == 0]).astype(np.int64)
    if kind == "multioutput":
        return np.column_stack([X[:, :3].sum(axis=1), np.sin(X[:, 20])])
    if kind == "regression":
        return X[:, 10] - X[:, 30] ** 2
    return y


@pytest.mark.parametrize("settings", _PARITY_SETTINGS)
@pytest.mark.parametrize(
    "kind", ["multiclass", "binary", "multilabel", "regression", "multioutput"]
)
def test_matches_scikit_learn_step_for_step(settings, kind):
    """Same random_state, no shuffling: the same initial weights, steps, losses, stopping
    epoch and final weights as scikit-learn's MLP, to float64 rounding."""
    if kind == "multiclass" and settings.get("early_stopping"):
        pytest.skip("the multiclass validation split is stratified here, not in scikit-learn")
    X, y = _scaled_digits()
    target = _targets(kind, X, y)
    params = dict(hidden_layer_sizes=(16, 8), max_iter=25, shuffle=False, random_state=3)
    params.update(settings)
    ours_cls, theirs_cls = (
        (MLPRegressor, sk_nn.MLPRegressor)
        if kind in ("regression", "multioutput")
        else (MLPClassifier, sk_nn.MLPClassifier)
    )
    ours = ours_cls(**params).fit(X, target)
    with threadpool_limits(1):
        theirs = theirs_cls(**params).fit(X, target)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9, atol=1e-12)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    if settings.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
        assert ours.best_loss_ is None and theirs.best_loss_ is None
    else:
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-9, atol=1e-12)
    assert ours.history_["loss"] == pytest.approx(ours.loss_curve_, rel=1e-12)


def test_digits_pipeline_reaches_scikit_learns_accuracy(digits):
    X_train, X_test, y_train, y_test = digits
    settings = dict(hidden_layer_sizes=(100,), max_iter=40, random_state=0)
    ours = make_pipeline(StandardScaler(), MLPClassifier(**settings)).fit(X_train, y_train)
    with threadpool_limits(1):
        theirs = make_pipeline(StandardScaler(), sk_nn.MLPClassifier(**settings))
        theirs.fit(X_train, y_train)
    ours_acc, theirs_acc = ours.score(X_test, y_test), theirs.score(X_test, y_test)
    assert ours_acc >= 0.95
    assert abs(ours_acc - theirs_acc) <= 0.02


# ============================================================== the NumPy reference


def _fitted_with_weights(est, X, y, coefs, intercepts):
    """``est`` fitted once, then given the weights ``coefs``/``intercepts`` (through the
    writable ``coefs_`` views) so the next warm-started fit starts from them."""
    est.set_params(warm_start=True, max_iter=1)
    est.fit(X, y)
    for view, value in zip(est.coefs_ + est.intercepts_, coefs + intercepts):
        view[...] = value
    return est


@pytest.mark.parametrize(
    ("output", "solver", "alpha", "batch_size", "epochs"),
    [
        ("softmax", "sgd", 0.5, 60, 1),  # one SGD step: the alpha mapping
        ("softmax", "sgd", 0.5, 25, 2),  # a short last batch: alpha / n_b changes
        ("softmax", "adam", 0.1, 25, 3),
        ("logistic", "sgd", 1e-3, 16, 2),
        ("identity", "adam", 2.0, 60, 2),
        ("identity", "sgd", 0.3, 7, 1),
    ],
)
def test_training_follows_the_numpy_reference(output, solver, alpha, batch_size, epochs):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5))
    coefs = [rng.standard_normal((5, 4)) * 0.5, rng.standard_normal((4, 3)) * 0.5]
    intercepts = [rng.standard_normal(4) * 0.1, rng.standard_normal(3) * 0.1]
    labels = rng.integers(0, 3, 60)
    if output == "softmax":
        y, y_ref, est = labels, np.eye(3)[labels], MLPClassifier((4,))
    elif output == "logistic":
        y = np.column_stack([labels == 0, labels == 1, labels == 2]).astype(np.int64)
        y[:5] = 1  # multilabel: some rows have several labels
        y_ref, est = y, MLPClassifier((4,))
    else:
        y = rng.standard_normal((60, 3))
        y_ref, est = y, MLPRegressor((4,))
    _fitted_with_weights(est, X, y, coefs, intercepts)
    est.set_params(
        solver=solver,
        alpha=alpha,
        batch_size=batch_size,
        max_iter=epochs,
        shuffle=False,
        learning_rate_init=0.05,
        momentum=0.8,
        tol=0.0,
    )
    est.fit(X, y)
    curve, ref_coefs, ref_intercepts = sklearn_mlp_train(
        X,
        y_ref,
        coefs,
        intercepts,
        output=output,
        solver=solver,
        alpha=alpha,
        lr=0.05,
        batch_size=batch_size,
        epochs=epochs,
        momentum=0.8,
    )
    np.testing.assert_allclose(est.loss_curve_[-epochs:], curve, rtol=1e-10)
    for a, b in zip(est.coefs_ + est.intercepts_, ref_coefs + ref_intercepts):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_alpha_shrinks_weights_but_not_intercepts():
    """One full-batch SGD step without momentum from scikit-learn's initial weights: alpha
    changes the weights by exactly -lr * alpha * W / n and leaves the intercepts alone."""
    X, y = _scaled_digits(50)
    runs = [
        MLPClassifier(
            (6,),
            solver="sgd",
            momentum=0.0,
            batch_size=50,
            learning_rate_init=0.1,
            alpha=alpha,
            max_iter=1,
            shuffle=False,
            random_state=1,
        ).fit(X, y)
        for alpha in (0.0, 3.0)
    ]
    init = _initial_weights(X.shape[1], 6, 10, seed=1)
    for w0, a, b in zip(init, runs[0].coefs_, runs[1].coefs_):
        np.testing.assert_allclose(b - a, -0.1 * 3.0 * w0 / 50, rtol=1e-9, atol=1e-14)
    for a, b in zip(runs[0].intercepts_, runs[1].intercepts_):
        np.testing.assert_array_equal(a, b)


def _initial_weights(n_in: int, hidden: int, n_out: int, seed: int) -> list[np.ndarray]:
    """scikit-learn's documented Glorot-uniform draws for random_state=seed."""
    rs = np.random.RandomState(seed)
    out = []
    for fan_in, fan_out in ((n_in, hidden), (hidden, n_out)):
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        out.append(rs.uniform(-bound, bound, (fan_in, fan_out)))
        rs.uniform(-bound, bound, fan_out)
    return out


# ============================================================== model selection, online


def test_cross_val_score_and_grid_search(digits):
    X_train, _, y_train, _ = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier((32,), max_iter=30, random_state=0))
    scores = cross_val_score(pipe, X_train, y_train, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.85
    grid = GridSearchCV(
        pipe,
        {"mlpclassifier__alpha": [1e-4, 1.0], "mlpclassifier__hidden_layer_sizes": [(8,), (32,)]},
        cv=3,
    ).fit(X_train, y_train)
    results = grid.cv_results_["mean_test_score"]
    assert len(results) == 4
    assert grid.best_params_["mlpclassifier__hidden_layer_sizes"] == (32,)
    assert grid.best_score_ == pytest.approx(results.max())
    net = GridSearchCV(
        NeuralNetClassifier(mlp, max_epochs=5, random_state=0), {"lr": [1e-5, 1e-2]}, cv=2
    ).fit(X_train / 16, y_train)
    assert net.best_params_ == {"lr": 1e-2}


def test_partial_fit_over_a_stream_reaches_fit_accuracy(digits):
    X_train, X_test, y_train, y_test = digits
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    settings = dict(hidden_layer_sizes=(64,), random_state=0, batch_size=50)
    fitted = MLPClassifier(max_iter=20, **settings).fit(X_train, y_train)
    online = MLPClassifier(**settings)
    classes = np.arange(10)
    for _ in range(20):
        for start in range(0, len(X_train), 150):  # a stream of chunks, 3 batches each
            chunk = slice(start, start + 150)
            online.partial_fit(X_train[chunk], y_train[chunk], classes=classes)
    assert online.n_iter_ == 1 and online.t_ == 20 * len(X_train)
    assert fitted.score(X_test, y_test) > 0.95
    assert abs(online.score(X_test, y_test) - fitted.score(X_test, y_test)) <= 0.02


def test_partial_fit_classes_rules():
    X, y = _scaled_digits(100)
    est = MLPClassifier((8,))
    with pytest.raises(ValueError, match="classes must be given on the first call"):
        est.partial_fit(X, y)
    est.partial_fit(X[y < 5], y[y < 5], classes=np.arange(10))  # classes not in this batch
    assert est.classes_.tolist() == list(range(10))
    assert est.predict_proba(X).shape == (100, 10)
    with pytest.raises(ValueError, match="differs from classes_"):
        est.partial_fit(X, y, classes=np.arange(11))
    with pytest.raises(ValueError, match="not in classes_"):
        est.partial_fit(X, y + 20)
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=np.arange(10))


def test_partial_fit_equals_one_epoch_of_fit():
    X, y = _scaled_digits(150)
    a = MLPRegressor((8,), random_state=0, shuffle=False, batch_size=40).partial_fit(X, y * 0.1)
    b = MLPRegressor((8,), random_state=0, shuffle=False, batch_size=40, max_iter=1)
    b.fit(X, y * 0.1)
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(p, q)


# ============================================================== attributes and behaviour


def test_fitted_attributes_and_shapes():
    X, y = _scaled_digits(200)
    clf = MLPClassifier((16, 8), max_iter=5, random_state=0).fit(X, y)
    assert clf.n_features_in_ == 64 and clf.n_outputs_ == 10 and clf.n_layers_ == 4
    assert [c.shape for c in clf.coefs_] == [(64, 16), (16, 8), (8, 10)]
    assert [b.shape for b in clf.intercepts_] == [(16,), (8,), (10,)]
    assert clf.out_activation_ == "softmax"
    assert isinstance(clf.model_, nn.Sequential) and isinstance(clf.history_, History)
    assert len(clf.loss_curve_) == clf.n_iter_ == 5 == len(clf.history_)
    assert clf.loss_ == clf.loss_curve_[-1] and clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.t_ == 5 * 200
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-10)
    # coefs_ are views of the model's weights, in scikit-learn's (in, out) layout
    np.testing.assert_array_equal(clf.coefs_[0], clf.model_[0].weight.data.T)
    assert not hasattr(MLPClassifier(), "coefs_")

    binary = MLPClassifier((4,), max_iter=3, random_state=0).fit(X, np.where(y > 4, "hi", "lo"))
    assert binary.predict_proba(X).shape == (200, 2) and binary.n_outputs_ == 1
    assert binary.coefs_[-1].shape == (4, 1) and binary.out_activation_ == "logistic"
    assert set(binary.predict(X)) <= {"hi", "lo"}


def test_multioutput_regression():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (500, 3))
    Y = np.column_stack([X[:, 0] * X[:, 1], np.sin(3 * X[:, 2]), X.sum(axis=1)])
    reg = MLPRegressor((64,), learning_rate_init=1e-2, max_iter=150, random_state=0).fit(X, Y)
    assert reg.n_outputs_ == 3 and reg.predict(X).shape == (500, 3)
    assert reg.score(X, Y) > 0.95
    with pytest.warns(DataConversionWarning):  # a column y is raveled, as in scikit-learn
        single = MLPRegressor((8,), max_iter=3, random_state=0).fit(X, Y[:, :1])
    assert single.predict(X).shape == (500,)
    with pytest.raises(ValueError, match="targets"):
        single.set_params(warm_start=True).fit(X, Y)


def test_early_stopping_keeps_the_best_network():
    X, y = _scaled_digits(400)
    settings = dict(
        hidden_layer_sizes=(32,),
        early_stopping=True,
        validation_fraction=0.25,
        n_iter_no_change=2,
        learning_rate_init=0.05,
        random_state=0,
    )
    clf = MLPClassifier(max_iter=100, **settings).fit(X, y)
    scores = clf.validation_scores_
    best = int(np.argmax(scores))
    assert clf.n_iter_ == len(scores) < 100 and best < clf.n_iter_ - 1
    assert clf.best_validation_score_ == max(scores) and clf.best_loss_ is None
    assert clf.history_["validation_score"] == scores
    # the same run cut after the best epoch ends with the network that was kept
    cut = MLPClassifier(max_iter=best + 1, **settings).fit(X, y)
    assert cut.validation_scores_ == scores[: best + 1]
    for a, b in zip(clf.coefs_ + clf.intercepts_, cut.coefs_ + cut.intercepts_):
        np.testing.assert_array_equal(a, b)


def test_stopping_rule_and_convergence_warning():
    X, y = _scaled_digits(200)
    clf = MLPClassifier((16,), tol=10.0, n_iter_no_change=3, max_iter=50, random_state=0)
    clf.fit(X, y)  # improving by tol=10 is out of reach: stops after the count exceeds 3
    assert clf.n_iter_ == 5  # the first epoch sets best_loss_, the next 4 do not improve
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPClassifier((16,), max_iter=2, random_state=0).fit(X, y)


def test_verbose_prints_scikit_learns_lines(capsys):
    X, y = _scaled_digits(100)
    MLPClassifier((8,), max_iter=2, verbose=True, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == ["Iteration 1", "Iteration 2"]
    MLPClassifier((8,), tol=10.0, n_iter_no_change=1, verbose=1, random_state=0).fit(X, y)
    assert "did not improve more than tol=10.000000 for 1 consecutive epochs. Stopping." in (
        capsys.readouterr().out
    )


def test_warm_start_continues_and_refit_restarts():
    X, y = _scaled_digits(200)
    clf = MLPClassifier((16,), max_iter=3, random_state=0, warm_start=True).fit(X, y)
    first = [c.copy() for c in clf.coefs_]
    clf.fit(X, y)
    assert len(clf.loss_curve_) == 6 and clf.n_iter_ == 3
    assert not np.array_equal(first[0], clf.coefs_[0])
    clf.set_params(warm_start=False).fit(X, y)
    assert len(clf.loss_curve_) == 3
    np.testing.assert_array_equal(clf.coefs_[0], _fitted_coef(X, y))
    with pytest.raises(ValueError, match="same classes"):
        clf.set_params(warm_start=True).fit(X[y < 5], y[y < 5])


def _fitted_coef(X, y):
    return MLPClassifier((16,), max_iter=3, random_state=0).fit(X, y).coefs_[0]


def test_dtype_follows_the_input():
    X, y = _scaled_digits(100)
    for dtype in (np.float32, np.float64):
        clf = MLPClassifier((8,), max_iter=2, random_state=0).fit(X.astype(dtype), y)
        assert clf.coefs_[0].dtype == dtype and clf.predict_proba(X).dtype == dtype
        net = NeuralNetRegressor(mlp, max_epochs=1, random_state=0).fit(X.astype(dtype), y)
        assert net.model_[0].weight.dtype == dtype and net.predict(X).dtype == dtype
    ints = MLPClassifier((8,), max_iter=1, random_state=0).fit((X * 4).astype(np.int64), y)
    assert ints.coefs_[0].dtype == np.float64  # as scikit-learn: other input becomes float64
    net = NeuralNetClassifier(mlp, max_epochs=1).fit((X * 4).astype(np.int32), y)
    assert net.model_[0].weight.dtype == fg.get_default_dtype()


def test_float32_predictions_agree_with_float64():
    X, y = _scaled_digits(300)
    c32 = MLPClassifier((32,), max_iter=10, random_state=0).fit(X.astype(np.float32), y)
    c64 = MLPClassifier((32,), max_iter=10, random_state=0).fit(X, y)
    np.testing.assert_allclose(c32.predict_proba(X), c64.predict_proba(X), atol=1e-3)


def test_seeding_is_repeatable_and_leaves_the_global_generator_alone():
    X, y = _scaled_digits(100)
    fg.manual_seed(5)
    state = fg.random.get_rng_state()
    a = MLPClassifier((8,), max_iter=3, random_state=7).fit(X, y)
    NeuralNetClassifier(mlp, max_epochs=2, random_state=7).fit(X, y)
    assert fg.random.get_rng_state() == state  # fixed random_state: global state untouched
    b = MLPClassifier((8,), max_iter=3, random_state=7).fit(X, y)
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])
    fg.manual_seed(1)
    c = MLPClassifier((8,), max_iter=3).fit(X, y)
    fg.manual_seed(1)
    d = MLPClassifier((8,), max_iter=3).fit(X, y)
    np.testing.assert_array_equal(c.coefs_[0], d.coefs_[0])
    e = MLPClassifier((8,), max_iter=3).fit(X, y)  # random_state=None: a new draw
    assert not np.array_equal(c.coefs_[0], e.coefs_[0])


def test_training_runs_captured_steps():
    X, y = _scaled_digits(200)
    for alpha in (0.0, 1e-4):  # with a penalty, weights and intercepts differ in weight decay
        clf = MLPClassifier((16,), alpha=alpha, max_iter=5, random_state=0).fit(X, y)
        assert clf.compiled_
    assert MLPRegressor((16,), solver="sgd", max_iter=2, random_state=0).fit(X, y).compiled_
    net = NeuralNetClassifier(mlp, max_epochs=2, random_state=0).fit(X, y)
    assert net.compiled_


# ============================================================== pickling


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_pickled_estimator_predicts_and_continues_the_same(solver):
    X, y = _scaled_digits(200)
    clf = MLPClassifier((16,), solver=solver, max_iter=3, random_state=0).fit(X, y)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    clf.partial_fit(X, y)  # the optimizer state (moments, step counts) survives pickling
    copy.partial_fit(X, y)
    for a, b in zip(clf.coefs_, copy.coefs_):
        np.testing.assert_array_equal(a, b)
    net = NeuralNetRegressor(
        mlp, max_epochs=2, optimizer="sgd", optimizer_params={"momentum": 0.9}, random_state=0
    ).fit(X, y)
    again = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(again.predict(X), net.predict(X))
    state = again.optimizer_.state_dict()["state"]
    assert len(state) == 4 and all("momentum_buffer" in s for s in state.values())
    assert clone(clf).get_params() == clf.get_params()


# ============================================================== any module as an estimator


def test_neural_net_classifier_with_a_small_cnn():
    X, y = load_digits(as_images=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16, y, test_size=0.25, seed=0, stratify=y
    )
    clf = NeuralNetClassifier(small_cnn, lr=1e-2, max_epochs=10, random_state=0)
    clf.fit(X_train, y_train)
    assert clf.n_features_in_ == 1 and clf.model_[0].in_channels == 1
    assert clf.compiled_ and clf.n_iter_ == 10
    assert clf.score(X_test, y_test) > 0.93
    assert clf.predict_proba(X_test[:3]).shape == (3, 10)


def test_neural_net_classifier_with_a_custom_recurrent_module():
    X, y = load_digits(as_images=True)
    X = X[:, 0] / 16  # (N, 8 rows, 8 pixels): sequences
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=0, stratify=y)
    clf = NeuralNetClassifier(RowGRU, lr=1e-2, max_epochs=5, batch_size=64, random_state=0)
    clf.fit(X_train, y_train)
    assert not clf.compiled_
    assert clf.score(X_test, y_test) > 0.8


def test_neural_net_custom_loss_optimizer_callbacks_and_validation():
    X, y = _scaled_digits(400)
    calls = []

    def callbacks():
        calls.append(1)
        return [EarlyStopping(monitor="val_loss", patience=1)]

    reg = NeuralNetRegressor(
        mlp,
        loss=nn.HuberLoss(delta=0.5),
        optimizer=optim.SGD,
        optimizer_params={"momentum": 0.9},
        lr=1e-2,
        module_params={"hidden": 8},
        validation_fraction=0.2,
        callbacks=callbacks,
        max_epochs=200,
        random_state=0,
    ).fit(X, y.astype(float))
    assert isinstance(reg.optimizer_, optim.SGD) and reg.model_[0].out_features == 8
    assert "val_loss" in reg.history_ and reg.n_iter_ < 200 and calls == [1]
    clone(reg).fit(X, y.astype(float))
    assert calls == [1, 1]  # every fit builds its own callbacks

    clf = NeuralNetClassifier(mlp, validation_fraction=0.2, max_epochs=3, random_state=0)
    clf.fit(X, y)
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(clf.history_.keys())


def test_neural_net_module_instance_is_copied_and_binary_single_logit():
    X, y = _scaled_digits(300)
    yb = np.where(y > 4, "big", "small")
    proto = nn.Sequential(nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 1)).double()
    before = proto[0].weight.data.copy()
    clf = NeuralNetClassifier(proto, lr=1e-2, max_epochs=10, random_state=0).fit(X, yb)
    np.testing.assert_array_equal(proto[0].weight.data, before)  # the instance is not trained
    assert clf.model_ is not proto
    proba = clf.predict_proba(X)
    assert proba.shape == (300, 2)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    assert clf.score(X, yb) > 0.85


def test_neural_net_regressor_output_shapes_and_warm_start():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (300, 3))
    y = np.sin(X.sum(axis=1))

    class Flat(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = mlp(3, 1)

        def forward(self, x):
            return self.net(x).reshape(-1)

    flat = NeuralNetRegressor(Flat, lr=1e-2, max_epochs=20, random_state=0).fit(X, y)
    assert flat.predict(X).shape == (300,) and flat.score(X, y) > 0.8
    multi = NeuralNetRegressor(mlp, max_epochs=2, random_state=0).fit(X, np.column_stack([y, y]))
    assert multi.predict(X).shape == (300, 2) and multi.n_outputs_ == 2
    warm = NeuralNetRegressor(mlp, max_epochs=3, warm_start=True, random_state=0).fit(X, y)
    model = warm.model_
    warm.fit(X, y)
    assert warm.model_ is model and warm.n_iter_ == 3


# ============================================================== errors

_MLP_BAD = [
    ({"hidden_layer_sizes": (10, 0)}, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": "wide"}, "hidden_layer_sizes"),
    ({"activation": "softmax"}, "activation"),
    ({"solver": "lbfgs"}, "lbfgs"),
    ({"solver": "rmsprop"}, "solver"),
    ({"alpha": -1.0}, "alpha"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": "big"}, "batch_size"),
    ({"learning_rate": "cosine"}, "learning_rate"),
    ({"learning_rate_init": 0.0}, "learning_rate_init"),
    ({"max_iter": 0}, "max_iter"),
    ({"max_iter": 2.5}, "max_iter"),
    ({"shuffle": "yes"}, "shuffle"),
    ({"tol": -1.0}, "tol"),
    ({"momentum": 1.5}, "momentum"),
    ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"beta_1": 1.0}, "beta_1"),
    ({"beta_2": -0.1}, "beta_2"),
    ({"epsilon": 0.0}, "epsilon"),
    ({"n_iter_no_change": 0}, "n_iter_no_change"),
    ({"random_state": "seed"}, "random_state"),
    ({"alpha": float("nan")}, "alpha"),
]


@pytest.mark.parametrize(("params", "name"), _MLP_BAD)
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_bad_mlp_parameters_raise_clear_errors_at_fit(cls, params, name):
    X, y = _scaled_digits(50)
    est = cls(**params)  # construction accepts anything, as in scikit-learn
    with pytest.raises(fg.ArgumentError, match=name) as info:
        est.fit(X, y)
    assert isinstance(info.value, ValueError) and cls.__name__ in str(info.value)
    assert "model_" not in est.__dict__


_NET_BAD = [
    ({"module": 3}, "module"),
    ({"module_params": [1]}, "module_params"),
    ({"optimizer": "lbfgs"}, "optimizer"),
    ({"optimizer": 3}, "optimizer"),
    ({"lr": -1.0}, "lr"),
    ({"max_epochs": 0}, "max_epochs"),
    ({"batch_size": 0}, "batch_size"),
    ({"validation_fraction": 0.0}, "validation_fraction"),
    ({"callbacks": EarlyStopping()}, "callbacks"),
    ({"callbacks": lambda: ["not a callback"]}, "Callback"),
    ({"compile": "yes"}, "compile"),
    ({"module": lambda n_outputs: "not a module"}, "nn.Module"),
    ({"module": lambda n_outputs: nn.Linear(64, n_outputs + 1)}, "output has shape"),
    ({"module": mlp(64, 10), "module_params": {"hidden": 3}}, "module_params"),
]


@pytest.mark.parametrize(("params", "name"), _NET_BAD)
def test_bad_neural_net_parameters_raise_clear_errors_at_fit(params, name):
    X, y = _scaled_digits(50)
    params = {"module": mlp, **params}
    with pytest.raises(fg.FerrogradError, match=name):
        NeuralNetClassifier(**params).fit(X, y)


def test_bad_data_errors():
    X, y = _scaled_digits(50)
    with pytest.raises(ValueError, match="one class"):
        MLPClassifier().fit(X, np.zeros(50))
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifier().fit(X, np.linspace(0, 1, 50))
    with pytest.raises(ValueError, match="one class"):
        NeuralNetClassifier(mlp).fit(X, np.zeros(50))
    with pytest.raises(ValueError, match="validation set needs at least 2"):
        MLPClassifier(early_stopping=True, validation_fraction=0.01).fit(X, y)
    fitted = MLPClassifier((4,), max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="expecting 64 features"):
        fitted.predict(X[:, :10])
    with pytest.raises(ValueError, match="non-finite"):
        MLPRegressor((4,), learning_rate_init=1e6, solver="sgd", max_iter=20, random_state=0).fit(
            X, y * 1e30
        )


# ============================================================== packaging


def test_import_ferrograd_does_not_import_sklearn():
    code = "import sys, ferrograd, ferrograd.train; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_sklearn_gives_a_clear_error():
    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "try:\n    import ferrograd.sklearn\n"
        "except ImportError as e:\n"
        "    import ferrograd; print(isinstance(e, ferrograd.FerrogradError), e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("True") and "pip install 'ferrograd[sklearn]'" in out.stdout


def test_docstring_examples():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for module in (fsk, fsk._mlp, fsk._neural_net):
            result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
            assert result.failed == 0 and result.attempted > 0, module.__name__
