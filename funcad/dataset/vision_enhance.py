"""``mindspore.dataset.vision``'s AutoAugment operations on uint8 images (HWC, or HW where MindSpore allows it):
``RandomAffine``, ``Equalize``, ``Invert``, ``AutoContrast``, ``RandomSolarize``, ``RandomPosterize``,
``RandomSharpness``, ``RandomColor`` and ``RandomSelectSubpolicy``.

They follow MindSpore's kernels: ``Equalize`` is OpenCV's ``equalizeHist`` per channel (Pillow's ``ImageOps.equalize``
spreads the levels slightly differently), ``AutoContrast`` Pillow's algorithm, ``RandomSharpness`` and ``RandomColor``
blend with a smoothed (3x3 kernel 1 1 1 / 1 5 1 / 1 1 1, border kept) or grey image and round, where Pillow truncates.
``RandomAffine`` builds MindSpore's (torchvision's) matrix: positive degrees turn clockwise, shears are in degrees,
about ((W-1)/2, (H-1)/2). Random draws come from funcad's global generator (``funcad.dataset.config.set_seed``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

import numpy as np

from funcad.core.seed import global_rng
from funcad.dataset.vision_affine import _fill, warp_affine
from funcad.dataset.vision_color import _grey
from funcad.dataset.vision_geometry import Inter, _image


def _real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _uint8(owner: str, image) -> np.ndarray:
    image = _image(owner, image)
    if image.dtype != np.uint8:
        raise TypeError(f"{owner}: expected a uint8 image, got {image.dtype}")
    return image


def _planes(image: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``fn`` applied to each channel of an HWC image (or to an HW image)."""
    if image.ndim == 2:
        return fn(image)
    return np.stack([fn(image[..., c]) for c in range(image.shape[-1])], axis=-1)


def _pair(owner: str, name: str, value, low: float, high: float, integer: bool = False) -> tuple:
    """A (min, max) range with low <= min <= max <= high."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else None
    kind = numbers.Integral if integer else numbers.Real
    if pair is None or len(pair) != 2 or not all(isinstance(v, kind) and not isinstance(v, bool) for v in pair) \
            or not low <= pair[0] <= pair[1] <= high:
        raise ValueError(f"{owner}: {name} must be ({'int' if integer else 'number'} min, max) with {low} <= min <= max <= {high}, got {value!r}")
    return (int(pair[0]), int(pair[1])) if integer else (float(pair[0]), float(pair[1]))


# ---- affine ---------------------------------------------------------------------------------------------------

def affine_matrix(height: int, width: int, degrees: float, translate: tuple[float, float], scale: float,
                  shear: tuple[float, float]) -> np.ndarray:
    """MindSpore's forward 2x3 matrix T * C * R(a) S(s) SHy SHx * C^-1 (angles in degrees, translate in pixels)."""
    a, sx, sy = math.radians(degrees), math.radians(shear[0]), math.radians(-shear[1])
    m0 = scale * math.cos(a + sy) / math.cos(sy)
    m1 = scale * (-math.cos(a + sy) * math.tan(sx) / math.cos(sy) - math.sin(a))
    m3 = scale * math.sin(a + sy) / math.cos(sy)
    m4 = scale * (-math.sin(a + sy) * math.tan(sx) / math.cos(sy) + math.cos(a))
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    return np.array([[m0, m1, (1 - m0) * cx - m1 * cy + translate[0]], [m3, m4, (1 - m4) * cy - m3 * cx + translate[1]]])


def _ranges(owner: str, name: str, value, bound: float | None) -> tuple[float, float, float, float]:
    """(x_min, x_max, y_min, y_max) from MindSpore's 2- or 4-sequence (a number v for shear: (-v, v) along x)."""
    if value is None:
        return 0.0, 0.0, 0.0, 0.0
    if _real(value) and name == "shear":
        if value < 0:
            raise ValueError(f"{owner}: shear must be non-negative when one number, got {value!r}")
        return -float(value), float(value), 0.0, 0.0
    values = tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(values) not in (2, 4) or not all(_real(v) for v in values) or values[0] > values[1] \
            or (len(values) == 4 and values[2] > values[3]) or (bound is not None and any(abs(v) > bound for v in values)):
        within = f" in [-{bound}, {bound}]" if bound is not None else ""
        raise ValueError(f"{owner}: {name} must be (min, max) or (x_min, x_max, y_min, y_max){within}, got {value!r}")
    values = values + (0.0, 0.0) if len(values) == 2 else values
    return tuple(float(v) for v in values)


