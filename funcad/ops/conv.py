"""2-D convolution (NCHW) and its two adjoints, each computed by one of several algorithms.

``_conv``, ``_conv_input_grad`` and ``_conv_weight_grad`` form a closed family: each
one's VJP and JVP is another member (all three are bilinear), so gradients of any
order stay inside these three fast kernels. Each takes an ``algorithm`` keyword (see
``funcad.ops.conv_algorithms``: None is eager mode's default for the shape, "benchmark" a
timed choice, or a name) which its rules hand on to the members they call; ``funcad.jit``
writes the concrete choice into the program (``tune``).

The ``gemm`` algorithm lives here: im2col + one batched matmul. Column layout: for stride 1
the window rows are read as runs of the *padded* row width, so the copy is a handful of
long contiguous runs (the extra columns per row are computed and cropped away); for larger
strides the rows are exactly the output. The input gradient of a stride-1 'same' convolution is
a stride-1 convolution of the output gradient with the flipped kernel (``_transposed``), so it
runs through the same forward path; other geometries use col2im (for stride 1 with every tap
one long add, ``_input_grad_stride1``). The weight gradient of a stride-1 convolution with few channels
needs no columns at all (``_weight_grad_taps``): each tap's are rows of the padded input, read in place.

Memory traffic, not arithmetic, dominates at LeNet sizes, so the batch is processed in
blocks of samples (about ``BLOCK_BYTES`` of columns each): a block's columns are still in
cache when its product reads them. Blocks of a large enough kernel run on as many threads as
numpy's BLAS may use (``batch_threads``), each with its own scratch buffers. Neither blocking nor
threads change a result: every sample's product is the same BLAS call, blocks write disjoint
memory, and the weight gradient sums its per-sample products afterwards, in batch order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from funcad.core import conv_pin
from funcad.core.batching import batch_size, ndim_of
from funcad.core.dtypes import is_floating, widened
from funcad.core.primitive import compiled_as_call, primitive
from funcad.ops import batch_threads, conv_algorithms, conv_direct, conv_fft, conv_winograd
from funcad.ops.batching import bind_arguments, fold_rule, to_front
from funcad.ops.conv_geometry import Geometry, ints, pad_mode_padding, padding4, paddings, pair, windows
from funcad.ops.conv_scratch import scratch, with_scratch
from funcad.ops.shape import _shape_of, expand_dims, reshape, squeeze, transpose

xp = np  # the kernels' name for numpy


def pad_planes(x, geo: Geometry, in_scratch: bool, fill=0.0):
    """Pad H and W, into a scratch buffer or a new array.

    One extra bottom row when rows are read past the right edge (see ``row_width``).
    """
    n, c, h, w = x.shape
    pt, pb, pl, pr = geo.padding
    oh, ow = geo.output_size(h, w)
    extra = 1 if geo.row_width(h, w) > ow else 0
    shape = (n, c, h + pt + pb + extra, w + pl + pr)
    out = scratch(shape, x.dtype) if in_scratch else xp.empty(shape, dtype=x.dtype)
    out.fill(fill)
    out[:, :, pt : pt + h, pl : pl + w] = x
    return out


# Samples per block of columns: a block's columns are still in cache when the product reads them.
BLOCK_BYTES = 1 << 21


class Blocks(NamedTuple):
    """How a kernel splits its batch: ``parts`` (consecutive slices of about BLOCK_BYTES each) run on ``workers``
    threads (``batch_threads``), each with its own buffers of ``size`` samples."""

    workers: int
    size: int
    parts: list[slice]


def _blocks(n: int, sample_bytes: int, flops: int) -> Blocks:
    """The plan for ``n`` samples of ``sample_bytes`` temporaries each, whose products take ``flops`` in all."""
    workers = batch_threads.workers_for(flops)
    parts = batch_threads.blocks(n, sample_bytes, BLOCK_BYTES, workers)
    return Blocks(min(workers, len(parts)) or 1, max((p.stop - p.start for p in parts), default=0), parts)


def _column_source(x, geo: Geometry):
    """The (N, C, kh, kw, OH, row_width) window view im2col copies from, over the input padded in scratch."""
    return windows(pad_planes(x, geo, True), geo, *x.shape[2:])


def _columns(view, part: slice, buf, groups: int):
    """im2col of the samples ``part`` into ``buf``: their (m, groups, C/groups * kh * kw, OH * row_width) columns."""
    cols = buf[: part.stop - part.start]
    xp.copyto(cols, view[part])
    return cols.reshape(len(cols), groups, -1, view.shape[-2] * view.shape[-1])


def _widen(g, geo: Geometry, x_shape: tuple, groups: int):
    """Output cotangent (N, O, OH, OW) -> (N, groups, O/groups, OH * row_width), zero in the cropped columns."""
    n, o, oh, ow = g.shape
    rw = geo.row_width(*x_shape[2:])
    if rw != ow:
        wide = scratch((n, o, oh, rw), g.dtype)
        wide.fill(0)  # one contiguous pass beats zeroing the narrow cropped columns
        wide[..., :ow] = g
        g = wide
    return g.reshape(n, groups, o // groups, oh * rw)


def _gemm_forward(x, w, geo: Geometry, groups: int, finish: Callable | None = None):
    """A block's product lands in a buffer still in cache and is cropped from there, so the output is contiguous;
    ``finish(samples, y[samples], product)``, when given, computes the block of y from the product while in cache."""
    n, _, h, wd = x.shape
    o = w.shape[0]
    oh, ow = geo.output_size(h, wd)
    rw = geo.row_width(h, wd)
    kernels = w.reshape(groups, o // groups, -1)
    y = xp.empty((n, o, oh, ow), dtype=xp.result_type(x.dtype, w.dtype))
    view = _column_source(x, geo)
    plan = _blocks(n, int(np.prod(view.shape[1:])) * x.itemsize, 2 * n * o * kernels.shape[2] * oh * rw)
    columns = scratch((plan.workers, plan.size) + view.shape[1:], x.dtype)
    wide = scratch((plan.workers, plan.size, groups, o // groups, oh * rw), y.dtype) if rw != ow else None

    def block(part: slice, slot: int):
        cols = _columns(view, part, columns[slot], groups)
        m = len(cols)
        if rw == ow:
            product = xp.matmul(kernels, cols, out=y[part].reshape(m, groups, o // groups, oh * ow)).reshape(m, o, oh, ow)
        else:
            product = xp.matmul(kernels, cols, out=wide[slot, :m]).reshape(m, o, oh, rw)[..., :ow]
            if finish is None:
                y[part] = product
        if finish is not None:  # its first step reads the block where the product left it: the crop costs no pass of its own
            finish(part, y[part], product)

    batch_threads.run(block, plan.parts, plan.workers)
    return y


def _flipped(w, groups: int):
    """(O, C/groups, kh, kw) -> (C, O/groups, kh, kw) turned 180 degrees: the kernel of the input gradient's convolution."""
    o, cg, kh, kw = w.shape
    swapped = w.reshape(groups, o // groups, cg, kh, kw).transpose(0, 2, 1, 3, 4).reshape(groups * cg, o // groups, kh, kw)
    return xp.ascontiguousarray(swapped[:, :, ::-1, ::-1])


def _transposed(geo: Geometry) -> Geometry | None:
    """The stride-1 geometry whose convolution of the output gradient with ``_flipped`` kernels is the input gradient,
    or None (stride > 1, or padding beyond the dilated kernel's reach: a negative padding)."""
    (kh, kw), _, (pt, pb, pl, pr), (dh, dw) = geo
    reach = (dh * (kh - 1),) * 2 + (dw * (kw - 1),) * 2
    pads = tuple(r - p for r, p in zip(reach, (pt, pb, pl, pr)))
    return Geometry(geo.kernel, (1, 1), pads, geo.dilation) if geo.stride == (1, 1) and min(pads) >= 0 else None


def _input_grad_stride1(g, w, geo: Geometry, groups: int, x_shape: tuple):
    """col2im for stride 1 with every tap's columns laid out as (C, samples, padded plane), so a tap is one long add.

    The product writes sample n's columns at the start of its plane's span and the rest of the span
    stays zero, so a tap's contributions to a block of samples form one contiguous run per channel.
    What the block's last run reaches past its samples' planes is zeros and is not added, so blocks
    write disjoint spans and may run on parallel threads. Each input receives the same terms in the
    same tap order as a per-sample col2im.
    """
    n, c, h, wd = x_shape
    o = w.shape[0]
    kh, kw = geo.kernel
    (dh, dw), (pt, pb, pl, pr) = geo.dilation, geo.padding
    hp, wp = h + pt + pb, wd + pl + pr
    plane, run = hp * wp, geo.output_size(h, wd)[0] * wp
    kernels_t = w.reshape(groups, o // groups, -1).transpose(0, 2, 1)
    wide = _widen(g, geo, x_shape, groups)
    dtype = xp.result_type(w.dtype, g.dtype)
    plan = _blocks(n, c * kh * kw * plane * dtype.itemsize, 2 * n * o * kernels_t.shape[1] * run)
    buf = scratch((plan.workers, c * kh * kw, plan.size, plane), dtype)
    buf[:, :, :, run:] = 0  # the span between one sample's columns and the next's
    padded = xp.zeros((c, n * plane + (kw - 1) * dw), dtype=g.dtype)  # the result is a view of it: callers' reductions see the same layout

    def block(part: slice, slot: int):
        m = part.stop - part.start
        col_grad = buf[slot, :, :m]
        xp.matmul(kernels_t, wide[part], out=col_grad[:, :, :run].reshape(groups, -1, m, run).transpose(2, 0, 1, 3))
        taps = col_grad.reshape(c, kh * kw, m * plane)
        for p in range(kh):
            for q in range(kw):
                start = part.start * plane + p * dh * wp + q * dw
                span = min((m - 1) * plane + run, part.stop * plane - start)  # up to the block's last plane's end
                padded[:, start : start + span] += taps[:, p * kw + q, :span]

    batch_threads.run(block, plan.parts, plan.workers)
    planes = padded[:, : n * plane].reshape(c, n, hp, wp)
    return planes[:, :, pt : pt + h, pl : pl + wd].transpose(1, 0, 2, 3)


def _gemm_input_grad(g, w, geo: Geometry, groups: int, x_shape: tuple, finish: Callable | None = None):
    """col2im of w^T g; for a stride-1 convolution whose input plane is no larger than its output plane (a 'same'
    convolution; a 'valid' one would multiply the zero border) and with no more output than input channels (else
    the columns of g outweigh col2im's), a convolution through ``_gemm_forward`` instead. ``finish`` as
    ``_gemm_forward``'s, on the whole result in place where col2im computes it."""
    transposed = _transposed(geo)
    if transposed is not None and x_shape[2] * x_shape[3] <= g.shape[2] * g.shape[3] and g.shape[1] <= x_shape[1]:
        return _gemm_forward(g, _flipped(w, groups), transposed, groups, finish)
    grad = (_input_grad_stride1 if geo.stride == (1, 1) else _input_grad_strided)(g, w, geo, groups, x_shape)
    if finish is not None:
        finish(slice(None), grad, grad)
    return grad


def _input_grad_strided(g, w, geo: Geometry, groups: int, x_shape: tuple):
    """col2im block by block: a block's columns are added back while still in cache."""
    n, c, h, wd = x_shape
    o = w.shape[0]
    kernels_t = w.reshape(groups, o // groups, -1).transpose(0, 2, 1)
    wide = _widen(g, geo, x_shape, groups)
    columns = wide.shape[3]
    dtype = xp.result_type(w.dtype, g.dtype)
    plan = _blocks(n, c * geo.kernel[0] * geo.kernel[1] * columns * dtype.itemsize, 2 * n * o * kernels_t.shape[1] * columns)
    buf = scratch((plan.workers, plan.size, groups, kernels_t.shape[1], columns), dtype)
    padded = pad_planes(xp.zeros(x_shape, dtype=g.dtype), geo, False)
    views = windows(padded, geo, h, wd, writeable=True)

    def block(part: slice, slot: int):  # a block's samples have planes of their own: blocks write disjoint memory
        col_grad = xp.matmul(kernels_t, wide[part], out=buf[slot, : part.stop - part.start])
        taps = col_grad.reshape(-1, c, *geo.kernel, geo.output_size(h, wd)[0], geo.row_width(h, wd))
        for p in range(geo.kernel[0]):
            for q in range(geo.kernel[1]):
                views[part, :, p, q] += taps[:, :, p, q]

    batch_threads.run(block, plan.parts, plan.workers)
    pt, _, pl, _ = geo.padding
    return padded[:, :, pt : pt + h, pl : pl + wd]


def _gemm_weight_grad(x, g, geo: Geometry, groups: int, w_shape: tuple):
    """sum over batch and pixels of g x-columns^T: the adjoint of w -> conv(x, w)."""
    if (geo.stride == (1, 1) and max(x.shape[1], g.shape[1]) <= TAP_CHANNELS * groups
            and g.shape[2] * geo.row_width(*x.shape[2:]) >= TAP_MIN_RUN):
        return _weight_grad_taps(x, g, geo, groups, w_shape)
    n = x.shape[0]
    wide = _widen(g, geo, x.shape, groups).transpose(0, 1, 3, 2)
    view = _column_source(x, geo)
    k = view.shape[1] // groups * geo.kernel[0] * geo.kernel[1]
    plan = _blocks(n, int(np.prod(view.shape[1:])) * x.itemsize, 2 * n * g.shape[1] * k * view.shape[-2] * view.shape[-1])
    columns = scratch((plan.workers, plan.size) + view.shape[1:], x.dtype)
    per_sample = scratch((n, groups, k, g.shape[1] // groups), xp.result_type(x.dtype, g.dtype))

    def block(part: slice, slot: int):
        # (columns @ g^T) summed over the batch gives dw^T; this operand order is the faster one for BLAS here.
        xp.matmul(_columns(view, part, columns[slot], groups), wide[part], out=per_sample[part])

    batch_threads.run(block, plan.parts, plan.workers)
    return xp.add.reduce(per_sample, axis=0).transpose(0, 2, 1).reshape(w_shape)  # samples added in batch order


# Channels per group up to which the stride-1 weight gradient runs tap by tap: measured (Xeon, 1 thread) 1.2-1.7x faster
# than im2col at 3-16 channels, slower from 32 at 32x32 planes, where the products outweigh im2col's copy.
TAP_CHANNELS = 16
# ... and from this many output pixels per plane (rows of the padded width): on smaller planes (LeNet's second
# convolution, 10 rows of 14) the products are too short to pay for one BLAS call per sample and tap, and im2col is
# 1.5x faster (AMD EPYC, 1 thread); at 16x16 planes and above the two are even there.
TAP_MIN_RUN = 256


def _weight_grad_taps(x, g, geo: Geometry, groups: int, w_shape: tuple):
    """The weight gradient of a stride-1 convolution without im2col: a tap's columns are rows of the padded input read
    from the tap's offset (runs of the padded row width, as ``_column_blocks`` copies them), a matrix BLAS reads in
    place, so each tap is one product per sample with the widened output gradient, then a sum over the batch in
    batch order. Each weight is the same dot product over the pixels as the im2col product's."""
    n, c, h, wd = x.shape
    o, (kh, kw), (dh, dw) = g.shape[1], geo.kernel, geo.dilation
    padded = pad_planes(x, geo, True)
    hp, wp = padded.shape[2:]
    run = geo.output_size(h, wd)[0] * wp
    wide = _widen(g, geo, x.shape, groups).transpose(0, 1, 3, 2)  # (N, groups, OH * wp, O/groups)
    rows = padded.reshape(n, groups, c // groups, hp * wp)
    per_sample = scratch((n, groups, c // groups, kh, kw, o // groups), xp.result_type(x.dtype, g.dtype))

    def block(part: slice, slot: int):  # a block's operands stay in cache over its taps
        for p in range(kh):
            for q in range(kw):
                start = p * dh * wp + q * dw
                xp.matmul(rows[part, ..., start : start + run], wide[part], out=per_sample[part, :, :, p, q])

    plan = _blocks(n, (c * hp * wp + o * run) * x.itemsize, 2 * n * kh * kw * (c // groups) * o * run)
    batch_threads.run(block, plan.parts, plan.workers)
    return xp.add.reduce(per_sample, axis=0).transpose(0, 4, 1, 2, 3).reshape(w_shape)


class Kernels(NamedTuple):
    """One algorithm's three kernels, each called as (a, b, geo, groups, *shape) like the primitives."""

    forward: Callable  # (x, w, geo, groups)
    input_grad: Callable  # (g, w, geo, groups, x_shape)
    weight_grad: Callable  # (x, g, geo, groups, w_shape)


def _winograd_input_grad(g, w, geo: Geometry, groups: int, x_shape: tuple):
    return conv_winograd.forward(g, _flipped(w, groups), _transposed(geo).padding, groups)


KERNELS = {
    "gemm": Kernels(_gemm_forward, _gemm_input_grad, _gemm_weight_grad),
    "winograd": Kernels(lambda x, w, geo, groups: conv_winograd.forward(x, w, geo.padding, groups), _winograd_input_grad,
                        lambda x, g, geo, groups, w_shape: conv_winograd.weight_grad(x, g, geo.padding, groups, w_shape)),
    "fft": Kernels(lambda x, w, geo, groups: conv_fft.forward(x, w, geo.padding, groups),
                   lambda g, w, geo, groups, x_shape: conv_fft.input_grad(g, w, geo.padding, groups, x_shape),
                   lambda x, g, geo, groups, w_shape: conv_fft.weight_grad(x, g, geo.padding, groups, w_shape)),
    "direct": Kernels(lambda x, w, geo, groups: conv_direct.forward(x, w, geo.stride, groups),
                      lambda g, w, geo, groups, x_shape: conv_direct.input_grad(g, w, geo.stride, groups, x_shape),
                      lambda x, g, geo, groups, w_shape: conv_direct.weight_grad(x, g, geo.stride, groups, w_shape)),
}


def _resolve(op: str, algorithm: str | None, a_type: tuple, b_type: tuple, geo: Geometry, groups: int, shape: tuple) -> str:
    """The algorithm that runs: the default for None, the timed choice for "benchmark", else the name (checked).

    ``a_type`` and ``b_type`` are the (shape, dtype) of the kernel's two array arguments, ``shape`` its shape argument."""
    benchmark = algorithm == conv_algorithms.BENCHMARK
    if algorithm is None or benchmark and not all(is_floating(d) for _, d in (a_type, b_type)):
        return conv_algorithms.default_algorithm(geo)  # (integer products are exact: nothing to choose between)
    if not benchmark:
        x_shape = shape[0] if op == "input_grad" else a_type[0]
        w_shape = shape[0] if op == "weight_grad" else b_type[0]
        conv_algorithms.check(algorithm, x_shape, w_shape, geo)
        return algorithm

    def candidates():
        rng = np.random.default_rng(0)
        a, b = (rng.standard_normal(s).astype(d) for s, d in (a_type, b_type))
        return {name: functools.partial(with_scratch(getattr(KERNELS[name], op)), a, b, geo, groups, *shape)
                for name in conv_algorithms.applicable(geo)}

    return conv_algorithms.timed_choice((op, a_type, b_type, geo, groups, shape), candidates)


def _tuner(op: str):
    """The ``tune`` declaration of a conv primitive: a node's concrete algorithm from its inputs' shapes and dtypes."""

    def tune(node) -> dict:
        kwargs = node.kwargs
        shape = (kwargs["x_shape"],) if op == "input_grad" else (kwargs["w_shape"],) if op == "weight_grad" else ()
        a_type, b_type = ((tuple(a.shape), np.dtype(a.dtype)) for a in node.args[:2])
        return {"algorithm": _resolve(op, kwargs.get("algorithm"), a_type, b_type, kwargs["geo"], kwargs["groups"], shape)}

    return tune


def _torch_conv(torch, x, w, geo, groups: int, algorithm=None):
    """torch's translation: F.pad with the (possibly uneven) padding, then an unpadded conv2d."""
    _, stride, (pt, pb, pl, pr), dilation = geo
    F = torch.nn.functional
    return F.conv2d(F.pad(x, (pl, pr, pt, pb)), w, stride=stride, dilation=dilation, groups=groups)


@primitive(**compiled_as_call(tune=_tuner("forward"), torch=_torch_conv))
@with_scratch
def _conv(x, w, geo: Geometry, groups: int, algorithm: str | None = None):
    chosen = _resolve("forward", algorithm, (x.shape, x.dtype), (w.shape, w.dtype), geo, groups, ())
    return widened(KERNELS[chosen].forward, x, w, geo, groups)


@primitive(**compiled_as_call(tune=_tuner("input_grad")))
@with_scratch
def _conv_input_grad(g, w, geo: Geometry, groups: int, x_shape: tuple, algorithm: str | None = None):
    """The adjoint of x -> conv(x, w)."""
    chosen = _resolve("input_grad", algorithm, (g.shape, g.dtype), (w.shape, w.dtype), geo, groups, (x_shape,))
    return widened(KERNELS[chosen].input_grad, g, w, geo, groups, x_shape)


class _WeightGradAside(batch_threads.Aside):
    """Runs the weight gradients aside whose products reach ``PARALLEL_MIN_FLOPS``: below it, two threads sharing the
    cores (and the interpreter) slow the step more than the overlap gains (LeNet-5 b64: 10.8 -> 11.9 ms)."""

    @staticmethod
    def worth(node) -> bool:
        g_shape, w_shape = node.args[1].shape, node.kwargs["w_shape"]
        return 2 * int(np.prod(g_shape)) * int(np.prod(w_shape[1:])) >= batch_threads.PARALLEL_MIN_FLOPS


@primitive(**compiled_as_call(tune=_tuner("weight_grad"), aside=_WeightGradAside))
@with_scratch
def _conv_weight_grad(x, g, geo: Geometry, groups: int, w_shape: tuple, algorithm: str | None = None):
    """The adjoint of w -> conv(x, w)."""
    chosen = _resolve("weight_grad", algorithm, (x.shape, x.dtype), (g.shape, g.dtype), geo, groups, (w_shape,))
    return widened(KERNELS[chosen].weight_grad, x, g, geo, groups, w_shape)


KERNEL_PRIMITIVES = {"forward": _conv, "input_grad": _conv_input_grad}  # those whose output blocks may take an epilogue

# Each op is linear in each array argument: its tangents go through the op itself (with the same algorithm), its
# cotangents through the others, which take the algorithm on.
_conv.deflinear(
    lambda g, ans, x, w, geo, groups, algorithm=None: _conv_input_grad(g, w, geo=geo, groups=groups, x_shape=_shape_of(x), algorithm=algorithm),
    lambda g, ans, x, w, geo, groups, algorithm=None: _conv_weight_grad(x, g, geo=geo, groups=groups, w_shape=_shape_of(w), algorithm=algorithm),
)
_conv_input_grad.deflinear(
    lambda c, ans, g, w, geo, groups, x_shape, algorithm=None: _conv(c, w, geo=geo, groups=groups, algorithm=algorithm),
    lambda c, ans, g, w, geo, groups, x_shape, algorithm=None: _conv_weight_grad(c, g, geo=geo, groups=groups, w_shape=_shape_of(w),
                                                                                algorithm=algorithm),
)
_conv_weight_grad.deflinear(
    lambda c, ans, x, g, geo, groups, w_shape, algorithm=None: _conv_input_grad(g, c, geo=geo, groups=groups, x_shape=_shape_of(x),
                                                                               algorithm=algorithm),
    lambda c, ans, x, g, geo, groups, w_shape, algorithm=None: _conv(x, c, geo=geo, groups=groups, algorithm=algorithm),
)


# -- vmap: batched filters become groups of one convolution ----------------------------------------------------------
def into_channels(x, dim, size: int):
    """A batch of (N, C, H, W) members as one (N, B*C, H, W) array: each member's channels form their own groups."""
    x = to_front(x, dim, size)
    x = transpose(x, (1, 0) + tuple(range(2, ndim_of(x))))
    return reshape(x, (x.shape[0], -1) + tuple(x.shape[3:]))


def from_channels(y, size: int):
    return reshape(y, (y.shape[0], size, -1) + tuple(y.shape[2:]))


def _grouped_filters(w, dim, size: int):
    w = to_front(w, dim, size)
    return reshape(w, (-1,) + tuple(w.shape[2:]))


def _conv_batch(args, dims, /, **kwargs):
    """Batched filters: every member's channels become groups of one convolution (groups times the batch)."""
    if dims[1] is None:
        return _fold_conv(args, dims, **kwargs)
    bound, size = bind_arguments(_conv, args, kwargs).arguments, batch_size(args, dims)
    y = _conv(into_channels(bound["x"], dims[0], size), _grouped_filters(bound["w"], dims[1], size), geo=bound["geo"],
              groups=bound["groups"] * size)
    return from_channels(y, size), 1


def _conv_input_grad_batch(args, dims, /, **kwargs):
    if dims[1] is None:
        return _fold_conv_input_grad(args, dims, **kwargs)
    bound, size = bind_arguments(_conv_input_grad, args, kwargs).arguments, batch_size(args, dims)
    n, c, *plane = bound["x_shape"]
    y = _conv_input_grad(into_channels(bound["g"], dims[0], size), _grouped_filters(bound["w"], dims[1], size), geo=bound["geo"],
                         groups=bound["groups"] * size, x_shape=(n, size * c, *plane))
    return from_channels(y, size), 1


def _conv_weight_grad_batch(args, dims, /, **kwargs):
    """Per-member filter gradients (per-sample gradients of a convolution) in one grouped call."""
    bound, size = bind_arguments(_conv_weight_grad, args, kwargs).arguments, batch_size(args, dims)
    o, *rest = bound["w_shape"]
    dw = _conv_weight_grad(into_channels(bound["x"], dims[0], size), into_channels(bound["g"], dims[1], size), geo=bound["geo"],
                           groups=bound["groups"] * size, w_shape=(size * o, *rest))
    return reshape(dw, (size, o, *rest)), 0


_fold_conv = fold_rule(_conv, (0,))
_fold_conv_input_grad = fold_rule(_conv_input_grad, (0,), shape_arg="x_shape")
_conv.declare(batch=_conv_batch)
_conv_input_grad.declare(batch=_conv_input_grad_batch)
_conv_weight_grad.declare(batch=_conv_weight_grad_batch)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1, algorithm: str | None = None, *,
           pad_mode: str | None = None):
    """Cross-correlation of an (N, C, H, W) input with (O, C/groups, kh, kw) weights, as torch.nn.functional.conv2d.

    ``padding`` is an int, a symmetric pair (ph, pw) or (top, bottom, left, right) for the asymmetric
    padding MindSpore's 'same' mode needs. ``pad_mode`` (keyword, as MindSpore's ``ops.conv2d`` takes it):
    'same' pads to an output of ceil(size / stride), 'valid' adds none, 'pad' uses ``padding``; the last two
    refuse a padding they would not apply. ``algorithm``: one of ``conv_algorithms.NAMES`` or "benchmark";
    None takes the one pinned by ``funcad.conv_algorithm`` or else the default for the shape
    (``funcad.ops.conv_algorithms``). One that does not apply to the shape is an error.
    """
    xs, ws = _shape_of(x), _shape_of(weight)
    if len(xs) != 4 or len(ws) != 4:
        raise ValueError(f"funcad.ops.conv2d: expected a 4-D input (N, C, H, W) and 4-D weight (O, C/groups, kh, kw), got input {xs} and weight {ws}")
    padding = pad_mode_padding("conv2d", pad_mode, padding, xs[2:], ws[2:], stride, dilation)
    if groups < 1 or xs[1] != ws[1] * groups or ws[0] % groups:
        raise ValueError(f"funcad.ops.conv2d: input {xs} has {xs[1]} channels but weight {ws} with groups={groups} expects {ws[1] * groups} "
                         f"(and out channels {ws[0]} divisible by groups)")
    geo = Geometry(ws[2:], pair(stride, "conv2d", "stride"), padding4(padding, "conv2d"), pair(dilation, "conv2d", "dilation"))
    if min(geo.stride + geo.dilation) < 1:
        raise ValueError(f"funcad.ops.conv2d: stride {geo.stride} and dilation {geo.dilation} must be positive")
    oh, ow = geo.output_size(*xs[2:])
    if oh < 1 or ow < 1:
        raise ValueError(f"funcad.ops.conv2d: input {xs} padded by {geo.padding} is smaller than the dilated kernel of weight {ws}")
    algorithm = conv_pin.pinned() if algorithm is None else algorithm
    conv_algorithms.check(algorithm, xs, ws, geo)
    y = _conv(x, weight, geo=geo, groups=int(groups), algorithm=algorithm)
    if bias is not None:
        if _shape_of(bias) != (ws[0],):
            raise ValueError(f"funcad.ops.conv2d: bias shape {_shape_of(bias)} does not match {ws[0]} output channels")
        y = y + reshape(bias, (1, ws[0], 1, 1))
    return y


def conv1d(x, weight, bias=None, stride: int = 1, padding=0, dilation: int = 1, groups: int = 1, *, pad_mode: str | None = None):
    """Cross-correlation of an (N, C, L) input with (O, C/groups, k) weights, as torch.nn.functional.conv1d; ``padding``
    an int (or 1-tuple) for both ends or (left, right); ``pad_mode`` as conv2d's. Runs as a convolution of height 1."""
    xs, ws = _shape_of(x), _shape_of(weight)
    if len(xs) != 3 or len(ws) != 3:
        raise ValueError(f"funcad.ops.conv1d: expected a 3-D input (N, C, L) and 3-D weight (O, C/groups, k), got input {xs} and weight {ws}")
    padding = pad_mode_padding("conv1d", pad_mode, padding, xs[2:], ws[2:], stride, dilation)
    (s,), (d,) = ints(stride, 1, "conv1d", "stride"), ints(dilation, 1, "conv1d", "dilation")
    y = conv2d(expand_dims(x, 2), expand_dims(weight, 2), bias, stride=(1, s), padding=(0, 0) + paddings(padding, 1, "conv1d"),
               dilation=(1, d), groups=groups)
    return squeeze(y, 2)
