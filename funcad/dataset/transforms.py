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
