"""Confusion-matrix metrics: the (true class x predicted class) count matrix, and the rates read from true/false
positive/negative counts of one-hot predictions (sensitivity, specificity, F1, MCC, ...)."""

from __future__ import annotations

import numpy as np

from funcad.nn.metrics_base import Metric, _array, _check_bool, _check_choice, _is_int, _is_real, rearrange_inputs

__all__ = ["ConfusionMatrix", "ConfusionMatrixMetric"]


class ConfusionMatrix(Metric):
    """The (num_classes, num_classes) matrix counting samples of true class i predicted as class j, summed over batches.

    ``update(y_pred, y)``: y holds class indices (N, ...); y_pred the same shape (float values are binarised with
    ``>= threshold``, integers are class indices) or scores (N, C, ...) whose argmax over axis 1 is the class.
    ``normalize``: 'no_norm' (counts), 'target' (each row sums to 1), 'prediction' (each column), 'all' (the whole
    matrix); an empty row or column normalises to zeros."""

    def __init__(self, num_classes: int, normalize: str = "no_norm", threshold: float = 0.5):
        if not _is_int(num_classes) or num_classes < 1:
            raise ValueError(f"ConfusionMatrix: num_classes must be a positive int, got {num_classes!r}")
        self.num_classes = int(num_classes)
        self.normalize = _check_choice("ConfusionMatrix", "normalize", normalize, ("no_norm", "target", "prediction", "all"))
        if not _is_real(threshold):
            raise TypeError(f"ConfusionMatrix: threshold must be a float, got {threshold!r}")
        self.threshold = float(threshold)
        super().__init__()

    def clear(self) -> None:
        self.confusion_matrix = np.zeros((self.num_classes, self.num_classes))
        self._is_update = False

    @rearrange_inputs
    def update(self, *inputs) -> None:
        self._need(2, inputs)
        y_pred, y = _array(inputs[0], "ConfusionMatrix"), _array(inputs[1], "ConfusionMatrix")
        if y_pred.ndim == y.ndim + 1:
            if y_pred.shape[:1] + y_pred.shape[2:] != y.shape:
                raise ValueError(f"ConfusionMatrix: scores {y_pred.shape} do not match labels {y.shape}")
            y_pred = y_pred.argmax(axis=1)
        elif y_pred.ndim != y.ndim or y_pred.shape != y.shape:
            raise ValueError(f"ConfusionMatrix: y_pred {y_pred.shape} must have y's shape {y.shape} or be scores (N, C, ...)")
        elif np.issubdtype(y_pred.dtype, np.floating):
            y_pred = (y_pred >= self.threshold).astype(np.int64)
        pairs = {"y_pred": y_pred.reshape(-1), "y": y.reshape(-1)}
        for name, values in pairs.items():
            if values.size and (np.any(values != np.round(values)) or values.min() < 0 or values.max() >= self.num_classes):
                raise ValueError(f"ConfusionMatrix: {name} must hold class indices in [0, {self.num_classes}), "
                                 f"got values in [{values.min()}, {values.max()}]")
        cells = pairs["y"].astype(np.int64) * self.num_classes + pairs["y_pred"].astype(np.int64)
        self.confusion_matrix += np.bincount(cells, minlength=self.num_classes ** 2).reshape(self.num_classes, self.num_classes)
        self._is_update = True

    def eval(self) -> np.ndarray:
        self._nonempty(self._is_update)
        matrix = self.confusion_matrix.astype(np.float64)
        if self.normalize == "no_norm":
            return matrix
        totals = {"target": matrix.sum(axis=1, keepdims=True), "prediction": matrix.sum(axis=0, keepdims=True), "all": matrix.sum()}
        total = totals[self.normalize]
        return np.divide(matrix, total, out=np.zeros_like(matrix), where=np.broadcast_to(total, matrix.shape) != 0)


