"""Evaluation metrics with MindSpore's names and protocol: ``clear()``, ``update(*inputs)`` per batch, ``eval()``.

Inputs are Tensors or arrays; metrics accumulate in float64 NumPy (they run outside any transform).
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod

import numpy as np

from funcad.core.tensor import Tensor

__all__ = ["Metric", "Accuracy", "Loss", "MAE", "MSE", "Precision", "Recall", "Fbeta", "F1", "TopKCategoricalAccuracy",
           "Top1CategoricalAccuracy", "Top5CategoricalAccuracy", "get_metric_fn"]


def _array(value, owner: str) -> np.ndarray:
    try:
        return np.asarray(value)
    except TypeError as err:
        raise TypeError(f"{owner}: cannot read {type(value).__name__} as an array ({err})") from None


class Metric(ABC):
    """Base class: subclasses accumulate in ``update`` and report in ``eval``."""

    def __init__(self):
        self.clear()

    @abstractmethod
    def clear(self) -> None:
        """Forget everything accumulated."""

    @abstractmethod
    def update(self, *inputs) -> None:
        """Accumulate one batch."""

    @abstractmethod
    def eval(self):
        """The metric over every batch since the last ``clear``."""

    @staticmethod
    def _convert_data(data) -> np.ndarray:
        """A Tensor, list or array as a numpy array: what MindSpore's custom metrics call on each ``update`` input."""
        return data.asnumpy() if isinstance(data, Tensor) else np.asarray(data)

    def _need(self, count: int, inputs: tuple) -> None:
        if len(inputs) != count:
            raise ValueError(f"{type(self).__name__}.update takes {count} inputs, got {len(inputs)}")

    def _nonempty(self, total) -> None:
        if not total:
            raise RuntimeError(f"{type(self).__name__}.eval: no batch was given to update since clear()")


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

    def update(self, *inputs) -> None:
        self._need(1, inputs)
        loss = _array(inputs[0], "Loss").astype(np.float64)
        if loss.ndim > 1:
            raise ValueError(f"Loss: a batch's loss must be a scalar or a vector, got shape {loss.shape}")
        self._add(float(loss.mean()), 1)


class _ErrorMean(_RunningMean):
    """The mean over samples of a per-sample error between ``y_pred`` and ``y`` (same shapes)."""

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


_BY_NAME = {"accuracy": Accuracy, "acc": Accuracy, "loss": Loss, "mae": MAE, "mse": MSE, "precision": Precision, "recall": Recall,
            "f1": F1, "top_1_accuracy": Top1CategoricalAccuracy, "top_5_accuracy": Top5CategoricalAccuracy}


def get_metric_fn(name: str, *args, **kwargs) -> Metric:
    """A metric by its MindSpore name ('accuracy' or 'acc', 'loss', 'mae', 'mse', 'precision', 'recall', 'f1',
    'top_1_accuracy', 'top_5_accuracy')."""
    cls = _BY_NAME.get(str(name).lower())
    if cls is None:
        raise ValueError(f"unknown metric {name!r}; valid names: {', '.join(_BY_NAME)}")
    return cls(*args, **kwargs)


def names() -> list[str]:
    return sorted(_BY_NAME)
