"""Gathers and scatters with MindSpore's names: gather_nd, scatter_nd, tensor_scatter_add/sub/update/mul/div/max/min,
scatter and tensor_scatter_elements along one axis (torch's scatter and scatter_add), index_select, index_add,
masked_select, unsorted_segment_sum/max/min/prod.

An (..., k) integer ``indices`` array addresses the first k axes of a tensor: each row is one position (k = ndim) or
one slice (k < ndim). The values move through ``getitem`` and ``scatter_add`` (each the other's adjoint), so every
gradient, jit lowering and batching rule is theirs. Repeated positions accumulate in scatter_nd and
tensor_scatter_add, as MindSpore's; tensor_scatter_update needs distinct positions (which copy wins is otherwise
unspecified), and says so.
"""

from __future__ import annotations

import numpy as np

from funcad.core.base_ops import shape_of as _shape_of
from funcad.core.tensor import Parameter, Tensor
from funcad.core.trace import Tracer
from funcad.ops.indexing import eager_values, gather, sort
from funcad.ops.indices import check_index_range
from funcad.ops.math import divide, greater_equal, less, logical_or, maximum, minimum, multiply, not_equal, where
from funcad.ops.reduce import amax
from funcad.ops.reduce import sum as reduce_sum
from funcad.ops.shape import broadcast_to, cast, concat, getitem, reshape
from funcad.ops.shape import scatter_add as _add_at
from funcad.ops.state import assign


def _known(op: str, indices) -> np.ndarray:
    if isinstance(indices, Tracer):
        raise TypeError(f"funcad.ops.{op}: indices must be known while compiling (a constant or a numpy array), not a traced input")
    return np.asarray(indices._data if isinstance(indices, Tensor) else indices)


def _check_rows_shape(op: str, dtype, rows_shape: tuple, shape: tuple) -> None:
    if np.dtype(dtype).kind not in "iu" or len(rows_shape) < 1 or not 1 <= rows_shape[-1] <= len(shape):
        raise ValueError(f"funcad.ops.{op}: indices must be integers of shape (..., k) with 1 <= k <= {len(shape)} (the target's "
                         f"rank, shape {shape}); got {np.dtype(dtype)} of shape {rows_shape}")


def _int32_or_int64(op: str, indices) -> None:
    """MindSpore's ScatterNd and TensorScatter* take int32 or int64 indices only (a TypeError otherwise)."""
    dtype = np.dtype(indices.dtype if hasattr(indices, "dtype") else np.asarray(indices).dtype)
    if dtype not in (np.int32, np.int64):
        raise TypeError(f"funcad.ops.{op}: indices must be int32 or int64, got {dtype}")


def _index_rows(op: str, indices, shape: tuple) -> tuple:
    """The (..., k) ``indices`` as a tuple of k index arrays, checked to be integers within the first k axes of ``shape``."""
    rows = _known(op, indices)
    _check_rows_shape(op, rows.dtype, rows.shape, shape)
    for k in range(rows.shape[-1]):
        check_index_range(op, rows[..., k], shape[k], "indices", f" (column {k}, axis {k} of shape {shape})")
    return tuple(rows[..., k] for k in range(rows.shape[-1]))


def _positions(op: str, indices, shape: tuple) -> tuple:
    """Where the rows of the (..., k) ``indices`` point, as (index, indexed shape, rows' shape, k). Known indices give k
    checked index arrays into ``shape``. Indices traced by ``funcad.jit`` give one flat position per row into
    ``shape`` with its first k axes merged (row-major), so a traced Cell input can address rows; a row with a
    coordinate outside its axis gets the position one past the end, so running the program raises an IndexError
    rather than reach another row."""
    if not isinstance(indices, Tracer):
        rows = _index_rows(op, indices, shape)
        return rows, shape, rows[0].shape, len(rows)
    rows_shape = tuple(_shape_of(indices))
    _check_rows_shape(op, indices.dtype, rows_shape, shape)
    k = rows_shape[-1]
    strides = np.array([int(np.prod(shape[j + 1 : k])) for j in range(k)], np.int64)
    indices = cast(indices, np.int64)
    outside = logical_or(less(indices, 0), greater_equal(indices, np.array(shape[:k], np.int64)))
    flat = where(amax(outside, axis=-1), int(np.prod(shape[:k])), reduce_sum(multiply(indices, strides), axis=-1))
    return flat, (int(np.prod(shape[:k])),) + tuple(shape[k:]), rows_shape[:-1], k