# every name (MindSpore's aliases, spaces or underscores, any case) of each rate, and the rate from (tp, fp, tn, fn)
_ALIASES = {
    "tpr": ("sensitivity", "recall", "hit_rate", "true_positive_rate"),
    "tnr": ("specificity", "selectivity", "true_negative_rate"),
    "ppv": ("precision", "positive_predictive_value"),
    "npv": ("negative_predictive_value",),
    "fnr": ("miss_rate", "false_negative_rate"),
    "fpr": ("fall_out", "false_positive_rate"),
    "fdr": ("false_discovery_rate",),
    "for": ("false_omission_rate",),
    "pt": ("prevalence_threshold",),
    "ts": ("threat_score", "critical_success_index", "csi"),
    "acc": ("accuracy",),
    "ba": ("balanced_accuracy",),
    "f1": ("f1_score",),
    "mcc": ("matthews_correlation_coefficient",),
    "fm": ("fowlkes_mallows_index",),
    "bm": ("informedness", "bookmaker_informedness"),
    "mk": ("markedness", "deltap"),
}
_SHORT = {alias: short for short, aliases in _ALIASES.items() for alias in (short, *aliases)}


def _ratio(numerator, denominator):
    """numerator / denominator, NaN where the denominator is 0 (a rate with nothing to count is undefined)."""
    numerator, denominator = np.broadcast_arrays(np.asarray(numerator, np.float64), np.asarray(denominator, np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator != 0, numerator / np.where(denominator != 0, denominator, 1.0), np.nan)


def _rate(short: str, tp, fp, tn, fn):
    p, n = tp + fn, fp + tn
    tpr, tnr, ppv, npv = _ratio(tp, p), _ratio(tn, n), _ratio(tp, tp + fp), _ratio(tn, tn + fn)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = {
            "tpr": lambda: tpr, "tnr": lambda: tnr, "ppv": lambda: ppv, "npv": lambda: npv,
            "fnr": lambda: _ratio(fn, p), "fpr": lambda: _ratio(fp, n), "fdr": lambda: _ratio(fp, fp + tp), "for": lambda: _ratio(fn, fn + tn),
            "pt": lambda: _ratio(np.sqrt(tpr * (1.0 - tnr)) + tnr - 1.0, tpr + tnr - 1.0),
            "ts": lambda: _ratio(tp, tp + fn + fp), "acc": lambda: _ratio(tp + tn, p + n), "ba": lambda: (tpr + tnr) / 2.0,
            "f1": lambda: _ratio(2.0 * tp, 2.0 * tp + fn + fp),
            "mcc": lambda: _ratio(tp * tn - fp * fn, np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))),
            "fm": lambda: np.sqrt(ppv * tpr), "bm": lambda: tpr + tnr - 1.0, "mk": lambda: ppv + npv - 1.0,
        }
        return rates[short]()


def _reduce(chart: np.ndarray, decrease: str) -> tuple[np.ndarray, np.ndarray]:
    """(reduced metric, how many defined values it stands for) from per-(sample, class) values with NaN as undefined."""
    valid = ~np.isnan(chart)
    chart, count = np.where(valid, chart, 0.0), valid.astype(np.float64)

    def mean(values, counts, axis):
        total = counts.sum(axis=axis)
        return _ratio(values.sum(axis=axis), total), total

    if decrease == "mean":  # mean over classes per sample, then over the samples that have one
        per_sample, counts = mean(chart, count, 1)
        defined = (counts > 0).astype(np.float64)
        return _ratio(np.where(counts > 0, per_sample, 0.0).sum(), defined.sum()), defined.sum()
    if decrease == "sum":
        return chart.sum(), count.sum()
    if decrease == "mean_batch":
        return mean(chart, count, 0)
    if decrease == "sum_batch":
        return chart.sum(axis=0), count.sum(axis=0)
    if decrease == "mean_channel":
        return mean(chart, count, 1)
    if decrease == "sum_channel":
        return chart.sum(axis=1), count.sum(axis=1)
    return chart, count


