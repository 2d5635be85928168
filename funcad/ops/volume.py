"""3-D convolution and pooling of (N, C, D, H, W) inputs, composed from the 2-D kernels.

Depth is moved into the batch: a 3-D op runs its 2-D counterpart over (N * frames, C, H, W) planes and combines the
depth frames a window reads with shape ops (strided slices, stacks, reshapes). So every order of derivative, jit
and vmap are those of the fast 2-D primitives, with no 3-D kernel of its own. A convolution's depth taps become
input channels of one 2-D convolution (the tap's frames next to each other within each group), so a layer is one
product; a pool pools each frame in 2-D, then takes the max or sum over its depth window.
"""

from __future__ import annotations

import numpy as np

from funcad.core.dtypes import is_floating
from funcad.ops.conv import conv2d
from funcad.ops.conv_geometry import ceil_extra, ints, pad_mode_padding, paddings, window_counts
from funcad.ops.indexing import gather_elements
from funcad.ops.padding import pad
from funcad.ops.pool import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, first_offsets_inside, max_pool2d, torch_choice, window_max
from funcad.ops.shape import _shape_of, getitem, reshape, squeeze, stack, transpose


def _out(size: int, kernel: int, stride: int, dilation: int, low: int, high: int) -> int:
    return (size + low + high - dilation * (kernel - 1) - 1) // stride + 1


def _depth_taps(x, kernel: int, stride: int, dilation: int, out: int) -> list:
    """The depth frames each of ``kernel`` taps reads, (N, C, out, H, W) each: tap k reads frames k * dilation + i * stride."""
    return [getitem(x, (slice(None), slice(None), slice(k * dilation, k * dilation + (out - 1) * stride + 1, stride))) for k in range(kernel)]


def _frames(x):
    """(N, C, D, H, W) -> (N * D, C, H, W): the depth frames as a batch of planes."""
    n, c, d, h, w = _shape_of(x)
    return reshape(transpose(x, (0, 2, 1, 3, 4)), (n * d, c, h, w))


