"""MindSpore 2.x's Cells wrapping one array op: ``Roll``, ``Tril``, ``Triu``, ``Range``, ``Pad``, ``Moments`` and
``MatMul``, with MindSpore's arguments (a model written with them runs unchanged)."""

from __future__ import annotations

import numbers

import numpy as np

from funcad import ops
from funcad.core.tensor import Tensor
from funcad.nn.cell import Cell


class Roll(Cell):
    """The input rolled by ``shift`` along ``axis`` (ints or tuples of them), elements wrapping around."""

    def __init__(self, shift, axis):
        super().__init__()
        self.shift, self.axis = shift, axis

    def construct(self, input_x):
        return ops.roll(input_x, self.shift, self.axis)

    def extend_repr(self) -> str:
        return f"shift={self.shift}, axis={self.axis}"


class Tril(Cell):
    """The lower triangle of the last two axes, called as ``cell(x, k=0)``: elements above diagonal ``k`` zeroed."""

    def construct(self, x, k: int = 0):
        return ops.tril(x, k)


class Triu(Cell):
    """The upper triangle of the last two axes, called as ``cell(x, k=0)``: elements below diagonal ``k`` zeroed."""

    def construct(self, x, k: int = 0):
        return ops.triu(x, k)


class Range(Cell):
    """``cell()`` returns start, start + delta, ... below ``limit`` (or [0, start) with no limit): int32 when all
    three are ints, float32 otherwise, as MindSpore's."""

    def __init__(self, start, limit=None, delta=1):
        super().__init__()
        for name, value in (("start", start), ("limit", limit), ("delta", delta)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
                raise TypeError(f"Range: {name} must be an int or a float, got {value!r}")
        if delta == 0:
            raise ValueError("Range: delta must not be 0")
        start, limit = (0, start) if limit is None else (start, limit)
        if (limit - start) * delta < 0:
            raise ValueError(f"Range: delta {delta} moves away from limit {limit} from start {start}")
        integral = all(isinstance(v, (int, np.integer)) for v in (start, limit, delta))
        self.start, self.limit, self.delta = start, limit, delta
        self.dtype = np.int32 if integral else np.float32

    def construct(self):
        return Tensor(np.arange(self.start, self.limit, self.delta).astype(self.dtype))

    def extend_repr(self) -> str:
        return f"start={self.start}, limit={self.limit}, delta={self.delta}"


_PAD_MODES = {"CONSTANT": "constant", "REFLECT": "reflect", "SYMMETRIC": "symmetric"}


class Pad(Cell):
    """Pad by ``paddings``, one (before, after) pair per input axis: zeros ('CONSTANT'), the input mirrored without
    its edge ('REFLECT', each width below the axis's size) or with it ('SYMMETRIC', each width at most the size)."""

    def __init__(self, paddings, mode: str = "CONSTANT"):
        super().__init__()
        if mode not in _PAD_MODES:
            raise ValueError(f"Pad: mode must be one of {tuple(_PAD_MODES)}, got {mode!r}")
        if not isinstance(paddings, tuple) or not all(isinstance(p, (tuple, list)) and len(p) == 2 for p in paddings):
            raise ValueError(f"Pad: paddings must be a tuple of (before, after) pairs, got {paddings!r}")
        self.paddings, self.mode = tuple((int(a), int(b)) for a, b in paddings), mode

    def construct(self, x):
        shape = tuple(x.shape)
        if len(self.paddings) != len(shape):
            raise ValueError(f"{self._where()}: paddings {self.paddings} must give one pair per axis of the input {shape}")
        limit = {"REFLECT": 0, "SYMMETRIC": 1}.get(self.mode)
        if limit is not None:
            for axis, (size, pair) in enumerate(zip(shape, self.paddings)):
                if max(pair) >= size + limit:
                    bound = "below" if limit == 0 else "at most"
                    raise ValueError(f"{self._where()}: {self.mode} padding {pair} of axis {axis} must be {bound} its size {size}")
        return ops.pad(x, self.paddings, mode=_PAD_MODES[self.mode])

    def extend_repr(self) -> str:
        return f"paddings={self.paddings}, mode={self.mode!r}"


class Moments(Cell):
    """(mean, variance) over ``axis`` (all axes when None); the variance is the population one (divided by n);
    ``keep_dims`` keeps the reduced axes. float16 inputs are reduced in float32 and the results cast back."""

    def __init__(self, axis=None, keep_dims: bool | None = None):
        super().__init__()
        self.axis = tuple(axis) if isinstance(axis, list) else axis
        self.keep_dims = bool(keep_dims)

    def construct(self, x):
        half = x.dtype == np.float16
        values = ops.cast(x, np.float32) if half else x
        mean = ops.mean(values, self.axis, keepdims=True)
        variance = ops.mean(ops.square(values - mean), self.axis, keepdims=self.keep_dims)
        if not self.keep_dims:
            mean = ops.mean(values, self.axis)
        return (ops.cast(mean, np.float16), ops.cast(variance, np.float16)) if half else (mean, variance)

    def extend_repr(self) -> str:
        return f"axis={self.axis}, keep_dims={self.keep_dims}"


class MatMul(Cell):
    """x1 @ x2 with batch axes broadcast, the last two axes of either transposed first when asked (1-D operands are
    vectors, as numpy's)."""

    def __init__(self, transpose_x1: bool = False, transpose_x2: bool = False):
        super().__init__()
        self.transpose_x1, self.transpose_x2 = bool(transpose_x1), bool(transpose_x2)

    def construct(self, x1, x2):
        if self.transpose_x1 and len(x1.shape) > 1:
            x1 = ops.swapaxes(x1, -1, -2)
        if self.transpose_x2 and len(x2.shape) > 1:
            x2 = ops.swapaxes(x2, -1, -2)
        if x1.shape[-1] != x2.shape[-2 if len(x2.shape) > 1 else -1]:
            raise ValueError(f"{self._where()}: cannot multiply {tuple(x1.shape)} by {tuple(x2.shape)} "
                             f"(transpose_x1={self.transpose_x1}, transpose_x2={self.transpose_x2})")
        return ops.matmul(x1, x2)

    def extend_repr(self) -> str:
        return f"transpose_x1={self.transpose_x1}, transpose_x2={self.transpose_x2}"
