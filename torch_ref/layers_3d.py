"""Translations of torch's 3-D layers and functions: Conv3d, ConvTranspose3d, the 3-D max, average and adaptive
pools and BatchNorm3d, both ways, through the 2-D rules' builders (the same MindSpore conventions: pad modes and the
bias default of convolutions, BatchNorm's momentum = 1 - torch's and ``use_batch_statistics``), and ``F.conv3d``,
``F.conv_transpose3d`` and the 3-D pools by function as funcad calls.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from funcad import nn, ops
from funcad.core.transforms import vjp
from funcad.nn.layer.conv import same_padding
from funcad.ops.conv_geometry import ints
from torch_ref.layer_rule import LayerRule, Untranslatable
from torch_ref.layers_basic import (
    MAX_POOL_OPTIONS,
    _batch_norm_params,
    _batch_norm_to_funcad,
    _batch_norm_to_torch,
    _conv_to_funcad,
    _conv_to_torch,
    _conv_transpose_to_funcad,
    _conv_transpose_to_torch,
    _include_pad,
    _pool_to_funcad,
    _pool_to_torch,
)
from torch_ref.mindspore_modules import BatchNorm3dFixed, Conv3dSame


def _refuse(function: str, option: str, value) -> None:
    raise NotImplementedError(f"torch.nn.functional.{function}: {option}={value!r} has no funcad translation")


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002 - torch's names
    """F.conv3d; torch's padding='same' (stride 1) splits an odd total as MindSpore does, the extra at the end."""
    if padding == "valid":
        padding = 0
    elif padding == "same":
        padding = same_padding(tuple(input.shape[2:]), tuple(weight.shape[2:]), (1, 1, 1), ints(dilation, 3, "conv3d", "dilation"))
    return ops.conv3d(input, weight, bias, stride, padding, dilation, groups)


def transposed_convolution(conv: Callable, rank: int, name: str) -> Callable:
    """torch's ``F.conv_transpose{rank}d``: the adjoint of the convolution ``conv`` by ``weight`` ((in, out/groups,
    *kernel)) whose input has the transposed convolution's output size, applied to ``input``."""

    def conv_transpose(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):  # noqa: A002
        stride, padding, output_padding, dilation = (ints(v, rank, name, what) for v, what in
                                                     ((stride, "stride"), (padding, "padding"), (output_padding, "output_padding"),
                                                      (dilation, "dilation")))
        size = tuple((input.shape[2 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (weight.shape[2 + i] - 1) + output_padding[i] + 1
                     for i in range(rank))
        if min(size) < 1:
            raise ValueError(f"torch.nn.functional.{name}: input of shape {tuple(input.shape)} gives an empty output {size}")
        source = ops.zeros((input.shape[0], weight.shape[1] * groups) + size, input.dtype)
        _, pullback = vjp(lambda z: conv(z, weight, None, stride, padding, dilation, groups), source)
        y = pullback(input)
        y = y[0] if isinstance(y, tuple) else y
        return y if bias is None else y + ops.reshape(bias, (1, -1) + (1,) * rank)

    return conv_transpose


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):  # noqa: A002
    return ops.max_pool3d(input, kernel_size, stride or kernel_size, padding, dilation, ceil_mode, return_indices)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):  # noqa: A002
    """F.avg_pool3d: torch's stride defaults to the kernel (MindSpore's ops.avg_pool3d to 1)."""
    return ops.avg_pool3d(input, kernel_size, stride or kernel_size, padding, ceil_mode, count_include_pad, divisor_override or 0)


def adaptive_max_pool3d(input, output_size, return_indices=False):  # noqa: A002
    if return_indices:
        _refuse("adaptive_max_pool3d", "return_indices", return_indices)
    return ops.adaptive_max_pool3d(input, output_size)


FUNCTIONS = {
    F.conv3d: conv3d, F.conv_transpose3d: transposed_convolution(ops.conv3d, 3, "conv_transpose3d"), F.max_pool3d: max_pool3d,
    F.max_pool3d_with_indices: max_pool3d, F.avg_pool3d: avg_pool3d, F.adaptive_avg_pool3d: ops.adaptive_avg_pool3d,
    F.adaptive_max_pool3d: adaptive_max_pool3d, F.adaptive_max_pool3d_with_indices: adaptive_max_pool3d,
}


def _adaptive_max_to_funcad(module: torch.nn.AdaptiveMaxPool3d, translate) -> nn.AdaptiveMaxPool3d:
    if module.return_indices:
        raise Untranslatable("return_indices=True has no funcad counterpart")
    return nn.AdaptiveMaxPool3d(module.output_size)


RULES_3D: list[LayerRule] = [
    LayerRule(nn.Conv3d, torch.nn.Conv3d, _conv_to_torch(torch.nn.Conv3d, Conv3dSame), _conv_to_funcad(nn.Conv3d), torch_aliases=(Conv3dSame,)),
    LayerRule(nn.Conv3dTranspose, torch.nn.ConvTranspose3d, _conv_transpose_to_torch, _conv_transpose_to_funcad),
    LayerRule(nn.BatchNorm3d, torch.nn.BatchNorm3d, _batch_norm_to_torch(torch.nn.BatchNorm3d, BatchNorm3dFixed),
              _batch_norm_to_funcad(nn.BatchNorm3d), _batch_norm_params, torch_aliases=(BatchNorm3dFixed,)),
    LayerRule(nn.MaxPool3d, torch.nn.MaxPool3d, _pool_to_torch(torch.nn.MaxPool3d, **MAX_POOL_OPTIONS), _pool_to_funcad(nn.MaxPool3d)),
    LayerRule(nn.AvgPool3d, torch.nn.AvgPool3d,
              _pool_to_torch(torch.nn.AvgPool3d, count_include_pad=_include_pad, divisor_override=lambda cell: cell.divisor_override or None),
              _pool_to_funcad(nn.AvgPool3d)),
    LayerRule(nn.AdaptiveAvgPool3d, torch.nn.AdaptiveAvgPool3d, lambda cell, translate: torch.nn.AdaptiveAvgPool3d(cell.output_size),
              lambda module, translate: nn.AdaptiveAvgPool3d(module.output_size)),
    LayerRule(nn.AdaptiveMaxPool3d, torch.nn.AdaptiveMaxPool3d, lambda cell, translate: torch.nn.AdaptiveMaxPool3d(cell.output_size),
              _adaptive_max_to_funcad),
]