def gather_nd(input_x, indices):
    """The elements (or slices) of ``input_x`` at the rows of ``indices``: shape indices.shape[:-1] + input_x.shape[k:]."""
    shape = _shape_of(input_x)
    index, indexed, _, _ = _positions("gather_nd", indices, shape)
    return getitem(input_x if indexed == shape else reshape(input_x, indexed), index)


def _target_rows(op: str, shape: tuple, indices, updates) -> tuple:
    """``indices`` as (index, indexed shape, k) into ``shape`` (see ``_positions``), with ``updates`` checked to fill their rows."""
    index, indexed, rows_shape, k = _positions(op, indices, shape)
    expected = rows_shape + tuple(shape[k:])
    if tuple(_shape_of(updates)) != expected:
        raise ValueError(f"funcad.ops.{op}: updates of shape {tuple(_shape_of(updates))} do not fit indices addressing {k} "
                         f"axes of shape {shape}: expected {expected}")
    return index, indexed, k


def _scattered(op: str, shape: tuple, indices, updates):
    """Zeros of ``shape`` with ``updates`` added at the rows of ``indices``."""
    index, indexed, _ = _target_rows(op, shape, indices, updates)
    added = _add_at(updates, index, indexed)
    return added if indexed == shape else reshape(added, shape)


def scatter_nd(indices, updates, shape):
    """Zeros of ``shape`` with ``updates`` added at the rows of ``indices`` (repeated rows accumulate)."""
    _int32_or_int64("scatter_nd", indices)
    return _scattered("scatter_nd", tuple(int(s) for s in shape), indices, updates)


def tensor_scatter_add(input_x, indices, updates):
    """``input_x`` with ``updates`` added at the rows of ``indices`` (repeated rows accumulate)."""
    _int32_or_int64("tensor_scatter_add", indices)
    return input_x + _scattered("tensor_scatter_add", _shape_of(input_x), indices, updates)


def tensor_scatter_sub(input_x, indices, updates):
    """``input_x`` with ``updates`` subtracted at the rows of ``indices`` (repeated rows accumulate)."""
    _int32_or_int64("tensor_scatter_sub", indices)
    return input_x - _scattered("tensor_scatter_sub", _shape_of(input_x), indices, updates)


def _last_copies(flat, updates, indexed: tuple) -> tuple:
    """Traced flat positions and their updates, sorted (stably) by position with every update but the last one for
    each position replaced by zeros: scatter-added, the last copy wins."""
    rest = tuple(indexed[1:])
    positions, order = sort(reshape(flat, (-1,)), 0)
    following = concat([getitem(positions, (slice(1, None),)), Tensor._wrap(np.array([-1], np.int64))], 0)
    last = reshape(not_equal(positions, following), (-1,) + (1,) * len(rest))
    moved = getitem(reshape(updates, (-1,) + rest), order)
    return positions, where(last, moved, Tensor._wrap(np.zeros((), np.dtype(moved.dtype))))


def tensor_scatter_update(input_x, indices, updates):
    """``input_x`` with the rows of ``indices`` replaced by ``updates``. Known rows must be distinct (which copy wins
    is otherwise unspecified); traced rows cannot be checked while compiling, and of a repeated one the last copy
    wins, as MindSpore's CPU kernel writes them in order."""
    _int32_or_int64("tensor_scatter_update", indices)
    shape = _shape_of(input_x)
    index, indexed, k = _target_rows("tensor_scatter_update", shape, indices, updates)
    if isinstance(index, tuple):
        hit = np.zeros(shape[:k], np.int64)
        np.add.at(hit, index, 1)
        if (hit > 1).any():
            raise ValueError(f"funcad.ops.tensor_scatter_update: indices repeat position {np.argwhere(hit > 1)[0].tolist()}; "
                             f"which update would win is unspecified (use tensor_scatter_add to accumulate)")
        mask = hit.reshape(hit.shape + (1,) * (len(shape) - k)).astype(bool)
    else:
        index, updates = _last_copies(index, updates, indexed)
        ones = Tensor._wrap(np.ones(tuple(_shape_of(index)), np.int32))
        mask = reshape(_add_at(ones, index, indexed[:1]), shape[:k] + (1,) * (len(shape) - k)) > 0
    added = _add_at(updates, index, indexed)
    return where(mask, added if indexed == shape else reshape(added, shape), input_x)


