"""Conv1d, Conv2d, Conv3d and their transposes with MindSpore's pad_mode ('same', 'valid', 'pad'), and the padding arithmetic pools share."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import numpy as np

from funcad import ops
from funcad.core.dtypes import float32
from funcad.core.tensor import Parameter
from funcad.core.transforms import vjp
from funcad.nn.cell import Cell
from funcad.nn.initializer import HeUniform, Uniform, initializer
from funcad.nn.layer.basic import check_input, positive_int
from funcad.ops.conv_algorithms import NotApplicable
from funcad.ops.conv_geometry import same_padding

PAD_MODES = ("same", "valid", "pad")
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")  # torch's (and mindspore.mint's) values of padding_mode


def as_tuple(value, rank: int, owner: str, what: str) -> tuple[int, ...]:
    """A positive int or ``rank`` of them (a 1-tuple counts as the int)."""
    items = (value,) * rank if isinstance(value, (int, np.integer)) else tuple(value)
    items = items * rank if len(items) == 1 else items
    if len(items) != rank or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in items):
        raise ValueError(f"{owner}: {what} must be a positive int or {'a pair' if rank == 2 else f'a tuple of {rank}'} of them, got {value!r}")
    return tuple(int(v) for v in items)


def as_pair(value, owner: str, what: str) -> tuple[int, int]:
    return as_tuple(value, 2, owner, what)


PADDING_FORMS = {2: "(ph, pw) or (top, bottom, left, right)", 3: "(pd, ph, pw) or (head, tail, top, bottom, left, right)"}


def check_pad_mode(owner: str, pad_mode: str, padding, rank: int = 2) -> tuple[int, ...]:
    """Validate ``pad_mode``/``padding`` and return the fixed padding of 'pad' mode, (before, after) per spatial axis:
    (top, bottom, left, right) in 2-D, (head, tail, top, bottom, left, right) in 3-D."""
    if not isinstance(pad_mode, str) or pad_mode.lower() not in PAD_MODES:
        raise ValueError(f"{owner}: unknown pad_mode {pad_mode!r}; valid: {', '.join(PAD_MODES)}")
    items = (padding,) * (2 * rank) if isinstance(padding, (int, np.integer)) else tuple(padding)
    if len(items) in (1, rank):
        items = tuple(v for v in items for _ in range(2 * rank // len(items)))
    if len(items) != 2 * rank or not all(isinstance(v, (int, np.integer)) and v >= 0 for v in items):
        raise ValueError(f"{owner}: padding must be a non-negative int, {PADDING_FORMS[rank]}, got {padding!r}")
    if pad_mode.lower() != "pad" and any(items):
        raise ValueError(f"{owner}: padding {padding!r} is only allowed with pad_mode='pad', not {pad_mode!r}")
    return tuple(int(v) for v in items)


def check_padding_mode(owner: str, padding_mode: str) -> str:
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"{owner}: unknown padding_mode {padding_mode!r}; valid: {', '.join(PADDING_MODES)}")
    return padding_mode


def pad_spatial(x, pads: tuple, padding_mode: str):
    """``x`` padded on its spatial axes by ``pads`` ((before, after) per axis, flat) with a padding mode other than
    zeros (which the convolution itself adds)."""
    widths = ((0, 0), (0, 0)) + tuple(zip(pads[0::2], pads[1::2]))
    return ops.pad(x, widths, mode=padding_mode)


def set_channels(cell: Cell, owner: str, in_channels: int, out_channels: int, group: int) -> None:
    cell.in_channels, cell.out_channels = positive_int(in_channels, owner, "in_channels"), positive_int(out_channels, owner, "out_channels")
    cell.group = int(group)
    if cell.group < 1 or cell.in_channels % cell.group or cell.out_channels % cell.group:
        raise ValueError(f"{owner}: in_channels {in_channels} and out_channels {out_channels} must be divisible by group {group}")


def set_conv_parameters(cell: Cell, shape: tuple, has_bias: bool, weight_init, bias_init, dtype) -> None:
    """``weight`` of ``shape`` (HeUniform(sqrt(5)) by default) and, with ``has_bias``, a ``bias`` per output channel
    (U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = shape[1] * kernel size): MindSpore's and torch's draws."""
    cell.has_bias = has_bias
    cell.weight = Parameter(initializer(HeUniform(math.sqrt(5)) if weight_init is None else weight_init, shape, dtype))
    if has_bias:
        fan_in = math.prod(shape[1:])
        cell.bias = Parameter(initializer(Uniform(1.0 / math.sqrt(fan_in)) if bias_init is None else bias_init, (cell.out_channels,), dtype))
    else:
        cell.bias = None


@contextlib.contextmanager
def naming_layer(cell: Cell) -> Iterator[None]:
    """A pinned algorithm (funcad.conv_algorithm, jit's conv_algorithm) that does not apply: the error says which layer."""
    try:
        yield
    except NotApplicable as err:
        raise NotApplicable(f"{cell._where()}: {err}") from None


class _Conv2dGeometry(Cell):
    """Channels, kernel, stride, dilation, group and pad_mode of a 2-D (or, with ``rank`` 3, 3-D) convolution or its
    transpose; ``conv`` is the op of that rank."""

    rank = 2
    conv = staticmethod(ops.conv2d)
    expected = "(N, {}, H, W)"

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride, pad_mode: str, padding, dilation, group: int):
        super().__init__()
        owner = type(self).__name__
        set_channels(self, owner, in_channels, out_channels, group)
        self.kernel_size = as_tuple(kernel_size, self.rank, owner, "kernel_size")
        self.stride = as_tuple(stride, self.rank, owner, "stride")
        self.dilation = as_tuple(dilation, self.rank, owner, "dilation")
        self.padding = check_pad_mode(owner, pad_mode, padding, self.rank)
        self.pad_mode = pad_mode.lower()

    def _check(self, x) -> None:
        check_input(self, x, self.rank + 2, {1: self.in_channels}, self.expected.format(self.in_channels))

    def extend_repr(self) -> str:
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"pad_mode={self.pad_mode!r}, padding={self.padding}, dilation={self.dilation}, group={self.group}, has_bias={self.has_bias}")


