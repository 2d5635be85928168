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


def _positive(owner: str, name: str, value, least: float = 0.0) -> float:
    """``value`` as a float, refused unless it is a number above 0 (at least ``least`` when that is given)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (value >= least if least else value > 0):
        raise ValueError(f"{owner}: {name} must be a number {f'>= {least:g}' if least else '> 0'}, got {value!r}")
    return float(value)


def _positive_int(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


class LossScaler:
    """Base of the loss scalers: ``scale`` the loss, ``unscale`` gradients (any pytree of Tensors), ``adjust``."""

    scale_value: Parameter
    _least_scale = 1.0  # MindSpore's amp scalers refuse a scale below 1; its nn update cells take any positive one

    def _set_scale(self, scale_value) -> None:
        """The scale as MindSpore keeps it: a float32 0-d Parameter."""
        value = _positive(type(self).__name__, "scale_value", scale_value, least=self._least_scale)
        self.scale_value = Parameter(np.array(value, np.float32), name="scale_value", requires_grad=False)

    def scale(self, inputs):
        """``inputs`` times the scale cast to their dtype (MindSpore's ``grad * scale.astype(grad.dtype)``)."""
        scale = ops.reshape(self.scale_value, ())
        return pytree.tree_map(lambda x: x * ops.cast(scale, x.dtype), inputs)

    def unscale(self, inputs):
        """``inputs`` times the scale's float32 reciprocal cast to their dtype (MindSpore's ``_grad_unscale``)."""
        inverse = 1.0 / ops.reshape(self.scale_value, ())
        return pytree.tree_map(lambda x: x * ops.cast(inverse, x.dtype), inputs)

    def adjust(self, grads_finite):
        """Update the scale after a step whose gradients were (not) all finite; returns whether it changed anything."""
        return False


class StaticLossScaler(LossScaler):
    """MindSpore's ``amp.StaticLossScaler``: a fixed scale, at least 1."""

    def __init__(self, scale_value):
        self._set_scale(scale_value)


class DynamicLossScaler(LossScaler):
    """MindSpore's ``amp.DynamicLossScaler``: a scale that is divided by ``scale_factor`` (to at least 1) after a step
    with non-finite gradients and multiplied by it after ``scale_window`` finite steps in a row, unless the product
    is not finite. ``scale_value`` must be at least 1 and ``scale_factor`` a positive int, as MindSpore checks."""

    _grows_to_inf = False  # nn.DynamicLossScaleUpdateCell's rule grows the scale even to inf

    def __init__(self, scale_value, scale_factor, scale_window):
        owner = type(self).__name__
        self._set_scale(scale_value)
        self.scale_factor = self._factor(owner, scale_factor)
        self.scale_window = _positive_int(owner, "scale_window", scale_window)
        self.counter = Parameter(np.array(0, np.int32), name="counter", requires_grad=False)

    @staticmethod
    def _factor(owner: str, scale_factor) -> float:
        if isinstance(scale_factor, bool) or not isinstance(scale_factor, numbers.Integral) or scale_factor < 1:
            raise TypeError(f"{owner}: scale_factor must be a positive int, got {scale_factor!r}")
        return float(scale_factor)

    def adjust(self, grads_finite):
        finite = grads_finite if isinstance(grads_finite, Tensor) else Tensor(np.array(bool(grads_finite)))
        ops.assign(self.scale_value, self._next_scale(self.scale_value, finite))
        self._count(finite)
        return True

    def _count(self, finite) -> None:
        """The finite steps in a row, modulo ``scale_window``; an overflow restarts the count."""
        ops.assign(self.counter, ops.where(finite, ops.remainder(self.counter + 1, self.scale_window), 0))

    def _next_scale(self, scale, finite):
        """The scale after a step from ``scale``: grown at the end of a window of finite steps, cut after an overflow."""
        grown = scale * self.scale_factor
        at_window = ops.equal(self.counter, self.scale_window - 1)
        grows = at_window if self._grows_to_inf else ops.logical_and(at_window, ops.isfinite(grown))
        return ops.where(finite, ops.where(grows, grown, scale), ops.maximum(self._cut(scale), 1.0))

    def _cut(self, scale):
        return scale / self.scale_factor


class FixedLossScaleUpdateCell(StaticLossScaler):
    """MindSpore's ``nn.FixedLossScaleUpdateCell``: a fixed scale for ``nn.TrainOneStepWithLossScaleCell``; called
    as MindSpore's Cell, ``cell(loss_scale, overflow)`` changes nothing and returns ``overflow``."""

    _least_scale = 0.0

    def __init__(self, loss_scale_value):
        super().__init__(loss_scale_value)
        self.loss_scale_value = float(loss_scale_value)

    def get_loss_scale(self) -> float:
        """The scale it was made with (what ``nn.TrainOneStepWithLossScaleCell`` starts from)."""
        return self.loss_scale_value

    def __call__(self, loss_scale, overflow):
        return overflow


class DynamicLossScaleUpdateCell(DynamicLossScaler):
    """MindSpore's ``nn.DynamicLossScaleUpdateCell``: a dynamic scale for ``nn.TrainOneStepWithLossScaleCell``, by
    the Cell's rule, which differs from ``amp.DynamicLossScaler``'s: the scale grows at the end of each window even
    to inf (where an overflow's cut, ``max(inf / factor, 1)``, keeps it), the cut multiplies by the float32
    reciprocal of ``scale_factor``, and ``scale_factor`` may be any positive number. Called as MindSpore's Cell,
    ``cell(loss_scale, overflow)`` (what the model zoo's loss-scaled training cells do with a scale Parameter of
    their own) writes the next scale into ``loss_scale`` (and its own) and returns ``overflow``."""

    _grows_to_inf = True
    _least_scale = 0.0

    def __init__(self, loss_scale_value, scale_factor, scale_window):
        super().__init__(loss_scale_value, scale_factor, scale_window)
        self.loss_scale_value = float(loss_scale_value)

    @staticmethod
    def _factor(owner: str, scale_factor) -> float:
        return _positive(owner, "scale_factor", scale_factor)

    def get_loss_scale(self) -> float:
        """The scale it was made with (what ``nn.TrainOneStepWithLossScaleCell`` starts from), as MindSpore's returns."""
        return self.loss_scale_value

    def _cut(self, scale):
        return scale * (np.float32(1.0) / np.float32(self.scale_factor))

    def __call__(self, loss_scale, overflow):
        if not isinstance(loss_scale, Parameter):
            raise TypeError(f"DynamicLossScaleUpdateCell: loss_scale must be the Parameter holding the scale, got {type(loss_scale).__name__}")
        finite = ops.logical_not(overflow if isinstance(overflow, Tensor) else Tensor(np.array(bool(overflow))))
        scale = ops.reshape(self._next_scale(ops.reshape(ops.cast(loss_scale, np.float32), ()), finite), loss_scale.shape)
        ops.assign(loss_scale, ops.cast(scale, loss_scale.dtype))
        if loss_scale is not self.scale_value:
            ops.assign(self.scale_value, ops.reshape(ops.cast(scale, np.float32), ()))
        self._count(finite)
        return overflow


class LossScaleManager:
    """MindSpore's ``amp.LossScaleManager``: the base of the managers ``Model`` and ``build_train_network`` take."""

    def get_loss_scale(self) -> float:
        raise NotImplementedError(f"{type(self).__name__} must define get_loss_scale()")

    def update_loss_scale(self, overflow) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define update_loss_scale(overflow)")

    def get_update_cell(self):
        raise NotImplementedError(f"{type(self).__name__} must define get_update_cell()")


class FixedLossScaleManager(LossScaleManager):
    """A constant loss scale (at least 1) for ``funcad.train.Model`` and ``amp.build_train_network``. With
    ``drop_overflow_update`` (the default) the step is ``nn.TrainOneStepWithLossScaleCell``'s, which divides the
    gradients by the scale and skips a step whose gradients are not all finite. Without it, as in MindSpore, there is
    no update cell: the step is ``nn.TrainOneStepCell(net, optimizer, sens=loss_scale)``, which hands the optimizer
    the scaled gradients, for an optimizer made with the same ``loss_scale`` to divide (the model zoo's pattern)."""

    def __init__(self, loss_scale: float = 128.0, drop_overflow_update: bool = True):
        self.loss_scale = _positive("FixedLossScaleManager", "loss_scale", loss_scale, least=1.0)
        self.drop_overflow_update = bool(drop_overflow_update)

    def get_loss_scale(self) -> float:
        return self.loss_scale

    def get_drop_overflow_update(self) -> bool:
        return self.drop_overflow_update

    def update_loss_scale(self, overflow) -> None:
        """Nothing to update: the scale is fixed."""

    def get_update_cell(self) -> LossScaler | None:
        return FixedLossScaleUpdateCell(self.loss_scale) if self.drop_overflow_update else None


class DynamicLossScaleManager(LossScaleManager):
    """A scale that adapts, for ``funcad.train.Model`` and ``amp.build_train_network`` (their steps use
    ``get_update_cell()``'s ``nn.DynamicLossScaleUpdateCell``; overflowing steps change nothing), or on the host through
    ``update_loss_scale``. As MindSpore checks: ``init_loss_scale`` at least 1, ``scale_factor`` above 0,
    ``scale_window`` a positive int."""

    bad_step_max = 1000  # MindSpore's limit of overflowing steps in a row for update_loss_scale

    def __init__(self, init_loss_scale: float = 2**24, scale_factor: float = 2, scale_window: int = 2000):
        owner = "DynamicLossScaleManager"
        _positive(owner, "init_loss_scale", init_loss_scale, least=1.0)
        self.loss_scale = init_loss_scale
        self.scale_window = _positive_int(owner, "scale_window", scale_window)
        _positive(owner, "scale_factor", scale_factor)
        self.scale_factor = scale_factor
        self.cur_iter, self.last_overflow_iter, self.bad_step = 1, 0, 0

    def get_loss_scale(self) -> float:
        return self.loss_scale

    def get_drop_overflow_update(self) -> bool:
        return True

    def update_loss_scale(self, overflow) -> None:
        """MindSpore's host-side rule: an overflow divides the scale by ``scale_factor`` (to at least 1); every
        ``scale_window``-th step since the last overflow multiplies it; more than ``bad_step_max`` overflows in a row
        raise RuntimeError."""
        if overflow:
            self.loss_scale = max(self.loss_scale * (1 / self.scale_factor), 1)
            self.last_overflow_iter = self.cur_iter
            self.bad_step += 1
        else:
            if (self.cur_iter - self.last_overflow_iter) % self.scale_window == 0:
                self.loss_scale *= self.scale_factor
            self.bad_step = 0
        if self.bad_step > self.bad_step_max:
            raise RuntimeError(f"DynamicLossScaleManager: the loss overflowed {self.bad_step} steps in a row, "
                               f"more than the {self.bad_step_max} allowed")
        self.cur_iter += 1

    def get_update_cell(self) -> LossScaler:
        return DynamicLossScaleUpdateCell(self.loss_scale, self.scale_factor, self.scale_window)
