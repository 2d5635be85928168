"""torch layers for the MindSpore conventions torch's own layers cannot express, as subclasses keeping torch's names.

- ``Conv1dSame`` / ``Conv2dSame`` / ``Conv3dSame``: ``pad_mode='same'`` with any stride (torch refuses ``padding='same'`` with a stride
  above 1): the input is padded by ``F.pad`` to an output of ceil(size / stride), the odd row or column at the end,
  as MindSpore (and TensorFlow, and timm's ``Conv2dSame``) do. The padding depends on the input size, so it is
  computed per call.
- ``BatchNorm1dFixed`` / ``BatchNorm2dFixed`` / ``BatchNorm3dFixed``: MindSpore's ``use_batch_statistics``: True normalises by the batch's
  statistics (updating the running ones) in ``train()`` and ``eval()`` alike, False by the running ones always.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from funcad.nn.layer.conv import same_padding


class SamePadding:
    """A convolution (built with padding 0) that pads its input as MindSpore's pad_mode='same' before convolving."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        per_axis = same_padding(tuple(x.shape[2:]), self.kernel_size, self.stride, self.dilation)
        pads = [p for i in range(len(per_axis) - 2, -1, -2) for p in per_axis[i:i + 2]]  # F.pad: last axis first
        mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
        return self._conv_forward(F.pad(x, pads, mode=mode), self.weight, self.bias)


class Conv1dSame(SamePadding, torch.nn.Conv1d):
    """``torch.nn.Conv1d`` with MindSpore's pad_mode='same' at any stride."""


class Conv2dSame(SamePadding, torch.nn.Conv2d):
    """``torch.nn.Conv2d`` with MindSpore's pad_mode='same' at any stride."""


class Conv3dSame(SamePadding, torch.nn.Conv3d):
    """``torch.nn.Conv3d`` with MindSpore's pad_mode='same' at any stride."""


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


class BatchNorm3dFixed(_FixedStatistics, torch.nn.BatchNorm3d):
    """``torch.nn.BatchNorm3d`` with MindSpore's use_batch_statistics=True/False."""
