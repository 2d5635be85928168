"""Activation Cells (MindSpore's names and defaults) and lookup by name."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from funcad import ops
from funcad.core.dtypes import float32
from funcad.core.tensor import Parameter
from funcad.nn.cell import Cell
from funcad.nn.initializer import initializer


class _OneOp(Cell):
    """An activation that is one function of ``funcad.ops`` applied to the input (``op``, set by each subclass)."""

    op: Callable

    def construct(self, x):
        return type(self).op(x)


def _one_op(name: str, op_name: str) -> type:
    """The ``_OneOp`` class ``name`` applying ``ops.<op_name>``, as if written out in this module."""
    return type(name, (_OneOp,), {"op": staticmethod(getattr(ops, op_name)), "__module__": __name__, "__qualname__": name,
                                  "__doc__": f"``ops.{op_name}`` as a Cell."})


ReLU, Sigmoid, Tanh, SiLU = (_one_op(name, op_name) for name, op_name in (
    ("ReLU", "relu"), ("Sigmoid", "sigmoid"), ("Tanh", "tanh"), ("SiLU", "silu")))


class GELU(Cell):
    """GELU; MindSpore's default ``approximate=True`` is the tanh form (torch's default is the exact erf form)."""

    def __init__(self, approximate: bool = True):
        super().__init__()
        self.approximate = approximate

    def construct(self, x):
        return ops.gelu(x, approximate="tanh" if self.approximate else "none")


class _SlopeOp(Cell):
    """An activation that is one function of ``funcad.ops`` with a slope ``alpha`` (``op`` and ``default_alpha`` set by
    each subclass)."""

    op: Callable
    default_alpha: float

    def __init__(self, alpha: float | None = None):
        super().__init__()
        self.alpha = float(self.default_alpha if alpha is None else alpha)

    def construct(self, x):
        return type(self).op(x, self.alpha)


class LeakyReLU(_SlopeOp):
    """max(x, alpha * x); MindSpore's default slope ``alpha`` is 0.2 (torch's is 0.01)."""

    op, default_alpha = staticmethod(ops.leaky_relu), 0.2


class ELU(_SlopeOp):
    """alpha * (exp(x) - 1) below 0, x above; ``alpha`` 1.0 by default."""

    op, default_alpha = staticmethod(ops.elu), 1.0


class _AxisOp(Cell):
    """An activation that is one function of ``funcad.ops`` applied along ``axis`` (``op``, set by each subclass)."""

    op: Callable

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def construct(self, x):
        return type(self).op(x, axis=self.axis)


class Softmax(_AxisOp):
    op = staticmethod(ops.softmax)


class LogSoftmax(_AxisOp):
    op = staticmethod(ops.log_softmax)


def _relu6(x):
    """min(max(x, 0), 6) with slope 1 strictly inside (0, 6) and 0 at both ends, as torch's."""
    return ops.where(ops.less(x, 6.0), ops.relu(x), 6.0)


class ReLU6(Cell):
    """min(max(x, 0), 6); the gradient is 1 strictly inside (0, 6) and 0 at both ends, as torch's."""

    def construct(self, x):
        return _relu6(x)


class Hardswish(Cell):
    """x * relu6(x + 3) / 6; the gradient is 0 at x = -3 and 1 at x = 3, as torch's."""

    def construct(self, x):
        return x * _relu6(x + 3.0) * (1.0 / 6.0)


class Mish(Cell):
    """x * tanh(softplus(x))."""

    def construct(self, x):
        return x * ops.tanh(ops.softplus(x))


class PReLU(Cell):
    """max(0, x) + w * min(0, x) with a learnt slope per channel (axis 1) or one shared slope.

    MindSpore's names: ``channel`` (torch: num_parameters) and the Parameter ``w`` (torch: ``weight``), initialised
    to ``w`` (0.25 by default; a number or an array of ``channel`` slopes)."""

    torch_names = {"w": "weight"}

    def __init__(self, channel: int = 1, w=0.25, dtype=float32):
        super().__init__()
        if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) or channel < 1:
            raise ValueError(f"PReLU: channel must be a positive int, got {channel!r}")
        self.channel = int(channel)
        self.w = Parameter(initializer(w if not isinstance(w, (int, float)) else float(w), (self.channel,), dtype))

    def construct(self, x):
        shape = tuple(x.shape)
        if self.channel > 1 and (len(shape) < 2 or shape[1] != self.channel):
            raise ValueError(f"{self._where()}: expected input of shape (N, {self.channel}, *) for {self.channel} slopes, got {shape}")
        w = ops.reshape(self.w, (self.channel,) + (1,) * (len(shape) - 2)) if len(shape) >= 2 else self.w
        return ops.where(ops.greater(x, 0.0), x, w * x)

    def extend_repr(self) -> str:
        return f"channel={self.channel}"


_ACTIVATIONS = {
    "relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "gelu": GELU, "silu": SiLU, "swish": SiLU,
    "leakyrelu": LeakyReLU, "elu": ELU, "softmax": Softmax, "logsoftmax": LogSoftmax,
    "relu6": ReLU6, "hswish": Hardswish, "hardswish": Hardswish, "mish": Mish, "prelu": PReLU,
}


def get_activation(name: str) -> Cell:
    """An activation Cell by MindSpore's name ('relu', 'gelu', 'softmax', ...)."""
    cls = _ACTIVATIONS.get(name.lower())
    if cls is None:
        raise ValueError(f"unknown activation {name!r}; valid names: {', '.join(sorted(_ACTIVATIONS))}")
    return cls()
