"""MindSpore's primitive classes for network layers and losses: ops.Conv2D, ops.MaxPool, ops.AvgPool, ops.Pad, ops.L2Loss,
ops.SigmoidCrossEntropyWithLogits, ops.SoftmaxCrossEntropyWithLogits, ops.SparseSoftmaxCrossEntropyWithLogits,
ops.LayerNorm, ops.L2Normalize, ops.Dropout and ops.Elu.

Padding modes are read as the nn layers read them (the helpers of funcad.nn.layer.conv, imported when first used:
funcad.nn is built on funcad.ops)."""

from __future__ import annotations

import numpy as np

from funcad.core.seed import random_key
from funcad.core.tensor import Tensor
from funcad.ops import activation, conv, math, nn, padding, pool, random, reduce, shape
from funcad.ops.batch_norm_train import normalize
from funcad.ops.cross_entropy import cross_entropy
from funcad.ops.math import multiply, negative
from funcad.ops.primitive_classes import PrimitiveClass


def _pad_helpers():
    from funcad.nn.layer.conv import as_pair, check_pad_mode, same_padding

    return as_pair, check_pad_mode, same_padding


def _require_nchw(owner: str, data_format: str) -> None:
    """funcad's convolutions and pools lay images out as NCHW only."""
    if data_format != "NCHW":
        raise NotImplementedError(f"{owner}: data_format {data_format!r} is not supported (NCHW is)")


class Conv2D(PrimitiveClass):
    """``ops.Conv2D(out_channel, kernel_size, mode=1, pad_mode="valid", pad=0, stride=1, dilation=1, group=1)(x, weight)``."""

    def __init__(self, out_channel: int, kernel_size, mode: int = 1, pad_mode: str = "valid", pad=0, stride=1, dilation=1, group: int = 1,
                 data_format: str = "NCHW"):
        as_pair, check_pad_mode, _ = _pad_helpers()
        owner = "funcad.ops.Conv2D"
        _require_nchw(owner, data_format)
        self.out_channel, self.mode, self.pad_mode, self.group = out_channel, mode, pad_mode.lower(), group
        self.kernel_size = as_pair(kernel_size, owner, "kernel_size")
        self.pad = check_pad_mode(owner, pad_mode, pad)
        self.stride, self.dilation = as_pair(stride, owner, "stride"), as_pair(dilation, owner, "dilation")

    def __call__(self, x, weight):
        padding = self.pad
        if self.pad_mode == "same":
            padding = _pad_helpers()[2](tuple(x.shape[2:]), self.kernel_size, self.stride, self.dilation)
        return conv.conv2d(x, weight, None, stride=self.stride, padding=padding, dilation=self.dilation, groups=self.group)


class _Pool(PrimitiveClass):
    def __init__(self, kernel_size=1, strides=1, pad_mode: str = "valid", data_format: str = "NCHW"):
        as_pair, check_pad_mode, _ = _pad_helpers()
        owner = f"funcad.ops.{type(self).__name__}"
        _require_nchw(owner, data_format)
        if pad_mode.lower() not in ("same", "valid"):
            raise ValueError(f"{owner}: pad_mode must be 'same' or 'valid', got {pad_mode!r}")
        check_pad_mode(owner, pad_mode, 0)
        self.kernel_size, self.strides = as_pair(kernel_size, owner, "kernel_size"), as_pair(strides, owner, "strides")
        self.pad_mode = pad_mode.lower()

    def _padding(self, x) -> tuple:
        if self.pad_mode == "same":
            return _pad_helpers()[2](tuple(x.shape[2:]), self.kernel_size, self.strides)
        return (0, 0, 0, 0)


class MaxPool(_Pool):
    """``ops.MaxPool(kernel_size=1, strides=1, pad_mode="valid")(x)``."""

    def __call__(self, x):
        return pool.max_pool2d(x, self.kernel_size, self.strides, self._padding(x))


class AvgPool(_Pool):
    """``ops.AvgPool(kernel_size=1, strides=1, pad_mode="valid")(x)``; in 'same' mode padding is left out of the mean."""

    def __call__(self, x):
        return pool.avg_pool2d(x, self.kernel_size, self.strides, self._padding(x), count_include_pad=False)


class L2Loss(PrimitiveClass):
    """``ops.L2Loss()(x)``: sum(x ** 2) / 2."""

    def __call__(self, input_x):
        return multiply(reduce.sum(multiply(input_x, input_x)), 0.5)


class SigmoidCrossEntropyWithLogits(PrimitiveClass):
    """``ops.SigmoidCrossEntropyWithLogits()(logits, label)``: the elementwise loss, not reduced."""

    def __call__(self, logits, label):
        return nn.binary_cross_entropy_with_logits(logits, label, reduction="none")


class SoftmaxCrossEntropyWithLogits(PrimitiveClass):
    """``ops.SoftmaxCrossEntropyWithLogits()(logits, labels)`` with probability labels: (the loss of each sample,
    its gradient softmax(logits) - labels)."""

    def __call__(self, logits, labels):
        loss = negative(reduce.sum(multiply(labels, nn.log_softmax(logits, -1)), -1))
        return loss, nn.softmax(logits, -1) - labels


