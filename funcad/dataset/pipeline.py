"""MindSpore's dataset pipeline in miniature: named columns of numpy rows, ``map``, ``shuffle``, ``batch`` and the
iterators the tutorials loop over.

A dataset is a chain of stages, each re-run on every pass: ``create_tuple_iterator()`` (or ``for row in dataset``)
makes one pass over the data and yields lists of Tensors, ``create_dict_iterator()`` dicts by column name. Random
order (a source's ``shuffle``, ``shuffle(buffer_size)``) is drawn from funcad's global generator, so
``funcad.set_seed`` makes it repeatable, and each pass draws a new order.
"""

from __future__ import annotations

import abc
import functools
import itertools
import numbers
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np

from funcad.core.seed import global_rng
from funcad.core.tensor import Tensor
from funcad.dataset.samplers import PKSampler, select_sampler
from funcad.dataset.transforms import Compose

# MindSpore's options that change nothing when one process reads the rows in order (workers, caches, shared memory).
NO_EFFECT = frozenset({"num_parallel_workers", "python_multiprocessing", "max_rowsize", "cache", "callbacks", "offload"})


def accepted_options(owner: str, options: dict) -> None:
    """Refuse, by name, the options of MindSpore's signature that would change the rows (per-batch maps, padding)
    and any unknown one: ignoring them would give other data without a word. Samplers and sharding are arguments
    of the sources themselves."""
    refused = sorted(set(options) - NO_EFFECT)
    if refused:
        listed = ", ".join(f"{name}={options[name]!r}" for name in refused)
        raise NotImplementedError(f"{owner}: {listed} not supported (funcad.dataset reads all rows in one process; "
                                  f"only {', '.join(sorted(NO_EFFECT))} are accepted and change nothing)")


