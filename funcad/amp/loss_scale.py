"""Loss scaling (StaticLossScaler, DynamicLossScaler) and all_finite, with MindSpore's semantics.

The dynamic scaler keeps its scale and counter as Parameters and updates them with ops only, so a training step
that calls ``adjust`` compiles with ``funcad.jit`` and the state is carried from call to call.
"""

from __future__ import annotations

import numbers

import numpy as np

from funcad import ops
from funcad.core import pytree
from funcad.core.tensor import Parameter, Tensor


def all_finite(inputs) -> Tensor:
    """A bool 0-d Tensor: True when no element of any Tensor in ``inputs`` (a Tensor or a tuple/list of them) is
    inf or NaN. Works under ``funcad.jit`` (the result is then traced: pick with ``ops.where`` on it)."""
    leaves, _ = pytree.flatten(inputs)
    if not leaves:
        raise ValueError("all_finite: got no Tensors")
    bad = None
    for leaf in leaves:
        count = ops.sum(ops.cast(ops.logical_not(ops.isfinite(leaf)), np.int32))
        bad = count if bad is None else bad + count
    return ops.equal(bad, 0)


def _positive(owner: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{owner}: {name} must be a positive number, got {value!r}")
    return float(value)


class LossScaler:
    """Base of the loss scalers: ``scale`` the loss, ``unscale`` gradients (any pytree of Tensors), ``adjust``."""

    scale_value: Parameter

    def scale(self, inputs):
        return pytree.tree_map(lambda x: x * ops.cast(self.scale_value, x.dtype), inputs)

    def unscale(self, inputs):
        return pytree.tree_map(lambda x: x * ops.cast(1.0 / self.scale_value, x.dtype), inputs)

    def adjust(self, grads_finite):
        """Update the scale after a step whose gradients were (not) all finite; returns whether it changed anything."""
        return False


class StaticLossScaler(LossScaler):
    """A fixed scale."""

    def __init__(self, scale_value):
        self.scale_value = Parameter(np.array(_positive("StaticLossScaler", "scale_value", scale_value), np.float32),
                                     name="scale_value", requires_grad=False)


class DynamicLossScaler(LossScaler):
    """A scale that is divided by ``scale_factor`` (to at least 1) after a step with non-finite gradients and
    multiplied by it after ``scale_window`` finite steps in a row (as long as the product stays finite)."""

    def __init__(self, scale_value, scale_factor, scale_window):
        self.scale_value = Parameter(np.array(_positive("DynamicLossScaler", "scale_value", scale_value), np.float32),
                                     name="scale_value", requires_grad=False)
        self.scale_factor = _positive("DynamicLossScaler", "scale_factor", scale_factor)
        if isinstance(scale_window, bool) or not isinstance(scale_window, numbers.Integral) or scale_window < 1:
            raise ValueError(f"DynamicLossScaler: scale_window must be a positive int, got {scale_window!r}")
        self.scale_window = int(scale_window)
        self.counter = Parameter(np.array(0, np.int32), name="counter", requires_grad=False)

    def adjust(self, grads_finite):
        finite = grads_finite if isinstance(grads_finite, Tensor) else Tensor(np.array(bool(grads_finite)))
        ops.assign(self.scale_value, self._next_scale(self.scale_value, finite))
        ops.assign(self.counter, ops.where(finite, ops.remainder(self.counter + 1, self.scale_window), 0))
        return True

    def _next_scale(self, scale, finite):
        """The scale after a step from ``scale``: grown at the end of a window of finite steps, cut after an overflow."""
        grown = scale * self.scale_factor
        at_window = ops.equal(self.counter, self.scale_window - 1)
        up = ops.where(ops.logical_and(at_window, ops.isfinite(grown)), grown, scale)
        return ops.where(finite, up, ops.maximum(scale / self.scale_factor, 1.0))



class FixedLossScaleUpdateCell(StaticLossScaler):
    """MindSpore's ``nn.FixedLossScaleUpdateCell``: a fixed scale for ``nn.TrainOneStepWithLossScaleCell``; called
    as MindSpore's Cell, ``cell(loss_scale, overflow)`` changes nothing and returns ``overflow``."""

    def __init__(self, loss_scale_value):
        super().__init__(loss_scale_value)

    def get_loss_scale(self) -> Parameter:
        return self.scale_value

    def __call__(self, loss_scale, overflow):
        return overflow


class DynamicLossScaleUpdateCell(DynamicLossScaler):
    """MindSpore's ``nn.DynamicLossScaleUpdateCell``: a dynamic scale for ``nn.TrainOneStepWithLossScaleCell``.
    Called as MindSpore's Cell, ``cell(loss_scale, overflow)`` (what the model zoo's loss-scaled training cells do
    with a scale Parameter of their own) writes the next scale into ``loss_scale`` (and its own) and returns
    ``overflow``."""

    def __init__(self, loss_scale_value, scale_factor, scale_window):
        super().__init__(loss_scale_value, scale_factor, scale_window)

    def get_loss_scale(self) -> Parameter:
        return self.scale_value

    def __call__(self, loss_scale, overflow):
        if not isinstance(loss_scale, Parameter):
            raise TypeError(f"DynamicLossScaleUpdateCell: loss_scale must be the Parameter holding the scale, got {type(loss_scale).__name__}")
        finite = ops.logical_not(overflow if isinstance(overflow, Tensor) else Tensor(np.array(bool(overflow))))
        scale = ops.reshape(self._next_scale(ops.reshape(ops.cast(loss_scale, np.float32), ()), finite), loss_scale.shape)
        ops.assign(loss_scale, ops.cast(scale, loss_scale.dtype))
        if loss_scale is not self.scale_value:
            ops.assign(self.scale_value, ops.reshape(ops.cast(scale, np.float32), ()))
        ops.assign(self.counter, ops.where(finite, ops.remainder(self.counter + 1, self.scale_window), 0))
        return overflow


class FixedLossScaleManager:
    """A constant loss scale for ``funcad.train.Model`` and ``amp.build_train_network``. With
    ``drop_overflow_update`` (the default) the step is ``nn.TrainOneStepWithLossScaleCell``'s, which divides the
    gradients by the scale and skips a step whose gradients are not all finite. Without it, as in MindSpore, there is
    no update cell: the step is ``nn.TrainOneStepCell(net, optimizer, sens=loss_scale)``, which hands the optimizer
    the scaled gradients, for an optimizer made with the same ``loss_scale`` to divide (the model zoo's pattern)."""

    def __init__(self, loss_scale: float = 128.0, drop_overflow_update: bool = True):
        self.loss_scale = _positive("FixedLossScaleManager", "loss_scale", loss_scale)
        self.drop_overflow_update = bool(drop_overflow_update)

    def get_loss_scale(self) -> float:
        return self.loss_scale

    def get_drop_overflow_update(self) -> bool:
        return self.drop_overflow_update

    def get_update_cell(self) -> LossScaler | None:
        return FixedLossScaleUpdateCell(self.loss_scale) if self.drop_overflow_update else None


class DynamicLossScaleManager:
    """A scale that adapts as ``DynamicLossScaler``'s does, for ``funcad.train.Model`` and ``amp.build_train_network``;
    overflowing steps change nothing."""

    def __init__(self, init_loss_scale: float = 2.0**24, scale_factor: float = 2, scale_window: int = 2000):
        self.loss_scale = _positive("DynamicLossScaleManager", "init_loss_scale", init_loss_scale)
        self.scale_factor, self.scale_window = scale_factor, scale_window
        DynamicLossScaler(init_loss_scale, scale_factor, scale_window)  # checks the arguments now, by name

    def get_loss_scale(self) -> float:
        return self.loss_scale

    def get_drop_overflow_update(self) -> bool:
        return True

    def get_update_cell(self) -> LossScaler:
        return DynamicLossScaleUpdateCell(self.loss_scale, self.scale_factor, self.scale_window)
