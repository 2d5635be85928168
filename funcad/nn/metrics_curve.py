"""The ROC curve of scores against labels (one curve per class, one-vs-rest, for multiclass scores) and ``auc``, the
trapezoidal area under any such curve."""

from __future__ import annotations

import numpy as np

from funcad.nn.metrics_base import Metric, _array, _is_int, rearrange_inputs

__all__ = ["ROC", "auc"]


def _binary_curve(scores: np.ndarray, labels: np.ndarray, pos_label) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) of one score per sample: a point per distinct score, from the highest down, after (0, 0)
    at the highest score plus one."""
    order = np.argsort(-scores, kind="stable")
    scores, positive = scores[order], (labels[order] == pos_label).astype(np.int64)
    # the last position of each run of equal scores: a threshold admits every sample of its run at once
    ends = np.append(np.flatnonzero(np.diff(scores)), scores.size - 1)
    tps = np.cumsum(positive)[ends]
    fps = ends + 1 - tps
    if fps[-1] <= 0:
        raise ValueError("ROC.eval: the labels hold no negative sample, so the false positive rate is undefined")
    if tps[-1] <= 0:
        raise ValueError(f"ROC.eval: the labels hold no positive sample (pos_label {pos_label}), so the true positive rate is undefined")
    fpr = np.concatenate([[0.0], fps / fps[-1]])
    tpr = np.concatenate([[0.0], tps / tps[-1]])
    return fpr, tpr, np.concatenate([scores[:1] + 1, scores[ends]])


class ROC(Metric):
    """The ROC curve: ``eval()`` gives (fpr, tpr, thresholds).

    ``update(y_pred, y)``: binary when y_pred has y's shape (scores of the ``pos_label`` class, 1 by default; arrays
    are flattened); multiclass when y_pred is (N, C, ...) scores and y (N, ...) class indices: then ``class_num`` must
    be C, ``pos_label`` None, and eval gives lists with one array per class. Batches accumulate (MindSpore's ROC keeps
    only the last one)."""

    def __init__(self, class_num: int | None = None, pos_label: int | None = None):
        for name, value in (("class_num", class_num), ("pos_label", pos_label)):
            if value is not None and not _is_int(value):
                raise TypeError(f"ROC: {name} must be an int or None, got {value!r}")
        if class_num is not None and class_num < 1:
            raise ValueError(f"ROC: class_num must be positive, got {class_num}")
        self.class_num = class_num
        self.pos_label = pos_label
        super().__init__()

    def clear(self) -> None:
        self._scores, self._labels = [], []
        self._multiclass = None

    @rearrange_inputs
    def update(self, *inputs) -> None:
        self._need(2, inputs)
        y_pred, y = _array(inputs[0], "ROC"), _array(inputs[1], "ROC")
        if y_pred.ndim == y.ndim:
            if y_pred.shape != y.shape:
                raise ValueError(f"ROC: binary y_pred {y_pred.shape} and y {y.shape} must have the same shape")
            if self.class_num not in (None, 1):
                raise ValueError(f"ROC: binary inputs (y_pred and y of the same ndim) need class_num None or 1, got {self.class_num}")
            multiclass, scores = False, y_pred.reshape(-1)
        elif y_pred.ndim == y.ndim + 1:
            if self.pos_label is not None:
                raise ValueError(f"ROC: multiclass scores (N, C, ...) need pos_label None, got {self.pos_label}")
            if self.class_num != y_pred.shape[1]:
                raise ValueError(f"ROC: class_num must equal the number of classes in y_pred {y_pred.shape}, got {self.class_num}")
            if y_pred.shape[:1] + y_pred.shape[2:] != y.shape:
                raise ValueError(f"ROC: scores {y_pred.shape} do not match labels {y.shape}")
            multiclass, scores = True, np.moveaxis(y_pred, 1, -1).reshape(-1, y_pred.shape[1])
        else:
            raise ValueError(f"ROC: y_pred must have y's ndim or one more, got y_pred {y_pred.shape} and y {y.shape}")
        if self._multiclass is not None and multiclass != self._multiclass:
            raise ValueError("ROC: binary and multiclass batches cannot be mixed")
        self._multiclass = multiclass
        self._scores.append(scores)
        self._labels.append(y.reshape(-1))

    def eval(self):
        self._nonempty(self._scores)
        scores, labels = np.concatenate(self._scores), np.concatenate(self._labels)
        if not self._multiclass:
            return _binary_curve(scores, labels, 1 if self.pos_label is None else self.pos_label)
        curves = [_binary_curve(scores[:, c], labels, c) for c in range(scores.shape[1])]
        return tuple(list(part) for part in zip(*curves))


def auc(x, y, reorder: bool = False) -> float:
    """The area under the curve through the points (x, y) by the trapezoidal rule: AUC from ROC's (fpr, tpr).
    x must be monotonic (decreasing x gives the area with its sign corrected) unless ``reorder`` sorts it."""
    x, y = (_array(v, "auc").astype(np.float64) for v in (x, y))
    for name, v in (("x", x), ("y", y)):
        if not (v.ndim == 1 or (v.ndim == 2 and v.shape[1] == 1)):
            raise ValueError(f"auc: {name} must be 1-D (or a column), got shape {v.shape}")
    x, y = x.reshape(-1), y.reshape(-1)
    if x.size != y.size:
        raise ValueError(f"auc: x and y must have the same length, got {x.size} and {y.size}")
    if x.size < 2:
        raise ValueError(f"auc: at least 2 points are needed, got {x.size}")
    direction = 1.0
    if reorder:
        order = np.lexsort((y, x))
        x, y = x[order], y[order]
    else:
        steps = np.diff(x)
        if np.any(steps < 0):
            if not np.all(steps <= 0):
                raise ValueError(f"auc: x must be increasing or decreasing (or pass reorder=True), got {x}")
            direction = -1.0
    return float(direction * np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))
