"""MindSpore's ``LearningRateScheduler`` callback: a user's function of (rate, step) sets the rate after each step."""

from __future__ import annotations

import math
from collections.abc import Callable

from funcad.core.tensor import Parameter
from funcad.train.callback import Callback


class LearningRateScheduler(Callback):
    """After every training step, ``learning_rate_function(lr, cur_step_num)`` (the rate now as a float, the number of
    steps done, from 1) gives the rate for the next steps; it is written into the optimizer's ``learning_rate``
    Parameter (compiled steps read it) unless it equals the old one to 1e-10 relative, MindSpore's rule. The
    optimizer needs one fixed rate: a schedule or a per-step list is refused when training begins."""

    def __init__(self, learning_rate_function: Callable[[float, int], float]):
        if not callable(learning_rate_function):
            raise TypeError(f"LearningRateScheduler: learning_rate_function must be callable, got {type(learning_rate_function).__name__}")
        self.learning_rate_function = learning_rate_function

    @staticmethod
    def _rate_of(run_context) -> tuple[object, Parameter]:
        optimizer = getattr(run_context.original_args(), "optimizer", None)
        rate = getattr(optimizer, "learning_rate", None)
        if not isinstance(rate, Parameter):
            raise ValueError("LearningRateScheduler: the run needs an optimizer with one fixed learning rate (a number) to change, "
                             f"got {type(optimizer).__name__ if optimizer is not None else 'no optimizer'}"
                             + (f" with learning_rate {type(rate).__name__}" if optimizer is not None else ""))
        return optimizer, rate

    def on_train_begin(self, run_context) -> None:
        self._rate_of(run_context)

    def step_end(self, run_context) -> None:
        optimizer, rate = self._rate_of(run_context)
        lr = float(rate.asnumpy())
        new_lr = self.learning_rate_function(lr, run_context.original_args().cur_step_num)
        if not math.isclose(new_lr, lr, rel_tol=1e-10):
            optimizer.learning_rate = new_lr
