"""MindSpore's ``ReduceLROnPlateau``: lower the optimizer's learning rate once the monitored value stops improving."""

from __future__ import annotations

from funcad.train.monitored import MonitoredCallback, check_bool, check_count, check_number


class ReduceLROnPlateau(MonitoredCallback):
    """Multiplies the optimizer's learning rate by ``factor`` (never below ``min_lr``) when ``monitor`` has not
    improved by more than ``min_delta`` for ``patience`` epochs, then waits ``cooldown`` epochs before counting again.

    MindSpore's rule, at the end of each epoch with a monitored value: during cooldown the counter stays at 0; an
    improvement makes the value the best and resets the counter; otherwise (out of cooldown) the counter grows, and at
    ``patience`` the rate becomes ``max(lr * factor, min_lr)`` if it is above ``min_lr``, cooldown starts and the
    counter resets. The optimizer must have one fixed learning rate (a number): a schedule or parameter groups'
    rates are refused when training begins, as MindSpore refuses them.
    """

    def __init__(self, monitor: str = "eval_loss", factor: float = 0.1, patience: int = 10, verbose: bool = False,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0):
        super().__init__(monitor, mode, min_delta)
        owner = "ReduceLROnPlateau"
        self.factor = check_number(owner, "factor", factor)
        if not 0.0 < self.factor < 1.0:
            raise ValueError(f"{owner}: factor must be in (0, 1), got {factor!r}")
        self.patience = check_count(owner, "patience", patience)
        self.verbose = check_bool(owner, "verbose", verbose)
        self.cooldown = check_count(owner, "cooldown", cooldown)
        self.min_lr = check_number(owner, "min_lr", min_lr)
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, run_context) -> None:
        self._optimizer(run_context.original_args())
        self.cooldown_counter = 0
        self.wait = 0
        self.best = self._worst()

    @staticmethod
    def _optimizer(cb):
        optimizer = getattr(cb, "optimizer", None)
        if optimizer is None or not hasattr(optimizer, "learning_rate"):
            raise ValueError("ReduceLROnPlateau: the run has no optimizer whose learning rate it could change "
                             "(give Model an optimizer)")
        if callable(optimizer.learning_rate) or getattr(optimizer, "group_rates", None) is not None:
            raise ValueError(f"ReduceLROnPlateau: {type(optimizer).__name__} has a dynamic learning rate or parameter "
                             "groups' rates; it changes one fixed learning rate only")
        return optimizer

    def on_train_epoch_end(self, run_context) -> None:
        cb = run_context.original_args()
        optimizer = self._optimizer(cb)
        current = self._monitor_value(cb)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                lr = float(optimizer.learning_rate)
                if lr > self.min_lr:
                    new_lr = max(lr * self.factor, self.min_lr)
                    optimizer.learning_rate = new_lr  # written into the rate's Parameter: compiled steps read it
                    if self.verbose:
                        print(f"Epoch {cb.cur_epoch_num:05d}: ReduceLROnPlateau reducing learning rate to {new_lr}.", flush=True)
                self.cooldown_counter = self.cooldown
                self.wait = 0
