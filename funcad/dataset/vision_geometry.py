"""``mindspore.dataset.vision``'s geometric operations on HWC (or HW) images: ``Resize``, ``CenterCrop``, ``RandomCrop``,
``RandomHorizontalFlip`` and ``RandomVerticalFlip`` (numpy in, numpy out).

Resizing samples with half-pixel centres (OpenCV's convention, which MindSpore's CPU kernels follow): bilinear
weights, or the nearest pixel. Random choices come from funcad's global generator (``funcad.set_seed``).
"""

from __future__ import annotations

import enum
import numbers

import numpy as np

from funcad.core.seed import global_rng


class Inter(enum.Enum):
    """Interpolation modes."""

    NEAREST = "nearest"
    LINEAR = "linear"
    BILINEAR = "linear"


def _image(owner: str, image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"{owner}: expected an image of shape (H, W) or (H, W, C), got {image.shape}")
    return image


def _pair(owner: str, size) -> tuple[int, int]:
    pair = (size, size) if isinstance(size, numbers.Integral) else tuple(size)
    if len(pair) != 2 or any(not isinstance(v, numbers.Integral) or v < 1 for v in pair):
        raise ValueError(f"{owner}: size must be a positive int or (height, width), got {size!r}")
    return int(pair[0]), int(pair[1])


def _sample_axis(image: np.ndarray, axis: int, size: int, interpolation: Inter) -> np.ndarray:
    """``image`` resampled to ``size`` along ``axis`` with half-pixel centres."""
    n = image.shape[axis]
    centres = (np.arange(size) + 0.5) * (n / size) - 0.5
    if interpolation is Inter.NEAREST:
        return np.take(image, np.minimum(np.floor((np.arange(size) * n) / size).astype(np.int64), n - 1), axis=axis)
    centres = np.clip(centres, 0, n - 1)
    low = np.floor(centres).astype(np.int64)
    high = np.minimum(low + 1, n - 1)
    weight = (centres - low).reshape((-1,) + (1,) * (image.ndim - axis - 1))
    return np.take(image, low, axis=axis) * (1 - weight) + np.take(image, high, axis=axis) * weight


class Resize:
    """The image resized to ``size``: (height, width), or an int for the shorter side (the aspect ratio kept).
    Integer images come back rounded in their dtype, others as float32."""

    def __init__(self, size, interpolation: Inter = Inter.LINEAR):
        self.size = size if isinstance(size, numbers.Integral) else _pair("Resize", size)
        if isinstance(self.size, numbers.Integral) and self.size < 1:
            raise ValueError(f"Resize: size must be positive, got {size}")
        self.interpolation = Inter(interpolation)

    def __call__(self, image) -> np.ndarray:
        image = _image("Resize", image)
        h, w = image.shape[:2]
        if isinstance(self.size, numbers.Integral):
            short = min(h, w)
            target = (self.size, int(w * self.size / short)) if h == short else (int(h * self.size / short), self.size)
        else:
            target = self.size
        out = image.astype(np.float64)
        for axis, size in enumerate(target):
            out = _sample_axis(out, axis, size, self.interpolation)
        if image.dtype.kind in "iu":
            info = np.iinfo(image.dtype)
            return np.clip(np.rint(out), info.min, info.max).astype(image.dtype)
        return out.astype(np.float32)


def _crop(owner: str, image: np.ndarray, top: int, left: int, size: tuple[int, int]) -> np.ndarray:
    h, w = image.shape[:2]
    if size[0] > h or size[1] > w:
        raise ValueError(f"{owner}: crop size {size} is larger than the image {image.shape[:2]}")
    return image[top : top + size[0], left : left + size[1]]


class CenterCrop:
    """The central ``size`` (an int or (height, width)) of the image."""

    def __init__(self, size):
        self.size = _pair("CenterCrop", size)

    def __call__(self, image) -> np.ndarray:
        image = _image("CenterCrop", image)
        h, w = image.shape[:2]
        return _crop("CenterCrop", image, (h - self.size[0]) // 2, (w - self.size[1]) // 2, self.size)


class RandomCrop:
    """A ``size`` crop at a random place, after ``padding`` (an int, or (left, top, right, bottom)) of ``fill_value``."""

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill_value: int = 0):
        self.size = _pair("RandomCrop", size)
        pads = (0,) * 4 if padding is None else (padding,) * 4 if isinstance(padding, numbers.Integral) else tuple(padding)
        if len(pads) == 2:
            pads = pads * 2
        if len(pads) != 4 or min(pads) < 0:
            raise ValueError(f"RandomCrop: padding must be an int, (horizontal, vertical) or (left, top, right, bottom), got {padding!r}")
        self.padding, self.pad_if_needed, self.fill_value = pads, bool(pad_if_needed), fill_value

    def __call__(self, image) -> np.ndarray:
        image = _image("RandomCrop", image)
        left, top, right, bottom = self.padding
        if self.pad_if_needed:
            bottom += max(self.size[0] - (image.shape[0] + top + bottom), 0)
            right += max(self.size[1] - (image.shape[1] + left + right), 0)
        widths = ((top, bottom), (left, right)) + ((0, 0),) * (image.ndim - 2)
        image = np.pad(image, widths, constant_values=self.fill_value)
        rng = global_rng()
        h, w = image.shape[:2]
        if self.size[0] > h or self.size[1] > w:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the padded image {(h, w)}")
        return _crop("RandomCrop", image, int(rng.integers(h - self.size[0] + 1)), int(rng.integers(w - self.size[1] + 1)), self.size)


class _RandomFlip:
    axis: int

    def __init__(self, prob: float = 0.5):
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"{type(self).__name__}: prob must be in [0, 1], got {prob}")
        self.prob = float(prob)

    def __call__(self, image) -> np.ndarray:
        image = _image(type(self).__name__, image)
        return np.flip(image, self.axis).copy() if global_rng().random() < self.prob else image


class RandomHorizontalFlip(_RandomFlip):
    """The image mirrored left to right with probability ``prob``."""

    axis = 1


class RandomVerticalFlip(_RandomFlip):
    """The image mirrored top to bottom with probability ``prob``."""

    axis = 0


__all__ = ["Inter", "Resize", "CenterCrop", "RandomCrop", "RandomHorizontalFlip", "RandomVerticalFlip"]
