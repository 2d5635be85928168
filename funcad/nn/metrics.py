"""Evaluation metrics with MindSpore's names and protocol: ``clear()``, ``update(*inputs)`` per batch, ``eval()``.

Inputs are Tensors or arrays; metrics accumulate in float64 NumPy (they run outside any transform).
"""

from __future__ import annotations

import sys
from abc import abstractmethod

import numpy as np

from funcad.nn.metrics_base import Metric, _array, rearrange_inputs
from funcad.nn.metrics_confusion import ConfusionMatrix, ConfusionMatrixMetric
from funcad.nn.metrics_curve import ROC, auc
from funcad.nn.metrics_language import BleuScore, Perplexity
from funcad.nn.metrics_occlusion import OcclusionSensitivity
from funcad.nn.metrics_segmentation import Dice, HausdorffDistance, MeanSurfaceDistance, RootMeanSquareDistance
from funcad.nn.metrics_similarity import CosineSimilarity

__all__ = ["Metric", "rearrange_inputs", "names", "get_metric_fn", "Accuracy", "Loss", "MAE", "MSE", "Precision", "Recall", "Fbeta", "F1",
           "TopKCategoricalAccuracy", "Top1CategoricalAccuracy", "Top5CategoricalAccuracy", "ConfusionMatrix", "ConfusionMatrixMetric",
           "ROC", "auc", "Dice", "HausdorffDistance", "MeanSurfaceDistance", "RootMeanSquareDistance", "Perplexity", "BleuScore",
           "CosineSimilarity", "OcclusionSensitivity"]


class _RunningMean(Metric):
    """A metric that is a sum over batches divided by a count (of samples or of batches); ``update`` adds to both."""

    def clear(self) -> None:
        self._sum = 0.0
        self._count = 0

    def _add(self, amount: float, count: int) -> None:
        self._sum += amount
        self._count += count

    def eval(self) -> float:
        self._nonempty(self._count)
        return self._sum / self._count


class Accuracy(_RunningMean):
    """The fraction of samples whose predicted class is right. ``update(y_pred, y)``: scores (N, C) and labels as
    class indices (N,) or one-hot/probabilities (N, C). ``eval_type='multilabel'``: y_pred and y (N, C) of 0/1
    (scores are rounded), a sample is right when every label is."""

    def __init__(self, eval_type: str = "classification"):
        if eval_type not in ("classification", "multilabel"):
            raise ValueError(f"Accuracy: eval_type must be 'classification' or 'multilabel', got {eval_type!r}")
        self.eval_type = eval_type
        super().__init__()

    @rearrange_inputs
    def update(self, *inputs) -> None:
        self._need(2, inputs)
        y_pred, y = _array(inputs[0], "Accuracy"), _array(inputs[1], "Accuracy")
        if self.eval_type == "multilabel":
            if y_pred.shape != y.shape:
                raise ValueError(f"Accuracy: multilabel y_pred {y_pred.shape} and y {y.shape} must have the same shape")
            right = np.all(np.round(y_pred) == y, axis=tuple(range(1, y.ndim)))
        else:
            if y_pred.ndim < 2:
                raise ValueError(f"Accuracy: y_pred must be scores of shape (N, C), got {y_pred.shape}")
            if y.ndim == y_pred.ndim:
                y = y.argmax(axis=1)
            if y.shape != (y_pred.shape[0],) + y_pred.shape[2:]:
                raise ValueError(f"Accuracy: labels {y.shape} do not match scores {y_pred.shape}")
            right = y_pred.argmax(axis=1) == y
        self._add(int(np.sum(right)), right.size)


class Loss(_RunningMean):
    """The average of the per-batch losses (a batch's loss is averaged first when it is a vector)."""

    @rearrange_inputs
    def update(self, *inputs) -> None:
        self._need(1, inputs)
        loss = _array(inputs[0], "Loss").astype(np.float64)
        if loss.ndim > 1:
            raise ValueError(f"Loss: a batch's loss must be a scalar or a vector, got shape {loss.shape}")
        self._add(float(loss.mean()), 1)


