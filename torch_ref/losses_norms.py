"""Translations of torch's CTC and multi-class margin losses, RMS and local response normalisation and channel
shuffling: the torch functions (``F.ctc_loss``, ``F.rms_norm``, ...) as funcad calls, and the layer rules
(``nn.RMSNorm``, ``nn.LocalResponseNorm``, ``nn.ChannelShuffle``, the loss modules) both ways.

torch's ``LocalResponseNorm(size, alpha, beta, k)`` divides alpha by ``size`` and centres a window of ``size``
channels (one more after than before for an even size); MindSpore's ``LRN(depth_radius, bias, alpha, beta)`` sums
2 * depth_radius + 1 channels with alpha as given. An odd size is ``LRN(size // 2, k, alpha / size, beta)``; an even
one has no LRN and is traced through its forward (``F.local_response_norm``, translated for any size).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from funcad import nn, ops
from funcad.nn.cell import Cell
from funcad.ops.local_norms import local_response_normalized, rms_normalized
from torch_ref.arrays import to_numpy
from torch_ref.layer_rule import LayerRule, Translate, Untranslatable


def _legacy(function: str, size_average, reduce) -> None:
    if size_average is not None or reduce is not None:
        raise NotImplementedError(f"torch.nn.functional.{function}: size_average/reduce={(size_average, reduce)!r} has no funcad translation")


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """F.ctc_loss: the loss alone (MindSpore's op also returns the log-alphas)."""
    return ops.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity)[0]


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction="mean"):  # noqa: A002
    _legacy("multi_margin_loss", size_average, reduce)
    return ops.multi_margin_loss(input, target, p, margin, weight, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):  # noqa: A002
    _legacy("multilabel_margin_loss", size_average, reduce)
    return ops.multilabel_margin_loss(input, target, reduction)


def rms_norm(input, normalized_shape, weight=None, eps=None):  # noqa: A002
    """F.rms_norm: over the trailing ``normalized_shape`` axes; eps None is the machine epsilon of the input's dtype."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    rank = len(input.shape)
    if tuple(input.shape[rank - len(shape):]) != shape:
        raise ValueError(f"torch.nn.functional.rms_norm: normalized_shape {shape} does not match the trailing axes of input {tuple(input.shape)}")
    return rms_normalized(input, tuple(range(rank - len(shape), rank)), weight, eps)[0]


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):  # noqa: A002
    """F.local_response_norm: alpha / size per squared channel over size // 2 channels before and (size - 1) // 2 after."""
    return local_response_normalized(input, size // 2, (size - 1) // 2, alpha / size, k, beta, "local_response_norm")


FUNCTIONS = {
    F.ctc_loss: ctc_loss, F.multi_margin_loss: multi_margin_loss, F.multilabel_margin_loss: multilabel_margin_loss, F.rms_norm: rms_norm,
    F.local_response_norm: local_response_norm, F.channel_shuffle: ops.channel_shuffle, torch.native_channel_shuffle: ops.channel_shuffle,
}


def _lrn_to_funcad(module: torch.nn.LocalResponseNorm, translate: Translate) -> Cell:
    if module.size % 2 == 0:
        raise Untranslatable(f"size={module.size} is even: its window is not centred, which MindSpore's LRN (2 * depth_radius + 1 channels) "
                             "cannot express")
    return nn.LRN(module.size // 2, module.k, module.alpha / module.size, module.beta)


def _lrn_to_torch(cell: nn.LRN, translate: Translate) -> torch.nn.Module:
    size = 2 * cell.depth_radius + 1
    return torch.nn.LocalResponseNorm(size, cell.alpha * size, cell.beta, cell.bias)


def _multi_margin_to_torch(cell: nn.MultiMarginLoss, translate: Translate) -> torch.nn.Module:
    weight = None if cell.weight is None else torch.from_numpy(np.array(np.asarray(cell.weight)))
    return torch.nn.MultiMarginLoss(cell.p, cell.margin, weight, reduction=cell.reduction)


def _multi_margin_to_funcad(module: torch.nn.MultiMarginLoss, translate: Translate) -> Cell:
    return nn.MultiMarginLoss(module.p, module.margin, module.reduction, None if module.weight is None else to_numpy(module.weight))


NORM_RULES: list[LayerRule] = [
    LayerRule(nn.RMSNorm, torch.nn.RMSNorm,
              lambda cell, translate: torch.nn.RMSNorm(cell.normalized_shape, cell.eps, cell.elementwise_affine),
              lambda module, translate: nn.RMSNorm(tuple(module.normalized_shape), module.eps, module.elementwise_affine)),
    LayerRule(nn.LRN, torch.nn.LocalResponseNorm, _lrn_to_torch, _lrn_to_funcad),
    LayerRule(nn.ChannelShuffle, torch.nn.ChannelShuffle, lambda cell, translate: torch.nn.ChannelShuffle(cell.groups),
              lambda module, translate: nn.ChannelShuffle(module.groups)),
    LayerRule(nn.CTCLoss, torch.nn.CTCLoss,
              lambda cell, translate: torch.nn.CTCLoss(cell.blank, cell.reduction, cell.zero_infinity),
              lambda module, translate: nn.CTCLoss(module.blank, module.reduction, module.zero_infinity)),
    LayerRule(nn.MultiMarginLoss, torch.nn.MultiMarginLoss, _multi_margin_to_torch, _multi_margin_to_funcad),
    LayerRule(nn.MultilabelMarginLoss, torch.nn.MultiLabelMarginLoss,
              lambda cell, translate: torch.nn.MultiLabelMarginLoss(reduction=cell.reduction),
              lambda module, translate: nn.MultilabelMarginLoss(module.reduction)),
]