def _volumes(y, n: int):
    """(N * D, C, H, W) -> (N, C, D, H, W), the inverse of ``_frames``."""
    nd, c, h, w = _shape_of(y)
    return transpose(reshape(y, (n, nd // n, c, h, w)), (0, 2, 1, 3, 4))


def _pad_depth(x, low: int, high: int, fill: float):
    return pad(x, ((0, 0), (0, 0), (low, high), (0, 0), (0, 0)), constant_values=fill) if low or high else x


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1, algorithm: str | None = None, *,
           pad_mode: str | None = None):
    """Cross-correlation of an (N, C, D, H, W) input with (O, C/groups, kd, kh, kw) weights, as torch.nn.functional.conv3d
    (funcad.ops.conv2d's arguments, one axis more).

    ``padding``: an int, (pd, ph, pw) or (head, tail, top, bottom, left, right), MindSpore's uneven form its 'same' mode
    needs; ``pad_mode`` as conv2d's. Runs as one 2-D convolution (``algorithm`` as conv2d's) over the output's depth
    frames, each frame's input channels the kd input frames it reads.
    """
    xs, ws = _shape_of(x), _shape_of(weight)
    if len(xs) != 5 or len(ws) != 5:
        raise ValueError(f"funcad.ops.conv3d: expected a 5-D input (N, C, D, H, W) and 5-D weight (O, C/groups, kd, kh, kw), got input {xs} "
                         f"and weight {ws}")
    if groups < 1 or xs[1] != ws[1] * groups or ws[0] % groups:
        raise ValueError(f"funcad.ops.conv3d: input {xs} has {xs[1]} channels but weight {ws} with groups={groups} expects {ws[1] * groups} "
                         f"(and out channels {ws[0]} divisible by groups)")
    padding = pad_mode_padding("conv3d", pad_mode, padding, xs[2:], ws[2:], stride, dilation)
    strides, dilations, pads = ints(stride, 3, "conv3d", "stride"), ints(dilation, 3, "conv3d", "dilation"), paddings(padding, 3, "conv3d")
    if min(strides + dilations) < 1:
        raise ValueError(f"funcad.ops.conv3d: stride {strides} and dilation {dilations} must be positive")
    out = tuple(_out(*a) for a in zip(xs[2:], ws[2:], strides, dilations, pads[0::2], pads[1::2]))
    if min(out) < 1:
        raise ValueError(f"funcad.ops.conv3d: input {xs} padded by {pads} is smaller than the dilated kernel of weight {ws}")
    (n, c, _, h, w), (o, cg, kd, kh, kw) = xs, ws
    taps = stack(_depth_taps(_pad_depth(x, pads[0], pads[1], 0.0), kd, strides[0], dilations[0], out[0]), axis=1)  # (N, kd, C, Do, H, W)
    grouped = reshape(taps, (n, kd, groups, cg, out[0], h, w))
    frames = reshape(transpose(grouped, (0, 4, 2, 1, 3, 5, 6)), (n * out[0], kd * c, h, w))  # channels (group, tap, channel)
    kernels = reshape(transpose(weight, (0, 2, 1, 3, 4)), (o, kd * cg, kh, kw))
    y = _volumes(conv2d(frames, kernels, None, strides[1:], pads[2:], dilations[1:], groups, algorithm), n)
    if bias is not None:
        if _shape_of(bias) != (o,):
            raise ValueError(f"funcad.ops.conv3d: bias shape {_shape_of(bias)} does not match {o} output channels")
        y = y + reshape(bias, (1, o, 1, 1, 1))
    return y


def _pool_geometry(op: str, x, kernel_size, stride, padding) -> tuple[tuple, tuple, tuple]:
    """(kernel, stride, padding as (before, after) per axis) of a 3-D pool, checked as torch checks them."""
    xs = _shape_of(x)
    if len(xs) != 5:
        raise ValueError(f"funcad.ops.{op}: expected a 5-D input (N, C, D, H, W), got shape {xs}")
    if not is_floating(x.dtype):
        raise TypeError(f"funcad.ops.{op}: expected a floating-point input, got {x.dtype}{list(xs)}")
    kernel = ints(kernel_size, 3, op, "kernel_size")
    strides = kernel if stride is None else ints(stride, 3, op, "stride")
    pads = paddings(padding, 3, op)
    if min(kernel + strides) < 1:
        raise ValueError(f"funcad.ops.{op}: kernel_size {kernel} and stride {strides} must be positive")
    if any(max(lo, hi) > k // 2 for k, lo, hi in zip(kernel, pads[0::2], pads[1::2])):
        raise ValueError(f"funcad.ops.{op}: padding {pads} must be at most half the kernel {kernel}")
    if min(_out(n, k, s, 1, lo, hi) for n, k, s, lo, hi in zip(xs[2:], kernel, strides, pads[0::2], pads[1::2])) < 1:
        raise ValueError(f"funcad.ops.{op}: input {xs} padded by {pads} is smaller than the kernel {kernel}")
    return kernel, strides, pads


def _ceil_extras(x, kernel, strides, pads, ceil_mode: bool) -> tuple:
    """The padding past each axis's end that ceil_mode adds (torch's rule)."""
    if not ceil_mode:
        return (0, 0, 0)
    return tuple(ceil_extra(n, k, s, lo, hi) for n, k, s, lo, hi in zip(_shape_of(x)[2:], kernel, strides, pads[0::2], pads[1::2]))


def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False, return_indices: bool = False):
    """Max over kd x kh x kw windows of an (N, C, D, H, W) input (stride defaults to the kernel), spaced ``dilation``
    apart; padding counts as -inf, ``ceil_mode`` keeps a last partial window, as torch. MindSpore's argument order.
    ``return_indices`` also returns each output's flat position in its (n, c) volume (int64), as torch's. Without
    either, each frame is max-pooled in 2-D, then the maximum taken over the depth window; with them the windows'
    taps are compared (``window_max``)."""
    dilation = ints(dilation, 3, "max_pool3d", "dilation")
    if dilation != (1, 1, 1) or return_indices:
        xs = _shape_of(x)
        if len(xs) != 5 or not is_floating(x.dtype):
            raise ValueError(f"funcad.ops.max_pool3d: expected a floating-point 5-D input (N, C, D, H, W), got {x.dtype}{list(xs)}")
        kernel = ints(kernel_size, 3, "max_pool3d", "kernel_size")
        strides = kernel if stride is None else ints(stride, 3, "max_pool3d", "stride")
        values, index = window_max("max_pool3d", x, kernel, strides, paddings(padding, 3, "max_pool3d"), dilation, ceil_mode)
        return (values, index) if return_indices else values
    kernel, strides, pads = _pool_geometry("max_pool3d", x, kernel_size, stride, padding)
    extra = _ceil_extras(x, kernel, strides, pads, ceil_mode)
    n, depth = _shape_of(x)[0], _shape_of(x)[2]
    planes = _volumes(max_pool2d(_frames(x), kernel[1:], strides[1:], pads[2:], ceil_mode=ceil_mode), n)
    planes = _pad_depth(planes, pads[0], pads[1] + extra[0], -np.inf)  # after the 2-D pool: no window of its holds padding alone
    out = _out(depth, kernel[0], strides[0], 1, pads[0], pads[1] + extra[0])
    taps = _depth_taps(planes, kernel[0], strides[0], 1, out)
    if len(taps) == 1:
        return taps[0]
    # Each frame's 2-D pool took the first maximum (or last NaN) in its window: the frame torch's scan order reaches first
    # (last for NaN) holds the input torch's 3-D pool takes.
    stacked = stack(taps, axis=2)
    first_inside = None
    if pads[0] or pads[1] + extra[0]:
        first_inside = first_offsets_inside((kernel[0],), (strides[0],), (pads[0], pads[1] + extra[0]), (1,), (out,))[..., None, None]
    return squeeze(gather_elements(stacked, 2, torch_choice(stacked, first_inside)), 2)


def avg_pool3d(x, kernel_size=1, stride=1, padding=0, ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: int = 0):
    """Mean over kd x kh x kw windows of an (N, C, D, H, W) input, with MindSpore's arguments and defaults (stride 1).

    ``padding`` an int, (pd, ph, pw) or (head, tail, top, bottom, left, right); with ``count_include_pad=False`` the
    padded positions are left out of the count; ``ceil_mode`` keeps a last partial window, whose divisor is its part
    inside the padded input (or its real inputs), as torch's; a non-zero ``divisor_override`` divides every window's sum."""
    kernel, strides, pads = _pool_geometry("avg_pool3d", x, kernel_size, stride, padding)
    extra = _ceil_extras(x, kernel, strides, pads, ceil_mode)
    xs = _shape_of(x)
    widths = ((0, 0), (0, 0)) + tuple((lo, hi + e) for lo, hi, e in zip(pads[0::2], pads[1::2], extra))
    padded = pad(x, widths) if any(pads) or any(extra) else x
    planes = _volumes(avg_pool2d(_frames(padded), kernel[1:], strides[1:], 0), xs[0])  # means over each frame's kh x kw
    taps = _depth_taps(planes, kernel[0], strides[0], 1, _out(xs[2], kernel[0], strides[0], 1, pads[0], pads[1] + extra[0]))
    total = taps[0]
    for tap in taps[1:]:
        total = total + tap
    plane = float(kernel[1] * kernel[2])
    if divisor_override:
        return total * (plane / float(divisor_override))
    counts = [window_counts(*a, count_include_pad) for a in zip(xs[2:], kernel, strides, pads[0::2], pads[1::2], extra)]
    divisor = np.multiply.outer(np.multiply.outer(counts[0], counts[1]), counts[2])
    if (divisor == np.prod(kernel)).all():
        return total * (1.0 / float(kernel[0]))
    return total * (plane / divisor).astype(x.dtype)


def _adaptive_sizes(op: str, x, output_size) -> tuple[int, int, int]:
    xs = _shape_of(x)
    if len(xs) != 5:
        raise ValueError(f"funcad.ops.{op}: expected a 5-D input (N, C, D, H, W), got shape {xs}")
    sizes = (output_size,) * 3 if isinstance(output_size, (int, np.integer)) or output_size is None else tuple(output_size)
    if len(sizes) != 3 or any(s is not None and (not isinstance(s, (int, np.integer)) or s < 1) for s in sizes):
        raise ValueError(f"funcad.ops.{op}: output_size must be a positive int, None or a tuple of three of them, got {output_size!r}")
    return tuple(xs[2 + i] if s is None else int(s) for i, s in enumerate(sizes))


def adaptive_avg_pool3d(input, output_size):  # noqa: A002 - MindSpore's name
    """Average of an (N, C, D, H, W) input over torch's adaptive bins (a None size keeps the input's). The bins are
    separable: (H, W) bins of every frame first (``adaptive_avg_pool2d``), then depth bins of the pooled frames."""
    od, oh, ow = _adaptive_sizes("adaptive_avg_pool3d", input, output_size)
    n, c, d, h, w = _shape_of(input)
    planes = adaptive_avg_pool2d(reshape(input, (n, c * d, h, w)), (oh, ow))
    return reshape(adaptive_avg_pool2d(reshape(planes, (n, c, d, oh * ow)), (od, oh * ow)), (n, c, od, oh, ow))


def adaptive_max_pool3d(input, output_size, return_indices: bool = False):  # noqa: A002 - MindSpore's name
    """Max of an (N, C, D, H, W) input over torch's adaptive bins (a None size keeps the input's): the (H, W) bins of
    every frame, then depth bins (``adaptive_max_pool2d``, whose tied maxima share the gradient). Indices are not returned."""
    if return_indices:
        raise NotImplementedError("funcad.ops.adaptive_max_pool3d: return_indices=True is not supported")
    od, oh, ow = _adaptive_sizes("adaptive_max_pool3d", input, output_size)
    n, c, d, h, w = _shape_of(input)
    planes = adaptive_max_pool2d(reshape(input, (n, c * d, h, w)), (oh, ow))
    return reshape(adaptive_max_pool2d(reshape(planes, (n, c, d, oh * ow)), (od, None)), (n, c, od, oh, ow))