def _positive(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def _as_array(value) -> np.ndarray:
    return value.asnumpy() if isinstance(value, Tensor) else np.asarray(value)


class EpochIterator:
    """An iterator over a dataset's rows that starts a new pass each time one ends: ``next(it)`` reads on, and a
    ``for`` loop after the end of a pass runs the next one (MindSpore's one iterator used for every epoch), at most
    ``num_epochs`` passes (-1: any number)."""

    def __init__(self, one_pass: Callable[[], Iterator], num_epochs: int = -1):
        if isinstance(num_epochs, bool) or not isinstance(num_epochs, numbers.Integral) or num_epochs == 0 or num_epochs < -1:
            raise ValueError(f"create iterator: num_epochs must be a positive int or -1, got {num_epochs!r}")
        self._one_pass, self._epochs_left, self._rows = one_pass, int(num_epochs), None

    def __iter__(self):
        return self

    def __next__(self):
        if self._rows is None:
            if self._epochs_left == 0:
                raise StopIteration
            self._epochs_left -= self._epochs_left > 0
            self._rows = self._one_pass()
        try:
            return next(self._rows)
        except StopIteration:
            self._rows = None  # the pass is over: the next loop starts the next epoch
            raise


class Dataset(abc.ABC):
    """The operations every dataset has; subclasses give ``column_names`` and ``_rows()`` (one pass)."""

    column_names: list[str]

    @abc.abstractmethod
    def _rows(self) -> Iterator[tuple]:
        """The rows of one pass, each a tuple of numpy values in column order."""

    def get_col_names(self) -> list[str]:
        return list(self.column_names)

    def get_dataset_size(self) -> int:
        """The number of rows (batches, after ``batch``) in one pass."""
        return sum(1 for _ in self._rows())

    def get_batch_size(self) -> int:
        return 1

    def reset(self) -> None:
        """MindSpore's reset for the next epoch, which hand-written loops call after each pass; every pass here reads
        the source again (new shuffles and random draws), so there is nothing to reset."""
        return None

    def map(self, operations: Callable | Sequence[Callable], input_columns: str | Sequence[str] | None = None,
            output_columns: str | Sequence[str] | None = None, **kwargs) -> Dataset:
        """Apply ``operations`` (one callable or a list applied in turn) to ``input_columns`` of every row (every batch
        after ``batch``); the first column when None. Worker and cache options of MindSpore are accepted."""
        accepted_options("map", kwargs)
        return _Map(self, operations, input_columns, output_columns)

    def batch(self, batch_size: int, drop_remainder: bool = False, **kwargs) -> Dataset:
        """Stack ``batch_size`` consecutive rows into one, column by column; with ``drop_remainder`` a last, smaller
        batch is left out."""
        accepted_options("batch", kwargs)
        return _Batch(self, batch_size, drop_remainder)

    def repeat(self, count: int | None = None) -> Dataset:
        """The rows of ``count`` passes one after another (each pass reshuffled where the pipeline shuffles); None or -1
        repeats without end, ``get_dataset_size`` then giving one pass's size."""
        if count is None or count == -1:
            return _Repeat(self, None)
        return self if count == 1 else _Repeat(self, _positive("repeat", "count", count))

    def take(self, count: int = -1) -> Dataset:
        """The first ``count`` rows (all of them for -1)."""
        return self if count == -1 else _Slice(self, 0, _positive("take", "count", count))

    def skip(self, count: int) -> Dataset:
        """Every row after the first ``count``."""
        if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 0:
            raise ValueError(f"skip: count must be a non-negative int, got {count!r}")
        return _Slice(self, int(count), None)

    def project(self, columns: str | Sequence[str]) -> Dataset:
        """Only ``columns``, in that order."""
        return _Project(self, [columns] if isinstance(columns, str) else list(columns))

    def rename(self, input_columns: str | Sequence[str], output_columns: str | Sequence[str]) -> Dataset:
        """The same rows with ``input_columns`` called ``output_columns``."""
        old = [input_columns] if isinstance(input_columns, str) else list(input_columns)
        new = [output_columns] if isinstance(output_columns, str) else list(output_columns)
        unknown = [c for c in old if c not in self.column_names]
        if unknown or len(old) != len(new):
            raise ValueError(f"rename: {old} -> {new} must rename existing columns one for one; the columns are {self.column_names}")
        renamed = _Project(self, self.column_names)
        renamed.column_names = _column_names("rename", [dict(zip(old, new)).get(c, c) for c in self.column_names], len(self.column_names))
        return renamed

    def concat(self, datasets: Dataset | Sequence[Dataset]) -> Dataset:
        """This dataset's rows, then each of ``datasets``' in turn (the same columns); also ``a + b``."""
        return _Concat([self, *([datasets] if isinstance(datasets, Dataset) else datasets)])

    def __add__(self, other: Dataset) -> Dataset:
        return self.concat(other)

    def zip(self, datasets: Dataset | Sequence[Dataset]) -> Dataset:
        """Rows joined side by side with ``datasets``' (distinct column names), as long as the shortest."""
        return _Zip([self, *([datasets] if isinstance(datasets, Dataset) else datasets)])

    def split(self, sizes: Sequence, randomize: bool = True) -> list[Dataset]:
        """Consecutive (or, with ``randomize``, randomly drawn) parts of the rows: ``sizes`` are row counts adding up
        to the dataset's size, or fractions adding up to 1 (rounded so that every row lands in one part)."""
        rows = list(self._rows())
        n = len(rows)
        if all(isinstance(v, numbers.Integral) for v in sizes):
            counts = [int(v) for v in sizes]
        elif all(0 < v < 1 for v in sizes) and abs(sum(sizes) - 1.0) < 1e-9:
            counts = [int(round(v * n)) for v in sizes]
            counts[-1] = n - sum(counts[:-1])
        else:
            counts = []
        if not counts or sum(counts) != n or min(counts) < 1:
            raise ValueError(f"split: sizes {list(sizes)} must be positive row counts adding up to {n}, or fractions adding up to 1")
        order = global_rng().permutation(n) if randomize else np.arange(n)
        starts = np.cumsum([0, *counts])
        return [_Rows(self.column_names, [rows[int(i)] for i in order[a:b]]) for a, b in zip(starts[:-1], starts[1:])]

    def output_shapes(self) -> list[list[int]]:
        """The shape of each column in the first row."""
        return [list(np.shape(v)) for v in next(iter(self._rows()))]

    def output_types(self) -> list[np.dtype]:
        """The dtype of each column in the first row."""
        return [np.asarray(v).dtype for v in next(iter(self._rows()))]

    def shuffle(self, buffer_size: int) -> Dataset:
        """MindSpore's buffered shuffle: rows wait in a buffer of ``buffer_size`` and leave it in random order
        (a buffer as large as the dataset gives a uniform permutation)."""
        return _Shuffle(self, buffer_size)

    def create_tuple_iterator(self, columns: Sequence[str] | None = None, num_epochs: int = -1, output_numpy: bool = False,
                              do_copy: bool = True) -> Iterator[list]:
        """Rows as lists of Tensors (numpy arrays with ``output_numpy``) in column order, or of ``columns``; each
        ``for`` over the iterator is one pass (epoch), as MindSpore's, up to ``num_epochs`` (-1: no limit)."""
        names = self.column_names
        if columns is None:
            picks = range(len(names))
        else:
            unknown = [c for c in columns if c not in names]
            if unknown:
                raise ValueError(f"create_tuple_iterator: no column(s) {unknown}; the columns are {names}")
            picks = [names.index(c) for c in columns]
        wrap = np.asarray if output_numpy else Tensor
        return EpochIterator(lambda: ([wrap(row[i]) for i in picks] for row in self._rows()), num_epochs)

    def create_dict_iterator(self, num_epochs: int = -1, output_numpy: bool = False, do_copy: bool = True) -> Iterator[dict]:
        """Rows as dicts ``{column name: Tensor}`` (numpy arrays with ``output_numpy``); passes as ``create_tuple_iterator``."""
        wrap = np.asarray if output_numpy else Tensor
        names = self.column_names
        return EpochIterator(lambda: ({name: wrap(value) for name, value in zip(names, row)} for row in self._rows()), num_epochs)

    def __iter__(self):
        return self.create_tuple_iterator()


class _RandomAccess(Dataset):
    """A source of ``n`` rows read by index through a sampler: the one given, or the one MindSpore picks from
    ``shuffle`` (None: True), ``num_samples`` and ``num_shards``/``shard_id`` (see ``samplers.select_sampler``);
    random orders are drawn anew on every pass."""

    def __init__(self, n: int, shuffle: bool | None, num_samples: int | None = None, sampler=None,
                 num_shards: int | None = None, shard_id: int | None = None):
        self._n = n
        self._sampler = select_sampler(type(self).__name__, num_samples, sampler, shuffle, num_shards, shard_id)
        chained = self._sampler
        while chained is not None:  # a PKSampler (at the bottom of a chain) reads the rows' class ids
            if isinstance(chained, PKSampler):
                chained._class_ids = functools.partial(self._class_ids, chained.class_column)
            chained = chained.child_sampler

    @abc.abstractmethod
    def _row(self, i: int) -> tuple:
        """Row ``i`` as a tuple of numpy values in column order."""

    def _class_ids(self, column: str) -> np.ndarray:
        """Every row's value in ``column`` (PKSampler's classes)."""
        names = self.get_col_names()
        if column not in names:
            raise ValueError(f"PKSampler: class_column {column!r} is not a column of {type(self).__name__} (columns {names})")
        k = names.index(column)
        return np.asarray([np.asarray(self._row(i)[k]).reshape(()) for i in range(self._n)])

    def get_dataset_size(self) -> int:
        return self._sampler.size(self._n)

    def _rows(self) -> Iterator[tuple]:
        for i in self._sampler.indices(self._n):
            yield self._row(int(i))


def _column_names(owner: str, given, count: int) -> list[str]:
    if given is None:
        return [f"column_{i}" for i in range(count)]
    names = [given] if isinstance(given, str) else list(given)
    if len(names) != count or len(set(names)) != count:
        raise ValueError(f"{owner}: column_names must be {count} distinct names, got {names}")
    return names


class NumpySlicesDataset(_RandomAccess):
    """Rows sliced along the first axis of ``data``: a list or one array gives one column, a tuple of arrays several,
    a dict ``{name: array}`` named columns. Every column must have the same length."""

    def __init__(self, data, column_names: str | Sequence[str] | None = None, num_samples: int | None = None,
                 num_parallel_workers: int | None = None, shuffle: bool | None = None, sampler=None,
                 num_shards: int | None = None, shard_id: int | None = None, **kwargs):
        owner = "NumpySlicesDataset"
        accepted_options(owner, kwargs)
        if isinstance(data, Mapping):
            column_names = list(data) if column_names is None else column_names
        values = list(data.values()) if isinstance(data, Mapping) else list(data) if isinstance(data, tuple) else [data]
        try:
            columns = [_as_array(v) for v in values]
        except ValueError as err:
            raise ValueError(f"{owner}: each column must convert to one array (equal-length rows): {err}") from None
        if not columns or any(c.ndim == 0 for c in columns):
            raise ValueError(f"{owner}: data must be arrays with a first axis to slice, got {[c.shape for c in columns]}")
        lengths = {len(c) for c in columns}
        if len(lengths) != 1:
            raise ValueError(f"{owner}: columns have different lengths {[len(c) for c in columns]}")
        self.column_names = _column_names(owner, column_names, len(columns))
        self._columns = columns
        super().__init__(lengths.pop(), shuffle, num_samples, sampler, num_shards, shard_id)

    def _row(self, i: int) -> tuple:
        return tuple(c[i] for c in self._columns)


class GeneratorDataset(Dataset):
    """Rows from ``source``: a random-accessible object (``__getitem__`` and ``__len__``; read through a sampler
    as the other sources: shuffled unless ``shuffle=False``, ``sampler``, ``num_shards``/``shard_id``), an
    iterable, or a callable returning an iterator (read in order, each pass calling it again, the first
    ``num_samples`` items; ``shuffle=True`` warns and, as in MindSpore, changes nothing). Each item is a tuple of
    arrays, one per column, or one array for a single column."""

    def __init__(self, source, column_names: str | Sequence[str] | None = None, column_types=None, schema=None,
                 num_samples: int | None = None, num_parallel_workers: int = 1, shuffle: bool | None = None, sampler=None,
                 num_shards: int | None = None, shard_id: int | None = None, **kwargs):
        owner = "GeneratorDataset"
        accepted_options(owner, kwargs)
        if column_names is None:
            raise ValueError(f"{owner}: give column_names (one name per item of a row)")
        names = [column_names] if isinstance(column_names, str) else list(column_names)
        self.column_names = _column_names(owner, names, len(names))
        self._source = source
        self._indexed = hasattr(source, "__getitem__") and hasattr(source, "__len__")
        if not self._indexed and not callable(source) and not hasattr(source, "__iter__"):
            raise TypeError(f"{owner}: source must be random-accessible, iterable or a callable returning an iterator, "
                            f"got {type(source).__name__}")
        self._limit, self._sampler = None, None
        if self._indexed:
            self._sampler = select_sampler(owner, num_samples, sampler, shuffle, num_shards, shard_id)
            return
        for name, value in (("sampler", sampler), ("num_shards", num_shards), ("shard_id", shard_id)):
            if value is not None:
                raise ValueError(f"{owner}: {name}={value!r} is not supported if source does not have attribute '__getitem__'")
        if shuffle:  # MindSpore drops the sampler of an iterable source: its rows come in order (the GAN tutorial passes a dataset)
            warnings.warn(f"{owner}: shuffle=True has no effect on a source without __getitem__ and __len__; its rows are read in "
                          "order (shuffle the source itself, or call .shuffle(buffer_size) on this dataset)", stacklevel=2)
        self._limit = None if num_samples is None else _positive(owner, "num_samples", num_samples)

    def get_dataset_size(self) -> int:
        if self._indexed:
            return self._sampler.size(len(self._source))
        return super().get_dataset_size()

    def _items(self) -> Iterator:
        if self._indexed:
            return (self._source[int(i)] for i in self._sampler.indices(len(self._source)))
        return iter(self._source() if callable(self._source) and not hasattr(self._source, "__iter__") else self._source)

    def _rows(self) -> Iterator[tuple]:
        width = len(self.column_names)
        for k, item in enumerate(self._items()):
            if self._limit is not None and k >= self._limit:
                return
            row = tuple(item) if isinstance(item, (tuple, list)) else (item,)
            if len(row) != width:
                raise ValueError(f"GeneratorDataset: row {k} has {len(row)} item(s) for columns {self.column_names}")
            yield tuple(_as_array(v) for v in row)


class _Stage(Dataset):
    """A stage reading its parent's rows."""

    def __init__(self, parent: Dataset):
        self._parent = parent
        self.column_names = list(parent.column_names)

    def get_dataset_size(self) -> int:
        return self._parent.get_dataset_size()

    def get_batch_size(self) -> int:
        return self._parent.get_batch_size()


class _Map(_Stage):
    def __init__(self, parent: Dataset, operations, input_columns, output_columns):
        super().__init__(parent)
        ops = list(operations) if isinstance(operations, (list, tuple)) else [operations]
        if not ops or not all(callable(op) for op in ops):
            raise TypeError(f"map: operations must be a callable or a list of callables, got {operations!r}")
        inputs = [parent.column_names[0]] if input_columns is None else (
            [input_columns] if isinstance(input_columns, str) else list(input_columns))
        unknown = [c for c in inputs if c not in parent.column_names]
        if unknown:
            raise ValueError(f"map: no column(s) {unknown}; the columns are {parent.column_names}")
        outputs = inputs if output_columns is None else ([output_columns] if isinstance(output_columns, str) else list(output_columns))
        self._op, self._at = Compose(ops), [parent.column_names.index(c) for c in inputs]
        self._outputs = len(outputs)
        if len(outputs) == len(inputs):  # each output takes its input's place
            for i, name in zip(self._at, outputs):
                self.column_names[i] = name
        else:  # the outputs take the place of the first input; the other inputs leave
            first = min(self._at)
            others = [i for i in range(len(parent.column_names)) if i not in self._at]
            self._before, self._after = [i for i in others if i < first], [i for i in others if i > first]
            self.column_names = [parent.column_names[i] for i in self._before] + outputs + [parent.column_names[i] for i in self._after]
        if len(set(self.column_names)) != len(self.column_names):
            raise ValueError(f"map: output_columns {outputs} repeat a column name; the columns would be {self.column_names}")

    def _rows(self) -> Iterator[tuple]:
        for row in self._parent._rows():
            out = self._op(*(row[i] for i in self._at))
            values = [_as_array(v) for v in (out if isinstance(out, tuple) else (out,))]
            if len(values) != self._outputs:
                raise ValueError(f"map: the operations returned {len(values)} value(s) for {self._outputs} output column(s)")
            if self._outputs == len(self._at):
                row = list(row)
                for i, value in zip(self._at, values):
                    row[i] = value
                yield tuple(row)
            else:
                yield tuple([row[i] for i in self._before] + values + [row[i] for i in self._after])


class _Batch(_Stage):
    def __init__(self, parent: Dataset, batch_size: int, drop_remainder: bool):
        super().__init__(parent)
        self._size, self._drop = _positive("batch", "batch_size", batch_size), bool(drop_remainder)

    def get_dataset_size(self) -> int:
        n = self._parent.get_dataset_size()
        return n // self._size if self._drop else -(-n // self._size)

    def get_batch_size(self) -> int:
        return self._size

    def _rows(self) -> Iterator[tuple]:
        pending: list = []
        for row in self._parent._rows():
            pending.append(row)
            if len(pending) == self._size:
                yield self._stack(pending)
                pending = []
        if pending and not self._drop:
            yield self._stack(pending)

    def _stack(self, rows: list) -> tuple:
        out = []
        for i, name in enumerate(self.column_names):
            shapes = {np.shape(r[i]) for r in rows}
            if len(shapes) != 1:
                raise ValueError(f"batch: column {name!r} has rows of different shapes {sorted(shapes)}; map them to one shape first")
            out.append(np.stack([r[i] for r in rows]))
        return tuple(out)


class _Shuffle(_Stage):
    def __init__(self, parent: Dataset, buffer_size: int):
        super().__init__(parent)
        self._buffer_size = _positive("shuffle", "buffer_size", buffer_size)

    def _rows(self) -> Iterator[tuple]:
        rng = global_rng()
        buffer: list = []
        for row in self._parent._rows():
            if len(buffer) < self._buffer_size:
                buffer.append(row)
                continue
            i = int(rng.integers(len(buffer)))
            yield buffer[i]
            buffer[i] = row
        for i in rng.permutation(len(buffer)):
            yield buffer[int(i)]


class _Repeat(_Stage):
    """``count`` passes of the parent (None: without end)."""

    def __init__(self, parent: Dataset, count: int | None):
        super().__init__(parent)
        self._count = count

    def get_dataset_size(self) -> int:
        return self._parent.get_dataset_size() * (self._count or 1)

    def _rows(self) -> Iterator[tuple]:
        passes = itertools.repeat(None) if self._count is None else range(self._count)
        return itertools.chain.from_iterable(self._parent._rows() for _ in passes)


class _Slice(_Stage):
    """Rows ``start`` to ``stop`` (None: the end) of the parent's pass."""

    def __init__(self, parent: Dataset, start: int, stop: int | None):
        super().__init__(parent)
        self._start, self._stop = start, stop

    def get_dataset_size(self) -> int:
        n = max(self._parent.get_dataset_size() - self._start, 0)
        return n if self._stop is None else min(n, self._stop - self._start)

    def _rows(self) -> Iterator[tuple]:
        return itertools.islice(self._parent._rows(), self._start, self._stop)


class _Project(_Stage):
    def __init__(self, parent: Dataset, columns: list[str]):
        super().__init__(parent)
        unknown = [c for c in columns if c not in parent.column_names]
        if unknown or not columns:
            raise ValueError(f"project: no column(s) {unknown or columns}; the columns are {parent.column_names}")
        self._at = [parent.column_names.index(c) for c in columns]
        self.column_names = list(columns)

    def _rows(self) -> Iterator[tuple]:
        for row in self._parent._rows():
            yield tuple(row[i] for i in self._at)


class _Concat(Dataset):
    def __init__(self, parts: list[Dataset]):
        names = {tuple(p.column_names) for p in parts}
        if len(names) != 1:
            raise ValueError(f"concat: the datasets' columns differ: {sorted(names)}")
        self._parts, self.column_names = parts, list(parts[0].column_names)

    def get_dataset_size(self) -> int:
        return sum(p.get_dataset_size() for p in self._parts)

    def _rows(self) -> Iterator[tuple]:
        return itertools.chain.from_iterable(p._rows() for p in self._parts)


class _Zip(Dataset):
    def __init__(self, parts: list[Dataset]):
        names = [c for p in parts for c in p.column_names]
        if len(set(names)) != len(names):
            raise ValueError(f"zip: the datasets share column names {names}; rename them first")
        self._parts, self.column_names = parts, names

    def get_dataset_size(self) -> int:
        return min(p.get_dataset_size() for p in self._parts)

    def _rows(self) -> Iterator[tuple]:
        for rows in zip(*(p._rows() for p in self._parts)):
            yield tuple(v for row in rows for v in row)


class _Rows(Dataset):
    """Rows held in memory (the parts of ``split``), in order."""

    def __init__(self, column_names: list[str], rows: list[tuple]):
        self.column_names, self._held = list(column_names), rows

    def get_dataset_size(self) -> int:
        return len(self._held)

    def _rows(self) -> Iterator[tuple]:
        return iter(self._held)


def zip_datasets(datasets: Sequence[Dataset]) -> Dataset:
    """``mindspore.dataset.zip`` (exported under that name): the datasets' rows joined side by side."""
    datasets = list(datasets)
    if not datasets:
        raise ValueError("zip: give at least one dataset")
    return datasets[0].zip(datasets[1:])
