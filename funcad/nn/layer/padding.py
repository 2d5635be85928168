"""Padding layers with MindSpore 2.x's names: ``ZeroPad2d``, ``ConstantPad1d/2d/3d``, ``ReflectionPad1d/2d/3d``,
``ReplicationPad1d/2d/3d``.

``padding`` is an int (every side of the last 1, 2 or 3 axes) or a flat tuple of (before, after) pairs, last axis
first, as torch's; each layer is one ``ops.pad``.
"""

from __future__ import annotations

import numpy as np

from funcad import ops
from funcad.nn.cell import Cell


class _Pad(Cell):
    """Pads the last ``dims`` axes in ``mode`` (set by each subclass)."""

    dims: int
    mode: str
    value: float | None = None  # the constant modes' fill

    def __init__(self, padding):
        super().__init__()
        name, sides = type(self).__name__, 2 * self.dims
        pads = (padding,) * sides if isinstance(padding, (int, np.integer)) else tuple(padding)
        if len(pads) != sides or any(not isinstance(p, (int, np.integer)) or p < 0 for p in pads):
            raise ValueError(f"{name}: padding must be a non-negative int or {sides} of them (last axis first), got {padding!r}")
        self.padding = tuple(int(p) for p in pads)

    def construct(self, x):
        if len(x.shape) < self.dims:
            raise ValueError(f"{self._where()}: input of shape {tuple(x.shape)} has fewer than the {self.dims} axes it pads")
        return ops.pad(x, self.padding, mode=self.mode, value=self.value)

    def extend_repr(self) -> str:
        return f"padding={self.padding}"


class _ConstantPad(_Pad):
    mode = "constant"

    def __init__(self, padding, value: float):
        super().__init__(padding)
        self.value = float(value)


def _padding_class(name: str, base: type, dims: int, mode: str | None = None) -> type:
    """The pad layer ``name`` over the last ``dims`` axes, as if written out in this module."""
    attrs = {"dims": dims, "__module__": __name__, "__qualname__": name,
             "__doc__": f"Pads the last {dims} ax{'i' if dims == 1 else 'e'}s of the input ({mode or 'constant'} mode)."}
    if mode is not None:
        attrs["mode"] = mode
    return type(name, (base,), attrs)


ConstantPad1d, ConstantPad2d, ConstantPad3d = (_padding_class(f"ConstantPad{d}d", _ConstantPad, d) for d in (1, 2, 3))
ReflectionPad1d, ReflectionPad2d, ReflectionPad3d = (_padding_class(f"ReflectionPad{d}d", _Pad, d, "reflect") for d in (1, 2, 3))
ReplicationPad1d, ReplicationPad2d, ReplicationPad3d = (_padding_class(f"ReplicationPad{d}d", _Pad, d, "edge") for d in (1, 2, 3))


class ZeroPad2d(ConstantPad2d):
    """Pads the last 2 axes of the input with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)
