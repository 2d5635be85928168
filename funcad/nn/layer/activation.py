"""Activation Cells (MindSpore's names and defaults) and lookup by name."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from funcad import ops
from funcad.core.dtypes import float32
from funcad.core.tensor import Parameter
from funcad.nn.cell import Cell
from funcad.nn.initializer import initializer
from funcad.ops.random_nn import check_slopes


class _OneOp(Cell):
    """An activation that is one function of ``funcad.ops`` applied to the input (``op``, set by each subclass)."""

    op: Callable

    def construct(self, x):
        return type(self).op(x)


def _one_op(name: str, op_name: str) -> type:
    """The ``_OneOp`` class ``name`` applying ``ops.<op_name>``, as if written out in this module."""
    return type(name, (_OneOp,), {"op": staticmethod(getattr(ops, op_name)), "__module__": __name__, "__qualname__": name,
                                  "__doc__": f"``ops.{op_name}`` as a Cell."})


ReLU, Sigmoid, Tanh, SiLU, FastGelu = (_one_op(name, op_name) for name, op_name in (
    ("ReLU", "relu"), ("Sigmoid", "sigmoid"), ("Tanh", "tanh"), ("SiLU", "silu"), ("FastGelu", "fast_gelu")))


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


class RReLU(Cell):
    """Randomized leaky ReLU: while training, x below 0 times a slope drawn per element from U(lower, upper)
    (``ops.rrelu``, funcad's random key); in evaluation mode the mean slope (lower + upper) / 2, as torch's.
    MindSpore 2.x draws in both modes."""

    def __init__(self, lower: float = 1 / 8, upper: float = 1 / 3):
        super().__init__()
        self.lower, self.upper = check_slopes(type(self).__name__, lower, upper)

    def construct(self, x):
        if self.training:
            return ops.rrelu(x, self.lower, self.upper)
        return ops.leaky_relu(x, (self.lower + self.upper) / 2.0)

    def extend_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}"


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


class Softmax2d(Cell):
    """Softmax over the channels of (C, H, W) or (N, C, H, W) inputs (axis -3)."""

    def construct(self, x):
        if len(x.shape) not in (3, 4):
            raise ValueError(f"{self._where()}: expected input of shape (C, H, W) or (N, C, H, W), got {tuple(x.shape)}")
        return ops.softmax(x, axis=-3)


class CELU(_SlopeOp):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)); ``alpha`` 1.0 by default."""

    op, default_alpha = staticmethod(ops.celu), 1.0


class Softmin(_AxisOp):
    op = staticmethod(ops.softmin)


class GLU(_AxisOp):
    """a * sigmoid(b), a and b the halves of the input along ``axis``."""

    op = staticmethod(ops.glu)


ReLU6, Hardswish, HSigmoid, Mish, SeLU, LogSigmoid, Softsign, Tanhshrink = (_one_op(name, op_name) for name, op_name in (
    ("ReLU6", "relu6"), ("Hardswish", "hardswish"), ("HSigmoid", "hardsigmoid"), ("Mish", "mish"), ("SeLU", "selu"),
    ("LogSigmoid", "logsigmoid"), ("Softsign", "softsign"), ("Tanhshrink", "tanhshrink")))
HSwish, Hardsigmoid = Hardswish, HSigmoid  # MindSpore has both names for each


class _ShrinkOp(Cell):
    """A shrinking activation of ``funcad.ops`` with threshold ``lambd`` (``op`` set by each subclass)."""

    op: Callable

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = float(lambd)

    def construct(self, x):
        return type(self).op(x, self.lambd)


class HShrink(_ShrinkOp):
    """x where |x| > lambd, else 0."""

    op = staticmethod(ops.hardshrink)


class SoftShrink(_ShrinkOp):
    """x -+ lambd beyond +-lambd, 0 between."""

    op = staticmethod(ops.softshrink)


class Hardtanh(Cell):
    """x clipped to [min_val, max_val]; no gradient at the bounds, as torch's."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0):
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val {min_val} is above max_val {max_val}")
        self.min_val, self.max_val = float(min_val), float(max_val)

    def construct(self, x):
        return ops.hardtanh(x, self.min_val, self.max_val)


class Softplus(Cell):
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (MindSpore's and torch's definition)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        if beta == 0:
            raise ValueError("Softplus: beta must not be 0")
        self.beta, self.threshold = float(beta), float(threshold)

    def construct(self, x):
        scaled = x * self.beta
        return ops.where(ops.greater(scaled, self.threshold), x, ops.softplus(scaled) * (1.0 / self.beta))


class Threshold(Cell):
    """x where x > threshold, else ``value``."""

    def __init__(self, threshold: float, value: float):
        super().__init__()
        self.threshold, self.value = float(threshold), float(value)

    def construct(self, x):
        return ops.threshold(x, self.threshold, self.value)


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
        return ops.prelu(x, self.w)

    def extend_repr(self) -> str:
        return f"channel={self.channel}"


_ACTIVATIONS = {
    "relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "gelu": GELU, "silu": SiLU, "swish": SiLU,
    "leakyrelu": LeakyReLU, "elu": ELU, "softmax": Softmax, "logsoftmax": LogSoftmax,
    "relu6": ReLU6, "hswish": Hardswish, "hardswish": Hardswish, "mish": Mish, "prelu": PReLU, "hsigmoid": HSigmoid,
    "hardsigmoid": HSigmoid, "selu": SeLU, "celu": CELU, "logsigmoid": LogSigmoid, "softsign": Softsign, "tanhshrink": Tanhshrink,
    "softmin": Softmin, "softplus": Softplus, "hardtanh": Hardtanh, "hshrink": HShrink, "softshrink": SoftShrink,
    "fast_gelu": FastGelu,
}


def get_activation(name: str | None) -> Cell | None:
    """An activation Cell by MindSpore's name ('relu', 'gelu', 'softmax', ...); None for None, as MindSpore's, so a
    layer's optional ``activation=None`` argument can be passed straight through."""
    if name is None:
        return None
    cls = _ACTIVATIONS.get(name.lower())
    if cls is None:
        raise ValueError(f"unknown activation {name!r}; valid names: {', '.join(sorted(_ACTIVATIONS))}")
    return cls()
