"""Learning-rate schedulers of ``mindspore.experimental.optim.lr_scheduler`` (torch.optim.lr_scheduler's rules, as
MindSpore's copies them).

``scheduler.step()`` runs in Python between training steps and writes each group's new rate into the group's lr
Parameter, so a step compiled with ``funcad.jit`` uses it on its next call. ``get_last_lr()`` gives the rates as 0-d
float64 Tensors (MindSpore's are float32 Tensors; torch's Python floats). ``last_epoch`` is a Python int (MindSpore keeps
it in a Parameter so that its ``jit_class`` schedulers can step inside a compiled function; here they step outside).
"""

from __future__ import annotations

import math
import numbers
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from funcad.core.tensor import Tensor
from funcad.experimental.optim.optimizer import Optimizer


def _check_optimizer(owner: str, optimizer) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{owner}: expected a funcad.experimental.optim Optimizer, got {type(optimizer).__name__}")


class LRScheduler:
    """Base of the schedulers: ``get_lr()`` computes the groups' next rates from their current ones (chainable, so
    two schedulers can drive one optimizer); ``step(epoch)`` with an epoch uses ``_get_closed_form_lr`` where there is one."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        owner = type(self).__name__
        _check_optimizer(owner, optimizer)
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < -1:
            raise ValueError(f"{owner}: last_epoch must be an int >= -1, got {last_epoch!r}")
        if last_epoch == -1:
            for i, group in enumerate(optimizer.param_groups):
                group.setdefault("initial_lr", optimizer.group_lr(i))
        else:
            missing = [i for i, group in enumerate(optimizer.param_groups) if "initial_lr" not in group]
            if missing:
                raise KeyError(f"{owner}: param_groups {missing} have no 'initial_lr', needed to resume at last_epoch={last_epoch}")
        self.optimizer = optimizer
        self.base_lrs: list[float] = [float(group["initial_lr"]) for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._last_lr: list[float] = self._current()
        self.step()

    def _current(self) -> list[float]:
        return [self.optimizer.group_lr(i) for i in range(len(self.optimizer.param_groups))]

    def get_lr(self) -> list[float]:
        """The groups' rates for ``last_epoch`` (each scheduler defines it)."""
        raise NotImplementedError(f"{type(self).__name__}: a scheduler defines get_lr")

    def get_last_lr(self) -> list[Tensor]:
        """The rates the last ``step`` set, one 0-d Tensor per group."""
        return [Tensor(np.array(lr, dtype=np.float64)) for lr in self._last_lr]

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch (or jump to ``epoch``) and write the new rates into the optimizer's groups."""
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            values = self._get_closed_form_lr() if hasattr(self, "_get_closed_form_lr") else self.get_lr()
        self._write(values)

    def _write(self, values) -> None:
        for i, value in enumerate(values):
            self.optimizer.set_group_lr(i, value)
        self._last_lr = self._current()


def _per_group(owner: str, optimizer: Optimizer, value, name: str) -> list:
    """One ``value`` per group: a list must have one per group, a single value is repeated."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(f"{owner}: expected {len(optimizer.param_groups)} {name} (one per parameter group), got {len(value)}")
        return list(value)
    return [value] * len(optimizer.param_groups)


class StepLR(LRScheduler):
    """lr * gamma every ``step_size`` epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current()
        return [lr * self.gamma for lr in self._current()]

    def _get_closed_form_lr(self):
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """lr * gamma at each milestone (twice at a milestone given twice)."""

    def __init__(self, optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1, last_epoch: int = -1):
        self.milestones, self.gamma = Counter(milestones), gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return self._current()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._current()]

    def _get_closed_form_lr(self):
        passed = bisect_right(sorted(self.milestones.elements()), self.last_epoch)
        return [base * self.gamma ** passed for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr * gamma every epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return self._current() if self.last_epoch == 0 else [lr * self.gamma for lr in self._current()]

    def _get_closed_form_lr(self):
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class LinearLR(LRScheduler):
    """The factor on the base rate goes linearly from ``start_factor`` to ``end_factor`` over ``total_iters`` epochs."""

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5, last_epoch: int = -1):
        if not 0.0 < start_factor <= 1.0:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor!r}")
        if not 0.0 <= end_factor <= 1.0:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor!r}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._current()]
        if self.last_epoch > self.total_iters:
            return self._current()
        change = self.end_factor - self.start_factor
        factor = 1.0 + change / (self.total_iters * self.start_factor + (self.last_epoch - 1) * change)
        return [lr * factor for lr in self._current()]

    def _get_closed_form_lr(self):
        done = min(self.total_iters, self.last_epoch) / self.total_iters
        return [base * (self.start_factor + (self.end_factor - self.start_factor) * done) for base in self.base_lrs]


