"""``mindspore.dataset.transforms``: operations on any column (numpy in, numpy out)."""

from __future__ import annotations

import numpy as np


class TypeCast:
    """The column cast to ``data_type`` (a funcad or numpy dtype)."""

    def __init__(self, data_type):
        self.data_type = np.dtype(data_type)

    def __call__(self, value) -> np.ndarray:
        return np.asarray(value).astype(self.data_type)


class Compose:
    """The operations applied in turn, as one operation."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, *values):
        for op in self.transforms:
            out = op(*values)
            values = tuple(out) if isinstance(out, (tuple, list)) else (out,)
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
