"""2-D pooling on NCHW inputs: max (gradient to the first maximum, or to the last NaN, as torch), average, adaptive average.

Each pool is a loop over the kh * kw kernel taps of whole-batch strided views (no loop over
pixels or channels). Max pooling is split into a constant argmax and a linear gather, so its
gradient is a scatter whose own gradient is the gather again (any order).
"""

from __future__ import annotations

import numpy as np

from funcad.core.batching import batch_size, ndim_of
from funcad.core.dtypes import is_floating, widened
from funcad.core.primitive import compiled_as_call, defadjoint, primitive
from funcad.core.tensor import Tensor
from funcad.ops.batching import bind_arguments, fold_rule
from funcad.ops.conv import pad_planes
from funcad.ops.conv_geometry import Geometry, ceil_extra, padding4, pair, windows
from funcad.ops.conv_scratch import scratch, with_scratch
from funcad.ops.indexing import gather_elements
from funcad.ops.math import add, floor_divide, isnan, multiply, remainder, where
from funcad.ops.padding import pad
from funcad.ops.reduce import amax, argmax
from funcad.ops.shape import _shape_of, cast, concat, flip, getitem, squeeze, stack


def _pool_geometry(op: str, x, kernel_size, stride, padding) -> Geometry:
    xs = _shape_of(x)
    if len(xs) != 4:
        raise ValueError(f"funcad.ops.{op}: expected a 4-D input (N, C, H, W), got shape {xs}")
    if not is_floating(x.dtype):
        raise TypeError(f"funcad.ops.{op}: expected a floating-point input, got {x.dtype}{list(xs)}")
    kernel = pair(kernel_size, op, "kernel_size")
    geo = Geometry(kernel, kernel if stride is None else pair(stride, op, "stride"), padding4(padding, op), (1, 1))
    if min(kernel + geo.stride) < 1:
        raise ValueError(f"funcad.ops.{op}: kernel_size {kernel} and stride {geo.stride} must be positive")
    pt, pb, pl, pr = geo.padding
    if max(pt, pb) > kernel[0] // 2 or max(pl, pr) > kernel[1] // 2:
        raise ValueError(f"funcad.ops.{op}: padding {geo.padding} must be at most half the kernel {kernel}")
    oh, ow = geo.output_size(*xs[2:])
    if oh < 1 or ow < 1:
        raise ValueError(f"funcad.ops.{op}: input {xs} padded by {geo.padding} is smaller than the kernel {kernel}")
    return geo


def _tap_views(x, geo: Geometry, fill: float, in_scratch: bool):
    """(padded buffer, [(p, q, view of the inputs under tap (p, q))]); views are (N, C, OH, OW); ``in_scratch`` as for ``pad_planes``."""
    h, w = x.shape[2:]
    ow = geo.output_size(h, w)[1]
    padded = pad_planes(x, geo, in_scratch, fill)
    taps = windows(padded, geo, h, w)
    kh, kw = geo.kernel
    return padded, [(p, q, taps[:, :, p, q, :, :ow]) for p in range(kh) for q in range(kw)]


# -- max -----------------------------------------------------------------------------------------
def _tap_major(x, geo: Geometry, fill: float):
    """(kh * kw, N, C, OH, OW): the inputs under each kernel tap, copied once so every later pass runs over contiguous memory."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw) = geo.kernel, geo.stride
    oh, ow = geo.output_size(h, w)
    src = pad_planes(x, geo, True, fill) if any(geo.padding) else x
    s_n, s_c, s_h, s_w = src.strides
    view = np.lib.stride_tricks.as_strided(src, (kh, kw, n, c, oh, ow), (s_h, s_w, s_n, s_c, s_h * sh, s_w * sw), writeable=False)
    taps = scratch(view.shape, x.dtype)
    np.copyto(taps, view)
    return taps.reshape(kh * kw, n, c, oh, ow)


def _torch_argmax(torch, x, geo: Geometry):
    """torch's translation: max_pool2d's indices (into each -inf-padded plane) turned into funcad's flat indices."""
    n, c, h, w = x.shape
    kernel, stride, (pt, pb, pl, pr), _ = geo
    F = torch.nn.functional
    _, index = F.max_pool2d(F.pad(x, (pl, pr, pt, pb), value=float("-inf")), kernel, stride, return_indices=True)
    padded_width = w + pl + pr
    planes = torch.arange(n * c, device=x.device).reshape(n, c, 1, 1) * (h * w)
    return planes + (torch.div(index, padded_width, rounding_mode="floor") - pt) * w + index % padded_width - pl