class _ErrorMean(_RunningMean):
    """The mean over samples of a per-sample error between ``y_pred`` and ``y`` (same shapes)."""

    @rearrange_inputs
    def update(self, *inputs) -> None:
        self._need(2, inputs)
        y_pred, y = (_array(v, type(self).__name__).astype(np.float64) for v in inputs)
        if y_pred.shape != y.shape:
            raise ValueError(f"{type(self).__name__}: y_pred {y_pred.shape} and y {y.shape} must have the same shape")
        errors = self._per_sample(y_pred - y)
        self._add(float(np.sum(errors)), y.shape[0] if y.ndim else 1)

    @staticmethod
    @abstractmethod
    def _per_sample(diff: np.ndarray) -> np.ndarray:
        """One error per sample from the differences."""


class MAE(_ErrorMean):
    """Mean absolute error: the sum of |y_pred - y| over each sample's elements, averaged over samples."""

    @staticmethod
    def _per_sample(diff):
        return np.abs(diff).reshape(diff.shape[0], -1).sum(axis=1) if diff.ndim else np.abs(diff)


class MSE(_ErrorMean):
    """Mean squared error: the sum of (y_pred - y)^2 over each sample's elements, averaged over samples."""

    @staticmethod
    def _per_sample(diff):
        return np.square(diff).reshape(diff.shape[0], -1).sum(axis=1) if diff.ndim else np.square(diff)


def _scores_and_labels(owner: str, inputs: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(scores (N, C), class indices (N,)) from scores and labels given as indices or one-hot rows."""
    y_pred, y = _array(inputs[0], owner), _array(inputs[1], owner)
    if y_pred.ndim != 2:
        raise ValueError(f"{owner}: y_pred must be scores of shape (N, C), got {y_pred.shape}")
    if y.ndim == 2:
        y = y.argmax(axis=1)
    if y.shape != (y_pred.shape[0],):
        raise ValueError(f"{owner}: labels {y.shape} do not match scores {y_pred.shape}")
    return y_pred, y.astype(np.int64)


class TopKCategoricalAccuracy(_RunningMean):
    """The fraction of samples whose class is among the ``k`` highest scores. ``update(y_pred, y)`` as Accuracy's."""

    def __init__(self, k: int):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"{type(self).__name__}: k must be a positive int, got {k!r}")
        self.k = int(k)
        super().__init__()

    @rearrange_inputs
    def update(self, *inputs) -> None:
        self._need(2, inputs)
        y_pred, y = _scores_and_labels(type(self).__name__, inputs)
        # a label is in the top k when fewer than k classes score strictly higher
        higher = (y_pred > y_pred[np.arange(len(y)), y][:, None]).sum(axis=1)
        self._add(int(np.sum(higher < self.k)), len(y))


class Top1CategoricalAccuracy(TopKCategoricalAccuracy):
    def __init__(self):
        super().__init__(1)


class Top5CategoricalAccuracy(TopKCategoricalAccuracy):
    def __init__(self):
        super().__init__(5)