class RandomAffine:
    """The image rotated (``degrees``: a number d for [-d, d], or (min, max); positive turns clockwise), translated
    (``translate``: fractions of width and height), scaled and sheared (``shear`` in degrees) by values drawn uniformly,
    as one affine map about the centre; ``resample`` NEAREST or BILINEAR, uncovered pixels get ``fill_value``."""

    def __init__(self, degrees, translate=None, scale=None, shear=None, resample: Inter = Inter.NEAREST, fill_value=0):
        owner = "RandomAffine"
        if _real(degrees):
            if degrees < 0:
                raise ValueError(f"{owner}: degrees must be non-negative when one number, got {degrees!r}")
            self.degrees = (-float(degrees), float(degrees))
        else:
            self.degrees = _pair(owner, "degrees", degrees, -math.inf, math.inf)
        self.translate = _ranges(owner, "translate", translate, 1.0)
        self.scale = (1.0, 1.0) if scale is None else _pair(owner, "scale", scale, 0.0, math.inf)
        self.shear = _ranges(owner, "shear", shear, None)
        if not isinstance(resample, Inter):
            raise TypeError(f"{owner}: resample must be an Inter, got {resample!r}")
        self.resample = resample
        fill = _fill(owner, fill_value, None)
        if np.any(fill < 0) or np.any(fill > 255) or np.any(fill != np.round(fill)):
            raise ValueError(f"{owner}: fill_value must be ints in [0, 255], got {fill_value!r}")
        self.fill_value = fill_value

    def __call__(self, image) -> np.ndarray:
        image = _image("RandomAffine", image)
        h, w = image.shape[:2]
        rng = global_rng()
        degrees = float(rng.uniform(*self.degrees))
        tx = float(rng.uniform(self.translate[0] * w, self.translate[1] * w))
        ty = float(rng.uniform(self.translate[2] * h, self.translate[3] * h))
        scale = float(rng.uniform(*self.scale))
        shear = (float(rng.uniform(*self.shear[:2])), float(rng.uniform(*self.shear[2:])))
        forward = affine_matrix(h, w, math.fmod(degrees, 360.0), (tx, ty), scale, shear)
        return warp_affine("RandomAffine", image, forward, (h, w), self.resample, self.fill_value)


# ---- histogram and level operations ---------------------------------------------------------------------------

def _equalize_plane(plane: np.ndarray) -> np.ndarray:
    """OpenCV's ``equalizeHist``: the first occupied level to 0, then the running count scaled to 255."""
    hist = np.bincount(plane.ravel(), minlength=256)
    first = int(np.flatnonzero(hist)[0])
    if hist[first] == plane.size:
        return np.full_like(plane, first)
    scale = np.float32(255.0 / (plane.size - hist[first]))
    lut = np.clip(np.rint((np.cumsum(hist) - hist[first]).astype(np.float32) * scale), 0, 255).astype(np.uint8)
    return lut[plane]


class Equalize:
    """Each channel's histogram equalized (levels spread by their running count), for contrast that does not
    depend on the image's exposure."""

    def __call__(self, image) -> np.ndarray:
        return _planes(_uint8("Equalize", image), _equalize_plane)


class Invert:
    """Every level ``v`` replaced by ``255 - v``."""

    def __call__(self, image) -> np.ndarray:
        return np.subtract(255, _uint8("Invert", image), dtype=np.uint8)


def _autocontrast_plane(plane: np.ndarray, cutoff: float, ignore: tuple[int, ...]) -> np.ndarray:
    hist = np.bincount(plane.ravel(), minlength=256).astype(np.int64)
    hist[list(ignore)] = 0
    if cutoff:
        n = int(hist.sum())
        cut = int(n * cutoff // 100)
        for order in (slice(None), slice(None, None, -1)):  # the darkest, then the brightest ``cut`` pixels removed
            view = hist[order]
            before = np.cumsum(view) - view
            view -= np.clip(cut - before, 0, view)
    occupied = np.flatnonzero(hist)
    if occupied.size == 0 or occupied[-1] <= occupied[0]:
        return plane.copy()
    lo, hi = int(occupied[0]), int(occupied[-1])
    scale = 255.0 / (hi - lo)
    lut = np.clip(np.trunc(np.arange(256) * scale - lo * scale), 0, 255).astype(np.uint8)
    return lut[plane]


class AutoContrast:
    """Each channel's levels stretched so its darkest level becomes 0 and its brightest 255, after removing
    ``cutoff`` percent of the pixels at each end of the histogram and the levels listed in ``ignore``."""

    def __init__(self, cutoff: float = 0.0, ignore: int | Sequence[int] | None = None):
        if not _real(cutoff) or not 0.0 <= cutoff < 50.0:
            raise ValueError(f"AutoContrast: cutoff must be a number in [0, 50), got {cutoff!r}")
        levels = () if ignore is None else (ignore,) if isinstance(ignore, numbers.Integral) else tuple(ignore)
        if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and 0 <= v <= 255 for v in levels):
            raise ValueError(f"AutoContrast: ignore must be an int or ints in [0, 255], got {ignore!r}")
        self.cutoff, self.ignore = float(cutoff), tuple(int(v) for v in levels)

    def __call__(self, image) -> np.ndarray:
        return _planes(_uint8("AutoContrast", image), lambda p: _autocontrast_plane(p, self.cutoff, self.ignore))


def solarize(image: np.ndarray, low: int, high: int) -> np.ndarray:
    """Levels in [low, high] inverted (``low == high``: every level >= low)."""
    inside = image >= low if low == high else (image >= low) & (image <= high)
    return np.where(inside, 255 - image, image).astype(np.uint8)