@primitive(**compiled_as_call(torch=_torch_argmax))
@with_scratch
def _max_pool_argmax(x, geo: Geometry):
    """Flat index into the whole of ``x`` of the input each window's output is taken from, chosen as torch chooses: the
    first maximum in scan order, or the last NaN of a window holding NaN. Padding never wins: it is -inf."""
    n, c, h, w = x.shape
    taps = _tap_major(x, geo, -np.inf)
    best = np.maximum(taps[0], taps[1], out=scratch(taps.shape[1:], x.dtype)) if len(taps) > 1 else taps[0]
    for view in taps[2:]:
        np.maximum(best, view, out=best)
    # Walk the taps backwards, moving the choice to every earlier tap that also holds the maximum.
    tap = np.full(best.shape, len(taps) - 1, dtype=np.int16 if len(taps) > 127 else np.int8)
    for k in range(len(taps) - 2, -1, -1):
        hit = (taps[k] == best).view(np.int8)
        tap -= hit * (tap - k).astype(tap.dtype, copy=False)
    if best.size and np.isnan(np.minimum.reduce(best, axis=None)):  # NaN equals nothing, so the walk found no tap there
        for k, view in enumerate(taps):
            tap[np.isnan(view)] = k
    oh, ow = best.shape[2:]
    if any(geo.padding):  # a window of -inf inputs ties with its padding: its first tap inside the plane, as torch's
        first = first_offsets_inside(geo.kernel, geo.stride, geo.padding, geo.dilation, (oh, ow))[0, 0]
        tap = np.where(best == -np.inf, first.astype(tap.dtype), tap)
    top_left = (np.arange(oh) * geo.stride[0] - geo.padding[0]).reshape(oh, 1) * w + np.arange(ow) * geo.stride[1] - geo.padding[2]
    # tap k = p * kw + q lies p * w + q = p * (w - kw) + k past the window's top left corner (arithmetic beats a table lookup here)
    kw = geo.kernel[1]
    index = (tap // kw).astype(np.int64)
    index *= w - kw
    index += tap
    index += top_left
    index += (np.arange(n * c) * (h * w)).reshape(n, c, 1, 1)  # where each (n, c) plane starts
    return index


@primitive(**compiled_as_call(torch=lambda torch, x, index, overlapping: torch.take(x, index)))
def _gather_planes(x, index, overlapping: bool):
    """x.flat[index] for indices into planes of x; ``overlapping`` says whether an index may repeat (it matters to the adjoint)."""
    return np.take(x.reshape(-1), index)


def _torch_scatter_planes(torch, g, index, plane_shape: tuple, overlapping: bool):
    """torch's translation: g put (or, overlapping, added) into zero planes at the flat ``index``."""
    shape = tuple(g.shape[:2]) + tuple(plane_shape)
    flat = torch.zeros(int(np.prod(shape)), dtype=g.dtype, device=g.device)
    return flat.index_put((index.reshape(-1),), g.reshape(-1), accumulate=overlapping).reshape(shape)


@primitive(**compiled_as_call(torch=_torch_scatter_planes))
def _scatter_planes(g, index, plane_shape: tuple, overlapping: bool):
    """Adjoint of _gather_planes: g summed into zero planes at ``index`` (repeats accumulate; unique ones are just stored)."""
    shape = g.shape[:2] + tuple(plane_shape)
    flat_index = index.ravel()
    if overlapping:
        flat = np.bincount(flat_index, weights=g.ravel(), minlength=int(np.prod(shape))).astype(g.dtype, copy=False)
    else:
        flat = np.zeros(int(np.prod(shape)), dtype=g.dtype)
        flat[flat_index] = g.ravel()
    return flat.reshape(shape)


defadjoint(_gather_planes, _scatter_planes,
           lambda g, ans, x, index, overlapping: _scatter_planes(g, index, plane_shape=_shape_of(x)[2:], overlapping=overlapping),
           lambda c, ans, g, index, plane_shape, overlapping: _gather_planes(c, index, overlapping=overlapping))


def _planes_batch(prim):
    """gather_planes / scatter_planes: flat indices into a batch of members are offset by each member's size."""
    fold = fold_rule(prim, (0, 1))

    def rule(args, dims, /, **kwargs):
        if dims[1] is None:  # shared indices into batched data
            bound = bind_arguments(prim, args, kwargs)
            member = tuple(args[0].shape[:dims[0]] + args[0].shape[dims[0] + 1:])
            if "plane_shape" in bound.arguments:
                member = member[:2] + tuple(bound.arguments["plane_shape"])
            size = batch_size(args, dims)
            step = int(np.prod(member, dtype=np.int64))
            index = args[1]
            offsets = Tensor._wrap((np.arange(size, dtype=np.int64) * step).reshape((size,) + (1,) * ndim_of(index)))
            return fold([args[0], offsets + index] + list(args[2:]), [dims[0], 0] + list(dims[2:]), **kwargs)
        if dims[0] is None and prim is _gather_planes:  # batched indices into shared data
            return prim(*args, **kwargs), dims[1]
        return fold(args, dims, **kwargs)

    return rule


for _prim in (_gather_planes, _scatter_planes):
    _prim.declare(batch=_planes_batch(_prim))


_max_pool_argmax.nondifferentiable().declare(batch=fold_rule(_max_pool_argmax, (0,)))


def torch_choice(stacked, first_inside=None):
    """(N, C, 1, *out): the tap along axis 2 of the stacked taps (N, C, taps, *out) each window's maximum is taken
    from, as torch's max pools choose: the first largest in scan order, the last NaN of a window holding NaN, and,
    where padding (-inf) is stacked in, a window of -inf inputs its first tap inside the input (``first_inside``)."""
    best = argmax(stacked, axis=2, keepdims=True)  # the first largest, or the first NaN
    largest = amax(stacked, axis=2, keepdims=True)
    last_nan = (_shape_of(stacked)[2] - 1) - argmax(cast(flip(isnan(stacked), axis=2), np.int8), axis=2, keepdims=True)
    best = where(isnan(largest), last_nan, best)
    return best if first_inside is None else where(largest == -np.inf, first_inside, best)


def first_offsets_inside(kernel: tuple, stride: tuple, pads: tuple, dilation: tuple, outs: tuple) -> np.ndarray:
    """(1, 1, 1, *outs): each window's first tap (flat over the kernel) that falls inside the unpadded input."""
    first = np.zeros(outs, np.int64)
    for axis, (s, lo, d, m) in enumerate(zip(stride, pads[0::2], dilation, outs)):
        offset = np.maximum(-(-(lo - np.arange(m) * s) // d), 0)  # the least o with o * d >= lo - start
        first += (offset * int(np.prod(kernel[axis + 1:]))).reshape((-1,) + (1,) * (len(outs) - axis - 1))
    return first.reshape((1, 1, 1) + tuple(outs))


def window_max(op: str, x, kernel: tuple, stride: tuple, pads: tuple, dilation: tuple, ceil_mode: bool) -> tuple:
    """(max over the dilated windows of the spatial axes of (N, C, *spatial) x, each maximum's flat position in its
    (n, c) volume as torch's indices). ``pads``: (before, after) per axis, flat, counting as -inf; ``ceil_mode`` keeps
    a last partial window (torch's rule). The general path of the max pools: the padded input's taps (one strided
    slice per kernel offset) are stacked and the first largest picked, so gradients go through the slices and the pick."""
    xs = _shape_of(x)
    spans = tuple((k - 1) * d + 1 for k, d in zip(kernel, dilation))
    if min(kernel + stride + dilation) < 1:
        raise ValueError(f"funcad.ops.{op}: kernel_size {kernel}, stride {stride} and dilation {dilation} must be positive")
    if any(max(lo, hi) > k // 2 for k, lo, hi in zip(kernel, pads[0::2], pads[1::2])):
        raise ValueError(f"funcad.ops.{op}: padding {pads} must be at most half the kernel {kernel}, as torch's")
    extras = tuple(ceil_extra(n, span, s, lo, hi) if ceil_mode else 0
                   for n, span, s, lo, hi in zip(xs[2:], spans, stride, pads[0::2], pads[1::2]))
    outs = tuple((n + lo + hi + e - span) // s + 1 for n, span, s, lo, hi, e in zip(xs[2:], spans, stride, pads[0::2], pads[1::2], extras))
    if min(outs) < 1:
        raise ValueError(f"funcad.ops.{op}: input {xs} padded by {pads} is smaller than the dilated kernel {spans}")
    widths = ((0, 0), (0, 0)) + tuple((lo, hi + e) for lo, hi, e in zip(pads[0::2], pads[1::2], extras))
    padded = pad(x, widths, constant_values=-np.inf) if any(pads) or any(extras) else x
    taps = [getitem(padded, (slice(None), slice(None)) + tuple(slice(o * d, o * d + (m - 1) * s + 1, s)
                                                             for o, d, m, s in zip(offsets, dilation, outs, stride)))
            for offsets in np.ndindex(*kernel)]
    stacked = stack(taps, axis=2)
    best = torch_choice(stacked, first_offsets_inside(kernel, stride, pads, dilation, outs) if any(pads) or any(extras) else None)
    values = squeeze(gather_elements(stacked, 2, best), 2)
    best = cast(squeeze(best, 2), np.int64)
    index, rank = None, len(outs)
    for axis in range(rank):
        offset = remainder(floor_divide(best, int(np.prod(kernel[axis + 1:]))), kernel[axis])
        start = (np.arange(outs[axis], dtype=np.int64) * stride[axis] - pads[2 * axis]).reshape((-1,) + (1,) * (rank - axis - 1))
        term = multiply(add(multiply(offset, dilation[axis]), start), int(np.prod(xs[3 + axis:])))
        index = term if index is None else add(index, term)
    return values, index


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False, ceil_mode: bool = False):
    """Max over kh x kw windows (stride defaults to the kernel), spaced ``dilation`` apart; padding counts as -inf, as
    in torch. MindSpore's arguments: ``ceil_mode`` keeps a last partial window (torch's rule); ``return_indices`` also
    returns each output's flat position in its input plane (int64), as torch's. Dilation 1 runs the fast kernel,
    others ``window_max``."""
    dilation = pair(dilation, "max_pool2d", "dilation")
    if dilation != (1, 1):
        if len(_shape_of(x)) != 4 or not is_floating(x.dtype):
            raise ValueError(f"funcad.ops.max_pool2d: expected a floating-point 4-D input (N, C, H, W), got {x.dtype}{list(_shape_of(x))}")
        kernel = pair(kernel_size, "max_pool2d", "kernel_size")
        strides = kernel if stride is None else pair(stride, "max_pool2d", "stride")
        values, index = window_max("max_pool2d", x, kernel, strides, padding4(padding, "max_pool2d"), dilation, ceil_mode)
        return (values, index) if return_indices else values
    geo = _pool_geometry("max_pool2d", x, kernel_size, stride, padding)
    source, (top, left) = x, (0, 0)
    if ceil_mode:
        (pt, pb, pl, pr), h, w = geo.padding, *_shape_of(x)[2:]
        extra = ceil_extra(h, geo.kernel[0], geo.stride[0], pt, pb), ceil_extra(w, geo.kernel[1], geo.stride[1], pl, pr)
        if extra != (0, 0):  # the partial windows' padding is uneven and may pass half the kernel: padded here, explicitly
            source, (top, left) = pad(x, ((0, 0), (0, 0), (pt, pb + extra[0]), (pl, pr + extra[1])), constant_values=-np.inf), (pt, pl)
            geo = geo._replace(padding=(0, 0, 0, 0))
    overlapping = geo.stride[0] < geo.kernel[0] or geo.stride[1] < geo.kernel[1]
    argmax = _max_pool_argmax(source, geo=geo)
    values = _gather_planes(source, argmax, overlapping=overlapping)
    if not return_indices:
        return values
    hp, wp = _shape_of(source)[2:]
    in_plane = argmax % (hp * wp)
    return values, (in_plane // wp - top) * _shape_of(x)[3] + in_plane % wp - left


# -- average -------------------------------------------------------------------------------------
def _torch_window_sum(torch, x, geo):
    """torch's translation: the padded windows unfolded, summed."""
    kernel, stride, (pt, pb, pl, pr), dilation = geo
    F = torch.nn.functional
    n, c = x.shape[:2]
    padded = F.pad(x, (pl, pr, pt, pb))
    oh = (padded.shape[2] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    ow = (padded.shape[3] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    taps = F.unfold(padded, kernel, dilation=dilation, stride=stride)
    return taps.reshape(n, c, kernel[0] * kernel[1], oh, ow).sum(2)


@primitive(**compiled_as_call(torch=_torch_window_sum))
@with_scratch
def _window_sum(x, geo: Geometry):
    _, views = _tap_views(x, geo, 0.0, True)
    total = views[0][2].copy()
    for _, _, view in views[1:]:
        total += view
    return total


@primitive(**compiled_as_call())
def _window_sum_transpose(g, geo: Geometry, x_shape: tuple):
    """Adjoint of _window_sum: every output's cotangent added back onto each input of its window."""
    h, w = x_shape[2:]
    padded, views = _tap_views(np.zeros(x_shape, dtype=g.dtype), geo, 0.0, False)  # the result is a view of it
    taps = windows(padded, geo, h, w, writeable=True)
    for p, q, _ in views:
        taps[:, :, p, q, :, : g.shape[3]] += g
    pt, _, pl, _ = geo.padding
    return padded[:, :, pt : pt + h, pl : pl + w]


defadjoint(_window_sum, _window_sum_transpose, lambda g, ans, x, geo: _window_sum_transpose(g, geo=geo, x_shape=_shape_of(x)),
           lambda c, ans, g, geo, x_shape: _window_sum(c, geo=geo))
_window_sum.declare(batch=fold_rule(_window_sum, (0,)))
_window_sum_transpose.declare(batch=fold_rule(_window_sum_transpose, (0,), shape_arg="x_shape"))


def avg_pool2d(input_x, kernel_size=1, stride=1, padding=0, *, count_include_pad: bool = True, divisor_override: int | None = 0):
    """Mean over kh x kw windows: ``stride`` 1 by default (torch's is the kernel size; None asks for that); with
    ``count_include_pad=False`` padded positions are left out of the count; a non-zero ``divisor_override`` divides
    every window's sum instead. ``funcad.ops.avg_pool2d`` (MindSpore 2.x's signature, with ``ceil_mode``) calls it."""
    geo = _pool_geometry("avg_pool2d", input_x, kernel_size, stride, padding)
    total = _window_sum(input_x, geo=geo)
    if divisor_override:
        return total * (1.0 / float(divisor_override))
    x = input_x
    if count_include_pad or geo.padding == (0, 0, 0, 0):
        return total * (1.0 / float(geo.kernel[0] * geo.kernel[1]))
    ones = np.ones((1, 1) + tuple(_shape_of(x)[2:]), dtype=x.dtype)
    return total / Tensor._wrap(_window_sum.impl(ones, geo=geo))


def _bin_bounds(size: int, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """torch's adaptive bins [floor(i*size/bins), ceil((i+1)*size/bins)): their starts and ends."""
    i = np.arange(bins)
    return (i * size) // bins, -((-(i + 1) * size) // bins)


def _bin_matrix(size: int, bins: int, dtype) -> np.ndarray:
    """(bins, size) averaging matrix of the adaptive bins."""
    start, end = _bin_bounds(size, bins)
    j = np.arange(size)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def _binned_means(x, axis: int, bins: int):
    """Mean of each adaptive bin along ``axis``, one slice at a time."""
    start, end = _bin_bounds(x.shape[axis], bins)
    sums = [np.add.reduce(x[(slice(None),) * (axis % x.ndim) + (slice(s, e),)], axis=axis, keepdims=True) for s, e in zip(start, end)]
    counts = (end - start).reshape((-1,) + (1,) * (x.ndim - 1 - axis % x.ndim))
    return np.concatenate(sums, axis=axis) / counts.astype(x.dtype)


@primitive(**compiled_as_call(torch=lambda torch, x, bins: torch.nn.functional.adaptive_avg_pool2d(x, bins)))
def _adaptive_mean(x, bins: tuple):
    """Means over adaptive bins of the last two axes: rows @ x @ cols with the bins' averaging matrices. Those products
    would spread an inf or NaN to every bin of its rows and columns (0 * inf is NaN), so an input holding one is
    averaged bin by bin instead, as torch does."""
    h, w = x.shape[-2:]
    if np.isfinite(x).all():
        return widened(lambda a, rows: np.matmul(np.matmul(rows, a), _bin_matrix(w, bins[1], a.dtype).T), x, _bin_matrix(h, bins[0], x.dtype))
    return _binned_means(_binned_means(x, -2, bins[0]), -1, bins[1])


@primitive(**compiled_as_call())
def _adaptive_mean_transpose(g, size: tuple):
    """Adjoint of _adaptive_mean: each bin's cotangent shared out over its inputs. A single bin along an axis (global
    average pooling) makes that product an outer one, which broadcasting multiplies with the same roundings several times
    faster than numpy's batched matmul of many 1-wide matrices."""
    rows, cols = _bin_matrix(size[0], g.shape[-2], g.dtype), _bin_matrix(size[1], g.shape[-1], g.dtype)
    spread = g * cols if g.shape[-1] == 1 else widened(np.matmul, g, cols)
    return rows.T * spread if g.shape[-2] == 1 else widened(np.matmul, rows.T, spread)


defadjoint(_adaptive_mean, _adaptive_mean_transpose, lambda g, ans, x, bins: _adaptive_mean_transpose(g, size=_shape_of(x)[-2:]),
           lambda c, ans, g, size: _adaptive_mean(c, bins=_shape_of(g)[-2:]))
_adaptive_mean.declare(batch=fold_rule(_adaptive_mean, (0,)))
_adaptive_mean_transpose.declare(batch=fold_rule(_adaptive_mean_transpose, (0,)))


def adaptive_avg_pool2d(x, output_size):
    """Average over torch's adaptive bins; bins are separable, so this is (bins_h x H) @ x @ (W x bins_w)."""
    xs = _shape_of(x)
    if len(xs) != 4:
        raise ValueError(f"funcad.ops.adaptive_avg_pool2d: expected a 4-D input (N, C, H, W), got shape {xs}")
    sizes = (output_size, output_size) if isinstance(output_size, (int, np.integer)) or output_size is None else tuple(output_size)
    if len(sizes) != 2:
        raise ValueError(f"funcad.ops.adaptive_avg_pool2d: output_size must be an int or a pair, got {output_size!r}")
    oh, ow = (xs[2 + i] if s is None else int(s) for i, s in enumerate(sizes))
    if oh < 1 or ow < 1:
        raise ValueError(f"funcad.ops.adaptive_avg_pool2d: output_size {output_size!r} must be positive")
    return _adaptive_mean(x, bins=(oh, ow))


def adaptive_max_pool2d(input, output_size, return_indices: bool = False):  # noqa: A002 - torch's and MindSpore's name
    """Max over torch's adaptive bins [floor(i n / o), ceil((i + 1) n / o)) of an (N, C, H, W) input; a None size keeps
    the input's. The maximum of a rectangle is the maximum over columns of the maxima over rows, so it runs as
    oh + ow slice reductions. Tied maxima share the gradient equally (torch gives it to one of them); indices are
    not returned."""
    xs = _shape_of(input)
    if return_indices:
        raise NotImplementedError("funcad.ops.adaptive_max_pool2d: return_indices=True is not supported")
    if len(xs) != 4:
        raise ValueError(f"funcad.ops.adaptive_max_pool2d: expected a 4-D input (N, C, H, W), got shape {xs}")
    sizes = (output_size, output_size) if isinstance(output_size, (int, np.integer)) or output_size is None else tuple(output_size)
    if len(sizes) != 2 or any(s is not None and int(s) < 1 for s in sizes):
        raise ValueError(f"funcad.ops.adaptive_max_pool2d: output_size must be a positive int, None or a pair of them, got {output_size!r}")
    x = input
    for axis, bins in zip((2, 3), sizes):
        size = xs[axis]
        bins = size if bins is None else int(bins)
        index = [slice(None)] * 4
        pieces = []
        for i in range(bins):
            index[axis] = slice(i * size // bins, -(-(i + 1) * size // bins))
            pieces.append(amax(getitem(x, tuple(index)), axis=axis, keepdims=True))
        x = concat(pieces, axis=axis)
    return x
