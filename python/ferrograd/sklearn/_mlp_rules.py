"""scikit-learn's MLP training rules, run as a :class:`~ferrograd.train.Callback`.

The Trainer runs the steps; this callback makes them scikit-learn's steps and applies
scikit-learn's rules between epochs.

Why the hyperparameters change before every step
------------------------------------------------
scikit-learn minimises, on a batch of ``n_b`` samples,
``L_sk + 0.5 * alpha * ||W||^2 / n_b`` (``W``: all weight matrices, not the intercepts),
where ``L_sk = c * L`` for the ferrograd loss ``L`` of the model (``c`` = 1 for softmax
cross-entropy, the number of outputs for logistic outputs, half the number of outputs for
squared error). Its Adam is ``p -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)``,
PyTorch's (and ferrograd's) is ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.
Both are matched exactly, whatever the batch size, by training ``L`` with

* the weight matrices in a parameter group of coupled weight decay ``alpha / (c * n_b)``
  (the intercepts in one without), set before each step since ``n_b`` can change on the last
  batch of an epoch;
* Adam: ``eps / (c * sqrt(1 - b2^t))`` before step ``t`` (the gradients of ``L`` are those
  of ``L_sk`` divided by ``c``, which scales ``m`` by ``1/c`` and ``sqrt(v)`` by ``1/c``);
* SGD: learning rate ``c * lr`` (its momentum is PyTorch's; scikit-learn's velocity
  ``v = momentum * v - lr * g`` is ``-lr`` times PyTorch's buffer, so when ``lr`` changes
  between epochs the buffers are rescaled to keep the velocity).

The reported loss (``loss_``, ``loss_curve_``) is scikit-learn's: the data loss in its
units plus the penalty computed before each step, averaged over the epoch's samples.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..train import Callback


class SklearnRules(Callback):
    """Per step: weight decay and Adam's epsilon as above. Per epoch: ``loss_``,
    ``n_iter_``, the stopping rule (``tol``, ``n_iter_no_change``, ``early_stopping``) and
    the learning-rate schedule of ``solver="sgd"``."""

    def __init__(
        self,
        estimator: Any,
        n_samples: int,
        batch_size: int,
        validation: tuple[np.ndarray, np.ndarray] | None,
    ) -> None:
        super().__init__()
        self.est = estimator
        self.n_samples = n_samples
        self.batch_size = batch_size
        self.validation = validation
        self.stopped = False
        self._batch = 0
        self._penalty = 0.0
        opt = estimator._optimizer
        self._weights = opt.param_groups[0]["params"]
        self._groups = opt.param_groups

    # ------------------------------------------------------------------ per step
    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._batch = 0
        self._penalty = 0.0

    def on_batch_begin(self, step: int, logs: Any = None) -> None:
        est = self.est
        n_b = min(self.batch_size, self.n_samples - self._batch * self.batch_size)
        self._batch += 1
        c = est._grad_scale
        if est.alpha:
            squares = sum(float(np.dot(w.data.ravel(), w.data.ravel())) for w in self._weights)
            self._penalty += 0.5 * est.alpha * squares  # (0.5 alpha |W|^2 / n_b) * n_b
            self._groups[0]["weight_decay"] = est.alpha / (c * n_b)
        if est.solver == "adam":
            t = est._adam_t + 1
            eps = est.epsilon / (c * math.sqrt(1.0 - est.beta_2**t))
            for g in self._groups:
                g["eps"] = eps
            est._adam_t = t

    # ------------------------------------------------------------------ per epoch
    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        est = self.est
        logs = logs or {}
        loss = float(logs["loss"]) * est._report_scale + self._penalty / self.n_samples
        est.n_iter_ += 1
        est.loss_ = loss
        est.t_ += self.n_samples
        est.loss_curve_.append(loss)
        row: dict[str, float] = {"loss": loss}
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {loss:.8f}")
        self._count_no_improvement(row)
        if est.solver == "sgd" and est.learning_rate == "invscaling":
            self._set_learning_rate(est.learning_rate_init / (est.t_ + 1) ** est.power_t)
        if est._no_improvement_count > est.n_iter_no_change:
            what = "Validation score" if est.early_stopping else "Training loss"
            msg = (
                f"{what} did not improve more than tol={est.tol:f} for "
                f"{est.n_iter_no_change} consecutive epochs."
            )
            if self._trigger_stopping(msg):
                self.stopped = True
                self.trainer.stop_training = True
            else:
                est._no_improvement_count = 0
        row["lr"] = est._learning_rate if est.solver == "sgd" else est.learning_rate_init
        row["seconds"] = float(logs.get("seconds", math.nan))
        est.history_.append(len(est.history_), row)

    def _count_no_improvement(self, row: dict[str, float]) -> None:
        est = self.est
        if est.early_stopping:
            assert self.validation is not None
            score = est._validation_score(*self.validation)
            est.validation_scores_.append(score)
            row["validation_score"] = score
            if est.verbose:
                print(f"Validation score: {score:f}")
            if score < est.best_validation_score_ + est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                est._best_state = est.model_.state_dict()
        else:
            loss = est.loss_curve_[-1]
            if loss > est.best_loss_ - est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if loss < est.best_loss_:
                est.best_loss_ = loss

    def _trigger_stopping(self, msg: str) -> bool:
        est = self.est
        if est.solver == "sgd" and est.learning_rate == "adaptive":
            if est._learning_rate <= 1e-6:
                if est.verbose:
                    print(msg + " Learning rate too small. Stopping.")
                return True
            self._set_learning_rate(est._learning_rate / 5.0)
            if est.verbose:
                print(msg + f" Setting learning rate to {est._learning_rate:f}")
            return False
        if est.verbose:
            print(msg + " Stopping.")
        return True

    def _set_learning_rate(self, lr: float) -> None:
        """scikit-learn's SGD learning rate becomes ``lr``; momentum buffers are rescaled so
        that the velocity they stand for (``-lr * buffer``) is unchanged."""
        est = self.est
        old = est._learning_rate
        est._learning_rate = lr
        opt = est._optimizer
        for g in self._groups:
            g["lr"] = est._grad_scale * lr
            for p in g["params"]:
                if p in opt.state and "momentum_buffer" in opt.state[p] and lr > 0:
                    buf = opt.state[p]["momentum_buffer"]
                    if buf is not None:
                        buf *= old / lr
