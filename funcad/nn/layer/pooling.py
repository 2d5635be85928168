"""MaxPool2d, AvgPool2d and AdaptiveAvgPool2d with MindSpore's names, defaults and pad_mode."""

from __future__ import annotations

from funcad import ops
from funcad.nn.cell import Cell
from funcad.nn.layer.basic import check_input
from funcad.nn.layer.conv import as_pair, check_pad_mode, same_padding


class _Pool2d(Cell):
    def __init__(self, kernel_size=1, stride=1, pad_mode: str = "valid", padding=0):
        super().__init__()
        owner = type(self).__name__
        self.kernel_size = as_pair(kernel_size, owner, "kernel_size")
        self.stride = as_pair(stride, owner, "stride")
        self.padding = check_pad_mode(owner, pad_mode, padding)
        self.pad_mode = pad_mode.lower()

    def _padding_for(self, x) -> tuple[int, int, int, int]:
        check_input(self, x, 4, None, "(N, C, H, W)")
        if self.pad_mode == "same":
            return same_padding(tuple(x.shape[2:]), self.kernel_size, self.stride)
        return self.padding

    def extend_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, pad_mode={self.pad_mode!r}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max over (kh, kw) windows; padded positions never win. MindSpore's defaults: kernel 1, stride 1, 'valid'."""

    def construct(self, x):
        padding = self._padding_for(x)
        return ops.max_pool2d(x, self.kernel_size, self.stride, padding)


class AvgPool2d(_Pool2d):
    """Mean over (kh, kw) windows. In 'pad' mode padded zeros count when ``count_include_pad`` (torch's and
    MindSpore's default); in 'same' mode the mean is over the real inputs only, as MindSpore does."""

    def __init__(self, kernel_size=1, stride=1, pad_mode: str = "valid", padding=0, count_include_pad: bool = True):
        super().__init__(kernel_size, stride, pad_mode, padding)
        self.count_include_pad = count_include_pad

    def construct(self, x):
        padding = self._padding_for(x)
        include = self.count_include_pad and self.pad_mode == "pad"
        return ops.avg_pool2d(x, self.kernel_size, self.stride, padding, count_include_pad=include)


class AdaptiveAvgPool2d(Cell):
    """Average pooling to a fixed (oh, ow) output, windows chosen as torch does."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def construct(self, x):
        check_input(self, x, 4, None, "(N, C, H, W)")
        return ops.adaptive_avg_pool2d(x, self.output_size)
