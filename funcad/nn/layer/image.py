"""MindSpore 2.x's image Cells: ``ImageGradients``, ``PSNR``, ``SSIM``, ``CentralCrop``, ``ResizeBilinear`` and
``Unfold`` (MindSpore's patch extraction, not torch's ``nn.Unfold``), built from funcad ops so gradients follow."""

from __future__ import annotations

import math
import numbers

import numpy as np

from funcad import ops
from funcad.core.tensor import Tensor
from funcad.nn.cell import Cell
from funcad.nn.layer.basic import check_input
from funcad.ops.resize import linear_blend


def _positive_number(owner: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{owner}: {name} must be a positive number, got {value!r}")
    return float(value)


def _floating(x):
    """Integer images as float32 (MindSpore's rule); floating ones as they are."""
    return x if np.issubdtype(np.dtype(x.dtype), np.floating) else ops.cast(x, np.float32)


def _same_images(cell: Cell, img1, img2) -> None:
    check_input(cell, img1, 4, None, "(N, C, H, W)")
    if tuple(img1.shape) != tuple(img2.shape) or img1.dtype != img2.dtype:
        raise ValueError(f"{cell._where()}: img1 and img2 must have one shape and dtype, got {tuple(img1.shape)} {img1.dtype} "
                         f"and {tuple(img2.shape)} {img2.dtype}")


class ImageGradients(Cell):
    """(dy, dx) of an (N, C, H, W) batch: each pixel's difference to the next one down (right); the last row (column)
    is zero."""

    def construct(self, images):
        check_input(self, images, 4, None, "(N, C, H, W)")
        zero_row, zero_col = ops.zeros_like(images[:, :, :1, :]), ops.zeros_like(images[:, :, :, :1])
        dy = ops.concat((images[:, :, 1:, :] - images[:, :, :-1, :], zero_row), 2)
        dx = ops.concat((images[:, :, :, 1:] - images[:, :, :, :-1], zero_col), 3)
        return dy, dx


class PSNR(Cell):
    """Peak signal-to-noise ratio per image of two (N, C, H, W) batches: 10 log10(max_val^2 / mse), the mean over
    (C, H, W). Integer images are compared as float32 (MindSpore rescales both by the type's maximum, which cancels)."""

    def __init__(self, max_val: float = 1.0):
        super().__init__()
        self.max_val = _positive_number("PSNR", "max_val", max_val)

    def construct(self, img1, img2):
        _same_images(self, img1, img2)
        img1, img2 = _floating(img1), _floating(img2)
        mse = ops.mean(ops.square(img1 - img2), (-3, -2, -1))
        return ops.log(self.max_val ** 2 / mse) * (10.0 / math.log(10.0))


def gaussian_window(size: int, sigma: float) -> np.ndarray:
    """MindSpore's SSIM window: a size x size Gaussian over offsets -size//2+1 (floor) ... size//2, summing to 1."""
    offsets = np.arange(-size // 2 + 1, size // 2 + 1, dtype=np.float64)
    g = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2.0 * sigma ** 2))
    return g / g.sum()


class SSIM(Cell):
    """Structural similarity per image of two (N, C, H, W) batches, MindSpore's: each channel's local means,
    variances and covariance under a ``filter_size`` Gaussian window (``filter_sigma``, 'valid' positions only),
    ((2 mu1 mu2 + c1)(2 cov + c2)) / ((mu1^2 + mu2^2 + c1)(var1 + var2 + c2)) with c = (k * max_val)^2, averaged over
    positions and then channels."""

    def __init__(self, max_val: float = 1.0, filter_size: int = 11, filter_sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03):
        super().__init__()
        self.max_val = _positive_number("SSIM", "max_val", max_val)
        if isinstance(filter_size, bool) or not isinstance(filter_size, (int, np.integer)) or filter_size < 1:
            raise ValueError(f"SSIM: filter_size must be an int of at least 1, got {filter_size!r}")
        self.filter_size, self.filter_sigma = int(filter_size), _positive_number("SSIM", "filter_sigma", filter_sigma)
        self.k1, self.k2 = float(k1), float(k2)
        self._window = gaussian_window(self.filter_size, self.filter_sigma)

    def construct(self, img1, img2):
        _same_images(self, img1, img2)
        n, c, h, w = img1.shape
        if min(h, w) < self.filter_size:
            raise ValueError(f"{self._where()}: images {tuple(img1.shape)} are smaller than the filter ({self.filter_size})")
        img1, img2 = _floating(img1), _floating(img2)
        window = Tensor(self._window.reshape(1, 1, self.filter_size, self.filter_size).astype(np.dtype(img1.dtype)))

        def local_mean(x):  # every channel filtered on its own
            return ops.conv2d(ops.reshape(x, (n * c, 1, h, w)), window)

        mu1, mu2 = local_mean(img1), local_mean(img2)
        var1, var2 = local_mean(img1 * img1) - mu1 * mu1, local_mean(img2 * img2) - mu2 * mu2
        cov = local_mean(img1 * img2) - mu1 * mu2
        c1, c2 = (self.k1 * self.max_val) ** 2, (self.k2 * self.max_val) ** 2
        ssim = (2.0 * mu1 * mu2 + c1) * (2.0 * cov + c2) / ((mu1 * mu1 + mu2 * mu2 + c1) * (var1 + var2 + c2))
        return ops.mean(ops.reshape(ssim, (n, -1)), -1)


