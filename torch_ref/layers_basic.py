"""Translation rules of the feed-forward layers: Dense, convolutions, normalisations, pools, activations, shape layers.

Every convention that differs between MindSpore and torch is translated here: BatchNorm momentum (torch's =
1 - MindSpore's) and ``use_batch_statistics``, LayerNorm epsilon, the pad modes (with ``torch_ref.mindspore_modules``
where torch's layers lack one) and the bias default of convolutions, GELU's approximation, LeakyReLU's slope name,
PReLU's ``w``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch

from funcad import nn
from funcad.nn.cell import Cell
from torch_ref.layer_rule import LayerRule, Translate, Untranslatable
from torch_ref.mindspore_modules import BatchNorm1dFixed, BatchNorm2dFixed, Conv1dSame, Conv2dSame, SamePadding

# -- Dense / Linear ------------------------------------------------------------------------------------------------

def _dense_to_torch(cell: nn.Dense, translate: Translate) -> torch.nn.Module:
    linear = torch.nn.Linear(cell.in_channels, cell.out_channels, bias=cell.has_bias)
    if cell.activation is None:
        return linear
    return torch.nn.Sequential(OrderedDict([("linear", linear), ("activation", translate(cell.activation, "activation"))]))


def _dense_params(cell: nn.Dense) -> dict[str, str]:
    names = cell.torch_parameter_names()
    if cell.activation is None:
        return names
    return {f: (t if f.startswith("activation.") else "linear." + t) for f, t in names.items()}


def _linear_to_funcad(module: torch.nn.Linear, translate: Translate) -> Cell:
    return nn.Dense(module.in_features, module.out_features, has_bias=module.bias is not None)


# -- convolutions ----------------------------------------------------------------------------------------------------

def _symmetric(pads: tuple, what: str) -> tuple:
    """(top, bottom, left, right) or (left, right) -> one padding per axis, when both sides of each axis agree."""
    low, high = pads[0::2], pads[1::2]
    if low != high:
        raise Untranslatable(f"{what} padding {pads} is not symmetric; torch pads both sides of an axis alike")
    return low


def _conv_to_torch(torch_type: type, same_type: type) -> Callable:
    """The rule's builder; pad_mode='same' with a stride above 1 (which torch's padding='same' refuses) takes ``same_type``."""
    def build(cell, translate: Translate) -> torch.nn.Module:
        stride = cell.stride if isinstance(cell.stride, tuple) else (cell.stride,)
        padding = "same" if cell.pad_mode == "same" else _symmetric(tuple(cell.padding), "convolution")
        module_type = torch_type
        if cell.pad_mode == "same" and any(s != 1 for s in stride):
            module_type, padding = same_type, 0
        return module_type(cell.in_channels, cell.out_channels, cell.kernel_size, stride=cell.stride, padding=padding,
                          dilation=cell.dilation, groups=cell.group, bias=cell.has_bias, padding_mode=cell.padding_mode)
    return build


def _conv_to_funcad(funcad_type: type) -> Callable:
    def build(module, translate: Translate) -> Cell:
        if isinstance(module, SamePadding):
            pad_mode, padding = "same", 0
        elif isinstance(module.padding, str):
            pad_mode, padding = module.padding, 0
        elif any(module.padding):
            pad_mode, padding = "pad", tuple(p for p in module.padding for _ in range(2))
        else:
            pad_mode, padding = "valid", 0
        one_d = funcad_type is nn.Conv1d
        return funcad_type(module.in_channels, module.out_channels, module.kernel_size[0] if one_d else module.kernel_size,
                           stride=module.stride[0] if one_d else module.stride, pad_mode=pad_mode, padding=padding,
                           dilation=module.dilation[0] if one_d else module.dilation, group=module.groups, has_bias=module.bias is not None,
                           padding_mode=module.padding_mode)
    return build


def _conv_transpose1d_to_torch(cell: nn.Conv1dTranspose, translate: Translate) -> torch.nn.Module:
    """The height-1 plane's padding, its second axis kept."""
    return torch.nn.ConvTranspose1d(cell.in_channels, cell.out_channels, cell.kernel_size[1], stride=cell.stride[1],
                                    padding=_transpose_padding(cell)[1], output_padding=cell.output_padding[1], groups=cell.group,
                                    bias=cell.has_bias, dilation=cell.dilation[1])