class ConfusionMatrixMetric(Metric):
    """A rate of the confusion counts of binarised one-hot predictions. ``update(y_pred, y)``: y_pred and y of the same
    shape (N, C, ...) holding 0/1 (segmentation masks per class, or one-hot classification rows (N, C)).

    ``calculation_method=False``: true/false positive/negative counts are summed over samples, classes and batches and
    ``eval`` gives the rate of the sums as a 1-element array. ``True`` (segmentation): the rate of each (sample, class)
    is reduced per batch with ``decrease`` and ``eval`` averages the batches, weighting each by its defined (non-NaN)
    values; classification-shaped inputs ((N, C) or (N, C, 1)) are always summed, as MindSpore does.
    ``skip_channel``: as MindSpore's code does, ``True`` keeps every channel and ``False`` drops channel 0 (the
    background) when there is more than one."""

    _DECREASES = ("none", "mean", "sum", "mean_batch", "sum_batch", "mean_channel", "sum_channel")

    def __init__(self, skip_channel: bool = True, metric_name: str = "sensitivity", calculation_method: bool = False, decrease: str = "mean"):
        owner = "ConfusionMatrixMetric"
        self.skip_channel = _check_bool(owner, "skip_channel", skip_channel)
        self.calculation_method = _check_bool(owner, "calculation_method", calculation_method)
        if not isinstance(metric_name, str) or metric_name.replace(" ", "_").lower() not in _SHORT:
            raise ValueError(f"{owner}: unknown metric_name {metric_name!r}; valid names: {', '.join(sorted(_SHORT))}")
        self.metric_name = metric_name
        self._short = _SHORT[metric_name.replace(" ", "_").lower()]
        self.decrease = _check_choice(owner, "decrease", decrease, self._DECREASES)
        super().__init__()

    def clear(self) -> None:
        self._counts = np.zeros(4)  # summed (tp, fp, tn, fn)
        self._summed = False
        self._weighted = self._weights = None  # per-sample mode: sum of score * count, sum of counts

    def _confusion(self, y_pred: np.ndarray, y: np.ndarray) -> np.ndarray:
        """(tp, fp, tn, fn) of each sample and class: shape (N, C, 4)."""
        if y_pred.shape != y.shape or y.ndim < 2:
            raise ValueError(f"ConfusionMatrixMetric: y_pred {y_pred.shape} and y {y.shape} must have the same shape (N, C, ...)")
        for name, values in (("y_pred", y_pred), ("y", y)):
            if not np.all((values == 0) | (values == 1)):
                raise ValueError(f"ConfusionMatrixMetric: {name} must be binarised (0 or 1 only, one-hot), got values {np.unique(values)[:6]}")
        if not self.skip_channel and y.shape[1] > 1:
            y_pred, y = y_pred[:, 1:], y[:, 1:]
        y_pred, y = (v.reshape(v.shape[0], v.shape[1], -1).astype(bool) for v in (y_pred, y))
        tp, tn = (y_pred & y).sum(axis=2), (~y_pred & ~y).sum(axis=2)
        fp, fn = (y_pred & ~y).sum(axis=2), (~y_pred & y).sum(axis=2)
        return np.stack([tp, fp, tn, fn], axis=-1).astype(np.float64)

    @rearrange_inputs
    def update(self, *inputs) -> None:
        self._need(2, inputs)
        y_pred, y = _array(inputs[0], "ConfusionMatrixMetric"), _array(inputs[1], "ConfusionMatrixMetric")
        counts = self._confusion(y_pred, y)
        per_sample = self.calculation_method and not (y_pred.ndim == 2 or (y_pred.ndim == 3 and y_pred.shape[-1] == 1))
        if not per_sample:
            self._counts = self._counts + counts.sum(axis=(0, 1))
            self._summed = True
            return
        score, count = _reduce(_rate(self._short, *np.moveaxis(counts, -1, 0)), self.decrease)
        weighted = np.where(count > 0, score, 0.0) * count
        self._weighted = weighted if self._weighted is None else self._weighted + weighted
        self._weights = count if self._weights is None else self._weights + count

    def eval(self):
        self._nonempty(self._summed or self._weights is not None)
        if self._summed and self._weights is not None:
            raise RuntimeError("ConfusionMatrixMetric.eval: classification-shaped and per-sample (segmentation) batches were mixed")
        if self._summed:
            return _rate(self._short, *self._counts[:, None])
        if not np.any(self._weights > 0):
            raise RuntimeError(f"ConfusionMatrixMetric.eval: {self.metric_name!r} is undefined (NaN) for every sample and class given")
        result = _ratio(self._weighted, self._weights)
        return float(result) if result.ndim == 0 else result
