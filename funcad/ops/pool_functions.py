"""MindSpore 2.x's functional pools built on the 2-D kernels of ``funcad.ops.pool``: ``avg_pool1d``,
``adaptive_max_pool1d``, the power-average pools ``lp_pool1d``/``lp_pool2d`` and the partial inverses of max
pooling ``max_unpool1d``/``max_unpool2d``/``max_unpool3d``.

A 1-D pool runs as the 2-D one over planes of height 1; an LP pool is an average pool of x^p scaled back to a sum;
max unpooling scatters each value to its recorded position with the adjoint of max pooling's gather, so every
gradient comes from rules that already exist.
"""

from __future__ import annotations

import numbers

import numpy as np

from funcad.core.trace import Tracer
from funcad.ops.conv_geometry import ints
from funcad.ops.indices import check_index_range
from funcad.ops.ms_signatures import avg_pool2d
from funcad.ops.pool import _scatter_planes, adaptive_max_pool2d
from funcad.ops.shape import _shape_of, cast, expand_dims, reshape, squeeze


def _single(value, op: str, what: str) -> int:
    """An int or a 1-tuple of one (MindSpore's and torch's 1-D sizes)."""
    return ints(value, 1, op, what)[0]


def _batched(op: str, x, rank: int):
    """(x with a batch axis, whether one was added) for an input of ``rank`` spatial axes, batched or not."""
    ndim = len(_shape_of(x))
    if ndim not in (rank + 1, rank + 2):
        forms = {1: "(N, C, L) or (C, L)", 2: "(N, C, H, W) or (C, H, W)", 3: "(N, C, D, H, W) or (C, D, H, W)"}[rank]
        raise ValueError(f"funcad.ops.{op}: expected a {forms} input, got shape {_shape_of(x)}")
    return (x, False) if ndim == rank + 2 else (expand_dims(x, 0), True)


def avg_pool1d(input_x, kernel_size=1, stride=1, padding=0, ceil_mode: bool = False, count_include_pad: bool = True):
    """Mean over windows of an (N, C, L) input; ``padding`` an int for both ends or (left, right); ``ceil_mode`` and
    ``count_include_pad`` as ``avg_pool2d``'s. MindSpore's defaults: kernel 1, stride 1."""
    if len(_shape_of(input_x)) != 3:
        raise ValueError(f"funcad.ops.avg_pool1d: expected a 3-D input (N, C, L), got shape {_shape_of(input_x)}")
    k, s = _single(kernel_size, "avg_pool1d", "kernel_size"), _single(stride, "avg_pool1d", "stride")
    pads = ints(padding, 2, "avg_pool1d", "padding")
    out = avg_pool2d(expand_dims(input_x, 2), (1, k), (1, s), (0, 0) + pads, ceil_mode, count_include_pad)
    return squeeze(out, 2)


def adaptive_max_pool1d(input, output_size: int):  # noqa: A002 - MindSpore's name
    """Max over torch's adaptive bins [floor(i L / o), ceil((i + 1) L / o)) of an (N, C, L) input."""
    if len(_shape_of(input)) != 3:
        raise ValueError(f"funcad.ops.adaptive_max_pool1d: expected a 3-D input (N, C, L), got shape {_shape_of(input)}")
    size = _single(output_size, "adaptive_max_pool1d", "output_size")
    if size < 1:
        raise ValueError(f"funcad.ops.adaptive_max_pool1d: output_size must be positive, got {output_size!r}")
    return squeeze(adaptive_max_pool2d(expand_dims(input, 2), (1, size)), 2)


def _lp_pool(op: str, x, norm_type, kernel: tuple, stride: tuple, ceil_mode: bool):
    """(sum over each window of x^p)^(1/p), as torch and MindSpore compute it: the average pool of x^p times the
    window's size (with ``ceil_mode`` a last partial window's average is over its own part, then scaled the same)."""
    if isinstance(norm_type, bool) or not isinstance(norm_type, numbers.Real) or norm_type == 0:
        raise ValueError(f"funcad.ops.{op}: norm_type must be a non-zero number, got {norm_type!r}")
    p = float(norm_type)
    means = avg_pool2d(x ** p, kernel, stride, 0, ceil_mode)
    return (means * float(kernel[0] * kernel[1])) ** (1.0 / p)


