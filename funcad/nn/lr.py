"""Learning-rate schedules with MindSpore's names: lists of per-step rates (``nn.piecewise_constant_lr`` ...) and
``LearningRateSchedule`` Cells called with the optimizer's global step. An optimizer takes either as its
``learning_rate``; a list gives the rate of step i as ``lr[min(i, len(lr) - 1)]``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from funcad import ops
from funcad.core.tensor import Tensor
from funcad.nn.cell import Cell


def _positive_int(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def _positive(owner: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{owner}: {name} must be a positive number, got {value!r}")
    return float(value)


def _epoch_steps(owner: str, total_step, step_per_epoch, decay_epoch) -> range:
    _positive_int(owner, "total_step", total_step)
    _positive_int(owner, "step_per_epoch", step_per_epoch)
    _positive_int(owner, "decay_epoch", decay_epoch)
    return range(total_step)


def piecewise_constant_lr(milestone, learning_rates) -> list[float]:
    """``learning_rates[j]`` for steps ``milestone[j-1] <= i < milestone[j]``, ``milestone[-1]`` steps in all."""
    if len(milestone) != len(learning_rates) or not milestone:
        raise ValueError(f"piecewise_constant_lr: milestone ({len(milestone)}) and learning_rates ({len(learning_rates)}) "
                         "must be non-empty and of equal length")
    previous = 0
    for m in milestone:
        _positive_int("piecewise_constant_lr", "each milestone", m)
        if m <= previous:
            raise ValueError(f"piecewise_constant_lr: milestone must increase strictly, got {list(milestone)}")
        previous = m
    out: list[float] = []
    start = 0
    for stop, lr in zip(milestone, learning_rates):
        out += [float(lr)] * (stop - start)
        start = stop
    return out


def _decay_epochs(current_epoch: int, decay_epoch: int, is_stair: bool) -> float:
    return math.floor(current_epoch / decay_epoch) if is_stair else current_epoch / decay_epoch


def exponential_decay_lr(learning_rate, decay_rate, total_step, step_per_epoch, decay_epoch, is_stair=False) -> list[float]:
    """``learning_rate * decay_rate ** (epoch / decay_epoch)`` (the exponent floored when ``is_stair``)."""
    steps = _epoch_steps("exponential_decay_lr", total_step, step_per_epoch, decay_epoch)
    return [learning_rate * decay_rate ** _decay_epochs(i // step_per_epoch, decay_epoch, is_stair) for i in steps]


def natural_exp_decay_lr(learning_rate, decay_rate, total_step, step_per_epoch, decay_epoch, is_stair=False) -> list[float]:
    """``learning_rate * e ** (-decay_rate * epoch)`` (epoch rounded down to a multiple of decay_epoch when ``is_stair``)."""
    steps = _epoch_steps("natural_exp_decay_lr", total_step, step_per_epoch, decay_epoch)
    epoch = [(i // step_per_epoch) // decay_epoch * decay_epoch if is_stair else i // step_per_epoch for i in steps]
    return [learning_rate * math.e ** (-decay_rate * e) for e in epoch]


def inverse_decay_lr(learning_rate, decay_rate, total_step, step_per_epoch, decay_epoch, is_stair=False) -> list[float]:
    """``learning_rate / (1 + decay_rate * epoch / decay_epoch)`` (the ratio floored when ``is_stair``)."""
    steps = _epoch_steps("inverse_decay_lr", total_step, step_per_epoch, decay_epoch)
    return [learning_rate / (1 + decay_rate * _decay_epochs(i // step_per_epoch, decay_epoch, is_stair)) for i in steps]


def cosine_decay_lr(min_lr, max_lr, total_step, step_per_epoch, decay_epoch) -> list[float]:
    """``min_lr + (max_lr - min_lr) / 2 * (1 + cos(pi * min(epoch, decay_epoch) / decay_epoch))``."""
    steps = _epoch_steps("cosine_decay_lr", total_step, step_per_epoch, decay_epoch)
    delta = 0.5 * (max_lr - min_lr)
    return [min_lr + delta * (1 + math.cos(math.pi * min(i // step_per_epoch, decay_epoch) / decay_epoch)) for i in steps]


def polynomial_decay_lr(learning_rate, end_learning_rate, total_step, step_per_epoch, decay_epoch, power,
                        update_decay_epoch=False) -> list[float]:
    """``(learning_rate - end) * (1 - epoch / decay) ** power + end``; the epoch stops at decay_epoch, or with
    ``update_decay_epoch`` the decay span grows to the next multiple of decay_epoch instead."""
    steps = _epoch_steps("polynomial_decay_lr", total_step, step_per_epoch, decay_epoch)
    delta = learning_rate - end_learning_rate
    out = []
    for i in steps:
        epoch = i // step_per_epoch
        if update_decay_epoch:
            span = decay_epoch * max(1, math.ceil(epoch / decay_epoch))
        else:
            span, epoch = decay_epoch, min(epoch, decay_epoch)
        out.append(delta * (1 - epoch / span) ** power + end_learning_rate)
    return out


def warmup_lr(learning_rate, total_step, step_per_epoch, warmup_epoch) -> list[float]:
    """``learning_rate * min(epoch, warmup_epoch) / warmup_epoch``."""
    steps = _epoch_steps("warmup_lr", total_step, step_per_epoch, warmup_epoch)
    return [learning_rate * min(i // step_per_epoch, warmup_epoch) / warmup_epoch for i in steps]


class StepTable:
    """A list of per-step rates as an optimizer's learning rate: ``table[min(step, len - 1)]``, written with ops
    (a one-hot selection) so that a compiled step reads the traced global step."""

    def __init__(self, rates):
        values = np.asarray(rates, dtype=np.float32).reshape(-1)
        if values.size == 0 or not np.all(values >= 0) or not np.all(np.isfinite(values)):
            raise ValueError(f"learning_rate: a list of rates must be non-empty, finite and non-negative, got {list(rates)[:8]}")
        self.values = Tensor._wrap(values)
        self.positions = Tensor._wrap(np.arange(values.size, dtype=np.int32))

    def __call__(self, global_step):
        step = ops.minimum(global_step, self.values.shape[0] - 1)
        return ops.sum(ops.where(ops.equal(self.positions, step), self.values, 0.0))


class LearningRateSchedule(Cell):
    """Base of the schedule Cells: ``construct(global_step)`` returns the rate as a 0-d float32 Tensor."""

    def _progress(self, global_step, steps: int, is_stair: bool = False, clip: bool = False):
        p = ops.cast(global_step, np.float32)
        if clip:
            p = ops.minimum(p, float(steps))
        p = p / float(steps)
        return ops.floor(p) if is_stair else p


class ExponentialDecayLR(LearningRateSchedule):
    """``learning_rate * decay_rate ** (step / decay_steps)`` (the exponent floored when ``is_stair``)."""

    def __init__(self, learning_rate, decay_rate, decay_steps, is_stair=False):
        super().__init__()
        self.learning_rate = _positive("ExponentialDecayLR", "learning_rate", learning_rate)
        self.decay_rate = _positive("ExponentialDecayLR", "decay_rate", decay_rate)
        self.decay_steps = _positive_int("ExponentialDecayLR", "decay_steps", decay_steps)
        self.is_stair = bool(is_stair)

    def construct(self, global_step):
        return self.learning_rate * ops.power(self.decay_rate, self._progress(global_step, self.decay_steps, self.is_stair))


class NaturalExpDecayLR(ExponentialDecayLR):
    """``learning_rate * e ** (-decay_rate * p)`` with p = step (rounded down to a multiple of decay_steps when
    ``is_stair``): unlike its siblings, MindSpore's exponent does not divide by decay_steps."""

    def construct(self, global_step):
        p = ops.cast(global_step, np.float32)
        if self.is_stair:
            p = ops.floor(p / float(self.decay_steps)) * float(self.decay_steps)
        return self.learning_rate * ops.exp(-self.decay_rate * p)


