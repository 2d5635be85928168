"""Activation Cells (MindSpore's names and defaults) and lookup by name."""

from __future__ import annotations

from funcad import ops
from funcad.nn.cell import Cell


class ReLU(Cell):
    def construct(self, x):
        return ops.relu(x)


class Sigmoid(Cell):
    def construct(self, x):
        return ops.sigmoid(x)


class Tanh(Cell):
    def construct(self, x):
        return ops.tanh(x)


class GELU(Cell):
    """GELU; MindSpore's default ``approximate=True`` is the tanh form (torch's default is the exact erf form)."""

    def __init__(self, approximate: bool = True):
        super().__init__()
        self.approximate = approximate

    def construct(self, x):
        return ops.gelu(x, approximate="tanh" if self.approximate else "none")


class SiLU(Cell):
    def construct(self, x):
        return ops.silu(x)


class LeakyReLU(Cell):
    """max(x, alpha * x); MindSpore's default slope ``alpha`` is 0.2 (torch's is 0.01)."""

    def __init__(self, alpha: float = 0.2):
        super().__init__()
        self.alpha = float(alpha)

    def construct(self, x):
        return ops.leaky_relu(x, negative_slope=self.alpha)


class ELU(Cell):
    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = float(alpha)

    def construct(self, x):
        return ops.elu(x, alpha=self.alpha)


class Softmax(Cell):
    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def construct(self, x):
        return ops.softmax(x, axis=self.axis)


class LogSoftmax(Cell):
    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def construct(self, x):
        return ops.log_softmax(x, axis=self.axis)


_ACTIVATIONS = {
    "relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "gelu": GELU, "silu": SiLU, "swish": SiLU,
    "leakyrelu": LeakyReLU, "elu": ELU, "softmax": Softmax, "logsoftmax": LogSoftmax,
}


def get_activation(name: str) -> Cell:
    """An activation Cell by MindSpore's name ('relu', 'gelu', 'softmax', ...)."""
    cls = _ACTIVATIONS.get(name.lower())
    if cls is None:
        raise ValueError(f"unknown activation {name!r}; valid names: {', '.join(sorted(_ACTIVATIONS))}")
    return cls()
