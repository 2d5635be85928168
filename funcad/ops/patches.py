"""Sliding-window patches: ``unfold`` (im2col) and its adjoint ``fold`` (col2im), as torch's and MindSpore's.

``unfold`` gathers each window offset's strided view of the padded input and stacks them, so its gradient, its jit
lowering and its higher derivatives come from slicing and stacking. ``fold`` sums patches back into planes: it is the
adjoint of ``unfold`` (a linear map), computed as ``unfold``'s VJP, so overlapping patches add and every derivative
stays exact.
"""

from __future__ import annotations

from funcad.core.base_ops import shape_of as _shape_of
from funcad.core.transforms import vjp
from funcad.ops.conv_geometry import pair
from funcad.ops.creation import zeros
from funcad.ops.padding import pad
from funcad.ops.shape import getitem, reshape, stack


def _windows(op: str, size: tuple, kernel_size, dilation, padding, stride) -> tuple:
    """((kh, kw), (dh, dw), (ph, pw), (sh, sw), (oh, ow)) for planes of ``size``, checked."""
    kernel, dil, pads, strides = (pair(v, op, name) for v, name in
                                  ((kernel_size, "kernel_size"), (dilation, "dilation"), (padding, "padding"), (stride, "stride")))
    if min(kernel + dil + strides) < 1 or min(pads) < 0:
        raise ValueError(f"funcad.ops.{op}: kernel_size {kernel}, dilation {dil} and stride {strides} must be positive, padding {pads} "
                         "non-negative")
    out = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, d, p, s in zip(size, kernel, dil, pads, strides))
    if min(out) < 1:
        raise ValueError(f"funcad.ops.{op}: planes {tuple(size)} padded by {pads} are smaller than the dilated kernel {kernel}")
    return kernel, dil, pads, strides, out


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):  # noqa: A002 - torch's and MindSpore's names
    """(N, C, H, W) -> (N, C * kh * kw, L): every sliding window's values as a column, L = the windows' count; rows are
    ordered by channel, then window row, then window column (torch.nn.functional.unfold)."""
    shape = _shape_of(input)
    if len(shape) != 4:
        raise ValueError(f"funcad.ops.unfold: expected a 4-D input (N, C, H, W), got shape {shape}")
    (kh, kw), (dh, dw), (ph, pw), (sh, sw), (oh, ow) = _windows("unfold", shape[2:], kernel_size, dilation, padding, stride)
    x = pad(input, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else input
    taps = [getitem(x, (slice(None), slice(None), slice(p * dh, p * dh + sh * (oh - 1) + 1, sh), slice(q * dw, q * dw + sw * (ow - 1) + 1, sw)))
            for p in range(kh) for q in range(kw)]
    return reshape(stack(taps, axis=2), (shape[0], shape[1] * kh * kw, oh * ow))


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):  # noqa: A002
    """(N, C * kh * kw, L) -> (N, C, H, W) with (H, W) = ``output_size``: each column added back into the window it
    came from (overlaps sum), the adjoint of ``unfold`` (torch.nn.functional.fold)."""
    shape = _shape_of(input)
    size = pair(output_size, "fold", "output_size")
    (kh, kw), *_, (oh, ow) = _windows("fold", size, kernel_size, dilation, padding, stride)
    if len(shape) != 3 or shape[1] % (kh * kw) or shape[2] != oh * ow:
        raise ValueError(f"funcad.ops.fold: expected (N, C * {kh * kw}, {oh * ow}) columns for output_size {size} and kernel {(kh, kw)}, "
                         f"got shape {shape}")
    planes = zeros((shape[0], shape[1] // (kh * kw)) + size, input.dtype)
    _, pullback = vjp(lambda x: unfold(x, kernel_size, dilation, padding, stride), planes)
    return pullback(input)[0]
