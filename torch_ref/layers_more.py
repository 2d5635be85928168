"""Translations of the power-average pools, max unpooling, randomized leaky ReLU and synchronised batch
normalisation: the torch functions (``F.lp_pool1d/2d``, ``F.max_unpool1d/2d/3d``, ``F.rrelu``) as funcad calls, and
the layer rules (``nn.LPPool1d/2d``, ``nn.MaxUnpool1d/2d/3d``, ``nn.RReLU``, ``nn.SyncBatchNorm``) both ways.

``RReLU`` agrees with torch's in evaluation mode (the mean slope); while training each engine draws its own slopes,
which cannot be aligned, so ``F.rrelu(training=True)`` is refused when translating a forward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from funcad import nn, ops
from torch_ref.layer_rule import LayerRule, Untranslatable
from torch_ref.layers_basic import _batch_norm_params, _batch_norm_to_funcad, _batch_norm_to_torch
from torch_ref.mindspore_modules import BatchNorm2dFixed


def lp_pool(op):
    """F.lp_pool1d/2d(input, norm_type, kernel_size, stride=None, ceil_mode=False): the same arguments in funcad."""
    def translated(input, norm_type, kernel_size, stride=None, ceil_mode=False):  # noqa: A002
        return op(input, norm_type, kernel_size, stride, ceil_mode)
    return translated


def max_unpool(op):
    """F.max_unpool1d/2d/3d(input, indices, kernel_size, stride=None, padding=0, output_size=None)."""
    def translated(input, indices, kernel_size, stride=None, padding=0, output_size=None):  # noqa: A002
        return op(input, indices, kernel_size, stride, padding, output_size)
    return translated


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):  # noqa: A002
    """F.rrelu: in evaluation the leaky ReLU of the mean slope; torch's own draws while training have no aligned twin."""
    if training:
        raise NotImplementedError("torch.nn.functional.rrelu: training=True has no funcad translation (torch draws its own slopes)")
    return ops.leaky_relu(input, (lower + upper) / 2.0)


FUNCTIONS = {
    F.lp_pool1d: lp_pool(ops.lp_pool1d), F.lp_pool2d: lp_pool(ops.lp_pool2d), F.rrelu: rrelu,
    F.max_unpool1d: max_unpool(ops.max_unpool1d), F.max_unpool2d: max_unpool(ops.max_unpool2d), F.max_unpool3d: max_unpool(ops.max_unpool3d),
}


def _lp_pool_rule(funcad_type: type, torch_type: type) -> LayerRule:
    return LayerRule(funcad_type, torch_type,
                     lambda cell, translate: torch_type(cell.norm_type, cell.kernel_size, cell.stride, cell.ceil_mode),
                     lambda module, translate: funcad_type(module.norm_type, module.kernel_size, module.stride, module.ceil_mode))


def _unpool_rule(funcad_type: type, torch_type: type) -> LayerRule:
    def to_torch(cell, translate) -> torch.nn.Module:
        if cell.output_size is not None:  # torch's layer takes it per call, not when built
            raise Untranslatable("output_size given when the layer is built has no torch counterpart")
        return torch_type(cell.kernel_size, cell.stride, cell.padding)
    return LayerRule(funcad_type, torch_type, to_torch, lambda module, translate: funcad_type(module.kernel_size, module.stride, module.padding))


def _sync_batch_norm_to_torch(cell, translate) -> torch.nn.Module:
    if cell.process_groups is not None:
        raise Untranslatable("process_groups has no counterpart in a single-process torch twin")
    return _batch_norm_to_torch(torch.nn.SyncBatchNorm, BatchNorm2dFixed)(cell, translate)


RULES_MORE: list[LayerRule] = [
    _lp_pool_rule(nn.LPPool1d, torch.nn.LPPool1d), _lp_pool_rule(nn.LPPool2d, torch.nn.LPPool2d),
    _unpool_rule(nn.MaxUnpool1d, torch.nn.MaxUnpool1d), _unpool_rule(nn.MaxUnpool2d, torch.nn.MaxUnpool2d),
    _unpool_rule(nn.MaxUnpool3d, torch.nn.MaxUnpool3d),
    LayerRule(nn.RReLU, torch.nn.RReLU, lambda cell, translate: torch.nn.RReLU(cell.lower, cell.upper),
              lambda module, translate: nn.RReLU(module.lower, module.upper)),
    LayerRule(nn.SyncBatchNorm, torch.nn.SyncBatchNorm, _sync_batch_norm_to_torch, _batch_norm_to_funcad(nn.SyncBatchNorm), _batch_norm_params),
]
