"""MindSpore's samplers: which rows of a random-access source one pass reads, and in what order.

A sampler turns the source's row count ``n`` into the row indices of one pass; a source built with ``sampler=``
reads exactly those rows. ``add_child`` chains samplers as MindSpore does: the parent picks among the indices
its child gives. Random samplers draw from funcad's global generator (``dataset.config.set_seed``), except
``DistributedSampler``, whose shuffled order must be the same in every shard's process: it is drawn from the
seed in force when the sampler was made and the pass number, so shards made after the same ``set_seed``
partition the same permutation and each pass reshuffles it.
"""

from __future__ import annotations

import abc
import numbers
from collections.abc import Iterable, Sequence

import numpy as np

from funcad.core.seed import get_seed, global_rng


def _count(owner: str, name: str, value, allow_none: bool = True) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def _index_list(owner: str, indices) -> np.ndarray:
    values = np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices)
    if values.ndim != 1 or (values.size and values.dtype.kind not in "iu"):
        raise TypeError(f"{owner}: indices must be a sequence of ints, got {indices!r}")
    return values.astype(np.int64)


class BuiltinSampler(abc.ABC):
    """The samplers' shared part: ``num_samples`` (None: all the sampler would give), a chained child and the
    row indices of one pass (``_draw``)."""

    def __init__(self, num_samples: int | None = None):
        self.num_samples = _count(type(self).__name__, "num_samples", num_samples)
        self.child_sampler: BuiltinSampler | None = None

    def add_child(self, sampler: BuiltinSampler) -> None:
        """Read through ``sampler``: this sampler then picks among the indices it gives."""
        if not isinstance(sampler, BuiltinSampler):
            raise TypeError(f"{type(self).__name__}.add_child: sampler must be a built-in sampler, got {type(sampler).__name__}")
        if self.child_sampler is not None:
            raise RuntimeError(f"{type(self).__name__}.add_child: a sampler takes one child, and has one already")
        self.child_sampler = sampler

    def get_child(self) -> BuiltinSampler | None:
        return self.child_sampler

    def get_num_samples(self) -> int | None:
        return self.num_samples

    @abc.abstractmethod
    def _own(self, n: int) -> np.ndarray:
        """This sampler's indices into ``n`` rows for one pass."""

    @abc.abstractmethod
    def _size(self, n: int) -> int:
        """How many indices a pass over ``n`` rows gives (without drawing them)."""

    def indices(self, n: int) -> np.ndarray:
        """The row indices of one pass over a source of ``n`` rows."""
        if self.child_sampler is None:
            return self._checked(self._own(n), n)
        below = self.child_sampler.indices(n)
        return below[self._checked(self._own(len(below)), len(below))]

    def size(self, n: int) -> int:
        """The number of rows one pass over ``n`` rows reads."""
        return self._size(n if self.child_sampler is None else self.child_sampler.size(n))

    def _checked(self, ids: np.ndarray, n: int) -> np.ndarray:
        bad = ids[(ids < 0) | (ids >= n)]
        if bad.size:
            raise ValueError(f"{type(self).__name__}: index {int(bad[0])} is out of range for a dataset of {n} rows")
        return ids

    def _limit(self, count: int) -> int:
        return count if self.num_samples is None else min(count, self.num_samples)


class SequentialSampler(BuiltinSampler):
    """Rows in order from ``start_index`` (None: 0), ``num_samples`` of them (None: to the end)."""

    def __init__(self, start_index: int | None = None, num_samples: int | None = None):
        super().__init__(num_samples)
        if start_index is not None and (isinstance(start_index, bool) or not isinstance(start_index, numbers.Integral) or start_index < 0):
            raise ValueError(f"SequentialSampler: start_index must be a non-negative int, got {start_index!r}")
        self.start_index = 0 if start_index is None else int(start_index)

    def _start(self, n: int) -> int:
        if n and self.start_index >= n:
            raise ValueError(f"SequentialSampler: start_index {self.start_index} must be less than the dataset's {n} rows")
        return self.start_index

    def _size(self, n: int) -> int:
        return self._limit(n - self._start(n))

    def _own(self, n: int) -> np.ndarray:
        start = self._start(n)
        return np.arange(start, start + self._size(n), dtype=np.int64)


