"""Callbacks ``funcad.train.Model`` calls around training and evaluation, with MindSpore's hook names."""

from __future__ import annotations

import importlib
import time
from types import SimpleNamespace

import numpy as np


class CallbackParams(SimpleNamespace):
    """The run's parameters as attributes; ``get(name, default)`` and ``name in params`` as well, since MindSpore's
    callbacks read them as a dict (``cb_params.get("eval_results", {})``)."""

    def get(self, name: str, default=None):
        return getattr(self, name, default)

    def __contains__(self, name: str) -> bool:
        return hasattr(self, name)


class RunContext:
    """What a callback sees: ``original_args()`` (the run's parameters: ``cur_epoch_num``, ``cur_step_num``,
    ``batch_num``, ``epoch_num``, ``net_outputs``, ``train_network``, ``optimizer``; in ``Model.fit``, after an
    epoch's evaluation, ``metrics`` and ``eval_results``) and ``request_stop()``."""

    def __init__(self, cb_params: SimpleNamespace):
        self._params = cb_params
        self._stop = False

    def original_args(self) -> SimpleNamespace:
        return self._params

    def request_stop(self) -> None:
        self._stop = True

    def get_stop_requested(self) -> bool:
        return self._stop


class Callback:
    """Base class: override any hook; each takes the RunContext. ``on_train_*`` and ``on_eval_*`` are MindSpore 2.x's
    names; the older ``begin``/``epoch_begin``/``step_begin``/``step_end``/``epoch_end``/``end`` are called by the
    default training hooks, so overriding either set works."""


def _calls(older: str):
    def hook(self, run_context):
        getattr(self, older)(run_context)

    return hook


def _does_nothing(self, run_context):
    """A hook left to subclasses."""


# The six phases: on_train_<phase> calls the older <phase> hook; on_eval_<phase> and <phase> do nothing by default.
for _phase in ("begin", "epoch_begin", "step_begin", "step_end", "epoch_end", "end"):
    setattr(Callback, f"on_train_{_phase}", _calls(_phase))
    setattr(Callback, f"on_eval_{_phase}", _does_nothing)
    setattr(Callback, _phase, _does_nothing)


def _loss_value(outputs) -> float:
    """The loss among a step's outputs (the first of a tuple), averaged in its dtype, as the Python float MindSpore
    prints (``loss is 0.3416367769241333`` for a float32 loss)."""
    if isinstance(outputs, (tuple, list)):
        outputs = outputs[0]
    return float(np.mean(np.asarray(outputs)))


class LossMonitor(Callback):
    """Prints ``epoch: E step: S, loss is L`` every ``per_print_times`` steps of an epoch (S counts within the epoch);
    a NaN or infinite loss stops training with a ValueError naming the epoch and step. The work is in ``step_end``,
    as in MindSpore, so that a subclass overriding ``step_end`` (the model zoo's loss callbacks) replaces it."""

    def __init__(self, per_print_times: int = 1):
        if isinstance(per_print_times, bool) or not isinstance(per_print_times, int) or per_print_times < 0:
            raise ValueError(f"LossMonitor: per_print_times must be an int >= 0, got {per_print_times!r}")
        self._per_print_times = per_print_times

    def step_end(self, run_context):
        cb = run_context.original_args()
        loss = _loss_value(cb.net_outputs)
        step = (cb.cur_step_num - 1) % cb.batch_num + 1
        if not np.isfinite(loss):
            raise ValueError(f"LossMonitor: epoch {cb.cur_epoch_num} step {step}: loss is {loss}, training stopped")
        if self._per_print_times and step % self._per_print_times == 0:
            print(f"epoch: {cb.cur_epoch_num} step: {step}, loss is {loss}", flush=True)


class TimeMonitor(Callback):
    """Prints each epoch's time and the time per step: ``Train epoch time: T ms, per step time: t ms`` (in
    ``epoch_begin``/``epoch_end``, MindSpore's hooks, for subclasses to extend)."""

    def __init__(self, data_size: int | None = None):
        self.data_size = data_size
        self._start = 0.0

    def epoch_begin(self, run_context):
        self._start = time.perf_counter()

    def epoch_end(self, run_context):
        elapsed_ms = (time.perf_counter() - self._start) * 1000.0
        steps = self.data_size or run_context.original_args().batch_num
        print(f"Train epoch time: {elapsed_ms:5.3f} ms, per step time: {elapsed_ms / max(steps, 1):5.3f} ms", flush=True)


# callbacks kept in their own modules (which import this one), importable from here as from mindspore.train.callback
_ELSEWHERE = {"ModelCheckpoint": "checkpoint", "CheckpointConfig": "checkpoint", "EarlyStopping": "early_stopping",
              "ReduceLROnPlateau": "reduce_lr", "LearningRateScheduler": "lr_scheduler", "History": "history", "LambdaCallback": "lambda_callback"}


def __getattr__(name: str):
    """``from funcad.train.callback import ModelCheckpoint, EarlyStopping, ...``, MindSpore's import path for its
    callbacks (each lives in its own ``funcad.train`` module, which imports this one)."""
    if name in _ELSEWHERE:
        return getattr(importlib.import_module(f"funcad.train.{_ELSEWHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
