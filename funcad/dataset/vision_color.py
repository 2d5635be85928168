"""``mindspore.dataset.vision``'s decoding and colour operations on HWC RGB images: ``Decode``, ``ConvertColor``,
``Grayscale``, ``AdjustBrightness``/``AdjustContrast``/``AdjustSaturation``/``AdjustHue`` and ``RandomColorAdjust``.

Images are decoded with Pillow (MindSpore decodes with OpenCV/libjpeg; a lossless format decodes to the same
pixels, a JPEG may differ by a level). The colour adjustments blend with the image's grey version as MindSpore's
do (grey = 0.299 R + 0.587 G + 0.114 B, rounded); integer images come back rounded and clipped in their dtype.
The hue shift is computed in floating-point HSV, not OpenCV's 8-bit HSV.
"""

from __future__ import annotations

import enum
import io
import numbers

import numpy as np

from funcad.core.seed import global_rng


def decode_image(owner: str, data) -> np.ndarray:
    """Encoded image bytes (bytes or a 1-D uint8 array) as an RGB HWC uint8 array."""
    from PIL import Image, UnidentifiedImageError

    raw = bytes(data) if isinstance(data, (bytes, bytearray)) else np.asarray(data)
    if not isinstance(raw, bytes):
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise TypeError(f"{owner}: expected the encoded image as bytes or a 1-D uint8 array, got {raw.dtype} of shape {raw.shape}")
        raw = raw.tobytes()
    try:
        with Image.open(io.BytesIO(raw)) as image:
            return np.asarray(image.convert("RGB"))
    except UnidentifiedImageError:
        raise ValueError(f"{owner}: the {len(raw)} bytes are not an image format Pillow can decode") from None


class Decode:
    """Encoded image bytes (a JPEG, PNG, BMP ... file's content) to an RGB image, HWC uint8 (``to_pil``: a PIL image)."""

    def __init__(self, to_pil: bool = False):
        self.to_pil = bool(to_pil)

    def __call__(self, image):
        out = decode_image("Decode", image)
        if self.to_pil:
            from PIL import Image

            return Image.fromarray(out)
        return out


def _as_rgb(owner: str, image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"{owner}: expected an RGB image of shape (H, W, 3), got {image.shape}")
    return image


def _grey(image: np.ndarray) -> np.ndarray:
    """The luma of an RGB image (H, W): OpenCV's fixed-point weights rounded for uint8, exact otherwise."""
    if image.dtype == np.uint8:
        r, g, b = (image[..., i].astype(np.int64) for i in range(3))
        return ((r * 4899 + g * 9617 + b * 1868 + (1 << 13)) >> 14).astype(np.uint8)
    return image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114


