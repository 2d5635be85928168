"""``mindspore.dataset.vision``'s image operations that the tutorials map over images (numpy in, numpy out); the
geometric ones are in ``funcad.dataset.vision_geometry`` (resize, crops, flips) and ``vision_affine`` (padding,
random resized crops, rotations), decoding and colour in ``vision_color``, AutoAugment's operations in
``vision_enhance``. MindSpore 1.x's ``c_transforms`` and ``py_transforms`` module paths name this module."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from funcad.dataset.vision_affine import Border, Pad, RandomCropDecodeResize, RandomResizedCrop, RandomRotation
from funcad.dataset.vision_color import (
    AdjustBrightness,
    AdjustContrast,
    AdjustHue,
    AdjustSaturation,
    ConvertColor,
    ConvertMode,
    Decode,
    Grayscale,
    RandomColorAdjust,
)
from funcad.dataset.vision_enhance import (
    AutoContrast,
    Equalize,
    Invert,
    RandomAffine,
    RandomColor,
    RandomPosterize,
    RandomSelectSubpolicy,
    RandomSharpness,
    RandomSolarize,
)
from funcad.dataset.vision_geometry import CenterCrop, Inter, RandomCrop, RandomHorizontalFlip, RandomVerticalFlip, Resize


class Rescale:
    """``image * rescale + shift`` as float32."""

    def __init__(self, rescale: float, shift: float):
        self.rescale, self.shift = float(rescale), float(shift)

    def __call__(self, image) -> np.ndarray:
        return (np.asarray(image, np.float32) * np.float32(self.rescale) + np.float32(self.shift)).astype(np.float32)


class Normalize:
    """``(image - mean) / std`` per channel, the channel axis last (``is_hwc``, the default) or first."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], is_hwc: bool = True):
        self.mean, self.std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        if self.mean.ndim != 1 or self.mean.shape != self.std.shape or np.any(self.std <= 0):
            raise ValueError(f"Normalize: mean and std must be equal-length lists with std > 0, got {mean} and {std}")
        self.is_hwc = bool(is_hwc)

    def __call__(self, image) -> np.ndarray:
        image = np.asarray(image, np.float32)
        channels = image.shape[-1] if self.is_hwc else image.shape[-3] if image.ndim >= 3 else None
        if channels is None or len(self.mean) not in (1, channels):
            raise ValueError(f"Normalize: {len(self.mean)} channel(s) of mean/std for an image of shape {image.shape} "
                             f"({'HWC' if self.is_hwc else 'CHW'})")
        shape = (-1,) if self.is_hwc else (-1, 1, 1)
        return ((image - self.mean.reshape(shape)) / self.std.reshape(shape)).astype(np.float32)


class HWC2CHW:
    """Height-width-channel to channel-height-width."""

    def __call__(self, image) -> np.ndarray:
        image = np.asarray(image)
        if image.ndim != 3:
            raise ValueError(f"HWC2CHW: expected an image of shape (H, W, C), got {image.shape}")
        return np.ascontiguousarray(image.transpose(2, 0, 1))


class ToTensor:
    """An HWC image (uint8 in 0..255) to a CHW float32 image in [0, 1]."""

    def __init__(self, output_type=np.float32):
        self.output_type = np.dtype(output_type)

    def __call__(self, image) -> np.ndarray:
        image = np.asarray(image)
        if image.ndim == 2:
            image = image[..., None]
        return HWC2CHW()(image.astype(np.float32) / 255.0).astype(self.output_type)


class ToPIL:
    """A decoded image (HWC or HW numpy array, a tutorial's uint8 pixels) to a PIL image, for showing or for Pillow's
    operations; a PIL image passes unchanged. One channel gives a greyscale ('L') image."""

    def __call__(self, image):
        from PIL import Image  # Pillow, which Decode also needs, is imported when an image is first converted

        if isinstance(image, Image.Image):
            return image
        array = np.asarray(image)
        if array.ndim == 3 and array.shape[-1] == 1:
            array = array[..., 0]
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
            raise ValueError(f"ToPIL: expected an image of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {np.shape(image)}")
        if array.ndim == 3 and array.dtype != np.uint8:
            raise TypeError(f"ToPIL: a colour image must hold uint8 pixels (PIL's RGB/RGBA modes), got {array.dtype}")
        return Image.fromarray(array)


__all__ = ["Rescale", "Normalize", "HWC2CHW", "ToTensor", "ToPIL", "Resize", "CenterCrop", "RandomCrop", "RandomHorizontalFlip",
           "RandomVerticalFlip", "Inter", "Border", "Pad", "RandomResizedCrop",
           "RandomCropDecodeResize", "RandomRotation", "Decode", "ConvertMode", "ConvertColor",
           "Grayscale", "AdjustBrightness", "AdjustContrast", "AdjustSaturation", "AdjustHue", "RandomColorAdjust",
           "RandomAffine", "Equalize", "Invert", "AutoContrast", "RandomSolarize", "RandomPosterize",
           "RandomSharpness", "RandomColor", "RandomSelectSubpolicy"]
