"""Gathers and scatters with MindSpore's names: gather_nd, scatter_nd, tensor_scatter_add/sub/update, scatter and
tensor_scatter_elements along one axis (torch's scatter and scatter_add), index_select, index_add, masked_select.

An (..., k) integer ``indices`` array addresses the first k axes of a tensor: each row is one position (k = ndim) or
one slice (k < ndim). The values move through ``getitem`` and ``scatter_add`` (each the other's adjoint), so every
gradient, jit lowering and batching rule is theirs. Repeated positions accumulate in scatter_nd and
tensor_scatter_add, as MindSpore's; tensor_scatter_update needs distinct positions (which copy wins is otherwise
unspecified), and says so.
"""

from __future__ import annotations

import numpy as np

from funcad.core.base_ops import shape_of as _shape_of
from funcad.core.tensor import Tensor
from funcad.core.trace import Tracer
from funcad.ops.indexing import eager_values, gather
from funcad.ops.indices import check_index_range
from funcad.ops.math import where
from funcad.ops.shape import broadcast_to, getitem, scatter_add


def _known(op: str, indices) -> np.ndarray:
    if isinstance(indices, Tracer):
        raise TypeError(f"funcad.ops.{op}: indices must be known while compiling (a constant or a numpy array), not a traced input")
    return np.asarray(indices._data if isinstance(indices, Tensor) else indices)


def _index_rows(op: str, indices, shape: tuple) -> tuple:
    """The (..., k) ``indices`` as a tuple of k index arrays, checked to be integers within the first k axes of ``shape``."""
    rows = _known(op, indices)
    if rows.dtype.kind not in "iu" or rows.ndim < 1 or not 1 <= rows.shape[-1] <= len(shape):
        raise ValueError(f"funcad.ops.{op}: indices must be integers of shape (..., k) with 1 <= k <= {len(shape)} (the target's "
                         f"rank, shape {shape}); got {rows.dtype} of shape {rows.shape}")
    for k in range(rows.shape[-1]):
        check_index_range(op, rows[..., k], shape[k], "indices", f" (column {k}, axis {k} of shape {shape})")
    return tuple(rows[..., k] for k in range(rows.shape[-1]))


def gather_nd(input_x, indices):
    """The elements (or slices) of ``input_x`` at the rows of ``indices``: shape indices.shape[:-1] + input_x.shape[k:]."""
    return getitem(input_x, _index_rows("gather_nd", indices, _shape_of(input_x)))


def _target_rows(op: str, shape: tuple, indices, updates) -> tuple:
    """``indices`` as index arrays into ``shape`` (see ``_index_rows``), with ``updates`` checked to fill their rows."""
    rows = _index_rows(op, indices, shape)
    expected = rows[0].shape + shape[len(rows):]
    if tuple(_shape_of(updates)) != expected:
        raise ValueError(f"funcad.ops.{op}: updates of shape {tuple(_shape_of(updates))} do not fit indices addressing {len(rows)} "
                         f"axes of shape {shape}: expected {expected}")
    return rows


def scatter_nd(indices, updates, shape):
    """Zeros of ``shape`` with ``updates`` added at the rows of ``indices`` (repeated rows accumulate)."""
    shape = tuple(int(s) for s in shape)
    return scatter_add(updates, _target_rows("scatter_nd", shape, indices, updates), shape)


def tensor_scatter_add(input_x, indices, updates):
    """``input_x`` with ``updates`` added at the rows of ``indices`` (repeated rows accumulate)."""
    shape = _shape_of(input_x)
    return input_x + scatter_add(updates, _target_rows("tensor_scatter_add", shape, indices, updates), shape)


def tensor_scatter_sub(input_x, indices, updates):
    """``input_x`` with ``updates`` subtracted at the rows of ``indices`` (repeated rows accumulate)."""
    shape = _shape_of(input_x)
    return input_x - scatter_add(updates, _target_rows("tensor_scatter_sub", shape, indices, updates), shape)


def tensor_scatter_update(input_x, indices, updates):
    """``input_x`` with the rows of ``indices`` replaced by ``updates`` (the rows must be distinct)."""
    shape = _shape_of(input_x)
    rows = _target_rows("tensor_scatter_update", shape, indices, updates)
    hit = np.zeros(shape[: len(rows)], np.int64)
    np.add.at(hit, rows, 1)
    if (hit > 1).any():
        raise ValueError(f"funcad.ops.tensor_scatter_update: indices repeat position {np.argwhere(hit > 1)[0].tolist()}; "
                         f"which update would win is unspecified (use tensor_scatter_add to accumulate)")
    mask = hit.reshape(hit.shape + (1,) * (len(shape) - len(rows))).astype(bool)
    return where(mask, scatter_add(updates, rows, shape), input_x)


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
    added = scatter_add(updates, positions, shape)
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
    return x + scatter_add(y, (slice(None),) * axis + (index,), shape)


def masked_select(input, mask):  # noqa: A002
    """The elements of ``input`` where ``mask`` (broadcast together) is True, as a 1-D Tensor. Eager only: the count
    depends on the mask's values."""
    mask = eager_values("masked_select", mask).astype(bool)
    shape = np.broadcast_shapes(_shape_of(input), mask.shape)
    return getitem(broadcast_to(input, shape), np.broadcast_to(mask, shape))


def unsorted_segment_sum(input_x, segment_ids, num_segments: int):
    """Sums of the slices of ``input_x`` by segment: out[k] = sum of input_x[i] over the positions i (of the leading
    ``segment_ids.ndim`` axes) whose id is k; shape (num_segments,) + input_x.shape[segment_ids.ndim:]."""
    shape, ids = _shape_of(input_x), _known("unsorted_segment_sum", segment_ids)
    if ids.dtype.kind not in "iu" or ids.shape != shape[: ids.ndim]:
        raise ValueError(f"funcad.ops.unsorted_segment_sum: segment_ids must be integers shaped as the leading axes of input_x {shape}, "
                         f"got {ids.dtype} of shape {ids.shape}")
    check_index_range("unsorted_segment_sum", ids, int(num_segments), "segment_ids", " (num_segments)")
    return scatter_add(input_x, (ids,), (int(num_segments),) + shape[ids.ndim:])
