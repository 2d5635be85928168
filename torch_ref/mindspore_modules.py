"""torch layers for the MindSpore conventions torch's own layers cannot express, as subclasses keeping torch's names.

- ``Conv1dSame`` / ``Conv2dSame``: ``pad_mode='same'`` with any stride (torch refuses ``padding='same'`` with a stride
  above 1): the input is padded by ``F.pad`` to an output of ceil(size / stride), the odd row or column at the end,
  as MindSpore (and TensorFlow, and timm's ``Conv2dSame``) do. The padding depends on the input size, so it is
  computed per call.
- ``BatchNorm1dFixed`` / ``BatchNorm2dFixed``: MindSpore's ``use_batch_statistics``: True normalises by the batch's
  statistics (updating the running ones) in ``train()`` and ``eval()`` alike, False by the running ones always.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def same_padding(sizes, kernel_size, stride, dilation) -> list[int]:
    """``F.pad``'s list (last axis first) for MindSpore's 'same': output ceil(size / stride), any odd padding at the end."""
    pads: list[int] = []
    for n, k, s, d in reversed(list(zip(sizes, kernel_size, stride, dilation))):
        total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
        pads += [total // 2, total - total // 2]
    return pads


class _SamePadding:
    """A convolution (built with padding 0) that pads its input as MindSpore's pad_mode='same' before convolving."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = same_padding(x.shape[2:], self.kernel_size, self.stride, self.dilation)
        return self._conv_forward(F.pad(x, pads), self.weight, self.bias)


class Conv1dSame(_SamePadding, torch.nn.Conv1d):
    """``torch.nn.Conv1d`` with MindSpore's pad_mode='same' at any stride."""


class Conv2dSame(_SamePadding, torch.nn.Conv2d):
    """``torch.nn.Conv2d`` with MindSpore's pad_mode='same' at any stride."""


class _FixedStatistics:
    """A batch norm whose choice of statistics is fixed (``use_batch_statistics``) instead of following train()/eval()."""

    def __init__(self, *args, use_batch_statistics: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.use_batch_statistics = bool(use_batch_statistics)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, use_batch_statistics={self.use_batch_statistics}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, self.use_batch_statistics, self.momentum,
                            self.eps)


class BatchNorm1dFixed(_FixedStatistics, torch.nn.BatchNorm1d):
    """``torch.nn.BatchNorm1d`` with MindSpore's use_batch_statistics=True/False."""


class BatchNorm2dFixed(_FixedStatistics, torch.nn.BatchNorm2d):
    """``torch.nn.BatchNorm2d`` with MindSpore's use_batch_statistics=True/False."""