class InverseDecayLR(ExponentialDecayLR):
    """``learning_rate / (1 + decay_rate * p)`` with p = step / decay_steps (floored when ``is_stair``)."""

    def construct(self, global_step):
        return self.learning_rate / (1.0 + self.decay_rate * self._progress(global_step, self.decay_steps, self.is_stair))


class CosineDecayLR(LearningRateSchedule):
    """``min_lr + (max_lr - min_lr) / 2 * (1 + cos(pi * min(step, decay_steps) / decay_steps))``."""

    def __init__(self, min_lr, max_lr, decay_steps):
        super().__init__()
        if not 0 <= min_lr < max_lr:
            raise ValueError(f"CosineDecayLR: need 0 <= min_lr < max_lr, got min_lr={min_lr!r}, max_lr={max_lr!r}")
        self.min_lr, self.max_lr = float(min_lr), float(max_lr)
        self.decay_steps = _positive_int("CosineDecayLR", "decay_steps", decay_steps)

    def construct(self, global_step):
        p = self._progress(global_step, self.decay_steps, clip=True)
        return self.min_lr + 0.5 * (self.max_lr - self.min_lr) * (1.0 + ops.cos(math.pi * p))


class PolynomialDecayLR(LearningRateSchedule):
    """``(learning_rate - end) * (1 - p) ** power + end`` with p = min(step, decay_steps) / decay_steps; with
    ``update_decay_steps`` the span grows to the next multiple of decay_steps instead of stopping."""

    def __init__(self, learning_rate, end_learning_rate, decay_steps, power, update_decay_steps=False):
        super().__init__()
        self.learning_rate = _positive("PolynomialDecayLR", "learning_rate", learning_rate)
        self.end_learning_rate = float(end_learning_rate)
        self.decay_steps = _positive_int("PolynomialDecayLR", "decay_steps", decay_steps)
        self.power = _positive("PolynomialDecayLR", "power", power)
        self.update_decay_steps = bool(update_decay_steps)

    def construct(self, global_step):
        step = ops.cast(global_step, np.float32)
        if self.update_decay_steps:
            span = self.decay_steps * ops.maximum(ops.ceil(step / float(self.decay_steps)), 1.0)
            p = step / span
        else:
            p = self._progress(global_step, self.decay_steps, clip=True)
        return (self.learning_rate - self.end_learning_rate) * ops.power(1.0 - p, self.power) + self.end_learning_rate


class WarmUpLR(LearningRateSchedule):
    """``learning_rate * min(step, warmup_steps) / warmup_steps``."""

    def __init__(self, learning_rate, warmup_steps):
        super().__init__()
        self.learning_rate = _positive("WarmUpLR", "learning_rate", learning_rate)
        self.warmup_steps = _positive_int("WarmUpLR", "warmup_steps", warmup_steps)

    def construct(self, global_step):
        return self.learning_rate * self._progress(global_step, self.warmup_steps, clip=True)