class ConstantLR(LRScheduler):
    """lr * factor until epoch ``total_iters``, then lr."""

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1):
        if not 0.0 <= factor <= 1.0:
            raise ValueError(f"ConstantLR: factor must be in [0, 1], got {factor!r}")
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._current()]
        if self.last_epoch != self.total_iters:
            return self._current()
        return [lr / self.factor for lr in self._current()]

    def _get_closed_form_lr(self):
        return [base * (self.factor + (self.last_epoch >= self.total_iters) * (1.0 - self.factor)) for base in self.base_lrs]


class PolynomialLR(LRScheduler):
    """base * (1 - epoch / total_iters) ** power, 0 from ``total_iters`` on."""

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1):
        self.total_iters, self.power = total_iters, power
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch > self.total_iters:
            return self._current()
        factor = ((1.0 - self.last_epoch / self.total_iters) / (1.0 - (self.last_epoch - 1) / self.total_iters)) ** self.power
        return [lr * factor for lr in self._current()]

    def _get_closed_form_lr(self):
        return [base * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """eta_min + (base - eta_min) (1 + cos(pi epoch / T_max)) / 2, computed as torch's recurrence on the current rate."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):  # noqa: N803 (MindSpore's name)
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        epoch, t_max, low = self.last_epoch, self.T_max, self.eta_min
        if epoch == 0:
            return self._current()
        if (epoch - 1 - t_max) % (2 * t_max) == 0:
            return [lr + (base - low) * (1.0 - math.cos(math.pi / t_max)) / 2.0 for lr, base in zip(self._current(), self.base_lrs)]
        ratio = (1.0 + math.cos(math.pi * epoch / t_max)) / (1.0 + math.cos(math.pi * (epoch - 1) / t_max))
        return [ratio * (lr - low) + low for lr in self._current()]

    def _get_closed_form_lr(self):
        return [self.eta_min + (base - self.eta_min) * (1.0 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2.0 for base in self.base_lrs]


class LambdaLR(LRScheduler):
    """base * lr_lambda(epoch); ``lr_lambda`` is one function or one per group."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable | list[Callable], last_epoch: int = -1):
        self.lr_lambdas = _per_group(type(self).__name__, optimizer, lr_lambda, "lr_lambda functions")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(LRScheduler):
    """lr * lr_lambda(epoch) every epoch after the first."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable | list[Callable], last_epoch: int = -1):
        self.lr_lambdas = _per_group(type(self).__name__, optimizer, lr_lambda, "lr_lambda functions")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch <= 0:
            return self._current()
        return [lr * fn(self.last_epoch) for fn, lr in zip(self.lr_lambdas, self._current())]


class CyclicLR(LRScheduler):
    """Cyclical rates between ``base_lr`` and ``max_lr`` (triangle waves of ``step_size_up`` + ``step_size_down``
    epochs; 'triangular2' halves the height each cycle, 'exp_range' scales it by gamma ** epoch, or ``scale_fn``).
    As MindSpore's, without torch's momentum cycling."""

    def __init__(self, optimizer: Optimizer, base_lr, max_lr, step_size_up: int = 2000, step_size_down: int | None = None,
                 mode: str = "triangular", gamma: float = 1.0, scale_fn: Callable | None = None, scale_mode: str = "cycle",
                 last_epoch: int = -1):
        owner = type(self).__name__
        _check_optimizer(owner, optimizer)
        base_lrs = [float(v) for v in _per_group(owner, optimizer, base_lr, "base_lr values")]
        if last_epoch == -1:
            for i, lr in enumerate(base_lrs):
                optimizer.set_group_lr(i, lr)
        self.max_lrs = [float(v) for v in _per_group(owner, optimizer, max_lr, "max_lr values")]
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if scale_fn is None:
            shapes = {"triangular": (lambda x: 1.0, "cycle"), "triangular2": (lambda x: 1.0 / 2.0 ** (x - 1), "cycle"),
                      "exp_range": (lambda x: gamma ** x, "iterations")}
            if mode not in shapes:
                raise ValueError(f"{owner}: mode must be one of {sorted(shapes)} or give scale_fn, got {mode!r}")
            scale_fn, scale_mode = shapes[mode]
        elif scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"{owner}: scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}")
        self.mode, self.gamma, self.scale_fn, self.scale_mode = mode, gamma, scale_fn, scale_mode
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def get_lr(self):
        position = self.last_epoch / self.total_size
        cycle = math.floor(1.0 + position)
        x = 1.0 + position - cycle
        factor = x / self.step_ratio if x <= self.step_ratio else (x - 1.0) / (self.step_ratio - 1.0)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        return [base + (top - base) * factor * scale for base, top in zip(self.base_lrs, self.max_lrs)]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing restarted every T_i epochs (T_0, then times T_mult); ``step(epoch)`` takes fractional epochs."""

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0, last_epoch: int = -1):  # noqa: N803
        owner = type(self).__name__
        if isinstance(T_0, bool) or not isinstance(T_0, int) or T_0 <= 0:
            raise ValueError(f"{owner}: T_0 must be a positive int, got {T_0!r}")
        if isinstance(T_mult, bool) or not isinstance(T_mult, int) or T_mult < 1:
            raise ValueError(f"{owner}: T_mult must be an int >= 1, got {T_mult!r}")
        self.T_0, self.T_i, self.T_mult, self.eta_min = T_0, T_0, T_mult, eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [self.eta_min + (base - self.eta_min) * (1.0 + math.cos(math.pi * self.T_cur / self.T_i)) / 2.0 for base in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:
                self.T_cur -= self.T_i
                self.T_i *= self.T_mult
        elif epoch < 0:
            raise ValueError(f"{type(self).__name__}.step: epoch must be >= 0, got {epoch!r}")
        elif epoch >= self.T_0:
            if self.T_mult == 1:
                self.T_cur = epoch % self.T_0
            else:
                n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
                self.T_i = self.T_0 * self.T_mult ** n
        else:
            self.T_i, self.T_cur = self.T_0, epoch
        self.last_epoch = math.floor(epoch)
        self._write(self.get_lr())


class SequentialLR(LRScheduler):
    """Runs ``schedulers[i]`` between milestones i-1 and i; at a milestone the next one restarts from epoch 0."""

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int], last_epoch: int = -1):
        owner = type(self).__name__
        _check_optimizer(owner, optimizer)
        if not schedulers or any(s.optimizer is not optimizer for s in schedulers):
            raise ValueError(f"{owner}: needs at least one scheduler, all of the given optimizer")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"{owner}: expected {len(schedulers) - 1} milestones for {len(schedulers)} schedulers, got {len(milestones)}")
        self.optimizer, self._schedulers, self._milestones = optimizer, list(schedulers), list(milestones)
        self.last_epoch = last_epoch + 1
        for i, group in enumerate(optimizer.param_groups):
            optimizer.set_group_lr(i, group["initial_lr"])
        for scheduler in self._schedulers:  # undo the step each made when built
            scheduler.last_epoch -= 1
        self._schedulers[0].step()
        self._last_lr = self._schedulers[0]._last_lr

    def step(self) -> None:  # noqa: D102 (LRScheduler's)
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler.step(0)
        else:
            scheduler.step()
        self._last_lr = scheduler._last_lr


