"""interpolate: resize the spatial axes of (N, C, ...) inputs, MindSpore's (and torch's) nearest and linear modes.

Each spatial axis is resized on its own (the modes are separable): nearest gathers source elements, the linear
modes blend two gathered neighbours. Only indexing and arithmetic ops are used, so gradients need no new rules.
"""

from __future__ import annotations

import numpy as np

from funcad.core.base_ops import shape_of as _shape_of
from funcad.core.tensor import Tensor
from funcad.ops.math import add, multiply
from funcad.ops.pool import adaptive_avg_pool2d
from funcad.ops.shape import getitem

_LINEAR = {"linear": 1, "bilinear": 2, "trilinear": 3, "bicubic": 2}  # the modes blending neighbours: spatial axes each needs
_CUBIC_A = -0.75  # the cubic convolution kernel's parameter, as torch's and MindSpore's bicubic
_MODES = ("nearest", "nearest-exact", "area", *_LINEAR)


def _output_sizes(spatial: tuple, size, scale_factor) -> tuple[tuple, tuple]:
    """The output sizes and, per axis, the scale that maps an output coordinate back to the input."""
    n = len(spatial)
    if (size is None) == (scale_factor is None):
        raise ValueError("funcad.ops.interpolate: give exactly one of size and scale_factor")
    if size is not None:
        out = (size,) * n if isinstance(size, int) else tuple(size)
        if len(out) != n:
            raise ValueError(f"funcad.ops.interpolate: size {size} must name {n} spatial sizes")
        return out, tuple(i / o for i, o in zip(spatial, out))
    factors = (scale_factor,) * n if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
    if len(factors) != n or any(f <= 0 for f in factors):
        raise ValueError(f"funcad.ops.interpolate: scale_factor {scale_factor} must give {n} positive factors")
    return tuple(int(np.floor(i * f)) for i, f in zip(spatial, factors)), tuple(1.0 / f for f in factors)


def _take(x, axis: int, index: np.ndarray):
    return getitem(x, (slice(None),) * axis + (index,))


def _resize_axis(x, axis: int, n_in: int, n_out: int, scale: float, mode: str, align_corners: bool):
    dst = np.arange(n_out, dtype=np.float64)
    if mode == "nearest":
        return _take(x, axis, np.minimum(np.floor(dst * scale).astype(np.int64), n_in - 1))
    if mode == "nearest-exact":
        return _take(x, axis, np.minimum(np.floor((dst + 0.5) * scale).astype(np.int64), n_in - 1))
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        src = (dst + 0.5) * scale - 0.5
    if mode == "bicubic":
        return _cubic_blend(x, axis, n_in, src)
    return linear_blend(x, axis, n_in, src)


def linear_blend(x, axis: int, n_in: int, src: np.ndarray):
    """x along ``axis`` read at the fractional source positions ``src`` (below 0 read as 0): each output blends the
    two neighbours of its position linearly."""
    src = np.maximum(src, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    dtype = np.dtype(x.dtype)
    weight_shape = (len(src),) + (1,) * (len(_shape_of(x)) - axis - 1)
    w = Tensor._wrap((src - lo).astype(dtype).reshape(weight_shape))
    return add(multiply(_take(x, axis, lo), 1 - w), multiply(_take(x, axis, hi), w))


def _cubic_weights(t: np.ndarray) -> list:
    """Keys' cubic convolution weights of the taps at offsets -1, 0, 1, 2 from floor(src), t = src - floor(src)."""
    a = _CUBIC_A

    def near(d):  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _cubic_blend(x, axis: int, n_in: int, src: np.ndarray):
    base = np.floor(src).astype(np.int64)
    dtype = np.dtype(x.dtype)
    weight_shape = (len(src),) + (1,) * (len(_shape_of(x)) - axis - 1)
    out = None
    for offset, w in zip((-1, 0, 1, 2), _cubic_weights(src - base)):
        term = multiply(_take(x, axis, np.clip(base + offset, 0, n_in - 1)), Tensor._wrap(w.astype(dtype).reshape(weight_shape)))
        out = term if out is None else add(out, term)
    return out


def interpolate(input, size=None, scale_factor=None, mode: str = "nearest", align_corners=None, recompute_scale_factor=None):  # noqa: A002
    """Resize the axes after the first two of ``input`` to ``size`` (or by ``scale_factor``).

    Modes: nearest, nearest-exact, area (4-D), linear (3-D input), bilinear and bicubic (4-D), trilinear (5-D);
    ``align_corners`` maps the
    corner elements onto each other (linear modes only). With ``recompute_scale_factor`` the scale follows the
    output size rather than ``scale_factor``, as in MindSpore and torch.
    """
    shape = _shape_of(input)
    if mode not in _MODES:
        raise ValueError(f"funcad.ops.interpolate: mode {mode!r} is not supported; use one of {_MODES}")
    if mode in _LINEAR and len(shape) != _LINEAR[mode] + 2:
        raise ValueError(f"funcad.ops.interpolate: mode {mode!r} needs a {_LINEAR[mode] + 2}-D input, got shape {shape}")
    if len(shape) < 3:
        raise ValueError(f"funcad.ops.interpolate: needs an (N, C, ...) input with spatial axes, got shape {shape}")
    if align_corners is not None and mode not in _LINEAR:
        raise ValueError(f"funcad.ops.interpolate: align_corners is only for the linear modes, not {mode!r}")
    spatial = shape[2:]
    sizes, scales = _output_sizes(spatial, size, scale_factor)
    if mode == "area":  # torch's and MindSpore's area mode is adaptive average pooling
        if len(shape) != 4:
            raise ValueError(f"funcad.ops.interpolate: mode 'area' is supported for 4-D inputs, got shape {shape}")
        return adaptive_avg_pool2d(input, sizes)
    if recompute_scale_factor:
        scales = tuple(i / o for i, o in zip(spatial, sizes))
    out = input
    for k, (n_in, n_out, scale) in enumerate(zip(spatial, sizes, scales)):
        if n_out <= 0:
            raise ValueError(f"funcad.ops.interpolate: output size {sizes} must be positive")
        out = _resize_axis(out, 2 + k, n_in, n_out, scale, mode, bool(align_corners))
    return out
