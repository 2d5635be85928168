"""Spatial transformer ops with MindSpore 2.x's names: ``affine_grid`` (each output pixel's normalised position
through a batch of 2 x 3 affine maps) and ``grid_sample`` (a 4-D input read at those positions).

Sampling gathers the neighbours of each position and blends them with funcad ops, so gradients reach both the
input and the grid without a rule of their own (the neighbours' integer positions are constants).
"""

from __future__ import annotations

import numpy as np

from funcad.core.tensor import Tensor
from funcad.ops.aliases import clamp
from funcad.ops.indexing import gather_elements
from funcad.ops.linalg import matmul
from funcad.ops.math import abs, floor, logical_and, remainder, round, where
from funcad.ops.shape import _shape_of, broadcast_to, cast, expand_dims, reshape, stop_gradient, swapaxes

_MODES = ("bilinear", "nearest")
_PADDING_MODES = ("zeros", "border", "reflection")


def _grid_axis(size: int, align_corners: bool) -> np.ndarray:
    """The normalised coordinates of ``size`` pixels: their centres (or, aligning corners, the first and last at -1 and 1)."""
    return np.linspace(-1.0, 1.0, size) if align_corners else (np.arange(size) * 2.0 + 1.0) / size - 1.0


def affine_grid(theta, size, align_corners: bool = False):
    """The (N, H, W, 2) sampling grid of 2-D affine maps ``theta`` (N, 2, 3) for an output of ``size`` (N, C, H, W):
    each output pixel's normalised (x, y, 1) times theta's transpose. Volumetric (5-D) sizes are refused."""
    size = tuple(int(s) for s in size)
    ts = _shape_of(theta)
    if len(size) != 4:
        raise NotImplementedError(f"funcad.ops.affine_grid: only 2-D grids (size (N, C, H, W)) are supported, got size {size}")
    if len(ts) != 3 or ts[1:] != (2, 3) or ts[0] != size[0]:
        raise ValueError(f"funcad.ops.affine_grid: theta must have shape ({size[0]}, 2, 3) for size {size}, got {ts}")
    n, _, h, w = size
    xs, ys = np.meshgrid(_grid_axis(w, bool(align_corners)), _grid_axis(h, bool(align_corners)))
    base = np.stack([xs, ys, np.ones_like(xs)], -1).reshape(1, h * w, 3).astype(np.dtype(theta.dtype))
    return reshape(matmul(Tensor._wrap(base), swapaxes(theta, 1, 2)), (n, h, w, 2))


def _reflect(pixel, size: int, align_corners: bool):
    """Coordinates reflected at the image's edges (at the corner pixels' centres, or at their outer borders without
    ``align_corners``), then clipped into it: torch's and MindSpore's 'reflection' padding."""
    low, span = (0.0, float(size - 1)) if align_corners else (-0.5, float(size))
    if span <= 0.0:
        return pixel * 0.0
    distance = abs(pixel - low)
    flips = stop_gradient(floor(distance / span))
    extra = distance - flips * span
    reflected = where(remainder(flips, 2.0) == 0.0, extra + low, span - extra + low)
    return clamp(reflected, 0.0, float(size - 1))


def _pixel_coordinate(coord, size: int, align_corners: bool, padding_mode: str):
    """A normalised grid coordinate in pixels along an axis of ``size`` (moved into the image by border or
    reflection padding)."""
    pixel = (coord + 1.0) * ((size - 1) / 2.0) if align_corners else ((coord + 1.0) * size - 1.0) / 2.0
    if padding_mode == "border":
        return clamp(pixel, 0.0, float(size - 1))
    return _reflect(pixel, size, align_corners) if padding_mode == "reflection" else pixel


def grid_sample(input, grid, mode: str = "bilinear", padding_mode: str = "zeros", align_corners: bool = False):  # noqa: A002
    """The (N, C, H, W) input read at the normalised positions of ``grid`` (N, H_out, W_out, 2), x then y in [-1, 1]:
    bilinear or nearest; outside the image zeros, the border pixels or the reflected image ('zeros', 'border',
    'reflection'). Gradients reach the input and the grid. Volumetric (5-D) inputs and 'bicubic' are refused."""
    xs, gs = _shape_of(input), _shape_of(grid)
    if mode not in _MODES:
        raise NotImplementedError(f"funcad.ops.grid_sample: mode {mode!r} is not supported; use one of {_MODES}")
    if padding_mode not in _PADDING_MODES:
        raise ValueError(f"funcad.ops.grid_sample: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
    if len(xs) != 4:
        raise NotImplementedError(f"funcad.ops.grid_sample: only 4-D inputs (N, C, H, W) are supported, got shape {xs}")
    if len(gs) != 4 or gs[0] != xs[0] or gs[3] != 2:
        raise ValueError(f"funcad.ops.grid_sample: grid must have shape ({xs[0]}, H_out, W_out, 2) for input {xs}, got {gs}")
    n, c, h, w = xs
    out_h, out_w = gs[1], gs[2]
    x = _pixel_coordinate(grid[..., 0], w, bool(align_corners), padding_mode)
    y = _pixel_coordinate(grid[..., 1], h, bool(align_corners), padding_mode)
    flat = reshape(input, (n, c, h * w))

    def corner(xi, yi):  # the input at integer pixels (xi, yi), zero outside the image
        inside = cast(logical_and(logical_and(xi >= 0, xi <= w - 1), logical_and(yi >= 0, yi <= h - 1)), input.dtype)
        index = cast(clamp(yi, 0, h - 1) * w + clamp(xi, 0, w - 1), np.int64)
        index = broadcast_to(reshape(index, (n, 1, out_h * out_w)), (n, c, out_h * out_w))
        return reshape(gather_elements(flat, 2, index), (n, c, out_h, out_w)) * expand_dims(inside, 1)

    if mode == "nearest":
        return corner(stop_gradient(round(x)), stop_gradient(round(y)))
    x0, y0 = stop_gradient(floor(x)), stop_gradient(floor(y))
    wx, wy = expand_dims(x - x0, 1), expand_dims(y - y0, 1)
    return ((corner(x0, y0) * (1.0 - wx) + corner(x0 + 1.0, y0) * wx) * (1.0 - wy)
            + (corner(x0, y0 + 1.0) * (1.0 - wx) + corner(x0 + 1.0, y0 + 1.0) * wx) * wy)