def _row_groups(op: str, shape: tuple, indices, n: int) -> list:
    """The rows of ``indices`` (n of them, flattened) split into groups in which no position repeats, in order: a row
    falls in group r when its position occurred r times before it. Traced indices cannot be grouped while compiling,
    so each of their rows is its own group."""
    if isinstance(indices, Tracer):
        return [np.array([i]) for i in range(n)]
    rows = _index_rows(op, indices, shape)
    flat = np.ravel_multi_index(tuple(r.reshape(-1) for r in rows), shape[: len(rows)])
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    return [np.flatnonzero(rank == r) for r in range(int(rank.max(initial=-1)) + 1)]


def _combine_in_order(op: str, combine, input_x, indices, updates):
    """``input_x`` with each row's entries replaced by ``combine(current, update)``, the rows taken in order (a
    repeated position combines all its updates, as MindSpore's CPU kernels apply them). Each group of distinct rows
    is one gather_nd, ``combine`` and tensor_scatter_update, so gradients, jit and vmap are theirs."""
    shape = _shape_of(input_x)
    _, _, k = _target_rows(op, shape, indices, updates)
    rest = tuple(shape[k:])
    rows = reshape(indices, (-1, k)) if isinstance(indices, Tracer) else np.asarray(_known(op, indices)).reshape(-1, k)
    flat_updates = reshape(updates, (-1,) + rest)
    out = input_x
    for group in _row_groups(op, shape, indices, int(np.prod(_shape_of(indices)[:-1], dtype=np.int64))):
        at = getitem(rows, group) if isinstance(rows, Tracer) else rows[group]
        out = tensor_scatter_update(out, at, combine(gather_nd(out, at), getitem(flat_updates, group)))
    return out


def tensor_scatter_mul(input_x, indices, updates):
    """``input_x`` with the rows of ``indices`` multiplied by ``updates`` (repeated rows multiply in turn)."""
    _int32_or_int64("tensor_scatter_mul", indices)
    return _combine_in_order("tensor_scatter_mul", multiply, input_x, indices, updates)


def _divide_in_dtype(x, y):
    """x / y in x's dtype: an integer quotient is truncated toward zero, as MindSpore's integer TensorScatterDiv."""
    quotient = divide(x, y)
    return cast(quotient, x.dtype) if np.dtype(x.dtype).kind in "iu" else quotient


def tensor_scatter_div(input_x, indices, updates):
    """``input_x`` with the rows of ``indices`` divided by ``updates`` (repeated rows divide in turn; integers
    truncated toward zero)."""
    _int32_or_int64("tensor_scatter_div", indices)
    return _combine_in_order("tensor_scatter_div", _divide_in_dtype, input_x, indices, updates)


def tensor_scatter_max(input_x, indices, updates):
    """``input_x`` with the rows of ``indices`` replaced by their maximum with ``updates``."""
    _int32_or_int64("tensor_scatter_max", indices)
    return _combine_in_order("tensor_scatter_max", maximum, input_x, indices, updates)


def tensor_scatter_min(input_x, indices, updates):
    """``input_x`` with the rows of ``indices`` replaced by their minimum with ``updates``."""
    _int32_or_int64("tensor_scatter_min", indices)
    return _combine_in_order("tensor_scatter_min", minimum, input_x, indices, updates)