def lp_pool1d(x, norm_type, kernel_size, stride=None, ceil_mode: bool = False):
    """Power-average pooling of an (N, C, L) or (C, L) input: (sum of x^p over each window)^(1/p); ``stride``
    defaults to the kernel size. p = 1 is sum pooling; a large p nears max pooling."""
    x4, added = _batched("lp_pool1d", x, 1)
    k = _single(kernel_size, "lp_pool1d", "kernel_size")
    s = k if stride is None else _single(stride, "lp_pool1d", "stride")
    out = squeeze(_lp_pool("lp_pool1d", expand_dims(x4, 2), norm_type, (1, k), (1, s), ceil_mode), 2)
    return squeeze(out, 0) if added else out


def lp_pool2d(x, norm_type, kernel_size, stride=None, ceil_mode: bool = False):
    """Power-average pooling of an (N, C, H, W) or (C, H, W) input over (kh, kw) windows; ``stride`` defaults to
    the kernel size."""
    x4, added = _batched("lp_pool2d", x, 2)
    kernel = ints(kernel_size, 2, "lp_pool2d", "kernel_size")
    out = _lp_pool("lp_pool2d", x4, norm_type, kernel, kernel if stride is None else ints(stride, 2, "lp_pool2d", "stride"), ceil_mode)
    return squeeze(out, 0) if added else out


def _unpooled_size(op: str, rank: int, in_sizes: tuple, kernel: tuple, stride: tuple, padding: tuple, output_size) -> tuple:
    """The output's spatial sizes: (in - 1) * stride - 2 * padding + kernel, or ``output_size`` (its last ``rank``
    entries) when given, which must lie within a stride above that, as torch's and MindSpore's rule."""
    default = tuple((n - 1) * s - 2 * p + k for n, k, s, p in zip(in_sizes, kernel, stride, padding))
    if output_size is None or len(tuple(output_size)) == 0:
        sizes = default
    else:
        given = tuple(int(v) for v in output_size)
        if len(given) not in (rank, rank + 1, rank + 2):
            raise ValueError(f"funcad.ops.{op}: output_size {tuple(output_size)} must give the {rank} spatial sizes (optionally after N, C)")
        sizes = given[-rank:]
        if any(not d <= g < d + s for g, d, s in zip(sizes, default, stride)):
            raise ValueError(f"funcad.ops.{op}: output_size {tuple(output_size)} must lie between {default} and that plus the "
                             f"stride {stride} (exclusive)")
    if min(sizes) < 1:
        raise ValueError(f"funcad.ops.{op}: the output size {sizes} (from input {in_sizes}, kernel {kernel}, stride {stride}, "
                         f"padding {padding}) must be positive")
    return sizes


def _max_unpool(op: str, rank: int, x, indices, kernel_size, stride, padding, output_size):
    """Each value of x placed at its flat position ``indices`` within its output plane (volume), zeros elsewhere."""
    xs, index_shape = _shape_of(x), _shape_of(indices)
    if xs != index_shape:
        raise ValueError(f"funcad.ops.{op}: indices must have the input's shape {xs}, got {index_shape}")
    x_b, added = _batched(op, x, rank)
    kernel = ints(kernel_size, rank, op, "kernel_size")
    strides = kernel if stride is None or stride == 0 else ints(stride, rank, op, "stride")
    pads = ints(padding, rank, op, "padding")
    n, c, *spatial = _shape_of(x_b)
    sizes = _unpooled_size(op, rank, tuple(spatial), kernel, strides, pads, output_size)
    plane = int(np.prod(sizes))
    if not isinstance(indices, Tracer):
        check_index_range(op, np.asarray(indices), plane, detail=f" (positions in an output plane of {sizes})", error=ValueError)
    index = reshape(cast(indices, np.int64), (n, c, -1))
    index = index + np.arange(n * c, dtype=np.int64).reshape(n, c, 1) * plane  # where each (sample, channel) plane starts
    out = _scatter_planes(reshape(x_b, (n, c, -1)), index, plane_shape=(plane,), overlapping=False)
    out = reshape(out, (n, c) + tuple(sizes))
    return squeeze(out, 0) if added else out


def max_unpool1d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of ``max_pool1d``: (N, C, L_in) values placed at their positions ``indices`` (into each output
    row of length (L_in - 1) * stride - 2 * padding + kernel_size, or ``output_size``), zeros elsewhere."""
    return _max_unpool("max_unpool1d", 1, x, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of ``max_pool2d``: each value of an (N, C, H, W) or (C, H, W) input placed at its flat position
    ``indices`` in its output plane, zeros elsewhere; ``stride`` defaults to the kernel size."""
    return _max_unpool("max_unpool2d", 2, x, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of ``max_pool3d`` on (N, C, D, H, W) or (C, D, H, W) inputs; ``indices`` are flat positions in
    each output volume."""
    return _max_unpool("max_unpool3d", 3, x, indices, kernel_size, stride, padding, output_size)