class _ClassCounts(Metric):
    """Per-class counts of a classification: true positives, predicted and actual positives. ``update(y_pred, y)`` as
    Accuracy's; ``eval(average=False)`` gives one value per class, ``average=True`` their mean. A class with nothing
    to count scores 0 (MindSpore divides by the count plus the smallest float)."""

    def __init__(self, eval_type: str = "classification"):
        if eval_type != "classification":
            raise ValueError(f"{type(self).__name__}: eval_type 'classification' is supported, got {eval_type!r}")
        self.eval_type = eval_type
        super().__init__()

    def clear(self) -> None:
        self._true = self._predicted = self._actual = None

    @rearrange_inputs
    def update(self, *inputs) -> None:
        self._need(2, inputs)
        y_pred, y = _scores_and_labels(type(self).__name__, inputs)
        classes = y_pred.shape[1]
        predicted = y_pred.argmax(axis=1)
        counts = (np.bincount(predicted[predicted == y], minlength=classes), np.bincount(predicted, minlength=classes),
                  np.bincount(y, minlength=classes))
        if self._true is None:
            self._true, self._predicted, self._actual = counts
        else:
            self._true, self._predicted, self._actual = (a + b for a, b in zip((self._true, self._predicted, self._actual), counts))

    def eval(self, average: bool = False):
        self._nonempty(self._true is not None)
        per_class = self._per_class(self._true, self._predicted, self._actual)
        return float(per_class.mean()) if average else per_class

    @staticmethod
    def _ratio(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
        return part / (whole + sys.float_info.min)

    @abstractmethod
    def _per_class(self, true: np.ndarray, predicted: np.ndarray, actual: np.ndarray) -> np.ndarray:
        """The metric of each class from its counts."""


class Precision(_ClassCounts):
    """Per class, the fraction of the samples predicted as that class that are of it."""

    def _per_class(self, true, predicted, actual):
        return self._ratio(true, predicted)


class Recall(_ClassCounts):
    """Per class, the fraction of the samples of that class predicted as it."""

    def _per_class(self, true, predicted, actual):
        return self._ratio(true, actual)


class Fbeta(_ClassCounts):
    """Per class, (1 + beta^2) * precision * recall / (beta^2 * precision + recall)."""

    def __init__(self, beta: float):
        if not beta > 0:
            raise ValueError(f"{type(self).__name__}: beta must be > 0, got {beta}")
        self.beta = float(beta)
        super().__init__()

    def _per_class(self, true, predicted, actual):
        precision, recall, b2 = self._ratio(true, predicted), self._ratio(true, actual), self.beta ** 2
        return self._ratio((1.0 + b2) * precision * recall, b2 * precision + recall)


class F1(Fbeta):
    def __init__(self):
        super().__init__(1.0)


class _UnknownMetric(KeyError, ValueError):
    """An unknown metric name: a KeyError as MindSpore raises, and a ValueError as funcad's other lookups do."""

    def __str__(self) -> str:
        return str(self.args[0])


# MindSpore's names, as ``names()`` lists them; lookups also accept any case ('f1', 'Accuracy')
_BY_NAME = {"accuracy": Accuracy, "acc": Accuracy, "precision": Precision, "recall": Recall, "F1": F1, "dice": Dice, "roc": ROC, "auc": auc,
            "bleu_score": BleuScore, "cosine_similarity": CosineSimilarity, "occlusion_sensitivity": OcclusionSensitivity,
            "topk": TopKCategoricalAccuracy,
            "hausdorff_distance": HausdorffDistance, "top_1_accuracy": Top1CategoricalAccuracy, "top_5_accuracy": Top5CategoricalAccuracy,
            "mae": MAE, "mse": MSE, "loss": Loss, "mean_surface_distance": MeanSurfaceDistance,
            "root_mean_square_distance": RootMeanSquareDistance, "perplexity": Perplexity, "confusion_matrix": ConfusionMatrix,
            "confusion_matrix_metric": ConfusionMatrixMetric}
_BY_LOWER = {key.lower(): value for key, value in _BY_NAME.items()}


def get_metric_fn(name: str, *args, **kwargs):
    """A metric made from its name in ``names()`` (any case) and the constructor's arguments, so that a Model can take
    ``metrics={'accuracy', 'loss'}``; ``'auc'`` names the function and calls it with the arguments."""
    key = name if isinstance(name, str) else str(name)
    factory = _BY_NAME.get(key) or _BY_LOWER.get(key.lower())
    if factory is None:
        raise _UnknownMetric(f"get_metric_fn: unknown metric {name!r}; valid names: {', '.join(names())}")
    return factory(*args, **kwargs)


def names() -> list[str]:
    """The metric names ``get_metric_fn`` knows, sorted as MindSpore's ``names()`` lists them."""
    return sorted(_BY_NAME)