def _element_positions(op: str, shape: tuple, axis: int, index) -> tuple:
    """Where each element of ``index`` (same rank as ``shape``) points: its own position, with the coordinate on
    ``axis`` replaced by its value (torch's scatter/gather along a dimension), as index arrays into ``shape``."""
    idx = _known(op, index)
    axis = axis % len(shape)
    if idx.dtype.kind not in "iu" or idx.ndim != len(shape) or any(i > n for d, (i, n) in enumerate(zip(idx.shape, shape)) if d != axis):
        raise ValueError(f"funcad.ops.{op}: index must be integers of the input's rank {len(shape)}, no larger than input {shape} "
                         f"off axis {axis}; got {idx.dtype} of shape {idx.shape}")
    check_index_range(op, idx, shape[axis], "index", f" (axis {axis} of shape {shape})")
    positions = list(np.indices(idx.shape, sparse=True))
    positions[axis] = idx
    return tuple(np.broadcast_to(p, idx.shape) for p in positions)


def tensor_scatter_elements(input_x, indices, updates, axis: int = 0, reduction: str = "none"):
    """``input_x`` with each element of ``updates`` written ('none': the positions must be distinct) or added ('add':
    repeats accumulate) at its own position, the coordinate on ``axis`` taken from ``indices`` (torch's scatter and
    scatter_add). ``updates`` may be larger than ``indices``: its leading part is used, as torch's."""
    shape = _shape_of(input_x)
    positions = _element_positions("tensor_scatter_elements", shape, axis, indices)
    size = positions[0].shape
    if tuple(_shape_of(updates)) != size:
        updates = getitem(updates, tuple(slice(0, n) for n in size))
    added = _add_at(updates, positions, shape)
    if reduction == "add":
        return input_x + added
    if reduction != "none":
        raise ValueError(f"funcad.ops.tensor_scatter_elements: reduction must be 'none' or 'add', got {reduction!r}")
    hit = np.zeros(shape, np.int64)
    np.add.at(hit, positions, 1)
    if (hit > 1).any():
        raise ValueError(f"funcad.ops.tensor_scatter_elements: indices repeat position {np.argwhere(hit > 1)[0].tolist()}; which update "
                         "would win is unspecified (use reduction='add' to accumulate)")
    return where(hit > 0, added, input_x)


def scatter(input, axis: int, index, src):  # noqa: A002 - MindSpore's names
    """``input`` with ``src``'s elements written along ``axis`` at ``index`` (torch.scatter; distinct positions)."""
    return tensor_scatter_elements(input, index, src, axis)


def index_select(input, axis: int, index):  # noqa: A002 - MindSpore's names
    """The slices of ``input`` along ``axis`` at the 1-D ``index``."""
    if len(np.shape(index)) != 1:
        raise ValueError(f"funcad.ops.index_select: index must be 1-D, got shape {np.shape(index)}")
    return gather(input, index, axis)


def index_add(x, indices, y, axis: int, use_lock: bool = True, check_index_bound: bool = True):
    """``x`` with the slices of ``y`` along ``axis`` added at the 1-D ``indices`` (repeats accumulate). ``use_lock``
    and ``check_index_bound`` are MindSpore's device options: the sum is exact here and the bounds always checked."""
    shape = _shape_of(x)
    axis = axis % len(shape)
    index = _known("index_add", indices)
    if index.ndim != 1 or index.dtype.kind not in "iu":
        raise ValueError(f"funcad.ops.index_add: indices must be 1-D integers, got {index.dtype} of shape {index.shape}")
    check_index_range("index_add", index, shape[axis], "indices", f" (axis {axis} of shape {shape})")
    expected = shape[:axis] + (len(index),) + shape[axis + 1:]
    if tuple(_shape_of(y)) != expected:
        raise ValueError(f"funcad.ops.index_add: y of shape {tuple(_shape_of(y))} does not fit {len(index)} indices on axis {axis} "
                         f"of x's shape {shape}: expected {expected}")
    return x + _add_at(y, (slice(None),) * axis + (index,), shape)


def masked_select(input, mask):  # noqa: A002
    """The elements of ``input`` where ``mask`` (broadcast together) is True, as a 1-D Tensor. Eager only: the count
    depends on the mask's values."""
    mask = eager_values("masked_select", mask).astype(bool)
    shape = np.broadcast_shapes(_shape_of(input), mask.shape)
    return getitem(broadcast_to(input, shape), np.broadcast_to(mask, shape))