def _conv_transpose1d_to_funcad(module: torch.nn.ConvTranspose1d, translate: Translate) -> Cell:
    if module.padding_mode != "zeros":
        raise Untranslatable(f"padding_mode {module.padding_mode!r} has no funcad counterpart (only 'zeros')")
    (pad,) = module.padding
    return nn.Conv1dTranspose(module.in_channels, module.out_channels, module.kernel_size[0], stride=module.stride[0],
                              pad_mode="pad" if pad else "valid", padding=pad, output_padding=module.output_padding[0],
                              dilation=module.dilation[0], group=module.groups, has_bias=module.bias is not None)


def _transpose_padding(cell: nn.Conv2dTranspose) -> tuple:
    """torch's symmetric padding per axis of a transposed convolution."""
    if cell.pad_mode == "same":
        if any(cell.output_padding):
            raise Untranslatable("output_padding with pad_mode='same' is not translated")
        totals = [max(d * (k - 1) + 1 - s, 0) for k, s, d in zip(cell.kernel_size, cell.stride, cell.dilation)]
        if any(t % 2 for t in totals):  # torch can trim more at the end only through output_padding, which adds instead
            raise Untranslatable(f"pad_mode='same' trims {totals} rows and columns, an odd number, which torch.nn.ConvTranspose2d "
                                 "cannot split unevenly; use pad_mode='pad'")
        return tuple(t // 2 for t in totals)
    return _symmetric(tuple(cell.padding), "transposed convolution")


def _conv_transpose_to_torch(cell: nn.Conv2dTranspose, translate: Translate) -> torch.nn.Module:
    """ConvTranspose2d, or ConvTranspose3d for a Conv3dTranspose."""
    torch_type = torch.nn.ConvTranspose3d if cell.rank == 3 else torch.nn.ConvTranspose2d
    return torch_type(cell.in_channels, cell.out_channels, cell.kernel_size, stride=cell.stride, padding=_transpose_padding(cell),
                                    output_padding=cell.output_padding, groups=cell.group, bias=cell.has_bias, dilation=cell.dilation)


def _conv_transpose_to_funcad(module: torch.nn.ConvTranspose2d, translate: Translate) -> Cell:
    """Conv2dTranspose, or Conv3dTranspose for a ConvTranspose3d (keywords: the two orders differ)."""
    if module.padding_mode != "zeros":
        raise Untranslatable(f"padding_mode {module.padding_mode!r} has no funcad counterpart (only 'zeros')")
    pads = tuple(p for p in module.padding for _ in range(2))
    funcad_type = nn.Conv3dTranspose if isinstance(module, torch.nn.ConvTranspose3d) else nn.Conv2dTranspose
    return funcad_type(module.in_channels, module.out_channels, module.kernel_size, stride=module.stride,
                              pad_mode="pad" if any(pads) else "valid", padding=pads if any(pads) else 0,
                              output_padding=module.output_padding, dilation=module.dilation, group=module.groups,
                              has_bias=module.bias is not None)


# -- normalisation ---------------------------------------------------------------------------------------------------

def _batch_norm_to_torch(torch_type: type, fixed_type: type) -> Callable:
    """The rule's builder; ``use_batch_statistics`` True or False (torch follows train()/eval() only) takes ``fixed_type``."""
    def build(cell, translate: Translate) -> torch.nn.Module:
        options = dict(eps=cell.eps, momentum=1.0 - cell.momentum, affine=cell.affine)
        if cell.use_batch_statistics is not None:
            return fixed_type(cell.num_features, use_batch_statistics=cell.use_batch_statistics, **options)
        return torch_type(cell.num_features, **options)
    return build


def _batch_norm_to_funcad(funcad_type: type) -> Callable:
    def build(module, translate: Translate) -> Cell:
        if module.momentum is None:
            raise Untranslatable("a cumulative moving average (momentum=None) has no funcad counterpart")
        if not module.track_running_stats:  # (to_funcad traces its forward instead: batch statistics in both modes)
            raise Untranslatable("track_running_stats=False has no layer counterpart")
        return funcad_type(module.num_features, eps=module.eps, momentum=1.0 - module.momentum, affine=module.affine,
                           use_batch_statistics=getattr(module, "use_batch_statistics", None))
    return build


def _batch_norm_params(cell) -> dict[str, str | None]:
    names = dict(cell.torch_parameter_names())
    if not cell.affine:
        names.update(gamma=None, beta=None)
    return names


def _instance_norm(funcad_type: type, torch_type: type) -> LayerRule:
    def to_funcad(module, translate: Translate) -> Cell:
        if module.track_running_stats:
            raise Untranslatable(f"track_running_stats=True has no funcad counterpart (funcad's {funcad_type.__name__} keeps no statistics)")
        return funcad_type(module.num_features, module.eps, module.momentum, module.affine)
    return LayerRule(funcad_type, torch_type, lambda cell, translate: torch_type(cell.num_features, cell.eps, cell.momentum, cell.affine),
                     to_funcad)


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


def _pool_to_torch(torch_type: type, **extra: Callable) -> Callable:
    """A pool's torch twin; a 1-D pool keeps its geometry as the second of (1, k) pairs, its padding as (0, 0, left, right)."""
    def build(cell, translate: Translate) -> torch.nn.Module:
        if cell.pad_mode == "same":
            raise Untranslatable("pad_mode='same' pads by an amount that depends on the input size, which torch's pools cannot express; "
                                 "use 'valid' or 'pad'")
        one_d = cell.rank == 1
        padding = _symmetric(cell.padding[2:] if one_d else cell.padding, "pool")
        geometry = [(v[1],) if one_d else v for v in (cell.kernel_size, cell.stride)]
        return torch_type(*geometry, padding, ceil_mode=cell.ceil_mode, **{k: f(cell) for k, f in extra.items()})
    return build


def _pool_to_funcad(funcad_type: type) -> Callable:
    def build(module, translate: Translate) -> Cell:
        rank = funcad_type.rank
        if getattr(module, "divisor_override", None) is not None and rank < 3:
            raise Untranslatable("divisor_override has no funcad counterpart")
        one_d = rank == 1
        size = (lambda v: v if isinstance(v, int) else v[0]) if one_d else torch.nn.modules.utils._ntuple(rank)
        kernel, stride, pad = size(module.kernel_size), size(module.stride or module.kernel_size), size(module.padding)
        pads = (pad,) * 2 if one_d else tuple(p for p in pad for _ in range(2))
        if hasattr(module, "count_include_pad"):
            extra = {"count_include_pad": module.count_include_pad, **({"divisor_override": module.divisor_override} if rank == 3 else {})}
        else:
            extra = {"return_indices": module.return_indices, "dilation": size(module.dilation)}
        return funcad_type(kernel, stride, "pad" if any(pads) else "valid", pads if any(pads) else 0, ceil_mode=module.ceil_mode, **extra)
    return build


MAX_POOL_OPTIONS: dict[str, Callable] = {"return_indices": lambda cell: cell.return_indices,
                                         "dilation": lambda cell: cell.dilation[1] if cell.rank == 1 else cell.dilation}
"""A max pool's torch options beyond its geometry (a 1-D pool's dilation is the second of its (1, d) pair)."""


def _include_pad(cell) -> bool:
    return cell.count_include_pad and cell.pad_mode == "pad"


def _upsample_to_torch(cell, translate: Translate) -> torch.nn.Module:
    if cell.recompute_scale_factor:
        raise Untranslatable("recompute_scale_factor=True is not translated")
    return torch.nn.Upsample(cell.size, cell.scale_factor, cell.mode, None if cell.mode == "nearest" else cell.align_corners)


def _upsample_to_funcad(module: torch.nn.Upsample, translate: Translate) -> Cell:
    """funcad's Upsample; a mode it lacks (bicubic) is left to the traced forward, whose ``F.interpolate`` translates."""
    if module.recompute_scale_factor:
        raise Untranslatable("recompute_scale_factor=True is not translated")
    try:
        return nn.Upsample(module.size, module.scale_factor, module.mode, module.align_corners)
    except ValueError as exc:
        raise Untranslatable(str(exc)) from None


def _softmax_to_funcad(funcad_type: type) -> Callable:
    def build(module, translate: Translate) -> Cell:
        if module.dim is None:
            raise Untranslatable("dim=None (torch's implicit axis) has no funcad counterpart; give dim")
        return funcad_type(axis=module.dim)
    return build


def _configured(funcad_type: type, torch_type: type, **names: str) -> LayerRule:
    """A layer without parameters whose options differ only in name: ``names`` maps each funcad attribute (and
    constructor keyword) to torch's."""
    return LayerRule(funcad_type, torch_type, lambda cell, translate: torch_type(**{t: getattr(cell, f) for f, t in names.items()}),
                     lambda module, translate: funcad_type(**{f: getattr(module, t) for f, t in names.items()}))


def _same(funcad_type: type, torch_type: type) -> LayerRule:
    """A layer without configuration or parameters on either side (ReLU, Sigmoid, ...)."""
    return LayerRule(funcad_type, torch_type, lambda cell, translate: torch_type(), lambda module, translate: funcad_type())


BASIC_RULES: list[LayerRule] = [
    LayerRule(nn.Dense, torch.nn.Linear, _dense_to_torch, _linear_to_funcad, _dense_params),
    LayerRule(nn.BiDense, torch.nn.Bilinear,
              lambda cell, translate: torch.nn.Bilinear(cell.in1_channels, cell.in2_channels, cell.out_channels, bias=cell.has_bias),
              lambda module, translate: nn.BiDense(module.in1_features, module.in2_features, module.out_features,
                                                   has_bias=module.bias is not None)),
    LayerRule(nn.Conv2d, torch.nn.Conv2d, _conv_to_torch(torch.nn.Conv2d, Conv2dSame), _conv_to_funcad(nn.Conv2d),
              torch_aliases=(Conv2dSame,)),
    LayerRule(nn.Conv1d, torch.nn.Conv1d, _conv_to_torch(torch.nn.Conv1d, Conv1dSame), _conv_to_funcad(nn.Conv1d),
              torch_aliases=(Conv1dSame,)),
    LayerRule(nn.Conv2dTranspose, torch.nn.ConvTranspose2d, _conv_transpose_to_torch, _conv_transpose_to_funcad),
    LayerRule(nn.Conv1dTranspose, torch.nn.ConvTranspose1d, _conv_transpose1d_to_torch, _conv_transpose1d_to_funcad),
    LayerRule(nn.BatchNorm1d, torch.nn.BatchNorm1d, _batch_norm_to_torch(torch.nn.BatchNorm1d, BatchNorm1dFixed),
              _batch_norm_to_funcad(nn.BatchNorm1d), _batch_norm_params, torch_aliases=(BatchNorm1dFixed,)),
    LayerRule(nn.BatchNorm2d, torch.nn.BatchNorm2d, _batch_norm_to_torch(torch.nn.BatchNorm2d, BatchNorm2dFixed),
              _batch_norm_to_funcad(nn.BatchNorm2d), _batch_norm_params, torch_aliases=(BatchNorm2dFixed,)),
    LayerRule(nn.GroupNorm, torch.nn.GroupNorm,
              lambda cell, translate: torch.nn.GroupNorm(cell.num_groups, cell.num_channels, cell.eps, cell.affine),
              lambda module, translate: nn.GroupNorm(module.num_groups, module.num_channels, module.eps, module.affine)),
    *(_instance_norm(getattr(nn, f"InstanceNorm{d}d"), getattr(torch.nn, f"InstanceNorm{d}d")) for d in (1, 2, 3)),
    LayerRule(nn.LayerNorm, torch.nn.LayerNorm, lambda cell, translate: torch.nn.LayerNorm(cell.normalized_shape, eps=cell.epsilon),
              _layer_norm_to_funcad),
    LayerRule(nn.Embedding, torch.nn.Embedding,
              lambda cell, translate: torch.nn.Embedding(cell.vocab_size, cell.embedding_size, padding_idx=cell.padding_idx),
              _embedding_to_funcad),
    LayerRule(nn.MaxPool2d, torch.nn.MaxPool2d, _pool_to_torch(torch.nn.MaxPool2d, **MAX_POOL_OPTIONS), _pool_to_funcad(nn.MaxPool2d)),
    LayerRule(nn.MaxPool1d, torch.nn.MaxPool1d, _pool_to_torch(torch.nn.MaxPool1d, **MAX_POOL_OPTIONS), _pool_to_funcad(nn.MaxPool1d)),
    LayerRule(nn.AvgPool2d, torch.nn.AvgPool2d, _pool_to_torch(torch.nn.AvgPool2d, count_include_pad=_include_pad), _pool_to_funcad(nn.AvgPool2d)),
    LayerRule(nn.AvgPool1d, torch.nn.AvgPool1d, _pool_to_torch(torch.nn.AvgPool1d, count_include_pad=_include_pad), _pool_to_funcad(nn.AvgPool1d)),
    LayerRule(nn.AdaptiveMaxPool2d, torch.nn.AdaptiveMaxPool2d, lambda cell, translate: torch.nn.AdaptiveMaxPool2d(cell.output_size),
              lambda module, translate: nn.AdaptiveMaxPool2d(module.output_size)),
    LayerRule(nn.Upsample, torch.nn.Upsample, _upsample_to_torch, _upsample_to_funcad),
    LayerRule(nn.AdaptiveAvgPool2d, torch.nn.AdaptiveAvgPool2d, lambda cell, translate: torch.nn.AdaptiveAvgPool2d(cell.output_size),
              lambda module, translate: nn.AdaptiveAvgPool2d(module.output_size)),
    LayerRule(nn.Flatten, torch.nn.Flatten, lambda cell, translate: torch.nn.Flatten(cell.start_dim, cell.end_dim),
              lambda module, translate: nn.Flatten(module.start_dim, module.end_dim)),
    LayerRule(nn.Dropout, torch.nn.Dropout, lambda cell, translate: torch.nn.Dropout(cell.p), lambda module, translate: nn.Dropout(p=module.p)),
    _configured(nn.Dropout2d, torch.nn.Dropout2d, p="p"), _configured(nn.Dropout3d, torch.nn.Dropout3d, p="p"),
    _configured(nn.Dropout1d, torch.nn.Dropout1d, p="p"),
    _configured(nn.Unflatten, torch.nn.Unflatten, axis="dim", unflattened_size="unflattened_size"),
    _configured(nn.PixelShuffle, torch.nn.PixelShuffle, upscale_factor="upscale_factor"),
    _configured(nn.PixelUnshuffle, torch.nn.PixelUnshuffle, downscale_factor="downscale_factor"),
    _configured(nn.AdaptiveAvgPool1d, torch.nn.AdaptiveAvgPool1d, output_size="output_size"),
    _configured(nn.AdaptiveMaxPool1d, torch.nn.AdaptiveMaxPool1d, output_size="output_size"),
    _configured(nn.ZeroPad2d, torch.nn.ZeroPad2d, padding="padding"),
    *(_configured(getattr(nn, name), getattr(torch.nn, name), padding="padding", value="value")
      for name in ("ConstantPad1d", "ConstantPad2d", "ConstantPad3d")),
    *(_configured(getattr(nn, name), getattr(torch.nn, name), padding="padding")
      for name in ("ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d")),
    LayerRule(nn.PReLU, torch.nn.PReLU, lambda cell, translate: torch.nn.PReLU(cell.channel),
              lambda module, translate: nn.PReLU(module.num_parameters)),
    LayerRule(nn.GELU, torch.nn.GELU, lambda cell, translate: torch.nn.GELU("tanh" if cell.approximate else "none"),
              lambda module, translate: nn.GELU(approximate=module.approximate == "tanh")),
    _configured(nn.LeakyReLU, torch.nn.LeakyReLU, alpha="negative_slope"), _configured(nn.ELU, torch.nn.ELU, alpha="alpha"),
    _configured(nn.CELU, torch.nn.CELU, alpha="alpha"), _configured(nn.HShrink, torch.nn.Hardshrink, lambd="lambd"),
    _configured(nn.SoftShrink, torch.nn.Softshrink, lambd="lambd"), _configured(nn.Hardtanh, torch.nn.Hardtanh, min_val="min_val", max_val="max_val"),
    _configured(nn.Softplus, torch.nn.Softplus, beta="beta", threshold="threshold"),
    _configured(nn.Threshold, torch.nn.Threshold, threshold="threshold", value="value"), _configured(nn.GLU, torch.nn.GLU, axis="dim"),
    LayerRule(nn.Softmax, torch.nn.Softmax, lambda cell, translate: torch.nn.Softmax(cell.axis), _softmax_to_funcad(nn.Softmax)),
    LayerRule(nn.LogSoftmax, torch.nn.LogSoftmax, lambda cell, translate: torch.nn.LogSoftmax(cell.axis), _softmax_to_funcad(nn.LogSoftmax)),
    LayerRule(nn.Softmin, torch.nn.Softmin, lambda cell, translate: torch.nn.Softmin(cell.axis), _softmax_to_funcad(nn.Softmin)),
    _same(nn.ReLU, torch.nn.ReLU), _same(nn.Sigmoid, torch.nn.Sigmoid), _same(nn.Tanh, torch.nn.Tanh), _same(nn.SiLU, torch.nn.SiLU),
    _same(nn.Identity, torch.nn.Identity), _same(nn.ReLU6, torch.nn.ReLU6), _same(nn.Hardswish, torch.nn.Hardswish),
    _same(nn.Mish, torch.nn.Mish), _same(nn.HSigmoid, torch.nn.Hardsigmoid), _same(nn.SeLU, torch.nn.SELU),
    _same(nn.LogSigmoid, torch.nn.LogSigmoid), _same(nn.Softsign, torch.nn.Softsign), _same(nn.Tanhshrink, torch.nn.Tanhshrink),
]
