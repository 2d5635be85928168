"""The layer translation table: each funcad layer next to its torch counterpart, with a builder for either side.

One ``LayerRule`` per layer class. ``to_torch(cell, translate)`` builds the torch module from the Cell's
configuration and ``to_funcad(module, translate)`` the Cell from the module's; ``translate`` turns a child (a
Dense's activation) into the other engine. Weights are not built here: the caller copies them by name afterwards,
through each rule's parameter names (funcad name -> torch name inside the layer, ``None`` where torch has no
counterpart, e.g. the gamma/beta of a BatchNorm without affine). Every convention that differs between
MindSpore and torch is translated here and nowhere else: BatchNorm momentum (torch's = 1 - MindSpore's),
LayerNorm epsilon, Conv2d pad modes and its bias default, GELU's approximation, LeakyReLU's slope name.
A new layer is one ``LayerRule`` in ``RULES``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch

from funcad import nn
from funcad.nn.cell import Cell

Translate = Callable  # a child of one engine -> its twin in the other


class TranslationError(ValueError):
    """A layer or module that has no twin in the other engine; the message names its path and class."""


def where(path: str, kind: object) -> str:
    """``'ClassName' at 'path'`` (or 'at the root') for error messages."""
    name = kind if isinstance(kind, str) else type(kind).__name__
    return f"{name} at {path!r}" if path else f"{name} at the root"


@dataclass(frozen=True)
class LayerRule:
    """How one funcad layer class and one torch module class translate into each other."""

    funcad_type: type
    torch_type: type
    to_torch: Callable[[Cell, Translate], torch.nn.Module]
    to_funcad: Callable[[torch.nn.Module, Translate], Cell]
    params: Callable[[Cell], Mapping[str, str | None]] | None = field(default=None)

    def torch_names(self, cell: Cell) -> Mapping[str, str | None]:
        """funcad parameter name -> torch parameter name inside the layer (default: the Cell's ``torch_names``)."""
        if self.params is not None:
            return self.params(cell)
        return getattr(cell, "torch_names", {})


class Untranslatable(Exception):
    """Raised by a rule with the reason alone; the walker turns it into a ``TranslationError`` naming the path and class."""


# -- Dense / Linear ------------------------------------------------------------------------------------------------

def _dense_to_torch(cell: nn.Dense, translate: Translate) -> torch.nn.Module:
    linear = torch.nn.Linear(cell.in_channels, cell.out_channels, bias=cell.has_bias)
    if cell.activation is None:
        return linear
    return torch.nn.Sequential(OrderedDict([("linear", linear), ("activation", translate(cell.activation, "activation"))]))


def _dense_params(cell: nn.Dense) -> dict[str, str]:
    prefix = "" if cell.activation is None else "linear."
    return {name: prefix + name for name in ("weight", "bias")}


def _linear_to_funcad(module: torch.nn.Linear, translate: Translate) -> Cell:
    return nn.Dense(module.in_features, module.out_features, has_bias=module.bias is not None)


# -- Conv2d ----------------------------------------------------------------------------------------------------------

def _conv_to_torch(cell: nn.Conv2d, translate: Translate) -> torch.nn.Module:
    if cell.pad_mode == "same":
        if cell.stride != (1, 1):
            raise Untranslatable(f"pad_mode='same' with stride {cell.stride} pads by an amount that depends on the input "
                                                "size, which torch.nn.Conv2d cannot express; use pad_mode='pad' with a fixed padding")
        padding = "same"
    else:
        top, bottom, left, right = cell.padding
        if top != bottom or left != right:
            raise Untranslatable(f"padding {cell.padding} (top, bottom, left, right) is not symmetric; torch.nn.Conv2d pads "
                                                "both sides of an axis alike")
        padding = (top, left)
    return torch.nn.Conv2d(cell.in_channels, cell.out_channels, cell.kernel_size, stride=cell.stride, padding=padding,
                           dilation=cell.dilation, groups=cell.group, bias=cell.has_bias)


def _conv_to_funcad(module: torch.nn.Conv2d, translate: Translate) -> Cell:
    if module.padding_mode != "zeros":
        raise Untranslatable(f"padding_mode {module.padding_mode!r} has no funcad counterpart (only 'zeros')")
    if isinstance(module.padding, str):
        pad_mode, padding = module.padding, 0
    elif any(module.padding):
        pad_mode, padding = "pad", (module.padding[0], module.padding[0], module.padding[1], module.padding[1])
    else:
        pad_mode, padding = "valid", 0
    return nn.Conv2d(module.in_channels, module.out_channels, module.kernel_size, stride=module.stride, pad_mode=pad_mode, padding=padding,
                     dilation=module.dilation, group=module.groups, has_bias=module.bias is not None)


# -- normalisation ---------------------------------------------------------------------------------------------------

def _batch_norm_to_torch(torch_type: type) -> Callable:
    def build(cell, translate: Translate) -> torch.nn.Module:
        if cell.use_batch_statistics is not None:
            raise Untranslatable(f"use_batch_statistics={cell.use_batch_statistics} has no torch counterpart (torch follows "
                                                "train()/eval() only)")
        return torch_type(cell.num_features, eps=cell.eps, momentum=1.0 - cell.momentum, affine=cell.affine)
    return build


def _batch_norm_to_funcad(funcad_type: type) -> Callable:
    def build(module, translate: Translate) -> Cell:
        if module.momentum is None or not module.track_running_stats:
            raise Untranslatable("a cumulative moving average (momentum=None) or track_running_stats=False "
                                   "has no funcad counterpart")
        return funcad_type(module.num_features, eps=module.eps, momentum=1.0 - module.momentum, affine=module.affine)
    return build


def _batch_norm_params(cell) -> dict[str, str | None]:
    names = dict(cell.torch_names)
    if not cell.affine:
        names.update(gamma=None, beta=None)
    return names


def _layer_norm_to_funcad(module: torch.nn.LayerNorm, translate: Translate) -> Cell:
    if not module.elementwise_affine or module.bias is None:
        raise Untranslatable("elementwise_affine=False or bias=False has no funcad counterpart")
    return nn.LayerNorm(tuple(module.normalized_shape), begin_norm_axis=-len(module.normalized_shape),
                        begin_params_axis=-len(module.normalized_shape), epsilon=module.eps)


# -- embedding, pools, shape layers ------------------------------------------------------------------------------------

def _embedding_to_funcad(module: torch.nn.Embedding, translate: Translate) -> Cell:
    if module.max_norm is not None or module.scale_grad_by_freq or module.sparse:
        raise Untranslatable("max_norm, scale_grad_by_freq and sparse have no funcad counterpart")
    return nn.Embedding(module.num_embeddings, module.embedding_dim, padding_idx=module.padding_idx)


def _pool_padding(cell) -> tuple[int, int]:
    if cell.pad_mode == "same":
        raise Untranslatable("pad_mode='same' pads by an amount that depends on the input size, which torch's pools cannot "
                                            "express; use 'valid' or 'pad'")
    top, bottom, left, right = cell.padding
    if top != bottom or left != right:
        raise Untranslatable(f"padding {cell.padding} is not symmetric; torch's pools pad both sides of an axis alike")
    return top, left


def _torch_pool_args(module) -> tuple:
    if module.ceil_mode or getattr(module, "dilation", 1) not in (1, (1, 1)) or getattr(module, "return_indices", False):
        raise Untranslatable("ceil_mode, dilation and return_indices have no funcad counterpart")
    pair = torch.nn.modules.utils._pair
    pad = pair(module.padding)
    pad_mode, padding = ("pad", (pad[0], pad[0], pad[1], pad[1])) if any(pad) else ("valid", 0)
    return pair(module.kernel_size), pair(module.stride if module.stride is not None else module.kernel_size), pad_mode, padding


def _avg_pool_to_funcad(module: torch.nn.AvgPool2d, translate: Translate) -> Cell:
    if module.divisor_override is not None:
        raise Untranslatable("divisor_override has no funcad counterpart")
    return nn.AvgPool2d(*_torch_pool_args(module), count_include_pad=module.count_include_pad)


def _softmax_to_funcad(funcad_type: type) -> Callable:
    def build(module, translate: Translate) -> Cell:
        if module.dim is None:
            raise Untranslatable("dim=None (torch's implicit axis) has no funcad counterpart; give dim")
        return funcad_type(axis=module.dim)
    return build


def _same(funcad_type: type, torch_type: type) -> LayerRule:
    """A layer without configuration or parameters on either side (ReLU, Sigmoid, ...)."""
    return LayerRule(funcad_type, torch_type, lambda cell, translate: torch_type(), lambda module, translate: funcad_type())


RULES: list[LayerRule] = [
    LayerRule(nn.Dense, torch.nn.Linear, _dense_to_torch, _linear_to_funcad, _dense_params),
    LayerRule(nn.Conv2d, torch.nn.Conv2d, _conv_to_torch, _conv_to_funcad),
    LayerRule(nn.BatchNorm1d, torch.nn.BatchNorm1d, _batch_norm_to_torch(torch.nn.BatchNorm1d), _batch_norm_to_funcad(nn.BatchNorm1d),
              _batch_norm_params),
    LayerRule(nn.BatchNorm2d, torch.nn.BatchNorm2d, _batch_norm_to_torch(torch.nn.BatchNorm2d), _batch_norm_to_funcad(nn.BatchNorm2d),
              _batch_norm_params),
    LayerRule(nn.LayerNorm, torch.nn.LayerNorm, lambda cell, translate: torch.nn.LayerNorm(cell.normalized_shape, eps=cell.epsilon),
              _layer_norm_to_funcad),
    LayerRule(nn.Embedding, torch.nn.Embedding,
              lambda cell, translate: torch.nn.Embedding(cell.vocab_size, cell.embedding_size, padding_idx=cell.padding_idx),
              _embedding_to_funcad),
    LayerRule(nn.MaxPool2d, torch.nn.MaxPool2d, lambda cell, translate: torch.nn.MaxPool2d(cell.kernel_size, cell.stride, _pool_padding(cell)),
              lambda module, translate: nn.MaxPool2d(*_torch_pool_args(module))),
    LayerRule(nn.AvgPool2d, torch.nn.AvgPool2d,
              lambda cell, translate: torch.nn.AvgPool2d(cell.kernel_size, cell.stride, _pool_padding(cell),
                                                         count_include_pad=cell.count_include_pad and cell.pad_mode == "pad"),
              _avg_pool_to_funcad),
    LayerRule(nn.AdaptiveAvgPool2d, torch.nn.AdaptiveAvgPool2d, lambda cell, translate: torch.nn.AdaptiveAvgPool2d(cell.output_size),
              lambda module, translate: nn.AdaptiveAvgPool2d(module.output_size)),
    LayerRule(nn.Flatten, torch.nn.Flatten, lambda cell, translate: torch.nn.Flatten(cell.start_dim, cell.end_dim),
              lambda module, translate: nn.Flatten(module.start_dim, module.end_dim)),
    LayerRule(nn.Dropout, torch.nn.Dropout, lambda cell, translate: torch.nn.Dropout(cell.p), lambda module, translate: nn.Dropout(module.p)),
    LayerRule(nn.GELU, torch.nn.GELU, lambda cell, translate: torch.nn.GELU("tanh" if cell.approximate else "none"),
              lambda module, translate: nn.GELU(approximate=module.approximate == "tanh")),
    LayerRule(nn.LeakyReLU, torch.nn.LeakyReLU, lambda cell, translate: torch.nn.LeakyReLU(cell.alpha),
              lambda module, translate: nn.LeakyReLU(module.negative_slope)),
    LayerRule(nn.ELU, torch.nn.ELU, lambda cell, translate: torch.nn.ELU(cell.alpha), lambda module, translate: nn.ELU(module.alpha)),
    LayerRule(nn.Softmax, torch.nn.Softmax, lambda cell, translate: torch.nn.Softmax(cell.axis), _softmax_to_funcad(nn.Softmax)),
    LayerRule(nn.LogSoftmax, torch.nn.LogSoftmax, lambda cell, translate: torch.nn.LogSoftmax(cell.axis), _softmax_to_funcad(nn.LogSoftmax)),
    _same(nn.ReLU, torch.nn.ReLU), _same(nn.Sigmoid, torch.nn.Sigmoid), _same(nn.Tanh, torch.nn.Tanh), _same(nn.SiLU, torch.nn.SiLU),
    _same(nn.Identity, torch.nn.Identity),
]

BY_FUNCAD_TYPE: dict[type, LayerRule] = {rule.funcad_type: rule for rule in RULES}
BY_TORCH_TYPE: dict[type, LayerRule] = {rule.torch_type: rule for rule in RULES}