class RandomSampler(BuiltinSampler):
    """A random permutation of the rows cut to ``num_samples``, or with ``replacement`` ``num_samples`` (None:
    the row count) independent uniform draws; a new draw on every pass."""

    def __init__(self, replacement: bool = False, num_samples: int | None = None):
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement must be a bool, got {replacement!r}")
        super().__init__(num_samples)
        self.replacement = replacement

    def _size(self, n: int) -> int:
        if self.replacement:
            return n if self.num_samples is None else self.num_samples
        return self._limit(n)

    def _own(self, n: int) -> np.ndarray:
        rng = global_rng()
        if self.replacement:
            return rng.integers(0, n, self._size(n)) if n else np.zeros(0, np.int64)
        return rng.permutation(n)[: self._size(n)].astype(np.int64)


class SubsetSampler(BuiltinSampler):
    """The rows at ``indices``, in that order (the first ``num_samples`` of them)."""

    def __init__(self, indices: Sequence[int], num_samples: int | None = None):
        super().__init__(num_samples)
        self.indices_list = _index_list(type(self).__name__, indices)

    def _size(self, n: int) -> int:
        return self._limit(len(self.indices_list))

    def _own(self, n: int) -> np.ndarray:
        return self.indices_list[: self._size(n)].copy()


class SubsetRandomSampler(SubsetSampler):
    """The rows at ``indices`` in a new random order on every pass (the first ``num_samples`` of it)."""

    def _own(self, n: int) -> np.ndarray:
        return global_rng().permutation(self.indices_list)[: self._size(n)]


class WeightedRandomSampler(BuiltinSampler):
    """``num_samples`` (None: ``len(weights)``) rows drawn with probability proportional to ``weights``, with or
    without ``replacement``."""

    def __init__(self, weights: Sequence[float], num_samples: int | None = None, replacement: bool = True):
        super().__init__(num_samples)
        self.weights = np.asarray(weights, np.float64)
        if self.weights.ndim != 1 or not self.weights.size or np.any(~np.isfinite(self.weights)) or np.any(self.weights < 0):
            raise ValueError(f"WeightedRandomSampler: weights must be a non-empty list of non-negative numbers, got {weights!r}")
        if not self.weights.sum() > 0:
            raise ValueError(f"WeightedRandomSampler: weights must not all be zero, got {weights!r}")
        if not isinstance(replacement, bool):
            raise TypeError(f"WeightedRandomSampler: replacement must be a bool, got {replacement!r}")
        self.replacement = replacement
        if not replacement and self.num_samples is not None and self.num_samples > np.count_nonzero(self.weights):
            raise ValueError(f"WeightedRandomSampler: num_samples {self.num_samples} exceeds the {np.count_nonzero(self.weights)} "
                             "non-zero weights, which is all a draw without replacement can give")

    def _size(self, n: int) -> int:
        return len(self.weights) if self.num_samples is None else self.num_samples

    def _own(self, n: int) -> np.ndarray:
        size = self._size(n)
        if not self.replacement:
            size = min(size, int(np.count_nonzero(self.weights)))
        return global_rng().choice(len(self.weights), size, replace=self.replacement, p=self.weights / self.weights.sum()).astype(np.int64)


