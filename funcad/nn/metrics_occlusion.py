"""Occlusion sensitivity: how much a model's score for a label drops when each region of an input is covered, a map of
the input's regions that matter to the decision."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from funcad.core.tensor import Tensor
from funcad.nn.metrics_base import Metric, _array, _is_int, _is_real, rearrange_inputs

__all__ = ["OcclusionSensitivity"]


class OcclusionSensitivity(Metric):
    """``update(model, x, label)``: x is one input (1, ...); for every position p of x's non-batch dims (or of the
    ``b_box`` ``[min1, max1, min2, max2, ...]``, inclusive), the window [p - margin, p + margin) of x's last dims is
    set to ``pad_val`` and the model run on it in batches of ``n_batch``. ``eval()``: the model's score for ``label``
    on x minus that score with each position occluded (a large value: the region matters)."""

    def __init__(self, pad_val: float = 0.0, margin: int | Sequence[int] = 2, n_batch: int = 128, b_box: list[int] | None = None):
        if not _is_real(pad_val):
            raise TypeError(f"OcclusionSensitivity: pad_val must be a float, got {pad_val!r}")
        margins = [margin] if _is_int(margin) else list(margin) if isinstance(margin, (list, tuple)) else [None]
        if not margins or not all(_is_int(m) and m >= 0 for m in margins):
            raise ValueError(f"OcclusionSensitivity: margin must be a non-negative int or a list of them, got {margin!r}")
        if not _is_int(n_batch) or n_batch < 1:
            raise ValueError(f"OcclusionSensitivity: n_batch must be a positive int, got {n_batch!r}")
        if b_box is not None and (not isinstance(b_box, (list, tuple)) or not all(_is_int(b) for b in b_box)):
            raise ValueError(f"OcclusionSensitivity: b_box must be None or a list of ints [min1, max1, ...], got {b_box!r}")
        self.pad_val, self.margin, self.n_batch, self.b_box = float(pad_val), margin, int(n_batch), b_box
        super().__init__()

    def clear(self) -> None:
        self._baseline = None
        self._sensitivity_im = None

    def _box(self, shape: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.b_box is None:
            return np.zeros_like(shape), shape - 1
        if len(self.b_box) != 2 * len(shape):
            raise ValueError(f"OcclusionSensitivity: b_box needs a min and a max for each of the {len(shape)} non-batch dims, got {self.b_box}")
        low, high = np.maximum(np.array(self.b_box[::2]), 0), np.array(self.b_box[1::2])
        high = np.where(high < 0, shape - 1, high)
        if np.any(high >= shape) or np.any(low > high):
            raise ValueError(f"OcclusionSensitivity: b_box {self.b_box} must lie within the input's shape "
                             f"{tuple(int(n) for n in shape)} with min <= max")
        return low, high

    @staticmethod
    def _scores(model, images: list, label: int) -> np.ndarray:
        out = _array(model(Tensor(np.concatenate(images))), "OcclusionSensitivity")
        return out.reshape(out.shape[0], -1)[:, label]

    @rearrange_inputs
    def update(self, *inputs) -> None:
        self._need(3, inputs)
        model, x, label = inputs[0], _array(inputs[1], "OcclusionSensitivity"), _array(inputs[2], "OcclusionSensitivity")
        if not callable(model):
            raise TypeError(f"OcclusionSensitivity: model (input 0) must be a Cell or callable, got {type(model).__name__}")
        if x.ndim < 2 or x.shape[0] != 1:
            raise RuntimeError(f"OcclusionSensitivity: x (input 1) must be one input of shape (1, ...), got {x.shape}")
        if label.size != 1:
            raise RuntimeError(f"OcclusionSensitivity: label (input 2) must be one class index, got shape {label.shape}")
        label = int(label.reshape(-1)[0])
        shape = np.array(x.shape[1:])
        low, high = self._box(shape)
        margins = np.broadcast_to(np.array(self.margin if isinstance(self.margin, (list, tuple)) else [self.margin]), shape.shape)
        self._baseline = float(self._scores(model, [x], label)[0])
        out_shape = tuple(high - low + 1)
        scores, batch = [], []
        for flat in range(int(np.prod(out_shape))):
            position = np.array(np.unravel_index(flat, out_shape)) + low
            window = tuple(slice(max(0, p - m), min(n, p + m)) for p, m, n in zip(position, margins, shape))
            occluded = x.copy()
            occluded[(...,) + window] = self.pad_val
            batch.append(occluded)
            if len(batch) == self.n_batch:
                scores.append(self._scores(model, batch, label))
                batch = []
        if batch:
            scores.append(self._scores(model, batch, label))
        self._sensitivity_im = np.concatenate(scores).reshape(out_shape)

    def eval(self) -> np.ndarray:
        self._nonempty(self._sensitivity_im is not None)
        return np.squeeze(self._baseline - self._sensitivity_im)