class ChainedScheduler(LRScheduler):
    """Steps every scheduler in turn, each on the rates the previous one set."""

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None):
        if not schedulers:
            raise ValueError("ChainedScheduler: needs at least one scheduler")
        optimizer = optimizer or schedulers[0].optimizer
        if any(s.optimizer is not optimizer for s in schedulers):
            raise ValueError("ChainedScheduler: all schedulers must drive the same optimizer")
        self.optimizer, self._schedulers = optimizer, list(schedulers)
        self._last_lr = self._current()

    def step(self) -> None:  # noqa: D102 (LRScheduler's)
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = self._current()


class ReduceLROnPlateau(LRScheduler):
    """lr * factor (not below min_lr) once the metric given to ``step(metric)`` has not improved for ``patience``
    epochs, then waits ``cooldown`` epochs."""

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10, threshold: float = 1e-4,
                 threshold_mode: str = "rel", cooldown: int = 0, min_lr: float | list[float] = 0.0, eps: float = 1e-8):
        owner = type(self).__name__
        _check_optimizer(owner, optimizer)
        if not factor < 1.0:
            raise ValueError(f"{owner}: factor must be < 1.0, got {factor!r}")
        if mode not in ("min", "max") or threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{owner}: mode must be 'min' or 'max' and threshold_mode 'rel' or 'abs', got {mode!r}, {threshold_mode!r}")
        self.optimizer, self.mode, self.factor, self.patience = optimizer, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown, self.eps = threshold, threshold_mode, cooldown, eps
        self.min_lrs = [float(v) for v in _per_group(owner, optimizer, min_lr, "min_lr values")]
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = self.last_epoch = 0
        self._last_lr = self._current()

    def _is_better(self, value: float) -> bool:
        if self.mode == "min":
            return value < (self.best * (1.0 - self.threshold) if self.threshold_mode == "rel" else self.best - self.threshold)
        return value > (self.best * (1.0 + self.threshold) if self.threshold_mode == "rel" else self.best + self.threshold)

    def step(self, metrics) -> None:  # noqa: D102 (takes the metric)
        if not isinstance(metrics, (numbers.Real, Tensor, np.ndarray)):
            raise TypeError(f"{type(self).__name__}.step: metrics must be a number or a 0-d Tensor, got {type(metrics).__name__}")
        value = float(metrics)
        self.last_epoch += 1
        if self._is_better(value):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for i, (lr, low) in enumerate(zip(self._current(), self.min_lrs)):
                new = max(lr * self.factor, low)
                if lr - new > self.eps:
                    self.optimizer.set_group_lr(i, new)
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = self._current()


__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "LinearLR", "ConstantLR", "PolynomialLR", "CosineAnnealingLR",
           "LambdaLR", "MultiplicativeLR", "CyclicLR", "CosineAnnealingWarmRestarts", "SequentialLR", "ChainedScheduler",
           "ReduceLROnPlateau"]