def _segment_ids(op: str, input_x, segment_ids, num_segments: int):
    """``segment_ids`` checked to be integers shaped as input_x's leading axes, and (when known) within num_segments;
    traced ids are checked when the program runs (a row outside makes it raise IndexError)."""
    shape = _shape_of(input_x)
    ids = segment_ids if isinstance(segment_ids, Tracer) else _known(op, segment_ids)
    ids_shape = tuple(_shape_of(ids))
    if np.dtype(ids.dtype).kind not in "iu" or ids_shape != shape[: len(ids_shape)]:
        raise ValueError(f"funcad.ops.{op}: segment_ids must be integers shaped as the leading axes of input_x {shape}, "
                         f"got {np.dtype(ids.dtype)} of shape {ids_shape}")
    if isinstance(ids, Tracer):
        return reshape(ids, ids_shape + (1,))
    check_index_range(op, ids, int(num_segments), "segment_ids", " (num_segments)")
    return ids[..., None]


def unsorted_segment_sum(input_x, segment_ids, num_segments: int):
    """Sums of the slices of ``input_x`` by segment: out[k] = sum of input_x[i] over the positions i (of the leading
    ``segment_ids.ndim`` axes) whose id is k; shape (num_segments,) + input_x.shape[segment_ids.ndim:]."""
    rows = _segment_ids("unsorted_segment_sum", input_x, segment_ids, num_segments)
    out_shape = (int(num_segments),) + _shape_of(input_x)[len(_shape_of(rows)) - 1:]
    if isinstance(rows, Tracer):
        return _scattered("unsorted_segment_sum", out_shape, rows, input_x)
    return _add_at(input_x, (rows[..., 0],), out_shape)


def _segment_reduce(op: str, combine, empty, input_x, segment_ids, num_segments: int):
    """out[k] = ``combine`` over the slices of ``input_x`` whose id is k, starting from ``empty(dtype)`` (what an
    empty segment holds, as MindSpore's)."""
    rows = _segment_ids(op, input_x, segment_ids, num_segments)
    dtype = np.dtype(input_x.dtype)
    start = Tensor._wrap(np.full((int(num_segments),) + _shape_of(input_x)[len(_shape_of(rows)) - 1:], empty(dtype), dtype))
    return _combine_in_order(op, combine, start, rows, input_x)


def _lowest(dtype: np.dtype):
    return np.finfo(dtype).min if dtype.kind == "f" else np.iinfo(dtype).min


def _highest(dtype: np.dtype):
    return np.finfo(dtype).max if dtype.kind == "f" else np.iinfo(dtype).max


def unsorted_segment_max(input_x, segment_ids, num_segments: int):
    """Maxima of the slices of ``input_x`` by segment (see unsorted_segment_sum); an empty segment holds the dtype's lowest value."""
    return _segment_reduce("unsorted_segment_max", maximum, _lowest, input_x, segment_ids, num_segments)


def unsorted_segment_min(input_x, segment_ids, num_segments: int):
    """Minima of the slices of ``input_x`` by segment (see unsorted_segment_sum); an empty segment holds the dtype's highest value."""
    return _segment_reduce("unsorted_segment_min", minimum, _highest, input_x, segment_ids, num_segments)


def unsorted_segment_prod(input_x, segment_ids, num_segments: int):
    """Products of the slices of ``input_x`` by segment (see unsorted_segment_sum); an empty segment holds 1."""
    return _segment_reduce("unsorted_segment_prod", multiply, lambda dtype: 1, input_x, segment_ids, num_segments)


def scatter_add(input_x, indices, updates):
    """MindSpore's functional scatter_add: ``updates`` (shape indices.shape + input_x.shape[1:]) added to the rows
    ``indices`` names (repeats accumulate). A Parameter ``input_x`` is updated in place and returned, as
    ``ops.ScatterAdd``; a Tensor gives a new Tensor."""
    rows = reshape(indices, tuple(_shape_of(indices)) + (1,)) if isinstance(indices, Tracer) else _known("scatter_add", indices)[..., None]
    added = tensor_scatter_add(input_x, rows, updates)
    return assign(input_x, added) if isinstance(input_x, Parameter) else added