class CentralCrop(Cell):
    """The central ``central_fraction`` (in (0, 1]) of the height and width of (C, H, W) or (N, C, H, W) images: a
    border of int((n - n * fraction) / 2) pixels is cut from each side, as MindSpore's."""

    def __init__(self, central_fraction: float):
        super().__init__()
        if not isinstance(central_fraction, float) or not 0.0 < central_fraction <= 1.0:
            raise ValueError(f"CentralCrop: central_fraction must be a float in (0.0, 1.0], got {central_fraction!r}")
        self.central_fraction = central_fraction

    def construct(self, image):
        check_input(self, image, (3, 4), None, "(C, H, W) or (N, C, H, W)")
        if self.central_fraction == 1.0:
            return image
        h, w = image.shape[-2:]
        top, left = (int((float(n) - float(n * self.central_fraction)) / 2) for n in (h, w))
        return image[..., top:h - top, left:w - left]


class ResizeBilinear(Cell):
    """Bilinear resize of (N, C, H, W) inputs to ``size`` or by an integer ``scale_factor``, called as
    ``cell(x, size=None, scale_factor=None, align_corners=False)``. Source positions as MindSpore's (TensorFlow's)
    kernel: ``align_corners`` maps corner pixels onto each other, ``half_pixel_centers`` uses pixel centres (torch's
    ``align_corners=False``), neither maps output pixel i to i * in / out."""

    def __init__(self, half_pixel_centers: bool = False):
        super().__init__()
        self.half_pixel_centers = bool(half_pixel_centers)

    def construct(self, x, size=None, scale_factor=None, align_corners: bool = False):
        check_input(self, x, 4, None, "(N, C, H, W)")
        if align_corners and self.half_pixel_centers:
            raise ValueError(f"{self._where()}: align_corners=True and half_pixel_centers=True cannot be used together")
        if (size is None) == (scale_factor is None):
            raise ValueError(f"{self._where()}: give exactly one of size and scale_factor")
        if size is not None:
            sizes = tuple(int(s) for s in size) if isinstance(size, (tuple, list)) else ()
            if len(sizes) != 2 or min(sizes) < 1:
                raise ValueError(f"{self._where()}: size must be a pair of positive ints, got {size!r}")
        else:
            if isinstance(scale_factor, bool) or not isinstance(scale_factor, (int, np.integer)) or scale_factor < 1:
                raise ValueError(f"{self._where()}: scale_factor must be an int of at least 1, got {scale_factor!r}")
            sizes = (x.shape[2] * int(scale_factor), x.shape[3] * int(scale_factor))
        if align_corners or self.half_pixel_centers:
            return ops.interpolate(x, sizes, mode="bilinear", align_corners=bool(align_corners))
        for axis, (n_in, n_out) in enumerate(zip(x.shape[2:], sizes), start=2):  # output pixel i reads input i * in / out
            x = linear_blend(x, axis, n_in, np.arange(n_out) * (n_in / n_out))
        return x

    def extend_repr(self) -> str:
        return f"half_pixel_centers={self.half_pixel_centers}"


def _window_spec(owner: str, name: str, value) -> tuple[int, int]:
    """MindSpore's [1, row, col, 1] form as (row, col)."""
    items = tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(items) != 4 or items[0] != 1 or items[3] != 1 or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in items[1:3]):
        raise ValueError(f"{owner}: {name} must be [1, {name}_row, {name}_col, 1] with positive ints, got {value!r}")
    return int(items[1]), int(items[2])


class Unfold(Cell):
    """MindSpore's image patch extraction (TensorFlow's ``extract_image_patches``), not torch's ``nn.Unfold``: from an
    (N, C, H, W) input, every (ksize_row, ksize_col) window, ``strides`` apart, its taps ``rates`` apart, as an
    (N, ksize_row * ksize_col * C, out_row, out_col) output whose channel index is (i * ksize_col + j) * C + c (the
    window's position major, the input channel minor). ``padding`` 'valid' keeps whole windows; 'same' gives
    ceil(size / stride) windows, zeros filling what lies beyond the image (the odd pixel at the end)."""

    def __init__(self, ksizes, strides, rates, padding: str = "valid"):
        super().__init__()
        self.ksizes = _window_spec("Unfold", "ksizes", ksizes)
        self.strides = _window_spec("Unfold", "strides", strides)
        self.rates = _window_spec("Unfold", "rates", rates)
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError(f"Unfold: padding must be 'same' or 'valid', got {padding!r}")
        self.padding = padding.lower()

    def construct(self, x):
        check_input(self, x, 4, None, "(N, C, H, W)")
        n, c, h, w = x.shape
        spans = tuple((k - 1) * r + 1 for k, r in zip(self.ksizes, self.rates))
        if self.padding == "same":
            outs = tuple(-(-size // s) for size, s in zip((h, w), self.strides))
            extra = tuple(max(0, (o - 1) * s + span - size) for o, s, span, size in zip(outs, self.strides, spans, (h, w)))
            x = ops.pad(x, ((0, 0), (0, 0), (extra[0] // 2, extra[0] - extra[0] // 2), (extra[1] // 2, extra[1] - extra[1] // 2)))
        else:
            outs = tuple((size - span) // s + 1 for size, span, s in zip((h, w), spans, self.strides))
        if min(outs) < 1:
            raise ValueError(f"{self._where()}: input {tuple(x.shape)} is smaller than the window {spans} (ksizes with rates)")
        columns = ops.unfold(x, self.ksizes, self.rates, 0, self.strides)  # (N, C * kh * kw, L), channel major
        kh, kw = self.ksizes
        columns = ops.reshape(columns, (n, c, kh * kw) + outs)
        return ops.reshape(ops.transpose(columns, (0, 2, 1, 3, 4)), (n, kh * kw * c) + outs)

    def extend_repr(self) -> str:
        return f"ksizes={self.ksizes}, strides={self.strides}, rates={self.rates}, padding={self.padding!r}"
