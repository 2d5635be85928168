"""Evaluation metrics with MindSpore's names and protocol: ``clear()``, ``update(*inputs)`` per batch, ``eval()``.

Inputs are Tensors or arrays; metrics accumulate in float64 NumPy (they run outside any transform).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


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


_BY_NAME = {"accuracy": Accuracy, "acc": Accuracy, "loss": Loss, "mae": MAE, "mse": MSE}


def get_metric_fn(name: str, *args, **kwargs) -> Metric:
    """A metric by its MindSpore name ('accuracy' or 'acc', 'loss', 'mae', 'mse')."""
    cls = _BY_NAME.get(str(name).lower())
    if cls is None:
        raise ValueError(f"unknown metric {name!r}; valid names: {', '.join(_BY_NAME)}")
    return cls(*args, **kwargs)


def names() -> list[str]:
    return sorted(_BY_NAME)