class Conv2d(_Conv2dGeometry):
    """2-D convolution over (N, C, H, W) with weight (out, in/group, kh, kw) as torch's Conv2d.

    ``pad_mode``: 'same' (output ceil(H/stride), extra padding on the bottom/right, which torch's
    padding='same' cannot express for even kernels or strides > 1), 'valid' (no padding) or 'pad'
    (``padding`` = int or (top, bottom, left, right)). Defaults as MindSpore 2.x: has_bias=False, weight
    HeUniform(negative_slope=sqrt(5)) and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the same draws as torch.
    ``padding_mode`` (keyword, torch's and mindspore.mint's; MindSpore's nn.Conv2d pads with zeros only): what the
    'same' or 'pad' padding holds, 'zeros', 'reflect', 'replicate' or 'circular'. ``data_format`` (before ``dtype``,
    as MindSpore's) is 'NCHW' only.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, pad_mode: str = "same", padding=0, dilation=1,
                 group: int = 1, has_bias: bool = False, weight_init=None, bias_init=None, data_format: str = "NCHW", dtype=float32, *,
                 padding_mode: str = "zeros"):
        if data_format != "NCHW":
            raise ValueError(f"{type(self).__name__}: data_format={data_format!r}: only 'NCHW' is supported")
        super().__init__(in_channels, out_channels, kernel_size, stride, pad_mode, padding, dilation, group)
        self.padding_mode = check_padding_mode(type(self).__name__, padding_mode)
        shape = (self.out_channels, self.in_channels // self.group) + self.kernel_size
        set_conv_parameters(self, shape, has_bias, weight_init, bias_init, dtype)

    def _padding_for(self, x) -> tuple[int, ...]:
        if self.pad_mode == "same":
            return same_padding(tuple(x.shape[2:]), self.kernel_size, self.stride, self.dilation)
        return self.padding

    def construct(self, x):
        self._check(x)
        pads = self._padding_for(x)
        if self.padding_mode != "zeros":
            x, pads = pad_spatial(x, pads, self.padding_mode), 0
        with naming_layer(self):
            return self.conv(x, self.weight, self.bias, stride=self.stride, padding=pads, dilation=self.dilation, groups=self.group)

    def extend_repr(self) -> str:
        return super().extend_repr() + ("" if self.padding_mode == "zeros" else f", padding_mode={self.padding_mode!r}")


class Conv1d(Cell):
    """1-D convolution over (N, C, L) with weight (out, in/group, kernel_size) as torch's Conv1d.

    ``pad_mode`` as Conv2d's: 'same' (output ceil(L/stride), any odd padding on the right), 'valid' or 'pad'
    (``padding`` an int for both sides or (left, right)). Defaults as MindSpore 2.x: pad_mode='same', has_bias=False;
    torch's are padding=0 and bias=True. Runs as a convolution of height 1. ``padding_mode`` as Conv2d's.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, pad_mode: str = "same", padding=0,
                 dilation: int = 1, group: int = 1, has_bias: bool = False, weight_init=None, bias_init=None, dtype=float32, *,
                 padding_mode: str = "zeros"):
        super().__init__()
        owner = "Conv1d"
        self.padding_mode = check_padding_mode(owner, padding_mode)
        set_channels(self, owner, in_channels, out_channels, group)
        self.kernel_size = positive_int(kernel_size, owner, "kernel_size")
        self.stride = positive_int(stride, owner, "stride")
        self.dilation = positive_int(dilation, owner, "dilation")
        pads = (padding, padding) if isinstance(padding, (int, np.integer)) else tuple(padding)
        self.padding = check_pad_mode(owner, pad_mode, (0, 0) + pads if len(pads) == 2 else padding)[2:]
        self.pad_mode = pad_mode.lower()
        set_conv_parameters(self, (self.out_channels, self.in_channels // self.group, self.kernel_size), has_bias, weight_init, bias_init, dtype)

    def construct(self, x):
        check_input(self, x, 3, {1: self.in_channels}, f"(N, {self.in_channels}, L)")
        if self.pad_mode == "same":
            pads = same_padding((x.shape[2],), (self.kernel_size,), (self.stride,), (self.dilation,))
        else:
            pads = self.padding
        if self.padding_mode != "zeros":
            x, pads = pad_spatial(x, tuple(pads), self.padding_mode), (0, 0)
        with naming_layer(self):  # (the shapes it names are the height-1 planes the convolution runs on)
            return ops.conv1d(x, self.weight, self.bias, self.stride, tuple(pads), self.dilation, self.group)

    def extend_repr(self) -> str:
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"pad_mode={self.pad_mode!r}, padding={self.padding}, dilation={self.dilation}, group={self.group}, has_bias={self.has_bias}"
                + ("" if self.padding_mode == "zeros" else f", padding_mode={self.padding_mode!r}"))


class Conv2dTranspose(_Conv2dGeometry):
    """The transpose (adjoint) of Conv2d over (N, C, H, W), weight (in, out/group, kh, kw) as torch's ConvTranspose2d.

    Computed as the gradient of a convolution with respect to its input (``funcad.vjp``), so it is differentiable to
    any order. Output sizes: 'same' H * stride (the adjoint of a 'same' convolution of that size); 'valid'
    (H - 1) * stride + dilation * (kh - 1) + 1; 'pad' torch's formula less ``padding`` (int or (top, bottom, left,
    right), which torch cannot express unevenly). ``output_padding`` (< stride or dilation) adds rows and columns at
    the bottom and right. Defaults as MindSpore 2.x: pad_mode='same', has_bias=False (torch: padding=0, bias=True).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, pad_mode: str = "same", padding=0, output_padding=0,
                 dilation=1, group: int = 1, has_bias: bool = False, weight_init=None, bias_init=None, dtype=float32):
        super().__init__(in_channels, out_channels, kernel_size, stride, pad_mode, padding, dilation, group)
        owner = type(self).__name__
        extra = (output_padding,) * self.rank if isinstance(output_padding, (int, np.integer)) else tuple(output_padding)
        if len(extra) != self.rank or any(not 0 <= e < max(s, d) for e, s, d in zip(extra, self.stride, self.dilation)):
            raise ValueError(f"{owner}: output_padding must be non-negative and smaller than stride {self.stride} or dilation "
                             f"{self.dilation}, got {output_padding!r}")
        self.output_padding = tuple(int(e) for e in extra)
        set_conv_parameters(self, (self.in_channels, self.out_channels // self.group) + self.kernel_size, has_bias, weight_init, bias_init, dtype)

    def _geometry(self, size: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(output size, padding of the convolution this layer is the adjoint of)."""
        if self.pad_mode == "same":
            out = tuple(n * s for n, s in zip(size, self.stride))
            return out, same_padding(out, self.kernel_size, self.stride, self.dilation)
        pads = self.padding
        out = tuple((n - 1) * s - lo - hi + d * (k - 1) + 1 + e for n, s, lo, hi, d, k, e in
                    zip(size, self.stride, pads[0::2], pads[1::2], self.dilation, self.kernel_size, self.output_padding))
        return out, pads

    def construct(self, x):
        self._check(x)
        return self._transposed(x, self.weight)

    def _transposed(self, x, weight):
        """The transposed convolution of an (N, C, *spatial) input with (in, out/group, *kernel) weights, plus the bias."""
        out, pads = self._geometry(tuple(x.shape[2:]))
        if min(out) < 1:
            raise ValueError(f"{self._where()}: input of shape {tuple(x.shape)} gives an empty output {out} with padding {pads}")

        def conv(z):
            return self.conv(z, weight, None, stride=self.stride, padding=pads, dilation=self.dilation, groups=self.group)

        with naming_layer(self):  # (the shapes it names are those of the convolution this layer is the adjoint of)
            _, pullback = vjp(conv, ops.zeros((x.shape[0], self.out_channels) + out, x.dtype))
            y = pullback(x)
        y = y[0] if isinstance(y, tuple) else y
        return y if self.bias is None else y + ops.reshape(self.bias, (1, self.out_channels) + (1,) * self.rank)

    def extend_repr(self) -> str:
        return f"{super().extend_repr()}, output_padding={self.output_padding}"


class Conv1dTranspose(Conv2dTranspose):
    """The transpose of Conv1d over (N, C, L), weight (in, out/group, kernel_size) as torch's ConvTranspose1d: a
    transposed convolution of height 1. ``padding`` an int for both ends or (left, right); otherwise as
    Conv2dTranspose (MindSpore's defaults pad_mode='same', has_bias=False)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, pad_mode: str = "same", padding=0,
                 output_padding: int = 0, dilation: int = 1, group: int = 1, has_bias: bool = False, weight_init=None, bias_init=None,
                 dtype=float32):
        ends = (padding, padding) if isinstance(padding, (int, np.integer)) else tuple(padding)
        super().__init__(in_channels, out_channels, (1, positive_int(kernel_size, "Conv1dTranspose", "kernel_size")), (1, stride), pad_mode,
                         (0, 0) + ends if any(ends) else 0, (0, output_padding), (1, dilation), group, has_bias, weight_init, bias_init, dtype)
        self.weight = Parameter(np.asarray(self.weight)[:, :, 0], name="weight")  # (in, out/group, k): the same draws, one axis fewer

    def construct(self, x):
        check_input(self, x, 3, {1: self.in_channels}, f"(N, {self.in_channels}, L)")
        return ops.squeeze(self._transposed(ops.expand_dims(x, 2), ops.expand_dims(self.weight, 2)), 2)


def _check_data_format(owner: str, data_format: str) -> None:
    if data_format != "NCDHW":
        raise ValueError(f"{owner}: data_format={data_format!r} is not supported (only 'NCDHW')")


class Conv3d(Conv2d):
    """3-D convolution over (N, C, D, H, W) with weight (out, in/group, kd, kh, kw) as torch's Conv3d, run as 2-D
    convolutions of the depth frames (``ops.conv3d``).

    MindSpore 2.x's arguments and defaults, as Conv2d's: pad_mode='same' (output ceil(size / stride), any odd padding
    at the tail, bottom and right), 'valid' or 'pad' (``padding`` an int, (pd, ph, pw) or (head, tail, top, bottom,
    left, right)), has_bias=False (torch: padding=0, bias=True). ``padding_mode`` (keyword) as Conv2d's.
    """

    rank = 3
    conv = staticmethod(ops.conv3d)
    expected = "(N, {}, D, H, W)"

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, pad_mode: str = "same", padding=0, dilation=1,
                 group: int = 1, has_bias: bool = False, weight_init=None, bias_init=None, data_format: str = "NCDHW", dtype=float32, *,
                 padding_mode: str = "zeros"):
        _check_data_format("Conv3d", data_format)
        super().__init__(in_channels, out_channels, kernel_size, stride, pad_mode, padding, dilation, group, has_bias, weight_init, bias_init,
                         dtype=dtype, padding_mode=padding_mode)


class Conv3dTranspose(Conv2dTranspose):
    """The transpose of Conv3d over (N, C, D, H, W), weight (in, out/group, kd, kh, kw) as torch's ConvTranspose3d: the
    gradient of ``ops.conv3d`` with respect to its input, so differentiable to any order.

    Output sizes and pad modes as Conv2dTranspose's, per axis (``padding`` an int, (pd, ph, pw) or (head, tail, top,
    bottom, left, right)); ``output_padding`` (< stride or dilation) adds planes at the tail, bottom and right. MindSpore
    2.x's argument order (output_padding after group, unlike Conv2dTranspose) and defaults: pad_mode='same', has_bias=False.
    """

    rank = 3
    conv = staticmethod(ops.conv3d)
    expected = "(N, {}, D, H, W)"

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, pad_mode: str = "same", padding=0, dilation=1,
                 group: int = 1, output_padding=0, has_bias: bool = False, weight_init=None, bias_init=None, data_format: str = "NCDHW",
                 dtype=float32):
        _check_data_format("Conv3dTranspose", data_format)
        super().__init__(in_channels, out_channels, kernel_size, stride, pad_mode, padding, output_padding, dilation, group, has_bias,
                         weight_init, bias_init, dtype)
