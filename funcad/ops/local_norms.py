"""RMS normalisation, local response normalisation and channel shuffling: MindSpore's ``ops.rms_norm``, ``ops.lrn`` and
``ops.channel_shuffle``, with the general forms torch's ``F.rms_norm`` and ``F.local_response_norm`` translate to.

Composites of funcad ops: their gradients, jit, vmap and torch mirrors are those of the ops they use.
"""

from __future__ import annotations

import numpy as np

from funcad.core.tensor import Tensor
from funcad.ops.aliases import movedim as moveaxis
from funcad.ops.linalg import matmul
from funcad.ops.math import add, multiply, power, rsqrt
from funcad.ops.reduce import mean
from funcad.ops.shape import _shape_of, reshape, swapaxes


def rms_normalized(x, axes: tuple, weight=None, eps: float | None = None):
    """(x / sqrt(mean(x**2 over ``axes``) + eps) [* weight], 1 / sqrt(...)) with the axes kept: torch's ``F.rms_norm``
    order of operations (eps None: the machine epsilon of x's dtype, as torch)."""
    eps = float(np.finfo(np.dtype(x.dtype)).eps) if eps is None else float(eps)
    rstd = rsqrt(add(mean(multiply(x, x), axis=axes, keepdims=True), eps))
    y = multiply(x, rstd)
    return (y if weight is None else multiply(y, weight)), rstd


def rms_norm(x, gamma, epsilon: float = 1e-6):
    """MindSpore's ``ops.rms_norm``: ``(x / rms(x) * gamma, 1 / rms(x))``, the mean square over the last gamma.ndim axes
    (kept, of size 1, in the second result)."""
    shape, params = _shape_of(x), tuple(_shape_of(gamma))
    if not params or len(params) > len(shape) or shape[len(shape) - len(params):] != params:
        raise ValueError(f"funcad.ops.rms_norm: gamma of shape {params} must match the trailing axes of x of shape {shape}")
    if not 0 < epsilon <= 1:
        raise ValueError(f"funcad.ops.rms_norm: epsilon must lie in (0, 1], got {epsilon}")
    return rms_normalized(x, tuple(range(len(shape) - len(params), len(shape))), gamma, epsilon)


def local_response_normalized(x, before: int, after: int, scale: float, bias: float, beta: float, op: str = "lrn"):
    """x / (bias + scale * sum of x**2 over the channels c - before .. c + after of axis 1) ** beta: the window
    (cut at the edges) as a band matrix over the channel axis."""
    shape = _shape_of(x)
    if len(shape) < 3:
        raise ValueError(f"funcad.ops.{op}: input must be (N, C, ...) with at least one spatial axis, got shape {shape}")
    channels = np.arange(shape[1])
    offset = channels[:, None] - channels[None, :]  # (source c', target c): c' - c
    band = ((offset >= -before) & (offset <= after)).astype(np.dtype(x.dtype))
    squares = moveaxis(multiply(x, x), 1, -1)
    window = moveaxis(matmul(squares, Tensor._wrap(band)), -1, 1)
    return x / power(add(multiply(window, float(scale)), float(bias)), float(beta))


def lrn(x, depth_radius: int = 5, bias: float = 1.0, alpha: float = 1.0, beta: float = 0.5, norm_region: str = "ACROSS_CHANNELS"):
    """MindSpore's ``ops.lrn``: x / (bias + alpha * sum of x**2 over the channels within ``depth_radius``) ** beta for
    (N, C, H, W) input. alpha is not divided by the window size (torch's LocalResponseNorm divides it)."""
    if norm_region != "ACROSS_CHANNELS":
        raise ValueError(f"funcad.ops.lrn: norm_region must be 'ACROSS_CHANNELS', got {norm_region!r}")
    if int(depth_radius) != depth_radius or depth_radius < 0:
        raise ValueError(f"funcad.ops.lrn: depth_radius must be a non-negative integer, got {depth_radius}")
    if len(_shape_of(x)) != 4:
        raise ValueError(f"funcad.ops.lrn: input must be (N, C, H, W), got shape {_shape_of(x)}")
    return local_response_normalized(x, int(depth_radius), int(depth_radius), alpha, bias, beta)


def channel_shuffle(x, groups: int):
    """(N, C, ...) with its channels regrouped: viewed as (groups, C / groups), transposed, flattened again (ShuffleNet's
    shuffle; MindSpore's ``ops.channel_shuffle``, torch's ``F.channel_shuffle``)."""
    shape = _shape_of(x)
    if int(groups) != groups or groups < 1:
        raise ValueError(f"funcad.ops.channel_shuffle: groups must be a positive integer, got {groups}")
    if len(shape) < 3 or shape[1] % groups:
        raise ValueError(f"funcad.ops.channel_shuffle: input must be (N, C, ...) with C divisible by groups={groups}, got shape {shape}")
    grouped = reshape(x, (shape[0], int(groups), shape[1] // int(groups)) + shape[2:])
    return reshape(swapaxes(grouped, 1, 2), shape)
