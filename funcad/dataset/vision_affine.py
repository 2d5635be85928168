"""``mindspore.dataset.vision``'s ``Pad``, ``RandomResizedCrop`` and ``RandomRotation`` on HWC (or HW) images.

They follow MindSpore's OpenCV kernels: ``RandomResizedCrop`` picks its box as MindSpore's (up to
``max_attempts`` draws of an area scale and a log-uniform aspect ratio, then a centred fallback) and resizes it
with ``Resize``'s half-pixel sampling; ``RandomRotation`` turns counter-clockwise about ((W-1)/2, (H-1)/2) by
default, filling the uncovered corners. Random draws come from funcad's global generator (``funcad.set_seed``).
"""

from __future__ import annotations

import enum
import math
import numbers

import numpy as np

from funcad.core.seed import global_rng
from funcad.dataset.vision_color import decode_image
from funcad.dataset.vision_geometry import Inter, Resize, _image, _pair


class Border(enum.Enum):
    """Padding modes: a constant, the edge pixel repeated, a mirror without (REFLECT) or with (SYMMETRIC) the edge."""

    CONSTANT = "constant"
    EDGE = "edge"
    REFLECT = "reflect"
    SYMMETRIC = "symmetric"


def _fill(owner: str, fill_value, channels: int | None) -> np.ndarray:
    values = np.atleast_1d(np.asarray(fill_value, np.float64))
    if values.ndim != 1 or len(values) not in (1, 3) or (len(values) == 3 and channels not in (None, 3)):
        raise ValueError(f"{owner}: fill_value must be an int or an (R, G, B) triple for a 3-channel image, got {fill_value!r}")
    return values


def _padding(owner: str, padding) -> tuple[int, int, int, int]:
    """MindSpore's padding: an int for every side, (left/right, top/bottom), or (left, top, right, bottom)."""
    pads = (padding,) * 4 if isinstance(padding, numbers.Integral) else tuple(padding)
    if len(pads) == 2:
        pads = pads * 2
    if len(pads) != 4 or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0 for v in pads):
        raise ValueError(f"{owner}: padding must be a non-negative int, (left/right, top/bottom) or (left, top, right, bottom), got {padding!r}")
    return tuple(int(v) for v in pads)


class Pad:
    """The image padded by ``padding`` with ``fill_value`` (an int, or one per RGB channel) or by ``padding_mode``."""

    def __init__(self, padding, fill_value=0, padding_mode: Border = Border.CONSTANT):
        self.padding = _padding("Pad", padding)
        self.fill_value = fill_value
        _fill("Pad", fill_value, None)
        self.padding_mode = Border(padding_mode)

    def __call__(self, image) -> np.ndarray:
        image = _image("Pad", image)
        left, top, right, bottom = self.padding
        widths = ((top, bottom), (left, right)) + ((0, 0),) * (image.ndim - 2)
        if self.padding_mode is not Border.CONSTANT:
            return np.pad(image, widths, mode=self.padding_mode.value)
        fill = _fill("Pad", self.fill_value, image.shape[2] if image.ndim == 3 else None)
        if len(fill) == 1:
            return np.pad(image, widths, constant_values=fill[0].astype(image.dtype))
        planes = [np.pad(image[..., c], widths[:2], constant_values=np.asarray(fill[c]).astype(image.dtype)) for c in range(3)]
        return np.stack(planes, axis=-1)


