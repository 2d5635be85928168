"""The metric protocol shared by every metric: ``clear()``, ``update(*inputs)`` per batch, ``eval()``, and MindSpore's
``set_indexes`` / ``rearrange_inputs`` pair that picks and orders ``update``'s inputs from an eval network's outputs."""

from __future__ import annotations

import functools
import numbers
from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

from funcad.core.tensor import Tensor


def _array(value, owner: str) -> np.ndarray:
    try:
        return value.asnumpy() if isinstance(value, Tensor) else np.asarray(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{owner}: cannot read {type(value).__name__} as an array ({err})") from None


def _is_int(value) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    return isinstance(value, (numbers.Real, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_choice(owner: str, arg: str, value, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{owner}: {arg} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def _check_bool(owner: str, arg: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {arg} must be a bool, got {value!r}")
    return bool(value)


def rearrange_inputs(func: Callable) -> Callable:
    """Decorate a metric's ``update`` so that, once ``set_indexes([i, j, ...])`` was called, it receives
    ``(inputs[i], inputs[j], ...)``: one metric can then read the outputs it needs from a longer tuple."""

    @functools.wraps(func)
    def wrapper(self, *inputs):
        indexes = getattr(self, "indexes", None)
        if indexes:
            try:
                inputs = tuple(inputs[i] for i in indexes)
            except IndexError:
                raise ValueError(f"{type(self).__name__}.update: indexes {indexes} pick beyond the {len(inputs)} inputs given") from None
        return func(self, *inputs)

    return wrapper


class Metric(ABC):
    """Base class: subclasses accumulate in ``update`` and report in ``eval``; ``metric(*inputs)`` is one batch's value."""

    def __init__(self):
        self._indexes = None
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

    def __call__(self, *inputs):
        """The metric of these inputs alone: ``clear``, ``update`` and ``eval`` in one call."""
        self.clear()
        self.update(*inputs)
        return self.eval()

    @property
    def indexes(self) -> list[int] | None:
        """The positions ``update`` reads its inputs from (``None``: all of them, in order)."""
        return getattr(self, "_indexes", None)

    def set_indexes(self, indexes: list[int]) -> Metric:
        """Make ``update`` (decorated with ``rearrange_inputs``) take ``inputs[indexes[0]], inputs[indexes[1]], ...``."""
        if not isinstance(indexes, list) or not all(_is_int(i) for i in indexes):
            raise ValueError(f"{type(self).__name__}.set_indexes: indexes must be a list of ints, got {indexes!r}")
        self._indexes = [int(i) for i in indexes]
        return self

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
