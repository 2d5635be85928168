"""MindSpore's primitive classes for network layers and losses: ops.Conv2D, ops.MaxPool, ops.AvgPool, ops.Pad, ops.L2Loss,
ops.SigmoidCrossEntropyWithLogits, ops.SoftmaxCrossEntropyWithLogits, ops.SparseSoftmaxCrossEntropyWithLogits,
ops.LayerNorm, ops.L2Normalize, ops.Dropout, ops.Dropout2D, ops.Dropout3D, ops.Elu and ops.CTCLoss (funcad.ops.ctc).

Padding modes are read as the nn layers read them (the helpers of funcad.nn.layer.conv, imported when first used:
funcad.nn is built on funcad.ops)."""

from __future__ import annotations

import numpy as np

from funcad.core.seed import random_key
from funcad.core.tensor import Tensor
from funcad.ops import activation, conv, linalg, math, nn, padding, pool, random, reduce, resize, shape, volume
from funcad.ops.batch_norm_train import normalize
from funcad.ops.conv_geometry import pad_mode_padding
from funcad.ops.cross_entropy import cross_entropy
from funcad.ops.ctc import CTCLoss as CTCLoss  # listed in LAYER_CLASS_NAMES
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


def _require_ncdhw(owner: str, data_format: str) -> None:
    """funcad's 3-D convolutions and pools lay volumes out as NCDHW only."""
    if data_format != "NCDHW":
        raise NotImplementedError(f"{owner}: data_format {data_format!r} is not supported (NCDHW is)")


class _Volume(PrimitiveClass):
    """MindSpore's 3-D window arguments: kernel and strides (an int or three), ``pad_mode`` 'valid', 'same' (the
    padding that keeps ceil(size / stride) outputs, an odd total's extra at the end) or 'pad' (``pad``: an int or
    (head, tail, top, bottom, left, right))."""

    def _window(self, kernel_size, strides, pad_mode: str, pad, data_format: str, dilation=1) -> None:
        as_tuple, check_pad_mode = _volume_helpers()
        owner = f"funcad.ops.{type(self).__name__}"
        _require_ncdhw(owner, data_format)
        self.kernel_size, self.strides = as_tuple(kernel_size, 3, owner, "kernel_size"), as_tuple(strides, 3, owner, "strides")
        self.dilation = as_tuple(dilation, 3, owner, "dilation")
        self.pad_list = check_pad_mode(owner, pad_mode, pad, 3)
        self.pad_mode, self.data_format = pad_mode.lower(), data_format

    def _padding(self, x) -> tuple:
        return pad_mode_padding(type(self).__name__, self.pad_mode, self.pad_list if self.pad_mode == "pad" else 0, tuple(x.shape[2:]),
                                self.kernel_size, self.strides, self.dilation)


def _volume_helpers():
    from funcad.nn.layer.conv import as_tuple, check_pad_mode

    return as_tuple, check_pad_mode


class MaxPool3D(_Volume):
    """``ops.MaxPool3D(kernel_size=1, strides=1, pad_mode="VALID", pad_list=0, ceil_mode=None, data_format="NCDHW")(x)``:
    ``ops.max_pool3d`` with MindSpore's padding modes (padding counts as -inf)."""

    def __init__(self, kernel_size=1, strides=1, pad_mode: str = "VALID", pad_list=0, ceil_mode=None, data_format: str = "NCDHW"):
        self._window(kernel_size, strides, pad_mode, pad_list, data_format)
        self.ceil_mode = bool(ceil_mode)

    def __call__(self, x):
        return volume.max_pool3d(x, self.kernel_size, self.strides, self._padding(x), ceil_mode=self.ceil_mode)


class AvgPool3D(_Volume):
    """``ops.AvgPool3D(kernel_size=1, strides=1, pad_mode="valid", pad=0, ceil_mode=False, count_include_pad=True,
    divisor_override=0, data_format="NCDHW")(x)``: ``ops.avg_pool3d`` with MindSpore's padding modes."""

    def __init__(self, kernel_size=1, strides=1, pad_mode: str = "valid", pad=0, ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int = 0, data_format: str = "NCDHW"):
        self._window(kernel_size, strides, pad_mode, pad, data_format)
        self.ceil_mode, self.count_include_pad, self.divisor_override = bool(ceil_mode), bool(count_include_pad), int(divisor_override)

    def __call__(self, x):
        return volume.avg_pool3d(x, self.kernel_size, self.strides, self._padding(x), self.ceil_mode, self.count_include_pad,
                                 self.divisor_override)


class Conv3D(_Volume):
    """``ops.Conv3D(out_channel, kernel_size, mode=1, pad_mode="valid", pad=0, stride=1, dilation=1, group=1,
    data_format="NCDHW")(x, weight)``: ``ops.conv3d`` with MindSpore's padding modes."""

    def __init__(self, out_channel: int, kernel_size, mode: int = 1, pad_mode: str = "valid", pad=0, stride=1, dilation=1, group: int = 1,
                 data_format: str = "NCDHW"):
        self._window(kernel_size, stride, pad_mode, pad, data_format, dilation)
        self.out_channel, self.mode, self.group = out_channel, mode, group

    def __call__(self, x, weight):
        return volume.conv3d(x, weight, None, self.strides, self._padding(x), self.dilation, self.group)


