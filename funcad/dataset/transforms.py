"""``mindspore.dataset.transforms``: operations on any column (numpy in, numpy out)."""

from __future__ import annotations

import numbers

import numpy as np

from funcad.core.seed import global_rng


class TypeCast:
    """The column cast to ``data_type`` (a funcad or numpy dtype)."""

    def __init__(self, data_type):
        self.data_type = np.dtype(data_type)

    def __call__(self, value) -> np.ndarray:
        return np.asarray(value).astype(self.data_type)



class PadEnd:
    """The value padded at the end of each axis to ``pad_shape`` (an axis given as None keeps its length; a longer
    axis is cut to it): fixed-length token ids for batching. ``pad_value`` None pads numbers with 0, strings with ''."""

    def __init__(self, pad_shape: list[int | None], pad_value=None):
        self.pad_shape, self.pad_value = list(pad_shape), pad_value

    def __call__(self, value) -> np.ndarray:
        value = np.asarray(value)
        if len(self.pad_shape) != value.ndim:
            raise ValueError(f"PadEnd: pad_shape {self.pad_shape} has {len(self.pad_shape)} axes, the value {value.ndim} (shape {value.shape})")
        shape = tuple(n if want is None else int(want) for n, want in zip(value.shape, self.pad_shape))
        fill = self.pad_value if self.pad_value is not None else "" if value.dtype.kind in "US" else 0
        out = np.full(shape, fill, dtype=value.dtype if value.dtype.kind not in "US" else np.result_type(value, np.asarray(fill)))
        kept = tuple(slice(0, min(a, b)) for a, b in zip(value.shape, shape))
        out[kept] = value[kept]
        return out

class Compose:
    """The operations applied in turn, as one operation."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, *values):
        for op in self.transforms:
            out = op(*values)
            values = tuple(out) if isinstance(out, (tuple, list)) else (out,)
        return values if len(values) > 1 else values[0]


def _operations(owner: str, transforms) -> list:
    ops = list(transforms) if isinstance(transforms, (list, tuple)) else None
    if not ops or not all(callable(op) for op in ops):
        raise TypeError(f"{owner}: transforms must be a non-empty list of operations, got {transforms!r}")
    return ops


class RandomChoice:
    """One of ``transforms``, drawn uniformly for each call (from funcad's global generator), applied."""

    def __init__(self, transforms):
        self.transforms = _operations("RandomChoice", transforms)

    def __call__(self, *values):
        return self.transforms[int(global_rng().integers(len(self.transforms)))](*values)


class RandomApply:
    """``transforms`` applied in turn with probability ``prob``, else the values unchanged."""

    def __init__(self, transforms, prob: float = 0.5):
        self.transforms = _operations("RandomApply", transforms)
        if isinstance(prob, bool) or not isinstance(prob, numbers.Real) or not 0.0 <= prob <= 1.0:
            raise ValueError(f"RandomApply: prob must be a number in [0, 1], got {prob!r}")
        self.prob = float(prob)

    def __call__(self, *values):
        if global_rng().random() < self.prob:
            return Compose(self.transforms)(*values)
        return values if len(values) > 1 else values[0]


class OneHot:
    """A class index (or an array of them) as one-hot rows of ``num_classes`` (int64)."""

    def __init__(self, num_classes: int):
        if num_classes < 1:
            raise ValueError(f"OneHot: num_classes must be positive, got {num_classes}")
        self.num_classes = int(num_classes)

    def __call__(self, label) -> np.ndarray:
        label = np.asarray(label)
        if label.dtype.kind not in "iu" or label.size and (label.min() < 0 or label.max() >= self.num_classes):
            raise ValueError(f"OneHot: labels must be integers in [0, {self.num_classes}), got {label.tolist()}")
        return np.eye(self.num_classes, dtype=np.int64)[label]
