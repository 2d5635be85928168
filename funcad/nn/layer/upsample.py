"""Upsample: nearest and (bi)linear resizing as constant interpolation matrices applied along each spatial axis."""

from __future__ import annotations

import math

import numpy as np

from funcad import ops
from funcad.nn.cell import Cell

_MODES = {"nearest": (3, 4), "linear": (3,), "bilinear": (4,)}


def interpolation_matrix(size: int, out: int, mode: str, align_corners: bool, scale: float | None) -> np.ndarray:
    """(out, size) weights mapping one axis to its resized version with torch's source coordinates; ``scale`` is
    1 / scale_factor when one was given (torch uses it as is, not the ratio of the sizes)."""
    ratio = size / out if scale is None else scale
    dst = np.arange(out)
    weights = np.zeros((out, size))
    if mode == "nearest":
        weights[dst, np.minimum(np.floor(dst * ratio).astype(np.int64), size - 1)] = 1.0
        return weights
    if align_corners:
        src = dst * ((size - 1) / (out - 1)) if out > 1 else np.zeros(out)
    else:
        src = np.maximum((dst + 0.5) * ratio - 0.5, 0.0)
    low = np.minimum(np.floor(src).astype(np.int64), size - 1)
    high = np.minimum(low + 1, size - 1)
    frac = src - low
    np.add.at(weights, (dst, low), 1.0 - frac)
    np.add.at(weights, (dst, high), frac)
    return weights


class Upsample(Cell):
    """Resize (N, C, L) or (N, C, H, W) inputs to ``size`` or by ``scale_factor`` (exactly one of them).

    ``mode``: 'nearest' (default, as MindSpore and torch), 'linear' (3-D) or 'bilinear' (4-D), with ``align_corners``
    (False when None). Output sizes are floor(size * scale_factor); source coordinates use 1 / scale_factor when it is
    given, as torch's do unless ``recompute_scale_factor`` is True. 'bicubic' and 5-D inputs are not supported.
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None):
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError(f"Upsample: give exactly one of size and scale_factor, got size={size!r}, scale_factor={scale_factor!r}")
        if mode not in _MODES:
            raise ValueError(f"Upsample: mode must be one of {', '.join(_MODES)}, got {mode!r}")
        if mode == "nearest" and align_corners is not None:
            raise ValueError("Upsample: align_corners is only for the 'linear' and 'bilinear' modes")
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = bool(align_corners), bool(recompute_scale_factor)

    def _per_axis(self, value, count: int, what: str) -> tuple:
        items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * count
        if len(items) != count or any(v <= 0 for v in items):
            raise ValueError(f"{self._where()}: {what} must be positive, one per spatial axis ({count}), got {value!r}")
        return items

    def construct(self, x):
        shape = tuple(x.shape)
        if len(shape) not in _MODES[self.mode]:
            ranks = " or ".join(f"{r}-D" for r in _MODES[self.mode])
            raise ValueError(f"{self._where()}: mode {self.mode!r} takes {ranks} inputs, got shape {shape}")
        spatial = shape[2:]
        if self.size is not None:
            outs, scales = self._per_axis(self.size, len(spatial), "size"), (None,) * len(spatial)
        else:
            factors = self._per_axis(self.scale_factor, len(spatial), "scale_factor")
            outs = tuple(math.floor(n * f) for n, f in zip(spatial, factors))
            scales = (None,) * len(spatial) if self.recompute_scale_factor else tuple(1.0 / f for f in factors)
        mats = [interpolation_matrix(n, int(o), self.mode, self.align_corners, s).astype(x.dtype) for n, o, s in zip(spatial, outs, scales)]
        y = ops.matmul(x, mats[-1].T)
        return ops.matmul(mats[0], y) if len(mats) == 2 else y

    def extend_repr(self) -> str:
        return f"size={self.size}, scale_factor={self.scale_factor}, mode={self.mode!r}, align_corners={self.align_corners}"
