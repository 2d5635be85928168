"""How a (kh, kw) window slides over NCHW planes, shared by the convolution and the pools: torch's forms of the
kernel, stride, dilation and padding arguments, the ``Geometry`` record, and the strided view of every window."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def pair(value, op: str, what: str) -> tuple[int, int]:
    """An int or a pair of ints, as torch accepts for kernel, stride and dilation."""
    items = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(items) != 2 or not all(isinstance(v, (int, np.integer)) for v in items):
        raise ValueError(f"funcad.ops.{op}: {what} must be an int or a pair of ints, got {value!r}")
    return int(items[0]), int(items[1])


def padding4(padding, op: str) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from an int, a symmetric pair (ph, pw) or an explicit 4-tuple."""
    items = (padding,) if isinstance(padding, (int, np.integer)) else tuple(padding)
    if len(items) == 2:
        items = (items[0], items[0], items[1], items[1])
    elif len(items) == 1:
        items = items * 4
    if len(items) != 4 or not all(isinstance(v, (int, np.integer)) and v >= 0 for v in items):
        raise ValueError(f"funcad.ops.{op}: padding must be a non-negative int, a pair (ph, pw) or (top, bottom, left, right), got {padding!r}")
    return tuple(int(v) for v in items)


class Geometry(NamedTuple):
    """How a (kh, kw) window slides over an NCHW input; all sizes static, so it is a hashable kwarg."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]
    dilation: tuple[int, int]

    def output_size(self, h: int, w: int) -> tuple[int, int]:
        (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = self
        return (h + pt + pb - dh * (kh - 1) - 1) // sh + 1, (w + pl + pr - dw * (kw - 1) - 1) // sw + 1

    def row_width(self, h: int, w: int) -> int:
        """Columns computed per output row: the padded width for stride 1 (long contiguous runs), else the output width."""
        return w + self.padding[2] + self.padding[3] if self.stride == (1, 1) else self.output_size(h, w)[1]


def ceil_extra(size: int, kernel: int, stride: int, low: int, high: int) -> int:
    """Padding past ``high`` that ceil_mode adds so the last partial window counts, by torch's rule: one more window
    when the division leaves a remainder, unless that window would start beyond the input and its leading padding."""
    span = size + low + high - kernel
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + low:
        out -= 1
    return max(0, (out - 1) * stride + kernel - size - low - high)


def windows(padded, geo: Geometry, h: int, w: int, writeable: bool = False):
    """A (N, C, kh, kw, OH, row_width) view of the padded input: element [.., p, q, i, j] is the input under tap (p, q) of output (i, j)."""
    (kh, kw), (sh, sw), _, (dh, dw) = geo
    oh, _ = geo.output_size(h, w)
    s_n, s_c, s_h, s_w = padded.strides
    shape = padded.shape[:2] + (kh, kw, oh, geo.row_width(h, w))
    return np.lib.stride_tricks.as_strided(padded, shape, (s_n, s_c, s_h * dh, s_w * dw, s_h * sh, s_w * sw), writeable=writeable)
