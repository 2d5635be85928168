"""Conv2d with MindSpore's pad_mode ('same', 'valid', 'pad'), and the padding arithmetic pools share."""

from __future__ import annotations

import math

import numpy as np

from funcad import ops
from funcad.core.dtypes import float32
from funcad.core.tensor import Parameter
from funcad.nn.cell import Cell
from funcad.nn.initializer import HeUniform, Uniform, initializer
from funcad.nn.layer.basic import check_input, positive_int
from funcad.ops.conv_algorithms import NotApplicable

PAD_MODES = ("same", "valid", "pad")


def as_pair(value, owner: str, what: str) -> tuple[int, int]:
    items = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(items) != 2 or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in items):
        raise ValueError(f"{owner}: {what} must be a positive int or a pair of them, got {value!r}")
    return int(items[0]), int(items[1])


def check_pad_mode(owner: str, pad_mode: str, padding) -> tuple[int, int, int, int]:
    """Validate ``pad_mode``/``padding`` and return the fixed (top, bottom, left, right) padding of 'pad' mode."""
    if not isinstance(pad_mode, str) or pad_mode.lower() not in PAD_MODES:
        raise ValueError(f"{owner}: unknown pad_mode {pad_mode!r}; valid: {', '.join(PAD_MODES)}")
    items = (padding,) * 4 if isinstance(padding, (int, np.integer)) else tuple(padding)
    if len(items) == 2:
        items = (items[0], items[0], items[1], items[1])
    if len(items) != 4 or not all(isinstance(v, (int, np.integer)) and v >= 0 for v in items):
        raise ValueError(f"{owner}: padding must be a non-negative int, (ph, pw) or (top, bottom, left, right), got {padding!r}")
    if pad_mode.lower() != "pad" and any(items):
        raise ValueError(f"{owner}: padding {padding!r} is only allowed with pad_mode='pad', not {pad_mode!r}")
    return tuple(int(v) for v in items)


def same_padding(size: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int] = (1, 1)):
    """MindSpore/TensorFlow 'same': output ceil(size / stride); any odd padding goes to the bottom/right."""
    pads = []
    for n, k, s, d in zip(size, kernel, stride, dilation):
        out = -(-n // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        pads += [total // 2, total - total // 2]
    return tuple(pads)


class Conv2d(Cell):
    """2-D convolution over (N, C, H, W) with weight (out, in/group, kh, kw) as torch's Conv2d.

    ``pad_mode``: 'same' (output ceil(H/stride), extra padding on the bottom/right, which torch's
    padding='same' cannot express for even kernels or strides > 1), 'valid' (no padding) or 'pad'
    (``padding`` = int or (top, bottom, left, right)). Defaults as MindSpore 2.x: has_bias=False, weight
    HeUniform(negative_slope=sqrt(5)) and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the same draws as torch.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, pad_mode: str = "same", padding=0, dilation=1,
                 group: int = 1, has_bias: bool = False, weight_init=None, bias_init=None, dtype=float32):
        super().__init__()
        owner = "Conv2d"
        self.in_channels, self.out_channels = positive_int(in_channels, owner, "in_channels"), positive_int(out_channels, owner, "out_channels")
        self.group = int(group)
        if self.group < 1 or self.in_channels % self.group or self.out_channels % self.group:
            raise ValueError(f"{owner}: in_channels {in_channels} and out_channels {out_channels} must be divisible by group {group}")
        self.kernel_size = as_pair(kernel_size, owner, "kernel_size")
        self.stride = as_pair(stride, owner, "stride")
        self.dilation = as_pair(dilation, owner, "dilation")
        self.padding = check_pad_mode(owner, pad_mode, padding)
        self.pad_mode = pad_mode.lower()
        self.has_bias = has_bias
        shape = (self.out_channels, self.in_channels // self.group) + self.kernel_size
        self.weight = Parameter(initializer(HeUniform(math.sqrt(5)) if weight_init is None else weight_init, shape, dtype))
        if has_bias:
            fan_in = shape[1] * shape[2] * shape[3]
            self.bias = Parameter(initializer(Uniform(1.0 / math.sqrt(fan_in)) if bias_init is None else bias_init, (self.out_channels,), dtype))
        else:
            self.bias = None

    def _padding_for(self, x) -> tuple[int, int, int, int]:
        if self.pad_mode == "same":
            return same_padding(tuple(x.shape[2:]), self.kernel_size, self.stride, self.dilation)
        return self.padding

    def construct(self, x):
        check_input(self, x, 4, {1: self.in_channels}, f"(N, {self.in_channels}, H, W)")
        try:
            return ops.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self._padding_for(x), dilation=self.dilation, groups=self.group)
        except NotApplicable as err:  # a pinned algorithm (funcad.conv_algorithm, jit's conv_algorithm): say which layer
            raise NotApplicable(f"{self._where()}: {err}") from None

    def extend_repr(self) -> str:
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"pad_mode={self.pad_mode!r}, padding={self.padding}, dilation={self.dilation}, group={self.group}, has_bias={self.has_bias}")
