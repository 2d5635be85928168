"""What EarlyStopping and ReduceLROnPlateau share: the monitored value of an epoch, and MindSpore's rule for when it
has improved."""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from funcad.train.callback import Callback

# MindSpore's 'auto' mode: these monitors improve by decreasing, every other one by increasing
SMALLER_IS_BETTER = frozenset({"hausdorff_distance", "mae", "mse", "loss", "perplexity", "mean_surface_distance",
                               "root_mean_square_distance", "eval_loss"})
MODES = ("auto", "min", "max")


def check_count(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{owner}: {name} must be an int >= 0, got {value!r}")
    return int(value)


def check_number(owner: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    return float(value)


def check_bool(owner: str, name: str, value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be a bool, got {value!r}")
    return value


def first_output_mean(outputs):
    """A step's loss as MindSpore's callbacks read it: the first of a tuple of outputs, averaged (in its dtype)."""
    if isinstance(outputs, (tuple, list)) and outputs:
        outputs = outputs[0]
    if outputs is None or isinstance(outputs, (str, bytes)):
        return outputs
    return np.mean(np.asarray(outputs))


class MonitoredCallback(Callback):
    """A callback that watches ``monitor`` at each epoch's end: ``"loss"`` (the last training step's loss) or a key
    of ``eval_results`` (``"eval_loss"`` or a metric name given to ``Model``), which ``Model.fit`` fills on epochs it
    evaluates. ``mode`` 'min'/'max' says which way is better; 'auto' takes 'min' for losses and errors, else 'max'.
    A value improves on ``best`` when it beats it by more than ``min_delta``."""

    def __init__(self, monitor: str, mode: str, min_delta: float):
        owner = type(self).__name__
        if not isinstance(monitor, str):
            raise TypeError(f"{owner}: monitor must be a str such as 'eval_loss', 'loss' or 'accuracy', got {monitor!r}")
        if not isinstance(mode, str) or mode not in MODES:
            raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor, self.mode = monitor, mode
        self.min_delta = abs(check_number(owner, "min_delta", min_delta))
        self._lower_is_better = mode == "min" or (mode == "auto" and monitor in SMALLER_IS_BETTER)
        self.best = self._worst()

    def _worst(self) -> float:
        return np.inf if self._lower_is_better else -np.inf

    def is_improvement(self, value: float, reference: float) -> bool:
        """Whether ``value`` beats ``reference`` by more than ``min_delta`` in the monitored direction."""
        if self._lower_is_better:
            return bool(value < reference - self.min_delta)
        return bool(value > reference + self.min_delta)

    def _monitor_value(self, cb) -> float | None:
        """This epoch's monitored value, or None (with a warning naming what is there) when it is missing; a
        ``Model.fit`` epoch that was not evaluated is skipped quietly."""
        owner = type(self).__name__
        results = getattr(cb, "eval_results", None) or {}
        if self.monitor == "loss":
            value = first_output_mean(getattr(cb, "net_outputs", None))
        else:
            value = results.get(self.monitor)
            if value is None and not results and getattr(cb, "valid_dataset", None) is not None:
                return None  # fit evaluates on other epochs
        if value is None:
            choices = ", ".join(repr(k) for k in ["loss", *results])
            warnings.warn(f"{owner}: monitor {self.monitor!r} is not available at epoch {getattr(cb, 'cur_epoch_num', None)} "
                          f"(available: {choices}); this epoch is not counted", RuntimeWarning, stacklevel=2)
            return None
        arr = np.asarray(value.asnumpy() if hasattr(value, "asnumpy") else value)
        if arr.size != 1 or arr.dtype.kind not in "biuf":
            raise ValueError(f"{owner}: the monitored {self.monitor!r} must be a scalar number, got {value!r}")
        return float(arr.reshape(()))