class DistributedSampler(BuiltinSampler):
    """Shard ``shard_id`` of ``num_shards``: rows ``shard_id``, ``shard_id + num_shards``, ... of the (shuffled)
    order, wrapping round to give every shard ``ceil(n / num_shards)`` rows; with ``offset`` >= 0 the shards
    start at shard ``offset`` and do not overlap (uneven sizes)."""

    def __init__(self, num_shards: int, shard_id: int, shuffle: bool = True, num_samples: int | None = None, offset: int = -1):
        owner = "DistributedSampler"
        for name, value in (("num_shards", num_shards), ("shard_id", shard_id), ("offset", offset)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{owner}: {name} must be an int, got {value!r}")
        if not isinstance(shuffle, bool):
            raise TypeError(f"{owner}: shuffle must be a bool, got {shuffle!r}")
        if num_shards <= 0:
            raise RuntimeError(f"{owner}: num_shards must be positive, got {num_shards}")
        if not 0 <= shard_id < num_shards:
            raise RuntimeError(f"{owner}: shard_id {shard_id} must be in [0, {num_shards - 1}] for num_shards={num_shards}")
        if offset > num_shards or offset < -1:
            raise RuntimeError(f"{owner}: offset {offset} must be -1 or in [0, num_shards={num_shards}]")
        super().__init__(num_samples)
        self.num_shards, self.shard_id, self.shuffle, self.offset = int(num_shards), int(shard_id), shuffle, int(offset)
        self._seed, self._epoch = get_seed(), 0

    def _positions(self, n: int) -> np.ndarray:
        k, shard = self.num_shards, self.shard_id
        if self.offset == -1:
            per, offset = -(-n // k), 0
        else:
            offset = self.offset
            per = (n + offset) // k + (shard < (n + offset) % k) - (shard < offset)
        per = self._limit(max(per, 0))
        first = 1 if shard < offset else 0  # a shard before the offset skips its first, negative, position
        return (k * np.arange(first, first + per, dtype=np.int64) + shard - offset) % max(n, 1)

    def _size(self, n: int) -> int:
        return len(self._positions(n))

    def _own(self, n: int) -> np.ndarray:
        positions = self._positions(n)
        if not self.shuffle:
            return positions
        order = np.random.default_rng([self._seed, self._epoch]).permutation(n)
        self._epoch += 1
        return order[positions]


class PKSampler(BuiltinSampler):
    """``num_val`` rows of every class, as MindSpore's: the classes (the values of ``class_column``) in ascending
    order, or in a random order with ``shuffle``, and for each class ``num_val`` rows drawn uniformly with
    replacement among its rows (with or without ``shuffle``); ``num_samples`` caps the pass. The source supplies
    its class ids when it is made with ``sampler=`` (``Dataset._class_ids``)."""

    def __init__(self, num_val: int, num_class: int | None = None, shuffle: bool = False, class_column: str = "label",
                 num_samples: int | None = None):
        owner = "PKSampler"
        if num_class is not None:
            raise NotImplementedError(f"{owner}: num_class is not supported (MindSpore's PKSampler refuses it too); every class is sampled")
        if not isinstance(shuffle, bool):
            raise TypeError(f"{owner}: shuffle must be a bool, got {shuffle!r}")
        if not isinstance(class_column, str):
            raise TypeError(f"{owner}: class_column must be a column name, got {class_column!r}")
        super().__init__(num_samples)
        self.num_val = _count(owner, "num_val", num_val, allow_none=False)
        self.shuffle, self.class_column = shuffle, class_column
        self._class_ids = None  # set by the source: a function returning every row's class id

    def add_child(self, sampler: BuiltinSampler) -> None:
        raise NotImplementedError("PKSampler.add_child: PKSampler picks rows by their class ids and cannot read through a child sampler")

    def _members(self) -> list[np.ndarray]:
        """The row indices of each class, classes in ascending order."""
        if self._class_ids is None:
            raise RuntimeError("PKSampler: this dataset gives no class ids; use it as sampler= of a source with a label column "
                               "(MnistDataset, Cifar10Dataset, ImageFolderDataset, NumpySlicesDataset, ...)")
        ids = np.asarray(self._class_ids()).reshape(-1)
        return [np.flatnonzero(ids == label) for label in np.unique(ids)]

    def _size(self, n: int) -> int:
        return self._limit(self.num_val * len(self._members()))

    def _own(self, n: int) -> np.ndarray:
        members, rng = self._members(), global_rng()
        if self.shuffle:
            members = [members[i] for i in rng.permutation(len(members))]
        picks = [rows[rng.integers(0, len(rows))] for k in range(self._size(n)) for rows in (members[k // self.num_val],)]
        return np.asarray(picks, dtype=np.int64)


class Sampler(BuiltinSampler):
    """A user's sampler: subclass it and write ``__iter__`` yielding row indices; ``self.dataset_size`` holds the
    source's row count when a pass starts."""

    def __init__(self, num_samples: int | None = None):
        super().__init__(num_samples)
        self.dataset_size = 0

    @abc.abstractmethod
    def __iter__(self):
        """The row indices of one pass (a subclass without it cannot be made)."""

    def _own(self, n: int) -> np.ndarray:
        self.dataset_size = n
        ids = _index_list(type(self).__name__, iter(self))
        return ids if self.num_samples is None else ids[: self.num_samples]

    def _size(self, n: int) -> int:
        return len(self._own(n))


class _IterSampler(Sampler):
    """Any iterable of indices given as ``sampler=`` (a list, an object with ``__iter__``, or one with ``__getitem__``
    and ``__len__`` as the sampler tutorial writes it)."""

    def __init__(self, iterable: Iterable):
        super().__init__()
        self._iterable = iterable

    def __iter__(self):
        return iter(self._iterable)


def select_sampler(owner: str, num_samples: int | None, sampler, shuffle: bool | None, num_shards: int | None,
                   shard_id: int | None) -> BuiltinSampler:
    """The sampler a source reads through, from its ``sampler``/``shuffle``/``num_samples``/sharding arguments,
    with MindSpore's checks and choices: a sampler excludes the other three; shuffling (None: True) with
    ``num_samples`` draws with replacement, as MindSpore's sources do."""
    if sampler is not None:
        given = {"shuffle": shuffle, "num_shards": num_shards, "shard_id": shard_id, "num_samples": num_samples}
        clash = {name: value for name, value in given.items() if value is not None}
        if clash:
            listed = ", ".join(f"{name}={value!r}" for name, value in clash.items())
            raise RuntimeError(f"{owner}: sampler and {listed} cannot be specified at the same time")
        if isinstance(sampler, BuiltinSampler):
            return sampler
        if isinstance(sampler, (list, tuple, np.ndarray)):
            return SubsetSampler(sampler)
        if isinstance(sampler, numbers.Integral) and not isinstance(sampler, bool):
            return SubsetSampler([int(sampler)])
        if (hasattr(sampler, "__iter__") or hasattr(sampler, "__getitem__")) and not isinstance(sampler, (str, bytes)):
            return _IterSampler(sampler)
        raise TypeError(f"{owner}: unsupported sampler of type {type(sampler).__name__}")
    if shuffle is not None and not isinstance(shuffle, bool):
        raise TypeError(f"{owner}: shuffle must be a bool or None, got {shuffle!r}")
    num_samples = _count(owner, "num_samples", num_samples)
    if num_shards is not None or shard_id is not None:
        if num_shards is None:
            raise RuntimeError(f"{owner}: shard_id={shard_id!r} is specified but num_shards is not")
        if shard_id is None:
            raise RuntimeError(f"{owner}: num_shards={num_shards!r} is specified and requires shard_id as well")
        num_shards = _count(owner, "num_shards", num_shards, allow_none=False)
        if isinstance(shard_id, bool) or not isinstance(shard_id, numbers.Integral) or not 0 <= shard_id < num_shards:
            raise ValueError(f"{owner}: shard_id {shard_id!r} is not within the required interval of [0, {num_shards - 1}]")
        return DistributedSampler(num_shards, int(shard_id), shuffle=shuffle is not False, num_samples=num_samples)
    if shuffle is False:
        return SequentialSampler(num_samples=num_samples)
    return RandomSampler(replacement=num_samples is not None, num_samples=num_samples)


__all__ = ["BuiltinSampler", "Sampler", "PKSampler", "SequentialSampler", "RandomSampler", "SubsetSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "DistributedSampler", "select_sampler"]
