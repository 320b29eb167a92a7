"""The training loop: epochs of mini-batch steps, validation, metrics, callbacks, checkpoints.

Examples
--------
>>> import numpy as np
>>> import ferrograd as fg
>>> from ferrograd import nn, optim
>>> from ferrograd.train import Trainer
>>> fg.manual_seed(0)
>>> rng = np.random.default_rng(0)
>>> x = rng.standard_normal((200, 2)).astype(np.float32)
>>> y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
>>> model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
>>> trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05))
>>> history = trainer.fit((x, y), epochs=30, batch_size=32, verbose=0)
>>> trainer.evaluate((x, y))["accuracy"] > 0.9
True
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .. import _check
from .. import random as fg_random
from ..compile import Unsupported
from ..exceptions import ArgumentError, DTypeError, FerrogradError
from ..tensor import Tensor, no_grad
from . import _data, _distributed, _targets, checkpoint
from ._progress import Progress
from .callbacks import Callback, overrides
from .history import History

__all__ = ["NonFiniteLossError", "Trainer"]


class NonFiniteLossError(FerrogradError):
    """The training loss became NaN or infinite; training stopped before applying the step."""


class Trainer:
    """Fits a model: mini-batch steps, validation, metrics, callbacks and checkpoints.

    Parameters
    ----------
    model : nn.Module
        Called as ``model(x)`` (or ``model(x1, x2, ...)`` when batches carry several inputs).
    loss : callable or dict or list
        A loss module such as ``nn.CrossEntropyLoss()``, or, for a model with several
        outputs (a dict or tuple), one loss per output.
    optimizer : optim.Optimizer
    metrics : list of str or callable, or dict, optional
        Names (``"accuracy"``, ``"top5_accuracy"``, ``"precision"``, ``"recall"``, ``"f1"``
        (macro), ``"roc_auc"``, ``"mae"``, ``"mse"``, ``"rmse"``, ``"r2"``) or callables
        ``fn(y_true, output) -> float`` on the raw outputs. Default: accuracy for
        classification losses, none for regression. For several outputs, a dict of lists
        by output name. Metrics are computed over the whole epoch.
    scheduler : optim.lr_scheduler.LRScheduler, optional
        Stepped once per epoch (``OneCycleLR``: once per step; ``ReduceLROnPlateau``: with
        ``val_loss``, or ``loss`` without validation data).
    grad_accum_steps : int
        Micro-batches per optimizer step. Each micro-batch's loss is weighted by its share of
        the samples of its group, so ``k`` batches of ``b`` equal one batch of ``k*b``.
    clip_grad_norm : float, optional
        Clips the global gradient norm before each step.
    l1, l2 : float
        Penalties ``l1 * sum|w|`` and ``l2 * sum w**2`` on weight matrices and kernels
        (parameters with two or more axes; biases and normalisation scales are not
        penalised). The logged ``loss`` is the data loss alone.
    loss_weights : dict or list, optional
        Weights of each output's loss in the total, for several outputs.
    compile : {"auto", True, False}
        Run each step as one captured Rust call (:func:`ferrograd.compile`) when the model,
        loss and optimizer allow it ("auto"), always (True: an error if they do not), or
        never. Results are the same either way.
    distributed : bool
        Data-parallel training over MPI (run the script under ``mpiexec -n N``; without it,
        a world of one). Every rank trains on its own shard of each epoch
        (:class:`~ferrograd.distributed.DistributedSampler`), with ``batch_size`` samples
        per rank and step; gradients are averaged with one Allreduce per step; rank 0's
        initial parameters and optimizer state are broadcast when fitting starts; training
        loss and metrics are averaged over the ranks; progress output and files
        (:class:`ModelCheckpoint`, :class:`CSVLogger`) come from rank 0 only.

    Attributes
    ----------
    history : History
        The record of the last :meth:`fit`.
    stop_training : bool
        Set by a callback to end training after the current epoch.
    compiled : bool
        Whether the last fit ran captured steps; ``compile_reason`` says why not.
    """

    def __init__(
        self,
        model: Any,
        loss: Any,
        optimizer: Any,
        metrics: Any = None,
        scheduler: Any = None,
        grad_accum_steps: int = 1,
        clip_grad_norm: float | None = None,
        l1: float = 0.0,
        l2: float = 0.0,
        loss_weights: Any = None,
        compile: Any = "auto",
        distributed: bool = False,
    ) -> None:
        from ..nn import Module
        from ..optim import Optimizer

        if not isinstance(model, Module):
            raise DTypeError(f"Trainer: model must be an nn.Module, got {type(model).__name__}")
        if not isinstance(optimizer, Optimizer):
            raise DTypeError(
                f"Trainer: optimizer must be a ferrograd optimizer, got {type(optimizer).__name__}"
            )
        self.model = model
        self.optimizer = optimizer
        self.heads = _targets.Heads(loss, loss_weights, metrics)
        self.loss = loss
        self.scheduler = scheduler
        self.grad_accum_steps = _check.positive("Trainer", "grad_accum_steps", grad_accum_steps)
        self.clip_grad_norm = None
        if clip_grad_norm is not None:
            self.clip_grad_norm = _check.real(
                "Trainer", "clip_grad_norm", clip_grad_norm, 0.0, low_open=True
            )
        self.l1 = _check.real("Trainer", "l1", l1, 0.0)
        self.l2 = _check.real("Trainer", "l2", l2, 0.0)
        if compile not in ("auto", True, False):
            raise ArgumentError(f"Trainer: compile must be 'auto', True or False, got {compile!r}")
        self.compile = compile
        if not isinstance(distributed, bool):
            raise DTypeError(f"Trainer: distributed must be True or False, got {distributed!r}")
        self.distributed = distributed
        self.history = History()
        self.stop_training = False
        self.compiled = False
        self.compile_reason: str | None = None
        self.initial_epoch = 0
        self.epoch = 0
        self.global_step = 0
        self.callbacks: list[Callback] = []
        self._step_fn: Any = None
        self._captured: Any = None
        self._step_key: Any = None
        self._pending_saves: list[tuple[str, bool]] = []
        self._train_loader: Any = None
        self._split_seed: int | None = None

    # ================================================================== public API
    def fit(
        self,
        train: Any,
        val: Any = None,
        *,
        validation_split: float | None = None,
        epochs: int = 1,
        batch_size: int = 32,
        shuffle: bool = True,
        callbacks: Iterable[Callback] = (),
        verbose: int = 1,
        resume_from: str | os.PathLike[str] | None = None,
    ) -> History:
        """Trains for ``epochs`` epochs (counted in total, including resumed ones).

        Parameters
        ----------
        train : (X, y) tuple, Dataset or DataLoader
            Training data; a tuple may hold several inputs ``(X1, X2, y)`` and ``y`` may be a
            dict of targets for several outputs. Float arrays are cast to the model's dtype
            once.
        val : same kinds, optional
            Validation data, evaluated after each epoch (``val_loss`` and ``val_<metric>``).
        validation_split : float, optional
            Instead of ``val``: a seeded random fraction of ``train`` (tuples only) kept out.
        epochs : int
            Total number of epochs.
        batch_size : int
            Samples per step (ignored for a DataLoader, which has its own).
        shuffle : bool
            Reshuffle every epoch (seeded through :func:`ferrograd.manual_seed`).
        callbacks : iterable of Callback
        verbose : {0, 1, 2}
            0 silent, 1 a progress bar per epoch (one line per epoch when standard output is
            not a terminal), 2 one line per epoch.
        resume_from : path, optional
            A full checkpoint written by :class:`ModelCheckpoint` (or
            :meth:`save_checkpoint`): model, optimizer, scheduler, callbacks, history and
            random state are restored and training continues after its epoch, ending as an
            uninterrupted run would.

        Returns
        -------
        History
        """
        epochs = _check.count("fit", "epochs", epochs)
        batch_size = _check.positive("fit", "batch_size", batch_size)
        if verbose not in (0, 1, 2):
            raise ArgumentError(f"fit: verbose must be 0, 1 or 2, got {verbose!r}")
        callbacks = list(callbacks)
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise DTypeError(f"fit: callbacks must be Callback objects, got {cb!r}")
        if val is not None and validation_split is not None:
            raise FerrogradError("fit: pass either val or validation_split, not both")
        dtype = self._dtype()
        self._split_seed = int(fg_random.default_generator().integers(2**63))
        if validation_split is not None:
            arrays = _data.as_arrays(train, dtype, "train")
            if arrays is None:
                raise FerrogradError(
                    "fit: validation_split needs train as an (X, y) tuple; split a Dataset "
                    "yourself or pass val"
                )
            train, val = _data.split_off(arrays, validation_split, self._split_seed)
        main = True
        if self.distributed:
            from .. import distributed as dist

            dist.init()
            main = dist.is_main()
            loader = _distributed.sharded_loader(train, dtype, batch_size, shuffle)
            callbacks = [cb for cb in callbacks if main or not cb.main_only]
        else:
            loader = _data.make_loader(train, dtype, "train", batch_size, shuffle)
        val_loader = None if val is None else _data.make_loader(val, dtype, "val", 1024, False)
        self._train_loader = loader
        self.callbacks = callbacks
        self.history = History()
        self.stop_training = False
        self.initial_epoch = 0
        self.global_step = 0
        if resume_from is not None:
            self.load_checkpoint(resume_from, _loader=loader)
        if self.distributed:
            dist.broadcast_parameters(self.model)
            dist.broadcast_optimizer_state(self.optimizer)
        for cb in callbacks:
            cb.set_trainer(self)
        self._prepare_step()
        batch_hooks = [
            cb
            for cb in callbacks
            if overrides(cb, "on_batch_end") or overrides(cb, "on_batch_begin")
        ]
        if self.scheduler is not None and _per_step(self.scheduler):
            batch_hooks.append(_SchedulerStep(self.scheduler))
        progress = Progress(verbose if main else 0, epochs)
        for cb in callbacks:
            cb.on_train_begin({})
        try:
            epoch = self.initial_epoch
            while epoch < epochs and not self.stop_training:
                self.epoch = epoch
                for cb in callbacks:
                    cb.on_epoch_begin(epoch, {})
                start = time.perf_counter()
                lr = float(self.optimizer.param_groups[0]["lr"])
                logs = self._run_epoch(loader, epoch, batch_hooks, progress)
                if self.distributed:
                    logs = _distributed.averaged(logs)
                if val_loader is not None:
                    val_logs = self.evaluate(val_loader)
                    logs.update({f"val_{k}": v for k, v in val_logs.items()})
                logs["lr"] = lr
                self._step_scheduler(logs)
                logs["seconds"] = time.perf_counter() - start
                self.history.append(epoch, logs)
                progress.epoch_end(epoch, logs)
                for cb in callbacks:
                    cb.on_epoch_end(epoch, logs)
                epoch += 1
                if main:
                    self._flush_saves(epoch)
        finally:
            progress.close()
        for cb in callbacks:
            cb.on_train_end(self.history.last())
        return self.history

    def evaluate(self, data: Any, batch_size: int = 1024) -> dict[str, float]:
        """The loss and metrics on ``data`` in evaluation mode, without gradients.

        The loss is computed once over all outputs, so it equals the loss of one big batch.

        Parameters
        ----------
        data : (X, y) tuple, Dataset or DataLoader
        batch_size : int
            Samples per forward pass.

        Returns
        -------
        dict
            ``{"loss": ..., "<metric>": ...}`` (per output: ``"<name>_loss"``, ...).
        """
        loader = _data.make_loader(data, self._dtype(), "data", batch_size, False)
        outputs: list[list[Any]] = [[] for _ in self.heads.heads]
        targets: list[list[Any]] = [[] for _ in self.heads.heads]
        with _eval_mode(self.model), no_grad():
            for batch in loader:
                batch = _data.cast_batch(batch, self._dtype())
                out = _targets.as_array(self.model(*batch[:-1]))
                for i, (o, t) in enumerate(
                    zip(self.heads.split_output(out), self.heads.split_target(batch[-1]))
                ):
                    outputs[i].append(np.asarray(o))
                    targets[i].append(np.asarray(t))
        logs: dict[str, float] = {}
        total = 0.0
        for head, outs, tgts in zip(self.heads.heads, outputs, targets):
            out, tgt = np.concatenate(outs), np.concatenate(tgts)
            value = float(np.asarray(_targets.as_array(head.loss_fn(out, tgt))))
            total += head.weight * value
            if not self.heads.single:
                logs[self.heads.log_name(head, "loss")] = value
            for m in head.metrics:
                logs[self.heads.log_name(head, m.name)] = m(tgt, out)
        return {"loss": total, **logs}

    def predict(self, x: Any, batch_size: int = 1024) -> Any:
        """The model's outputs for ``x`` in evaluation mode, without gradients.

        Parameters
        ----------
        x : array_like, or a tuple of arrays for several inputs
        batch_size : int

        Returns
        -------
        ndarray, or a dict/tuple of them for several outputs
        """
        batch_size = _check.positive("fit", "batch_size", batch_size)
        inputs = _data.cast_inputs(x if isinstance(x, tuple) else (x,), self._dtype())
        n = len(inputs[0])
        pieces: list[Any] = []
        with _eval_mode(self.model), no_grad():
            for start in range(0, n, batch_size):
                part = tuple(a[start : start + batch_size] for a in inputs)
                pieces.append(_targets.as_array(self.model(*part)))
        return _join(pieces)

    def partial_fit(self, x: Any, y: Any) -> float:
        """One optimizer step on one batch (online learning); returns its loss.

        The optimizer's state (moments, step counts) carries over between calls, so a stream
        of batches trains the model as the same batches in :meth:`fit` would.
        """
        batch = _data.cast_batch((*(x if isinstance(x, tuple) else (x,)), y), self._dtype())
        if self._step_fn is None or self._step_key != self._current_key():
            self._prepare_step()
        self.model.train()
        loss, _ = self._train_step([batch], self.epoch, self.global_step)
        self.global_step += 1
        return loss

    # ================================================================== checkpoints
    def save_checkpoint(
        self, path: str | os.PathLike[str], *, _pending_epoch: int | None = None
    ) -> None:
        """Writes a full training checkpoint (model, optimizer, scheduler, callbacks, history,
        epoch, step and random state) as safetensors plus JSON metadata, atomically.

        Called from a callback's ``on_epoch_end``, the file is written once every callback
        of the epoch has run, so it holds their updated state.
        """
        if _pending_epoch is not None:
            self._pending_saves.append((os.fspath(path), False))
            return
        from ..serialization import save

        save(checkpoint.state_of(self, self.epoch), path)

    def load_checkpoint(self, path: str | os.PathLike[str], *, _loader: Any = None) -> None:
        """Restores a checkpoint written by :meth:`save_checkpoint` into the model, the
        optimizer, the scheduler, the history and the random state (and the callbacks of the
        next :meth:`fit`)."""
        checkpoint.restore(self, checkpoint.read(path), _loader or self._train_loader)

    def _flush_saves(self, next_epoch: int) -> None:
        from ..serialization import save

        saves, self._pending_saves = self._pending_saves, []
        for path, _ in saves:
            save(checkpoint.state_of(self, next_epoch), path)

    # ================================================================== one epoch
    def _run_epoch(
        self, loader: Any, epoch: int, batch_hooks: list[Any], progress: Progress
    ) -> dict[str, Any]:
        self.model.train()
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        if self._step_fn is not None and self.grad_accum_steps == 1:
            return self._run_captured_epoch(loader, epoch, batch_hooks, progress)
        dtype = self._dtype()
        track = self._keep_outputs or not self.heads.single
        sums = {"loss": 0.0}
        seen = 0
        outputs: list[list[Any]] = [[] for _ in self.heads.heads]
        targets: list[list[Any]] = [[] for _ in self.heads.heads]
        n_batches = len(loader) if hasattr(loader, "__len__") else None
        bar = progress.epoch_begin(epoch, n_batches)
        k = self.grad_accum_steps
        group: list[tuple[Any, ...]] = []
        batch_index = 0
        for batch in loader:
            group.append(_data.cast_batch(batch, dtype))
            batch_index += 1
            if len(group) < k and (n_batches is None or batch_index < n_batches):
                continue
            step = self.global_step
            for hook in batch_hooks:
                hook.on_batch_begin(step, {})
            loss, per_batch = self._train_step(group, epoch, step, batch_index, n_batches)
            size = sum(_targets.batch_size_of(b) for b in group)
            sums["loss"] += loss * size
            seen += size
            if track:
                for b, parts in zip(group, per_batch):
                    if parts is None:
                        continue
                    head_losses, outs = parts
                    for i, (o, t) in enumerate(zip(outs, self.heads.split_target(b[-1]))):
                        outputs[i].append(o)
                        targets[i].append(t)
                    for name, value in head_losses.items():
                        sums[name] = sums.get(name, 0.0) + value * _targets.batch_size_of(b)
            group = []
            self.global_step += 1
            if bar is not None:
                bar.step(sums["loss"] / seen)
            if batch_hooks:
                batch_logs = {"loss": loss, "size": float(size)}
                for hook in batch_hooks:
                    hook.on_batch_end(step, batch_logs)
        if group:  # a loader without len() ended inside a group
            loss, _ = self._train_step(group, epoch, self.global_step, batch_index, n_batches)
            size = sum(_targets.batch_size_of(b) for b in group)
            sums["loss"] += loss * size
            seen += size
            self.global_step += 1
        if seen == 0:
            raise FerrogradError(f"fit: the training data gave no batch in epoch {epoch + 1}")
        logs: dict[str, Any] = {name: total / seen for name, total in sums.items()}
        if self.distributed:
            logs["_samples"] = seen
        for i, head in enumerate(self.heads.heads):
            if not head.metrics or not outputs[i]:
                continue
            out, tgt = np.concatenate(outputs[i]), np.concatenate(targets[i])
            for m in head.metrics:
                logs[self.heads.log_name(head, m.name)] = m(tgt, out)
        return logs

    def _run_captured_epoch(
        self, loader: Any, epoch: int, batch_hooks: list[Any], progress: Progress
    ) -> dict[str, Any]:
        """An epoch of captured steps: the same as the general loop, with as little Python
        per step as possible (this loop is most of a small model's training time)."""
        run = self._captured
        keep = self._keep_outputs
        dtype = self._dtype()
        n_batches = len(loader) if hasattr(loader, "__len__") else None
        bar = progress.epoch_begin(epoch, n_batches)
        head = self.heads.heads[0]
        outputs: list[Any] = []
        targets: list[Any] = []
        total = 0.0
        seen = 0
        step = self.global_step
        for batch_index, batch in enumerate(loader, 1):
            if (
                len(batch) != 2
                or batch[0].dtype != dtype
                or (batch[1].dtype.kind == "f" and (batch[1].dtype != dtype))
            ):
                batch = _data.cast_batch(batch, dtype)
            x, y = batch
            for hook in batch_hooks:
                hook.on_batch_begin(step, {})
            if run is not None:
                try:
                    loss, out = run(x, y, keep_output=keep, skip_non_finite=True)
                except Unsupported as e:
                    self._stop_capturing(str(e))
                    run = None
            if run is None:  # no longer capturable: the rest of the run is eager
                loss, per_batch = self._train_step([batch], epoch, step, batch_index, n_batches)
                out = per_batch[0][1][0] if keep else None
            elif not math.isfinite(loss):
                self._raise_non_finite(loss, epoch, step, batch_index, n_batches)
            size = len(y)
            total += loss * size
            seen += size
            if keep:
                outputs.append(out)
                targets.append(y)
            step += 1
            self.global_step = step
            if bar is not None:
                bar.step(total / seen)
            if batch_hooks:
                logs = {"loss": loss, "size": float(size)}
                for hook in batch_hooks:
                    hook.on_batch_end(step - 1, logs)
        if seen == 0:
            raise FerrogradError(f"fit: the training data gave no batch in epoch {epoch + 1}")
        result: dict[str, Any] = {"loss": total / seen}
        if self.distributed:
            result["_samples"] = seen
        if keep:
            out_all, tgt_all = np.concatenate(outputs), np.concatenate(targets)
            for m in head.metrics:
                result[m.name] = m(tgt_all, out_all)
        return result

    def _step_scheduler(self, logs: dict[str, Any]) -> None:
        s = self.scheduler
        if s is None or _per_step(s):
            return
        if type(s).__name__ == "ReduceLROnPlateau":
            s.step(logs["val_loss"] if "val_loss" in logs else logs["loss"])
        else:
            s.step()

    # ================================================================== one step
    def _dtype(self) -> np.dtype[Any]:
        for p in self.model.parameters():
            return p.dtype
        from ..tensor import get_default_dtype

        return get_default_dtype()

    @property
    def _keep_outputs(self) -> bool:
        """Whether steps must hand back outputs (for training metrics)."""
        return any(h.metrics for h in self.heads.heads)

    def _current_key(self) -> tuple[Any, ...]:
        return (
            tuple(id(p) for p in self.model.parameters()),
            tuple(p.requires_grad for p in self.model.parameters()),
            self.model.training,
        )

    def _prepare_step(self) -> None:
        """Chooses between the captured step and the eager one for the coming steps."""
        self._step_key = self._current_key()
        self._step_fn = None
        self.compiled = False
        reason = self._why_not_compiled()
        if reason is None:
            from ..compile import CompiledStep

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                step = CompiledStep(self.model, self.heads.heads[0].loss_fn, self.optimizer)
            if step.compiled:
                self._step_fn = step
                self.compiled = True
                self._captured = step.run
                if self.distributed:
                    from .. import distributed as dist

                    if dist.world_size() > 1:
                        self._captured = _distributed.captured_step(self, step)
            else:
                reason = step.reason
        self.compile_reason = reason
        if self.compile is True and not self.compiled:
            raise FerrogradError(f"Trainer(compile=True): the step cannot be captured: {reason}")

    def _stop_capturing(self, reason: str) -> None:
        """Eager steps from now on: something changed during training (a callback gave the
        parameter groups different hyperparameters, say) that the captured step cannot do.
        The failed captured call changed nothing."""
        self._step_fn = None
        self._captured = None
        self.compiled = False
        self.compile_reason = f"{reason} (since step {self.global_step + 1})"
        if self.compile is True:
            raise FerrogradError(
                f"Trainer(compile=True): the step can no longer be captured: {reason}"
            )

    def _why_not_compiled(self) -> str | None:
        if self.compile is False:
            return "compile=False"
        if not self.heads.single:
            return "a model with several outputs"
        if self.grad_accum_steps != 1:
            return "gradient accumulation"
        if self.clip_grad_norm is not None:
            return "gradient clipping"
        if self.l1 or self.l2:
            return "l1/l2 penalties"
        return None

    def _train_step(
        self,
        group: Sequence[tuple[Any, ...]],
        epoch: int,
        step: int,
        batch_index: int | None = None,
        n_batches: int | None = None,
    ) -> tuple[float, list[Any]]:
        """One optimizer step over a group of micro-batches; the loss (sample-weighted mean
        over the group) and, per micro-batch, its per-output losses and outputs."""
        if self._step_fn is not None and len(group) == 1:
            batch = group[0]
            keep = self._keep_outputs
            try:
                loss, output = self._captured(
                    batch[0], batch[1], keep_output=keep, skip_non_finite=True
                )
            except Unsupported as e:
                self._stop_capturing(str(e))
                return self._train_step(group, epoch, step, batch_index, n_batches)
            if not math.isfinite(loss):
                self._raise_non_finite(loss, epoch, step, batch_index, n_batches)
            return loss, [({}, [output]) if keep else None]
        self.optimizer.zero_grad()
        sizes = [_targets.batch_size_of(b) for b in group]
        total_size = sum(sizes)
        total_loss = 0.0
        per_batch: list[Any] = []
        for b, size in zip(group, sizes):
            output = self.model(*b[:-1])
            outs = self.heads.split_output(output)
            tgts = self.heads.split_target(b[-1])
            objective: Any = None
            head_losses: dict[str, float] = {}
            for head, o, t in zip(self.heads.heads, outs, tgts):
                value = head.loss_fn(o, t)
                term = value * head.weight if head.weight != 1.0 else value
                objective = term if objective is None else objective + term
                if not self.heads.single:
                    head_losses[self.heads.log_name(head, "loss")] = float(_scalar(value))
            loss_value = float(_scalar(objective))
            if not math.isfinite(loss_value):
                self.optimizer.zero_grad()
                self._raise_non_finite(loss_value, epoch, step, batch_index, n_batches)
            total_loss += loss_value * size
            objective = self._with_penalties(objective)
            if isinstance(objective, Tensor) and objective.requires_grad:
                if len(group) > 1:
                    objective = objective * (size / total_size)
                objective.backward()
            per_batch.append((head_losses, [np.asarray(_targets.as_array(o)) for o in outs]))
        if self.distributed:
            from .. import distributed as dist

            dist.allreduce_gradients(self.model)
        if self.clip_grad_norm is not None:
            from ..nn.utils import clip_grad_norm_

            clip_grad_norm_(self.model.parameters(), self.clip_grad_norm)
        self.optimizer.step()
        return total_loss / total_size, per_batch

    def _with_penalties(self, objective: Any) -> Any:
        """``objective`` plus the L1/L2 penalties on weight matrices and kernels."""
        if not (self.l1 or self.l2):
            return objective
        from ..nn.utils import l1_penalty, l2_penalty

        weights = [p for p in self.model.parameters() if p.requires_grad and p.ndim >= 2]
        if not weights:
            return objective
        if self.l1:
            objective = objective + self.l1 * l1_penalty(weights)
        if self.l2:
            objective = objective + self.l2 * l2_penalty(weights)
        return objective

    def _raise_non_finite(
        self, loss: float, epoch: int, step: int, batch_index: int | None, n_batches: int | None
    ) -> None:
        where = f"epoch {epoch + 1}, step {step + 1}"
        if batch_index is not None:
            where += f" (batch {batch_index}" + (f" of {n_batches})" if n_batches else ")")
        saved = [s for cb in self.callbacks if (s := getattr(cb, "last_saved", None))]
        tail = f"; the last checkpoint, {saved[-1]}, is intact" if saved else ""
        raise NonFiniteLossError(
            f"fit: the training loss is {loss} at {where}; training stopped and this step was "
            f"not applied{tail}. Try a lower learning rate, gradient clipping "
            "(clip_grad_norm=...), or check the data for NaN/inf."
        )


# ====================================================================== helpers
class _SchedulerStep(Callback):
    """Steps a per-step scheduler (OneCycleLR) after each optimizer step."""

    def __init__(self, scheduler: Any) -> None:
        self.scheduler = scheduler

    def on_batch_end(self, step: int, logs: Any = None) -> None:
        self.scheduler.step()


def _per_step(scheduler: Any) -> bool:
    return type(scheduler).__name__ == "OneCycleLR"


class _eval_mode:
    """Evaluation mode inside the block; the previous mode of every module afterwards."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __enter__(self) -> None:
        self.modes = [(m, m.training) for m in self.model.modules()]
        self.model.eval()

    def __exit__(self, *exc: Any) -> None:
        for m, mode in self.modes:
            object.__setattr__(m, "training", mode)


def _scalar(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _join(pieces: list[Any]) -> Any:
    first = pieces[0]
    if isinstance(first, Mapping):
        return {k: _join([p[k] for p in pieces]) for k in first}
    if isinstance(first, (list, tuple)):
        return type(first)(_join([p[i] for p in pieces]) for i in range(len(first)))
    return np.concatenate([np.asarray(p) for p in pieces])