class RandomSolarize:
    """Levels inside a sub-range of ``threshold`` (min, max) inverted: two levels drawn uniformly from it bound the
    sub-range; equal bounds invert every level at or above them."""

    def __init__(self, threshold=(0, 255)):
        self.threshold = _pair("RandomSolarize", "threshold", threshold, 0, 255, integer=True)

    def __call__(self, image) -> np.ndarray:
        image = _uint8("RandomSolarize", image)
        low, high = sorted(int(v) for v in global_rng().integers(self.threshold[0], self.threshold[1] + 1, size=2))
        return solarize(image, low, high)


class RandomPosterize:
    """Each level kept to its top ``bits`` bits, ``bits`` drawn uniformly from (min, max) in [1, 8] (an int: fixed)."""

    def __init__(self, bits=(8, 8)):
        if isinstance(bits, numbers.Integral) and not isinstance(bits, bool):
            bits = (bits, bits)
        self.bits = _pair("RandomPosterize", "bits", bits, 1, 8, integer=True)

    def __call__(self, image) -> np.ndarray:
        image = _uint8("RandomPosterize", image)
        bits = int(global_rng().integers(self.bits[0], self.bits[1] + 1))
        return image & np.uint8((0xFF << (8 - bits)) & 0xFF)


def _blend(image: np.ndarray, degenerate: np.ndarray, degree: float) -> np.ndarray:
    """``image * degree + degenerate * (1 - degree)`` rounded into uint8 (OpenCV's ``addWeighted``)."""
    out = image.astype(np.float64) * degree + degenerate.astype(np.float64) * (1.0 - degree)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def smooth(image: np.ndarray) -> np.ndarray:
    """The 3x3 smoothing (1 1 1 / 1 5 1 / 1 1 1) / 13, rounded, the border rows and columns left as they are."""
    out = image.copy()
    if image.shape[0] < 3 or image.shape[1] < 3:
        return out
    x = image.astype(np.int64)
    h, w = image.shape[:2]
    total = sum(x[dy : h - 2 + dy, dx : w - 2 + dx] for dy in range(3) for dx in range(3)) + 4 * x[1:-1, 1:-1]
    out[1:-1, 1:-1] = np.rint(total / 13.0).astype(np.uint8)
    return out


def _degrees(owner: str, degrees) -> tuple[float, float]:
    return _pair(owner, "degrees", degrees, 0.0, math.inf)


class RandomSharpness:
    """The image blended with its smoothed version by a degree drawn from ``degrees`` (0: smoothed, 1: unchanged,
    2: sharpened)."""

    def __init__(self, degrees=(0.1, 1.9)):
        self.degrees = _degrees("RandomSharpness", degrees)

    def __call__(self, image) -> np.ndarray:
        image = _uint8("RandomSharpness", image)
        return _blend(image, smooth(image), float(global_rng().uniform(*self.degrees)))


class RandomColor:
    """An RGB image blended with its grey version by a degree drawn from ``degrees`` (0: grey, 1: unchanged,
    above 1: more saturated)."""

    def __init__(self, degrees=(0.1, 1.9)):
        self.degrees = _degrees("RandomColor", degrees)

    def __call__(self, image) -> np.ndarray:
        image = _uint8("RandomColor", image)
        if image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(f"RandomColor: expected an RGB image of shape (H, W, 3), got {image.shape}")
        grey = np.repeat(_grey(image)[..., None], 3, axis=-1)
        return _blend(image, grey, float(global_rng().uniform(*self.degrees)))


class RandomSelectSubpolicy:
    """One sub-policy drawn uniformly from ``policy`` (a list of lists of (operation, prob)), whose operations
    run in order, each with its probability: AutoAugment's policies."""

    def __init__(self, policy):
        subs = list(policy) if isinstance(policy, (list, tuple)) else None
        if not subs:
            raise TypeError(f"RandomSelectSubpolicy: policy must be a non-empty list of sub-policies, got {policy!r}")
        for sub in subs:
            if not isinstance(sub, (list, tuple)) or not sub:
                raise TypeError(f"RandomSelectSubpolicy: each sub-policy must be a non-empty list of (operation, prob), got {sub!r}")
            for step in sub:
                if not isinstance(step, (list, tuple)) or len(step) != 2 or not callable(step[0]):
                    raise TypeError(f"RandomSelectSubpolicy: expected (operation, prob) with a callable operation, got {step!r}")
                if not _real(step[1]) or not 0.0 <= step[1] <= 1.0:
                    raise ValueError(f"RandomSelectSubpolicy: prob must be in [0, 1], got {step[1]!r}")
        self.policy = [[(op, float(prob)) for op, prob in sub] for sub in subs]

    def __call__(self, image):
        rng = global_rng()
        for op, prob in self.policy[int(rng.integers(len(self.policy)))]:
            if rng.random() < prob:
                image = op(image)
        return image


__all__ = ["RandomAffine", "Equalize", "Invert", "AutoContrast", "RandomSolarize", "RandomPosterize", "RandomSharpness",
           "RandomColor", "RandomSelectSubpolicy"]
