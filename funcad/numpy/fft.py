"""``funcad.numpy.fft``: the real-valued helpers of numpy.fft (shifts and sample frequencies).

The transforms themselves (fft, rfft, ...) return complex values, which funcad does not represent (its rules
assume real numbers), so they are not offered.
"""

from __future__ import annotations

import numpy as np

from funcad.core.base_ops import shape_of as _shape_of
from funcad.core.tensor import Tensor
from funcad.ops.aliases import roll

__all__ = ["fftfreq", "fftshift", "ifftshift", "rfftfreq"]


def _axes(x, axes) -> tuple:
    ndim = len(_shape_of(x))
    return tuple(range(ndim)) if axes is None else ((axes,) if isinstance(axes, int) else tuple(axes))


def fftshift(x, axes=None):
    """Move the zero-frequency term to the centre of each axis in ``axes`` (all when None)."""
    axes = _axes(x, axes)
    return roll(x, tuple(_shape_of(x)[a] // 2 for a in axes), axes)


def ifftshift(x, axes=None):
    """The inverse of fftshift."""
    axes = _axes(x, axes)
    return roll(x, tuple(-(_shape_of(x)[a] // 2) for a in axes), axes)


def fftfreq(n: int, d: float = 1.0) -> Tensor:
    return Tensor(np.fft.fftfreq(n, d))


def rfftfreq(n: int, d: float = 1.0) -> Tensor:
    return Tensor(np.fft.rfftfreq(n, d))
