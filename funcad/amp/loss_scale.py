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
        grown = self.scale_value * self.scale_factor
        at_window = ops.equal(self.counter, self.scale_window - 1)
        up = ops.where(ops.logical_and(at_window, ops.isfinite(grown)), grown, self.scale_value)
        down = ops.maximum(self.scale_value / self.scale_factor, 1.0)
        ops.assign(self.scale_value, ops.where(finite, up, down))
        ops.assign(self.counter, ops.where(finite, ops.remainder(self.counter + 1, self.scale_window), 0))
        return True

