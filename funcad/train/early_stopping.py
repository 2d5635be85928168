"""MindSpore's ``EarlyStopping``: stop training once the monitored value has stopped improving."""

from __future__ import annotations

import numpy as np

from funcad.train.monitored import MonitoredCallback, check_bool, check_count, check_number


def _state(cb) -> dict:
    """``{name: Parameter}`` of everything the training step updates: the network's Parameters and the optimizer's
    state (moments, ``global_step``), as MindSpore's training Cell lists them."""
    out = dict(cb.train_network.parameters_and_names())
    state = getattr(getattr(cb, "optimizer", None), "parameters_and_names", None)
    if state is not None:
        out.update(state())
    return out


class EarlyStopping(MonitoredCallback):
    """Stops training (``run_context.request_stop()``) when ``monitor`` has not improved for ``patience`` epochs.

    MindSpore's rule, at the end of each epoch with a monitored value: the wait counter grows by one; an improvement
    on the best value by more than ``min_delta`` makes it the best and resets the counter to 0 (with ``baseline``,
    only if it also improves on the baseline); when the counter is ``>= patience`` training stops. So the default
    ``patience=0`` stops after the first monitored epoch. ``restore_best_weights`` loads the Parameters (and the
    optimizer's state) of the best epoch back when it stops. ``stopped_epoch`` is the epoch it stopped at (0: none).
    """

    def __init__(self, monitor: str = "eval_loss", min_delta: float = 0, patience: int = 0, verbose: bool = False,
                 mode: str = "auto", baseline: float | None = None, restore_best_weights: bool = False):
        super().__init__(monitor, mode, min_delta)
        owner = "EarlyStopping"
        self.patience = check_count(owner, "patience", patience)
        self.verbose = check_bool(owner, "verbose", verbose)
        self.baseline = None if baseline is None else check_number(owner, "baseline", baseline)
        self.restore_best_weights = check_bool(owner, "restore_best_weights", restore_best_weights)
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights_param_dict: dict[str, np.ndarray] | None = None

    def on_train_begin(self, run_context) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = self._worst()
        self.best_weights_param_dict = None

    def on_train_epoch_end(self, run_context) -> None:
        cb = run_context.original_args()
        current = self._monitor_value(cb)
        if current is None:
            return
        if self.restore_best_weights and self.best_weights_param_dict is None:
            self._keep_weights(cb)
        self.wait += 1
        if self.is_improvement(current, self.best):
            self.best = current
            if self.restore_best_weights:
                self._keep_weights(cb)
            if self.baseline is None or self.is_improvement(current, self.baseline):
                self.wait = 0
        if self.wait >= self.patience:
            self.stopped_epoch = cb.cur_epoch_num
            run_context.request_stop()
            if self.restore_best_weights and self.best_weights_param_dict is not None:
                if self.verbose:
                    print("Restoring model weights from the end of the best epoch.", flush=True)
                self._restore_weights(cb)

    def on_train_end(self, run_context) -> None:
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch:05d}: early stopping", flush=True)

    def _keep_weights(self, cb) -> None:
        self.best_weights_param_dict = {name: np.array(p.asnumpy(), copy=True) for name, p in _state(cb).items()}

    def _restore_weights(self, cb) -> None:
        for name, p in _state(cb).items():
            if name in self.best_weights_param_dict:
                p.set_data(self.best_weights_param_dict[name])