class Dropout(PrimitiveClass):
    """``ops.Dropout(keep_prob=0.5, Seed0=0, Seed1=0)(x)``: (output, mask), the mask of kept elements (1) in x's dtype,
    as on MindSpore's CPU and GPU. Nonzero seeds fix the draw; otherwise it comes from funcad's random key."""

    def __init__(self, keep_prob: float = 0.5, Seed0: int = 0, Seed1: int = 0):  # noqa: N803 - MindSpore's names
        if not 0.0 < keep_prob <= 1.0:
            raise ValueError(f"funcad.ops.Dropout: keep_prob must be in (0, 1], got {keep_prob}")
        self.keep_prob, self.Seed0, self.Seed1 = keep_prob, Seed0, Seed1

    def __call__(self, x):
        dtype = np.dtype(x.dtype)
        p = 1.0 - float(self.keep_prob)
        if self.Seed0 or self.Seed1:
            scaled = Tensor._wrap(random._scaled_keep_mask(np.random.default_rng([self.Seed0, self.Seed1]), tuple(x.shape), p, dtype))
        else:
            scaled = random._keyed_mask(random_key, shape=tuple(x.shape), p=p, dtype=dtype)
            random_key.set_data(random._next_key(random_key))
        return multiply(x, scaled), shape.cast(math.not_equal(scaled, 0), dtype)


class Elu(PrimitiveClass):
    """``ops.Elu(alpha=1.0)(x)``."""

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def __call__(self, input_x):
        return activation.elu(input_x, self.alpha)


class SparseSoftmaxCrossEntropyWithLogits(PrimitiveClass):
    """``ops.SparseSoftmaxCrossEntropyWithLogits(is_grad=False)(logits, labels)``: the mean cross-entropy of (N, C) logits
    against class indices, or with ``is_grad`` its gradient in the logits, (softmax(logits) - one_hot(labels)) / N."""

    def __init__(self, is_grad: bool = False):
        self.is_grad = bool(is_grad)

    def __call__(self, logits, labels):
        if not self.is_grad:
            return cross_entropy(logits, labels)
        n, classes = logits.shape
        hot = shape.one_hot(labels, classes, dtype=np.dtype(logits.dtype))
        return (nn.softmax(logits, -1) - hot) * (1.0 / n)


class LayerNorm(PrimitiveClass):
    """``ops.LayerNorm(begin_norm_axis=1, begin_params_axis=1, epsilon=1e-7)(x, gamma, beta)``: (output, mean, variance),
    normalising over the axes from ``begin_norm_axis`` on; ``gamma`` and ``beta`` are shaped as x's axes from
    ``begin_params_axis`` on. The statistics keep the normalised axes with size 1."""

    def __init__(self, begin_norm_axis: int = 1, begin_params_axis: int = 1, epsilon: float = 1e-7):
        self.begin_norm_axis, self.begin_params_axis, self.epsilon = begin_norm_axis, begin_params_axis, epsilon

    def __call__(self, input_x, gamma, beta):
        ndim = len(input_x.shape)
        start = self.begin_norm_axis % ndim
        params_shape = tuple(input_x.shape)[self.begin_params_axis % ndim:]
        for name, value in (("gamma", gamma), ("beta", beta)):
            if tuple(value.shape) != params_shape:
                raise ValueError(f"funcad.ops.LayerNorm: {name} of shape {tuple(value.shape)} must be x's axes from begin_params_axis "
                                 f"{self.begin_params_axis} on, {params_shape}")
        y, mu, var = normalize(input_x, tuple(range(start, ndim)), self.epsilon)
        return y * gamma + beta, mu, var


class L2Normalize(PrimitiveClass):
    """``ops.L2Normalize(axis=0, epsilon=1e-4)(x)``: x / sqrt(max(sum(x ** 2 along axis), epsilon))."""

    def __init__(self, axis=0, epsilon: float = 1e-4):
        self.axis, self.epsilon = axis, epsilon

    def __call__(self, input_x):
        squares = reduce.sum(multiply(input_x, input_x), axis=self.axis, keepdims=True)
        return input_x * math.rsqrt(math.maximum(squares, self.epsilon))


class Pad(PrimitiveClass):
    """``ops.Pad(paddings)(x)``: zeros around each axis, ``paddings`` one (before, after) pair per axis."""

    def __init__(self, paddings):
        self.paddings = tuple(tuple(int(w) for w in pair) for pair in paddings)

    def __call__(self, input_x):
        if len(self.paddings) != len(input_x.shape):
            raise ValueError(f"funcad.ops.Pad: paddings {self.paddings} need one (before, after) pair per axis of shape {tuple(input_x.shape)}")
        return padding.pad(input_x, self.paddings)


LAYER_CLASS_NAMES = ("AvgPool", "Conv2D", "Dropout", "Elu", "L2Loss", "MaxPool", "SigmoidCrossEntropyWithLogits", "SoftmaxCrossEntropyWithLogits",
                     "SparseSoftmaxCrossEntropyWithLogits", "LayerNorm", "L2Normalize", "Pad")