def _back(owner: str, out: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.clip(np.rint(out), info.min, info.max).astype(dtype)
    return out.astype(np.float32)


class ConvertMode(enum.Enum):
    """Colour conversions of ``ConvertColor`` (MindSpore's names)."""

    COLOR_BGR2RGB = "bgr2rgb"
    COLOR_RGB2BGR = "rgb2bgr"
    COLOR_BGR2GRAY = "bgr2gray"
    COLOR_RGB2GRAY = "rgb2gray"
    COLOR_GRAY2BGR = "gray2bgr"
    COLOR_GRAY2RGB = "gray2rgb"
    COLOR_BGR2BGRA = "bgr2bgra"
    COLOR_RGB2RGBA = "rgb2rgba"
    COLOR_BGRA2BGR = "bgra2bgr"
    COLOR_RGBA2RGB = "rgba2rgb"
    COLOR_BGRA2RGB = "bgra2rgb"
    COLOR_RGBA2BGR = "rgba2bgr"


class ConvertColor:
    """The image converted between RGB, BGR, RGBA/BGRA and grey (2-D, as OpenCV gives) by ``convert_mode``."""

    def __init__(self, convert_mode: ConvertMode):
        if not isinstance(convert_mode, ConvertMode):
            raise TypeError(f"ConvertColor: convert_mode must be a ConvertMode, got {convert_mode!r}")
        self.convert_mode = convert_mode

    def __call__(self, image) -> np.ndarray:
        image = np.asarray(image)
        source, target = self.convert_mode.value.split("2")
        channels = {"gray": (1,), "rgb": (3,), "bgr": (3,), "rgba": (4,), "bgra": (4,)}[source]
        got = 1 if image.ndim == 2 else image.shape[-1] if image.ndim == 3 else None
        if got not in channels:
            raise ValueError(f"ConvertColor: {self.convert_mode.name} expects a {source.upper()} image, got shape {image.shape}")
        if source == "gray":
            plane = image if image.ndim == 2 else image[..., 0]
            return np.repeat(plane[..., None], 3, axis=-1)
        rgb = image[..., :3] if source.startswith("rgb") else image[..., 2::-1]
        if target == "gray":
            grey = _grey(np.ascontiguousarray(rgb))
            return grey if image.dtype == np.uint8 else _back("ConvertColor", grey, image.dtype)
        out = rgb if target.startswith("rgb") else rgb[..., ::-1]
        if target.endswith("a"):
            alpha = np.iinfo(image.dtype).max if image.dtype.kind in "iu" else 1.0
            out = np.concatenate([out, np.full(out.shape[:2] + (1,), alpha, image.dtype)], axis=-1)
        return np.ascontiguousarray(out)


class Grayscale:
    """An RGB image (HWC array or PIL image) in grey with ``num_output_channels`` 1 or 3 (Pillow's 'L' weights for
    a PIL image, the luma of ``ConvertColor`` for an array)."""

    def __init__(self, num_output_channels: int = 1):
        if num_output_channels not in (1, 3):
            raise ValueError(f"Grayscale: num_output_channels must be 1 or 3, got {num_output_channels!r}")
        self.num_output_channels = num_output_channels

    def __call__(self, image):
        if hasattr(image, "convert") and hasattr(image, "mode"):  # a PIL image stays one
            grey = image.convert("L")
            return grey if self.num_output_channels == 1 else grey.convert("RGB")
        image = _as_rgb("Grayscale", image)
        grey = _back("Grayscale", np.asarray(_grey(image), np.float64), image.dtype)
        return np.repeat(grey[..., None], self.num_output_channels, axis=-1)


def _factor(owner: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
        raise ValueError(f"{owner}: {name} must be a non-negative number, got {value!r}")
    return float(value)


def adjust_brightness(image: np.ndarray, factor: float) -> np.ndarray:
    return _back("AdjustBrightness", image.astype(np.float64) * factor, image.dtype)


def adjust_contrast(image: np.ndarray, factor: float) -> np.ndarray:
    mean = np.mean(_grey(image))
    mean = np.rint(mean) if image.dtype.kind in "iu" else mean
    return _back("AdjustContrast", image.astype(np.float64) * factor + mean * (1.0 - factor), image.dtype)


def adjust_saturation(image: np.ndarray, factor: float) -> np.ndarray:
    grey = np.asarray(_grey(image), np.float64)[..., None]
    return _back("AdjustSaturation", image.astype(np.float64) * factor + grey * (1.0 - factor), image.dtype)


def adjust_hue(image: np.ndarray, factor: float) -> np.ndarray:
    from matplotlib.colors import hsv_to_rgb, rgb_to_hsv

    scale = float(np.iinfo(image.dtype).max) if image.dtype.kind in "iu" else 1.0
    hsv = rgb_to_hsv(np.clip(image.astype(np.float64) / scale, 0.0, 1.0))
    hsv[..., 0] = (hsv[..., 0] + factor) % 1.0
    return _back("AdjustHue", hsv_to_rgb(hsv) * scale, image.dtype)


class AdjustBrightness:
    """The RGB image times ``brightness_factor`` (0: black, 1: unchanged)."""

    def __init__(self, brightness_factor: float):
        self.brightness_factor = _factor("AdjustBrightness", "brightness_factor", brightness_factor)

    def __call__(self, image) -> np.ndarray:
        return adjust_brightness(_as_rgb("AdjustBrightness", image), self.brightness_factor)


class AdjustContrast:
    """The RGB image blended with its mean grey level: ``image * f + mean * (1 - f)``."""

    def __init__(self, contrast_factor: float):
        self.contrast_factor = _factor("AdjustContrast", "contrast_factor", contrast_factor)

    def __call__(self, image) -> np.ndarray:
        return adjust_contrast(_as_rgb("AdjustContrast", image), self.contrast_factor)


class AdjustSaturation:
    """The RGB image blended with its grey version: ``image * f + grey * (1 - f)``."""

    def __init__(self, saturation_factor: float):
        self.saturation_factor = _factor("AdjustSaturation", "saturation_factor", saturation_factor)

    def __call__(self, image) -> np.ndarray:
        return adjust_saturation(_as_rgb("AdjustSaturation", image), self.saturation_factor)


class AdjustHue:
    """The RGB image's hue turned by ``hue_factor`` of a full turn, in [-0.5, 0.5]."""

    def __init__(self, hue_factor: float):
        if isinstance(hue_factor, bool) or not isinstance(hue_factor, numbers.Real) or not -0.5 <= hue_factor <= 0.5:
            raise ValueError(f"AdjustHue: hue_factor must be in [-0.5, 0.5], got {hue_factor!r}")
        self.hue_factor = float(hue_factor)

    def __call__(self, image) -> np.ndarray:
        return adjust_hue(_as_rgb("AdjustHue", image), self.hue_factor)


def _range(name: str, value, centre: float, low: float, high: float) -> tuple[float, float]:
    """MindSpore's argument: a number ``v`` meaning [centre - v, centre + v] (clipped to ``low``), or (min, max)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"RandomColorAdjust: {name} must be non-negative, got {value!r}")
        pair = (max(centre - value, low), centre + value)
    else:
        pair = tuple(value)
        if len(pair) != 2 or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in pair) or pair[0] > pair[1]:
            raise ValueError(f"RandomColorAdjust: {name} must be a number or (min, max), got {value!r}")
    if pair[0] < low or pair[1] > high:
        raise ValueError(f"RandomColorAdjust: {name} {value!r} gives a range outside [{low}, {high}]")
    return float(pair[0]), float(pair[1])


class RandomColorAdjust:
    """Brightness, contrast, saturation and hue changed by factors drawn uniformly from their ranges (a number
    ``v``: [1 - v, 1 + v], hue: [-v, v] with v <= 0.5; or (min, max)), the four applied in a random order as
    MindSpore's; a range of (1, 1) (hue (0, 0)) leaves that one out."""

    def __init__(self, brightness=(1, 1), contrast=(1, 1), saturation=(1, 1), hue=(0, 0)):
        inf = float("inf")
        self.brightness = _range("brightness", brightness, 1.0, 0.0, inf)
        self.contrast = _range("contrast", contrast, 1.0, 0.0, inf)
        self.saturation = _range("saturation", saturation, 1.0, 0.0, inf)
        self.hue = _range("hue", hue, 0.0, -0.5, 0.5)

    def __call__(self, image) -> np.ndarray:
        image = _as_rgb("RandomColorAdjust", image)
        rng = global_rng()
        steps = [(adjust_brightness, self.brightness, 1.0), (adjust_contrast, self.contrast, 1.0),
                 (adjust_saturation, self.saturation, 1.0), (adjust_hue, self.hue, 0.0)]
        for k in rng.permutation(4):
            adjust, (low, high), identity = steps[int(k)]
            if low == high == identity:
                continue
            image = adjust(image, float(rng.uniform(low, high)))
        return image


__all__ = ["Decode", "ConvertMode", "ConvertColor", "Grayscale", "AdjustBrightness", "AdjustContrast", "AdjustSaturation",
           "AdjustHue", "RandomColorAdjust"]