class ResizeBilinearV2(PrimitiveClass):
    """``ops.ResizeBilinearV2(align_corners=False, half_pixel_centers=False)(x, size)`` on (N, C, H, W): output
    position i reads the input at i * (in - 1) / (out - 1) with ``align_corners``, (i + 0.5) * in / out - 0.5 with
    ``half_pixel_centers`` (torch's align_corners=False), else i * in / out (TensorFlow's legacy rule, MindSpore's
    default), blending the two neighbours linearly."""

    def __init__(self, align_corners: bool = False, half_pixel_centers: bool = False):
        if align_corners and half_pixel_centers:
            raise ValueError("funcad.ops.ResizeBilinearV2: align_corners and half_pixel_centers cannot both be True")
        self.align_corners, self.half_pixel_centers = bool(align_corners), bool(half_pixel_centers)

    def __call__(self, x, size):
        xs = tuple(x.shape)
        size = tuple(int(v) for v in (size.asnumpy() if hasattr(size, "asnumpy") else size))
        if len(xs) != 4 or len(size) != 2 or min(size) < 1:
            raise ValueError(f"funcad.ops.ResizeBilinearV2: expected a 4-D (N, C, H, W) input and two positive sizes, got {xs} and {size}")
        out = x
        for axis, n_in, n_out in ((2, xs[2], size[0]), (3, xs[3], size[1])):
            dst = np.arange(n_out, dtype=np.float64)
            if self.align_corners:
                src = dst * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
            elif self.half_pixel_centers:
                src = (dst + 0.5) * (n_in / n_out) - 0.5
            else:
                src = dst * (n_in / n_out)
            out = resize.linear_blend(out, axis, n_in, src)
        return out


class Dense(PrimitiveClass):
    """``ops.Dense()(x, w, b=None)``: x @ w.T + b with w laid out (out, in), as ``ops.dense``; a 1-D w gives the
    product of x's last axis with it (a 1-D x and w: their dot product)."""

    def __call__(self, x, w, b=None):
        if len(w.shape) == 1:
            out = linalg.matmul(x, w)
            return out if b is None else out + b
        return linalg.dense(x, w, b)


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

    _owner = "funcad.ops.Dropout"

    def __init__(self, keep_prob: float = 0.5, Seed0: int = 0, Seed1: int = 0):  # noqa: N803 - MindSpore's names
        if not 0.0 < keep_prob <= 1.0:
            raise ValueError(f"{self._owner}: keep_prob must be in (0, 1], got {keep_prob}")
        self.keep_prob, self.Seed0, self.Seed1 = keep_prob, Seed0, Seed1

    def _scaled_mask(self, mask_shape: tuple, dtype: np.dtype):
        """Kept positions hold 1 / keep_prob, dropped ones 0: drawn from the seeds if given, else funcad's key."""
        p = 1.0 - float(self.keep_prob)
        if self.Seed0 or self.Seed1:
            return Tensor._wrap(random._scaled_keep_mask(np.random.default_rng([self.Seed0, self.Seed1]), mask_shape, p, dtype))
        scaled = random._keyed_mask(random_key, shape=mask_shape, p=p, dtype=dtype)
        random_key.set_data(random._next_key(random_key))
        return scaled

    def __call__(self, x):
        dtype = np.dtype(x.dtype)
        scaled = self._scaled_mask(tuple(x.shape), dtype)
        return multiply(x, scaled), shape.cast(math.not_equal(scaled, 0), dtype)


class Dropout2D(Dropout):
    """``ops.Dropout2D(keep_prob=0.5)(x)`` on (N, C, H, W): whole channels kept with probability ``keep_prob`` and
    scaled by 1 / keep_prob; returns (output, mask), the mask a bool Tensor of x's shape, as MindSpore's."""

    _owner = "funcad.ops.Dropout2D"
    _spatial = 2

    def __init__(self, keep_prob: float = 0.5):
        super().__init__(keep_prob)

    def __call__(self, x):
        if len(x.shape) != self._spatial + 2:
            raise ValueError(f"{self._owner}: expected a {self._spatial + 2}-D input (N, C, spatial...), got shape {tuple(x.shape)}")
        scaled = self._scaled_mask(tuple(x.shape[:2]) + (1,) * self._spatial, np.dtype(x.dtype))
        return multiply(x, scaled), shape.broadcast_to(math.not_equal(scaled, 0), tuple(x.shape))


class Dropout3D(Dropout2D):
    """``ops.Dropout3D(keep_prob=0.5)(x)`` on (N, C, D, H, W): Dropout2D's rule with three spatial axes."""

    _owner = "funcad.ops.Dropout3D"
    _spatial = 3


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


LAYER_CLASS_NAMES = ("AvgPool", "Conv2D", "Dropout", "Dropout2D", "Dropout3D", "Elu", "L2Loss", "MaxPool", "SigmoidCrossEntropyWithLogits",
                     "SoftmaxCrossEntropyWithLogits", "SparseSoftmaxCrossEntropyWithLogits", "LayerNorm", "L2Normalize", "Pad", "CTCLoss",
                     "MaxPool3D", "AvgPool3D",
                     "Conv3D", "ResizeBilinearV2", "Dense")