class RandomResizedCrop:
    """A random box of area ``scale`` (fractions of the image) and aspect ratio ``ratio`` (width / height,
    drawn log-uniformly), resized to ``size`` (an int: a square)."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0), interpolation: Inter = Inter.BILINEAR,
                 max_attempts: int = 10):
        owner = "RandomResizedCrop"
        self.size = _pair(owner, size)
        self.scale, self.ratio = tuple(float(v) for v in scale), tuple(float(v) for v in ratio)
        if len(self.scale) != 2 or not 0 <= self.scale[0] <= self.scale[1]:
            raise ValueError(f"{owner}: scale must be (min, max) with 0 <= min <= max, got {scale!r}")
        if len(self.ratio) != 2 or not 0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f"{owner}: ratio must be (min, max) with 0 < min <= max, got {ratio!r}")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, numbers.Integral) or max_attempts < 1:
            raise ValueError(f"{owner}: max_attempts must be a positive int, got {max_attempts!r}")
        self.interpolation, self.max_attempts = Inter(interpolation), int(max_attempts)

    def crop_box(self, height: int, width: int) -> tuple[int, int, int, int]:
        """A box (top, left, height, width) drawn as ``__call__`` draws it."""
        rng = global_rng()
        log_low, log_high = math.log(self.ratio[0]), math.log(self.ratio[1])
        for _ in range(self.max_attempts):
            area = rng.uniform(self.scale[0], self.scale[1])
            aspect = math.exp(rng.uniform(log_low, log_high))
            w = max(int(round(math.sqrt(height * width * area * aspect))), 1)
            h = max(int(round(w / aspect)), 1)
            if w <= width and h <= height:
                left = int(rng.integers(0, width - w + 1))
                top = int(rng.integers(0, height - h + 1))
                return top, left, h, w
        aspect = width / height  # no draw fitted: the largest centred box within the ratio bounds
        if aspect < self.ratio[0]:
            w, h = width, int(round(width / self.ratio[0]))
        elif aspect > self.ratio[1]:
            w, h = int(round(height * self.ratio[1])), height
        else:
            w, h = width, height
        return int(round((height - h) / 2.0)), int(round((width - w) / 2.0)), h, w

    def __call__(self, image) -> np.ndarray:
        image = _image("RandomResizedCrop", image)
        top, left, h, w = self.crop_box(*image.shape[:2])
        return Resize(self.size, self.interpolation)(image[top : top + h, left : left + w])



class RandomCropDecodeResize(RandomResizedCrop):
    """``Decode`` then ``RandomResizedCrop`` in one operation, as MindSpore offers it for encoded images (the
    ImageFolderDataset pipelines of its ViT and transfer-learning tutorials); same arguments and draws."""

    def __call__(self, image) -> np.ndarray:
        return super().__call__(decode_image("RandomCropDecodeResize", image))

def _degrees(degrees) -> tuple[float, float]:
    if isinstance(degrees, numbers.Real) and not isinstance(degrees, bool):
        if degrees < 0:
            raise ValueError(f"RandomRotation: degrees must be non-negative when one number, got {degrees!r}")
        return -float(degrees), float(degrees)
    pair = tuple(degrees)
    if len(pair) != 2 or pair[0] > pair[1]:
        raise ValueError(f"RandomRotation: degrees must be a number or (min, max), got {degrees!r}")
    return float(pair[0]), float(pair[1])


def warp_affine(owner: str, image: np.ndarray, forward: np.ndarray, out_shape: tuple[int, int], resample: Inter,
                fill_value) -> np.ndarray:
    """``image`` mapped by the 2x3 matrix ``forward`` (input (x, y) to output (x, y)) as OpenCV's ``warpAffine`` with
    a constant border: each output pixel reads the input at its pre-image, nearest or bilinear, outside: ``fill_value``."""
    h, w = image.shape[:2]
    out_h, out_w = out_shape
    inverse = np.linalg.inv(np.vstack([forward, [0.0, 0.0, 1.0]]))[:2]
    ys, xs = np.mgrid[0:out_h, 0:out_w].astype(np.float64)
    src_x = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
    src_y = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]
    fill = _fill(owner, fill_value, image.shape[2] if image.ndim == 3 else None)
    fill = fill if image.ndim == 3 else fill[:1].reshape(())
    padded = np.empty((h + 2, w + 2) + image.shape[2:], np.float64)
    padded[...] = fill
    padded[1:-1, 1:-1] = image
    if resample is Inter.NEAREST:
        ix, iy = np.floor(src_x + 0.5).astype(np.int64), np.floor(src_y + 0.5).astype(np.int64)
        inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        out = padded[np.where(inside, iy + 1, 0), np.where(inside, ix + 1, 0)]
    else:  # bilinear, the pixels outside the image counting as the fill
        px, py = np.clip(src_x + 1, 0, w + 1), np.clip(src_y + 1, 0, h + 1)
        x0, y0 = np.minimum(np.floor(px).astype(np.int64), w), np.minimum(np.floor(py).astype(np.int64), h)
        fx, fy = px - x0, py - y0
        if image.ndim == 3:
            fx, fy = fx[..., None], fy[..., None]
        top = padded[y0, x0] * (1 - fx) + padded[y0, x0 + 1] * fx
        bottom = padded[y0 + 1, x0] * (1 - fx) + padded[y0 + 1, x0 + 1] * fx
        out = top * (1 - fy) + bottom * fy
    if image.dtype.kind in "iu":
        info = np.iinfo(image.dtype)
        return np.clip(np.rint(out), info.min, info.max).astype(image.dtype)
    return out.astype(image.dtype if image.dtype.kind == "f" else np.float32)


def rotate(image: np.ndarray, angle: float, resample: Inter, expand: bool, center, fill_value) -> np.ndarray:
    """``image`` turned ``angle`` degrees counter-clockwise about ``center`` ((x, y); None: the middle), as
    OpenCV's ``warpAffine`` with a constant border: each output pixel reads the input at its pre-image."""
    h, w = image.shape[:2]
    cx, cy = ((w - 1) / 2.0, (h - 1) / 2.0) if center is None else (float(center[0]), float(center[1]))
    a, b = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    forward = np.array([[a, b, (1 - a) * cx - b * cy], [-b, a, b * cx + (1 - a) * cy]])
    out_h, out_w = h, w
    if expand:
        box_w, box_h = abs(w * a) + abs(h * b), abs(w * b) + abs(h * a)
        forward[0, 2] += box_w / 2.0 - w / 2.0
        forward[1, 2] += box_h / 2.0 - h / 2.0
        out_w, out_h = int(round(box_w)), int(round(box_h))
    return warp_affine("RandomRotation", image, forward, (out_h, out_w), resample, fill_value)


class RandomRotation:
    """The image turned counter-clockwise by an angle drawn uniformly from ``degrees`` (a number d: [-d, d]),
    sampled by ``resample`` (NEAREST or BILINEAR), about ``center`` ((x, y); None: the middle), the output the
    input's size or, with ``expand``, large enough for the whole turned image; uncovered pixels get ``fill_value``."""

    def __init__(self, degrees, resample: Inter = Inter.NEAREST, expand: bool = False, center=None, fill_value=0):
        self.degrees = _degrees(degrees)
        self.resample = Inter(resample)
        if center is not None and len(tuple(center)) != 2:
            raise ValueError(f"RandomRotation: center must be (x, y) or None, got {center!r}")
        self.expand, self.center, self.fill_value = bool(expand), center, fill_value
        _fill("RandomRotation", fill_value, None)

    def __call__(self, image) -> np.ndarray:
        image = _image("RandomRotation", image)
        angle = float(global_rng().uniform(*self.degrees))
        return rotate(image, angle, self.resample, self.expand, self.center, self.fill_value)


__all__ = ["Border", "Pad", "RandomResizedCrop", "RandomRotation"]
