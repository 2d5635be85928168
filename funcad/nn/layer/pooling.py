"""Max and average pooling (1-D, 2-D and 3-D, with ceil_mode) and adaptive pooling, with MindSpore's names, defaults
and pad_mode."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from funcad import ops
from funcad.nn.cell import Cell
from funcad.nn.layer.basic import check_input, positive_int
from funcad.nn.layer.conv import as_tuple, check_pad_mode, same_padding
from funcad.ops.conv_geometry import ceil_extra, window_counts


class _Pool(Cell):
    """Shared geometry of the 1-D, 2-D and 3-D pools (``rank``): a 1-D pool runs as a 2-D one of height 1."""

    rank = 2

    def __init__(self, kernel_size=1, stride=1, pad_mode: str = "valid", padding=0, ceil_mode: bool = False, dilation=1):
        super().__init__()
        owner = type(self).__name__
        if self.rank == 1:
            self.kernel_size = (1, positive_int(kernel_size, owner, "kernel_size"))
            self.stride = (1, positive_int(stride, owner, "stride"))
            self.dilation = (1,) + as_tuple(dilation, 1, owner, "dilation")
            pads = (padding, padding) if isinstance(padding, (int, np.integer)) else tuple(padding)
            self.padding = check_pad_mode(owner, pad_mode, (0, 0) + pads if len(pads) == 2 else padding)
        else:
            self.kernel_size = as_tuple(kernel_size, self.rank, owner, "kernel_size")
            self.stride = as_tuple(stride, self.rank, owner, "stride")
            self.dilation = as_tuple(dilation, self.rank, owner, "dilation")
            self.padding = check_pad_mode(owner, pad_mode, padding, self.rank)
        self.pad_mode, self.ceil_mode = pad_mode.lower(), bool(ceil_mode)

    def _geometry(self, x) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(padding, ceil_mode's extra padding at the end of each axis) for an (N, C, *spatial) input; both follow the
        dilated kernel's span, dilation * (k - 1) + 1, as MindSpore's and torch's output sizes do."""
        no_extra = (0,) * len(self.kernel_size)
        if self.pad_mode == "same":
            return same_padding(tuple(x.shape[2:]), self.kernel_size, self.stride, self.dilation), no_extra
        pads = self.padding
        if not self.ceil_mode:
            return pads, no_extra
        spans = tuple(d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation))
        return pads, tuple(ceil_extra(n, span, s, lo, hi) for n, span, s, lo, hi in
                           zip(x.shape[2:], spans, self.stride, pads[0::2], pads[1::2]))

    def construct(self, x):
        if self.rank == 1:
            check_input(self, x, 3, None, "(N, C, L)")
            result = self._pool(ops.expand_dims(x, 2))
            return tuple(ops.squeeze(r, 2) for r in result) if isinstance(result, tuple) else ops.squeeze(result, 2)
        check_input(self, x, self.rank + 2, None, _SHAPES[self.rank])
        return self._pool(x)

    def extend_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, pad_mode={self.pad_mode!r}, padding={self.padding}, ceil_mode={self.ceil_mode}"


_SHAPES = {2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}


def _padded(x, pads, extra, fill: float):
    pt, pb, pl, pr = pads
    return ops.pad(x, ((0, 0), (0, 0), (pt, pb + extra[0]), (pl, pr + extra[1])), constant_values=fill)


