"""How a (kh, kw) window slides over NCHW planes, shared by the convolution and the pools: torch's forms of the
kernel, stride, dilation and padding arguments, the ``Geometry`` record, and the strided view of every window."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def ints(value, n: int, op: str, what: str) -> tuple[int, ...]:
    """An int or ``n`` ints (a 1-tuple counts as the int), as torch and MindSpore accept for kernel, stride and dilation."""
    items = (value,) * n if isinstance(value, (int, np.integer)) else tuple(value)
    items = items * n if len(items) == 1 else items
    if len(items) != n or not all(isinstance(v, (int, np.integer)) for v in items):
        raise ValueError(f"funcad.ops.{op}: {what} must be an int or a tuple of {n} ints, got {value!r}")
    return tuple(int(v) for v in items)


def pair(value, op: str, what: str) -> tuple[int, int]:
    """An int or a pair of ints, as torch accepts for kernel, stride and dilation."""
    return ints(value, 2, op, what)


PADDING_FORMS = {1: "(left, right)", 2: "a pair (ph, pw) or (top, bottom, left, right)", 3: "(pd, ph, pw) or (head, tail, top, bottom, left, right)"}


def paddings(padding, n: int, op: str) -> tuple[int, ...]:
    """(before, after) of each of ``n`` spatial axes, flat, from an int, one int per axis (both sides alike) or the
    explicit 2n-tuple (MindSpore's uneven forms)."""
    items = (padding,) if isinstance(padding, (int, np.integer)) else tuple(padding)
    if len(items) == n:
        items = tuple(v for v in items for _ in range(2))
    elif len(items) == 1:
        items = items * (2 * n)
    if len(items) != 2 * n or not all(isinstance(v, (int, np.integer)) and v >= 0 for v in items):
        raise ValueError(f"funcad.ops.{op}: padding must be a non-negative int, {PADDING_FORMS[n]}, got {padding!r}")
    return tuple(int(v) for v in items)


def padding4(padding, op: str) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from an int, a symmetric pair (ph, pw) or an explicit 4-tuple."""
    return paddings(padding, 2, op)


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


def window_counts(size: int, kernel: int, stride: int, low: int, high: int, extra: int, include: bool) -> np.ndarray:
    """How many positions each window along one axis averages over: those inside the padded input when ``include``
    (a ceil_mode window reaching into ``extra`` counts only up to the padding's end, as torch's), else the real ones."""
    starts = np.arange((size + low + high + extra - kernel) // stride + 1) * stride - low
    if include:
        return np.minimum(starts + kernel, size + high) - starts
    return np.minimum(starts + kernel, size) - np.maximum(starts, 0)


def same_padding(size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...] | None = None):
    """MindSpore/TensorFlow 'same': output ceil(size / stride); any odd padding goes to the bottom/right."""
    pads = []
    for n, k, s, d in zip(size, kernel, stride, dilation or (1,) * len(size)):
        out = -(-n // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        pads += [total // 2, total - total // 2]
    return tuple(pads)


PAD_MODES = ("same", "valid", "pad")


def pad_mode_padding(op: str, pad_mode: str | None, padding, size: tuple[int, ...], kernel: tuple[int, ...], stride, dilation):
    """The padding MindSpore's ``pad_mode`` gives a convolution over spatial ``size``: ``padding`` itself for 'pad' (and
    for None, torch's form), none for 'valid', for 'same' what keeps ceil(size / stride) outputs (an odd total's extra
    row at the end, as MindSpore pads). 'same' and 'valid' refuse a padding they would not apply, as MindSpore does."""
    if pad_mode is None or pad_mode == "pad":
        return padding
    if pad_mode not in PAD_MODES:
        raise ValueError(f"funcad.ops.{op}: pad_mode must be 'same', 'valid' or 'pad', got {pad_mode!r}")
    if any(np.ravel(padding)):
        raise ValueError(f"funcad.ops.{op}: padding {padding!r} needs pad_mode='pad' (pad_mode={pad_mode!r} sets its own)")
    if pad_mode == "valid":
        return 0
    n = len(size)
    return same_padding(size, kernel, ints(stride, n, op, "stride"), ints(dilation, n, op, "dilation"))
