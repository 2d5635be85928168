"""Batch and layer normalisation: layer normalisation and BatchNorm's inference form composed from funcad ops (so every
derivative order is exact), BatchNorm with batch statistics through its own primitives (``funcad.ops.batch_norm_train``)."""

from __future__ import annotations

import functools

import numpy as np

from funcad.core.dtypes import LOW_PRECISION, is_floating
from funcad.core.tensor import Parameter
from funcad.ops.batch_norm_train import batch_norm_training, channel_axes, normalize
from funcad.ops.math import rsqrt
from funcad.ops.shape import _shape_of, cast, reshape, stop_gradient
from funcad.ops.state import assign


def _float32_inside(norm):
    """``norm`` on 16-bit floats computed in float32 and its results rounded back once, as torch's CPU normalisation
    kernels do (statistics, normalisation and their gradients; each op rounded to 16 bits loses several more bits).
    The output comes back in the input's dtype; further results (batch_norm's running statistics) in the dtype of the
    positional argument in their place (float32 ones stay float32, as under amp level O1)."""

    def widen(value, dtype):
        return cast(value, dtype) if hasattr(value, "dtype") and is_floating(value.dtype) else value

    @functools.wraps(norm)
    def wrapper(x, *args, **kwargs):
        low = np.dtype(x.dtype)
        if low not in LOW_PRECISION:
            return norm(x, *args, **kwargs)
        out = norm(widen(x, np.float32), *(widen(a, np.float32) for a in args), **{k: widen(v, np.float32) for k, v in kwargs.items()})
        if not isinstance(out, tuple):
            return widen(out, low)
        return (widen(out[0], low), *(widen(o, np.dtype(a.dtype)) if hasattr(a, "dtype") else o for o, a in zip(out[1:], args)))

    return wrapper



def batch_norm(x, running_mean, running_var, weight=None, bias=None, training: bool = False, momentum: float = 0.1, eps: float = 1e-5):
    """MindSpore's ``ops.batch_norm``: the normalised input alone. While training, the running statistics (Parameters)
    are updated in place, ``new = (1 - momentum) * old + momentum * batch_stat`` (unbiased batch variance); see
    ``batch_norm_with_stats`` for the rest."""
    updates = training and running_mean is not None and running_var is not None
    if updates and not (isinstance(running_mean, Parameter) and isinstance(running_var, Parameter)):
        raise TypeError(f"funcad.ops.batch_norm: training updates running_mean and running_var in place, so they must be Parameters, "
                        f"got {type(running_mean).__name__} and {type(running_var).__name__}")
    y, new_mean, new_var = batch_norm_with_stats(x, running_mean, running_var, weight, bias, training, momentum, eps)
    if updates:
        assign(running_mean, new_mean)
        assign(running_var, new_var)
    return y


@_float32_inside
def batch_norm_with_stats(x, running_mean, running_var, weight=None, bias=None, training: bool = False, momentum: float = 0.1,
                          eps: float = 1e-5):
    """Normalise each channel of an (N, C, *) input ((N, C), (N, C, L), (N, C, H, W), ...); returns ``(y, new_running_mean, new_running_var)``.

    Training normalises with the batch statistics (biased variance) and updates the running ones in torch's
    convention: ``new = (1 - momentum) * old + momentum * batch_stat`` with the *unbiased* batch variance
    (MindSpore's BatchNorm momentum is ``1 - momentum`` of this). Eval normalises with the running statistics,
    which come back unchanged. The new running statistics are constants (no gradient flows through them);
    they are None where the running statistics were None.
    """
    shape = _shape_of(x)
    if len(shape) < 2:
        raise ValueError(f"funcad.ops.batch_norm: expected an (N, C, *) input, got shape {shape}")
    c = shape[1]
    for name, value in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if value is not None and _shape_of(value) != (c,):
            raise ValueError(f"funcad.ops.batch_norm: {name} shape {_shape_of(value)} does not match {c} channels of input {shape}")
    per_channel = (1, c) + (1,) * (len(shape) - 2)
    if training or running_mean is None or running_var is None:
        count = int(np.prod([shape[a] for a in channel_axes(len(shape))]))
        if count < 2 and training:
            raise ValueError(f"funcad.ops.batch_norm: training needs more than one value per channel, got input shape {shape}")
        y, stats = batch_norm_training(x, weight, bias, eps)
        if not (training and running_mean is not None and running_var is not None):
            return y, running_mean, running_var
        m = float(momentum)
        new_mean = running_mean * (1.0 - m) + stats[0] * m
        new_var = running_var * (1.0 - m) + stats[1] * (m * count / (count - 1))
        return y, stop_gradient(new_mean), stop_gradient(new_var)
    y = (x - reshape(running_mean, per_channel)) * rsqrt(reshape(running_var, per_channel) + eps)
    if weight is not None:
        y = y * reshape(weight, per_channel)
    if bias is not None:
        y = y + reshape(bias, per_channel)
    return y, running_mean, running_var


@_float32_inside
def layer_norm(x, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """Normalise over the trailing ``normalized_shape`` axes (biased variance), then scale and shift elementwise."""
    shape = _shape_of(x)
    norm_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(norm_shape)
    if k == 0 or shape[len(shape) - k :] != norm_shape:
        raise ValueError(f"funcad.ops.layer_norm: input shape {shape} does not end with normalized_shape {norm_shape}")
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and _shape_of(value) != norm_shape:
            raise ValueError(f"funcad.ops.layer_norm: {name} shape {_shape_of(value)} does not match normalized_shape {norm_shape}")
    y, _, _ = normalize(x, tuple(range(len(shape) - k, len(shape))), eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-5):  # noqa: A002 - torch's and MindSpore's name
    """Normalise each (sample, group of channels) of an (N, C, *) input over its channels and positions (biased variance),
    then scale and shift per channel; ``num_groups == C`` is instance normalisation."""
    shape = _shape_of(input)
    if len(shape) < 2 or num_groups < 1 or shape[1] % num_groups:
        raise ValueError(f"funcad.ops.group_norm: input shape {shape} needs a channel axis 1 divisible by num_groups={num_groups}")
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and _shape_of(value) != (shape[1],):
            raise ValueError(f"funcad.ops.group_norm: {name} shape {_shape_of(value)} does not match the {shape[1]} channels of {shape}")
    size = int(np.prod(shape[1:])) // num_groups
    y = reshape(layer_norm(reshape(input, (shape[0], num_groups, size)), (size,), None, None, eps=eps), shape)
    per_channel = (1, shape[1]) + (1,) * (len(shape) - 2)
    if weight is not None:
        y = y * reshape(weight, per_channel)
    if bias is not None:
        y = y + reshape(bias, per_channel)
    return y
