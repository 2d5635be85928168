"""``funcad.numpy.fft``: numpy.fft's transforms with numpy's argument names (``a, n, axis, norm`` and
``a, s, axes, norm``), computed by funcad.ops' transforms, and the shifts and sample frequencies."""

from __future__ import annotations

import numpy as np

from funcad.core.tensor import Tensor
from funcad.ops import fourier

__all__ = ["fft", "fft2", "fftfreq", "fftn", "fftshift", "hfft", "ifft", "ifft2", "ifftn", "ifftshift", "ihfft", "irfft", "irfft2",
           "irfftn", "rfft", "rfft2", "rfftfreq", "rfftn"]


def _along_axis(op):
    def transform(a, n: int | None = None, axis: int = -1, norm: str | None = None):
        return op(a, n, axis, norm)

    transform.__name__ = transform.__qualname__ = op.__name__
    transform.__doc__ = f"numpy.fft.{op.__name__}: funcad.ops.{op.__name__} with numpy's argument names."
    return transform


def _over_axes(op, default_axes):
    def transform(a, s=None, axes=default_axes, norm: str | None = None):
        return op(a, s, axes, norm)

    transform.__name__ = transform.__qualname__ = op.__name__
    transform.__doc__ = f"numpy.fft.{op.__name__}: funcad.ops.{op.__name__} with numpy's argument names."
    return transform


fft, ifft, rfft, irfft, hfft, ihfft = (_along_axis(getattr(fourier, name)) for name in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft"))
fft2, ifft2, rfft2, irfft2 = (_over_axes(getattr(fourier, name), (-2, -1)) for name in ("fft2", "ifft2", "rfft2", "irfft2"))
fftn, ifftn, rfftn, irfftn = (_over_axes(getattr(fourier, name), None) for name in ("fftn", "ifftn", "rfftn", "irfftn"))


def fftshift(x, axes=None):
    """Move the zero-frequency term to the centre of each axis in ``axes`` (all when None)."""
    return fourier.fftshift(x, axes)


def ifftshift(x, axes=None):
    """The inverse of fftshift."""
    return fourier.ifftshift(x, axes)


def fftfreq(n: int, d: float = 1.0) -> Tensor:
    return Tensor(np.fft.fftfreq(n, d))


def rfftfreq(n: int, d: float = 1.0) -> Tensor:
    return Tensor(np.fft.rfftfreq(n, d))