class _MaxPool(_Pool):
    """Max over (dilated) windows, padded positions never winning, by ``pool`` (``ops.max_pool2d``/``max_pool3d``, set
    by each subclass); ``return_indices`` also returns each output's flat position in its (n, c) plane or volume (int64)."""

    pool: Callable

    def __init__(self, kernel_size=1, stride=1, pad_mode: str = "valid", padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        super().__init__(kernel_size, stride, pad_mode, padding, ceil_mode, dilation)
        self.return_indices = bool(return_indices)

    def _pool(self, x):
        pads, extra = self._geometry(x)
        run = functools.partial(type(self).pool, kernel_size=self.kernel_size, stride=self.stride, dilation=self.dilation,
                                return_indices=self.return_indices)
        if self.pad_mode != "same" or all(max(lo, hi) <= k // 2 for k, lo, hi in zip(self.kernel_size, pads[0::2], pads[1::2])):
            return run(x, padding=pads, ceil_mode=any(extra))
        # 'same' with a dilated kernel may pad past the half kernel the ops (as torch) allow: padded here with -inf
        padded = ops.pad(x, ((0, 0), (0, 0)) + tuple(zip(pads[0::2], pads[1::2])), constant_values=-np.inf)
        result = run(padded, padding=0, ceil_mode=False)
        if not self.return_indices:
            return result
        return result[0], _unpadded_index(result[1], tuple(padded.shape[2:]), tuple(x.shape[2:]), pads[0::2])

    def extend_repr(self) -> str:
        return f"{super().extend_repr()}, dilation={self.dilation}, return_indices={self.return_indices}"


def _unpadded_index(index, padded: tuple[int, ...], shape: tuple[int, ...], lows: tuple[int, ...]):
    """Flat positions in a volume padded by ``lows`` at the start of each axis, as positions in the unpadded ``shape``."""
    result, rest = None, index
    for axis in reversed(range(len(shape))):
        term = (ops.remainder(rest, padded[axis]) - lows[axis]) * int(np.prod(shape[axis + 1:]))
        rest = ops.floor_divide(rest, padded[axis])
        result = term if result is None else result + term
    return result


class MaxPool2d(_MaxPool):
    """Max over (kh, kw) windows spaced ``dilation`` apart; padded positions never win. MindSpore's arguments and
    defaults: kernel 1, stride 1, 'valid'; ``ceil_mode`` keeps a last partial window (torch's rule), in 'valid' and
    'pad' modes; 'same' padding and ``ceil_mode`` follow the dilated kernel's span; ``return_indices`` also returns each
    output's flat position in its input plane (int64), as MindSpore's and torch's."""

    pool = staticmethod(ops.max_pool2d)

    def __init__(self, kernel_size=1, stride=1, pad_mode: str = "valid", padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False, data_format: str = "NCHW"):
        super().__init__(kernel_size, stride, pad_mode, padding, dilation, return_indices, ceil_mode)
        if data_format != "NCHW":
            raise ValueError(f"{type(self).__name__}: data_format={data_format!r}: only 'NCHW' is supported")


class AvgPool2d(_Pool):
    """Mean over (kh, kw) windows. In 'pad' mode padded zeros count when ``count_include_pad`` (torch's and
    MindSpore's default); in 'same' mode the mean is over the real inputs only, as MindSpore does. With ``ceil_mode``
    a last partial window divides by its part inside the padded input (or by its real inputs), as torch's. A non-zero
    ``divisor_override`` divides every window's sum instead."""

    def __init__(self, kernel_size=1, stride=1, pad_mode: str = "valid", padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None, data_format: str = "NCHW"):
        super().__init__(kernel_size, stride, pad_mode, padding, ceil_mode)
        if data_format != "NCHW":
            raise ValueError(f"{type(self).__name__}: data_format={data_format!r}: only 'NCHW' is supported")
        if divisor_override is not None and (isinstance(divisor_override, bool) or not isinstance(divisor_override, (int, np.integer))
                                             or divisor_override < 0):
            raise ValueError(f"{type(self).__name__}: divisor_override must be None or a non-negative int, got {divisor_override!r}")
        self.count_include_pad = count_include_pad
        self.divisor_override = int(divisor_override or 0)

    def _pool(self, x):
        pads, extra = self._geometry(x)
        include = self.count_include_pad and self.pad_mode == "pad"
        if extra == (0, 0) and not self.divisor_override:
            return ops.avg_pool2d(x, self.kernel_size, self.stride, pads, count_include_pad=include)
        window = self.kernel_size[0] * self.kernel_size[1]
        sums = ops.avg_pool2d(_padded(x, pads, extra, 0.0), self.kernel_size, self.stride, 0) * float(window)
        if self.divisor_override:
            return sums / float(self.divisor_override)
        counts = [window_counts(n, k, s, lo, hi, e, include) for n, k, s, lo, hi, e in
                  zip(x.shape[2:], self.kernel_size, self.stride, pads[0::2], pads[1::2], extra)]
        return sums / np.outer(*counts).astype(x.dtype)


class MaxPool1d(MaxPool2d):
    """Max over windows of (N, C, L) inputs; ``padding`` an int for both ends or (left, right)."""

    rank = 1


class AvgPool1d(AvgPool2d):
    """Mean over windows of (N, C, L) inputs; ``padding`` an int for both ends or (left, right)."""

    rank = 1


def _output_size(cell: Cell, x, rank: int) -> tuple[int, ...]:
    check_input(cell, x, rank + 2, None, _SHAPES[rank])
    sizes = cell.output_size
    sizes = (sizes,) * rank if isinstance(sizes, (int, np.integer)) or sizes is None else tuple(sizes)
    if len(sizes) != rank or any(s is not None and (not isinstance(s, (int, np.integer)) or s < 1) for s in sizes):
        several = ("pair", "triple")[rank - 2]
        raise ValueError(f"{cell._where()}: output_size must be a positive int, None or a {several} of them, got {cell.output_size!r}")
    return tuple(int(x.shape[2 + i]) if s is None else int(s) for i, s in enumerate(sizes))


class _AdaptivePool2d(Cell):
    """Pooling to a fixed (oh, ow) output (or (od, oh, ow) with ``rank`` 3) over torch's bins [floor(i n / o),
    ceil((i + 1) n / o)); a None size keeps the input's. ``pool(x, sizes)`` is set by each subclass."""

    pool: Callable
    rank = 2

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def construct(self, x):
        return type(self).pool(x, _output_size(self, x, self.rank))

    def extend_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_AdaptivePool2d):
    """Average pooling to a fixed (oh, ow) output, windows chosen as torch does."""

    pool = staticmethod(ops.adaptive_avg_pool2d)


class AdaptiveMaxPool2d(_AdaptivePool2d):
    """Max pooling to a fixed (oh, ow) output (``ops.adaptive_max_pool2d``). Indices are not returned (MindSpore's
    ``return_indices`` is not supported)."""

    pool = staticmethod(ops.adaptive_max_pool2d)


class _AdaptivePool1d(Cell):
    """A 1-D adaptive pool over (N, C, L), run as the 2-D one (``pool2d(x, sizes)``, set by each subclass) on planes of
    height 1."""

    pool2d: Callable

    def __init__(self, output_size: int):
        super().__init__()
        self.output_size = positive_int(output_size, type(self).__name__, "output_size")

    def construct(self, x):
        check_input(self, x, 3, None, "(N, C, L)")
        return ops.squeeze(type(self).pool2d(ops.expand_dims(x, 2), (1, self.output_size)), 2)


class AdaptiveAvgPool1d(_AdaptivePool1d):
    """Average pooling of (N, C, L) to ``output_size`` positions over torch's bins."""

    pool2d = staticmethod(ops.adaptive_avg_pool2d)


class AdaptiveMaxPool1d(_AdaptivePool1d):
    """Max pooling of (N, C, L) to ``output_size`` positions over torch's bins."""

    pool2d = staticmethod(ops.adaptive_max_pool2d)


class MaxPool3d(_MaxPool):
    """Max over (kd, kh, kw) windows of (N, C, D, H, W) inputs (``ops.max_pool3d``), spaced ``dilation`` apart; padded
    positions never win. MindSpore's arguments and defaults: kernel 1, stride 1, 'valid'; ``padding`` an int, (pd, ph,
    pw) or (head, tail, top, bottom, left, right); ``ceil_mode``, dilation and ``return_indices`` (flat positions in
    each (n, c) volume) as MaxPool2d's."""

    rank, pool = 3, staticmethod(ops.max_pool3d)


class AvgPool3d(_Pool):
    """Mean over (kd, kh, kw) windows of (N, C, D, H, W) inputs (``ops.avg_pool3d``). Padding, ``count_include_pad`` and
    ``ceil_mode`` as AvgPool2d's ('same' mode averages the real inputs only); a non-zero ``divisor_override`` divides
    every window's sum. MindSpore's arguments and defaults: kernel 1, stride 1, 'valid'."""

    rank = 3

    def __init__(self, kernel_size=1, stride=1, pad_mode: str = "valid", padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None):
        super().__init__(kernel_size, stride, pad_mode, padding, ceil_mode)
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def _pool(self, x):
        pads, extra = self._geometry(x)
        include = self.count_include_pad and self.pad_mode == "pad"
        return ops.avg_pool3d(x, self.kernel_size, self.stride, pads, any(extra), include, self.divisor_override or 0)


class AdaptiveAvgPool3d(_AdaptivePool2d):
    """Average pooling of (N, C, D, H, W) inputs to a fixed (od, oh, ow) output over torch's bins."""

    pool, rank = staticmethod(ops.adaptive_avg_pool3d), 3


class AdaptiveMaxPool3d(_AdaptivePool2d):
    """Max pooling of (N, C, D, H, W) inputs to a fixed (od, oh, ow) output over torch's bins. Indices are not returned
    (MindSpore's ``return_indices=True`` is refused)."""

    pool, rank = staticmethod(ops.adaptive_max_pool3d), 3

    def __init__(self, output_size, return_indices: bool = False):
        if return_indices:
            raise ValueError("AdaptiveMaxPool3d: return_indices=True is not supported")
        super().__init__(output_size)


class _LPPool(Cell):
    """Power-average pooling, (sum of x^p over each window)^(1/p) (``ops.lp_pool1d``/``lp_pool2d``, set by each
    subclass as ``pool``); ``stride`` defaults to the kernel size."""

    pool: Callable

    def __init__(self, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False):
        super().__init__()
        if isinstance(norm_type, bool) or not isinstance(norm_type, (int, float, np.integer, np.floating)) or norm_type == 0:
            raise ValueError(f"{type(self).__name__}: norm_type must be a non-zero number, got {norm_type!r}")
        self.norm_type, self.kernel_size, self.stride, self.ceil_mode = norm_type, kernel_size, stride, bool(ceil_mode)

    def construct(self, x):
        return type(self).pool(x, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extend_repr(self) -> str:
        return f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, ceil_mode={self.ceil_mode}"


class LPPool1d(_LPPool):
    """Power-average pooling of (N, C, L) or (C, L) inputs."""

    pool = staticmethod(ops.lp_pool1d)


class LPPool2d(_LPPool):
    """Power-average pooling of (N, C, H, W) or (C, H, W) inputs over (kh, kw) windows."""

    pool = staticmethod(ops.lp_pool2d)


class _MaxUnpool(Cell):
    """Partial inverse of max pooling (``ops.max_unpool1d/2d/3d``, set by each subclass as ``unpool``): called as
    ``cell(x, indices)`` with a max pool's values and indices; ``stride`` defaults to the kernel size."""

    unpool: Callable

    def __init__(self, kernel_size, stride=None, padding=0, output_size=None):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.output_size = None if output_size is None else tuple(output_size)

    def construct(self, x, indices):
        return type(self).unpool(x, indices, self.kernel_size, self.stride, self.padding, self.output_size)

    def extend_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpool):
    """Partial inverse of ``MaxPool1d`` on (N, C, L) or (C, L) inputs."""

    unpool = staticmethod(ops.max_unpool1d)


class MaxUnpool2d(_MaxUnpool):
    """Partial inverse of ``MaxPool2d`` on (N, C, H, W) or (C, H, W) inputs."""

    unpool = staticmethod(ops.max_unpool2d)


class MaxUnpool3d(_MaxUnpool):
    """Partial inverse of ``MaxPool3d`` on (N, C, D, H, W) or (C, D, H, W) inputs."""

    unpool = staticmethod(ops.max_unpool3d)
