"""Selecting elements by index or by order: gather, gather_elements, masked_fill, topk, sort, argsort, nonzero, unique,
cummax/cummin.

Values are picked with ``getitem`` and ``take_along_axis``, so their gradients scatter back through those ops'
rules; the orders themselves (``argsort``) are constants. ``nonzero`` and ``unique`` give shapes that depend
on the input's values, so they run eagerly only. Index outputs are int32, as MindSpore's (nonzero: int64).
"""

from __future__ import annotations

import numpy as np

from funcad.core.base_ops import shape_of as _shape_of
from funcad.core.batching import batch_first
from funcad.core.primitive import compiled_as_call, primitive
from funcad.core.tensor import Tensor
from funcad.core.trace import Tracer
from funcad.ops.batching import axis_rule
from funcad.ops.indices import check_index_range
from funcad.ops.math import where
from funcad.ops.shape import _norm_axes, cast, getitem, reshape, take_along_axis


def gather(input_params, input_indices, axis: int, batch_dims: int = 0):
    """Slices of ``input_params`` along ``axis`` at ``input_indices``: shape params[:axis] + indices + params[axis+1:].

    With ``batch_dims`` = b the first b axes of params and indices pair up (each batch picks its own indices);
    then ``axis`` must be b."""
    shape = _shape_of(input_params)
    axis = axis % len(shape)
    if batch_dims and axis != batch_dims:
        raise NotImplementedError(f"funcad.ops.gather: batch_dims={batch_dims} is supported with axis={batch_dims} only, got axis={axis}")
    if not isinstance(input_indices, Tracer):
        input_indices = np.asarray(input_indices)
        if input_indices.dtype.kind not in "iu":
            raise TypeError(f"funcad.ops.gather: input_indices must be integers, got {input_indices.dtype}")
        check_index_range("gather", input_indices, shape[axis], "input_indices", f" (axis {axis} of shape {shape})")
    if batch_dims:  # the leading batch axes pair up: index them with aligned ranges
        depth = len(_shape_of(input_indices))
        ranges = tuple(np.arange(n).reshape((n,) + (1,) * (depth - 1 - b)) for b, n in enumerate(shape[:batch_dims]))
        return getitem(input_params, ranges + (input_indices,))
    return getitem(input_params, (slice(None),) * axis + (input_indices,))


def gather_elements(input, dim: int, index):  # noqa: A002 - MindSpore's names
    """out[i][j] = input[index[i][j]][j] for dim 0 (and so on): numpy's take_along_axis."""
    return take_along_axis(input, index, dim)


def masked_fill(input_x, mask, value):
    """``value`` where ``mask`` is True, ``input_x`` elsewhere (broadcast together); ``value`` takes input_x's dtype."""
    dtype = np.dtype(input_x.dtype) if hasattr(input_x, "dtype") else np.dtype(np.float32)
    value = cast(value, dtype) if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value, dtype))
    return where(mask, value, input_x)


@primitive(**compiled_as_call(torch=lambda torch, x, axis, descending: torch.argsort(x, dim=axis, descending=descending, stable=True).int()))
def _argsort(x, axis, descending):
    """Stable order along ``axis``; descending keeps ties in index order too (the smaller index first)."""
    if descending:
        key = x.astype(np.int64) if x.dtype.kind in "bu" else x
        return np.argsort(-key, axis=axis, kind="stable").astype(np.int32)
    return np.argsort(x, axis=axis, kind="stable").astype(np.int32)


_argsort.nondifferentiable()


def _argsort_rule(args, dims, /):
    """Under vmap the batch axis goes first and the sorted axis shifts past it (None: each member flattened)."""
    (x, axis, descending), x = args, batch_first(args[0], dims[0])
    if axis is None:
        return _argsort(reshape(x, (x.shape[0], -1)), 1, descending), 0
    return _argsort(x, axis % max(len(x.shape) - 1, 1) + 1, descending), 0


_argsort.declare(batch=_argsort_rule)


def argsort(input, axis: int = -1, descending: bool = False):  # noqa: A002
    """The indices that sort ``input`` along ``axis`` (int32, a constant)."""
    return _argsort(input, axis, bool(descending))


def sort(input_x, axis: int = -1, descending: bool = False):
    """(sorted values, their int32 indices) along ``axis``; the values' gradient goes back to where each came from."""
    order = _argsort(input_x, axis, bool(descending))
    return take_along_axis(input_x, order, axis), order


def topk(input, k: int, dim: int | None = None, largest: bool = True, sorted: bool = True):  # noqa: A002
    """The ``k`` largest (or smallest) elements along ``dim`` (the last axis when None) and their int32 indices.

    Ties go to the smaller index. With ``sorted`` the values come in order, largest (or smallest) first; without,
    in the order of their positions along ``dim``. MindSpore documents that order as open: its CPU kernel leaves
    them as its partial selection (std::nth_element) does, which keeps the input's order when k is the whole axis."""
    dim = -1 if dim is None else dim
    shape = _shape_of(input)
    size = shape[dim] if shape else 1
    if isinstance(k, Tensor) and not isinstance(k, Tracer) and k.size == 1 and np.dtype(k.dtype).kind in "iu":
        k = int(k.item())  # MindSpore takes k as a one-element integer Tensor too (eagerly: it sets the output's shape)
    if not isinstance(k, (int, np.integer)) or not 0 <= k <= size:
        raise ValueError(f"funcad.ops.topk: k must be an int in [0, {size}] for axis {dim} of shape {shape}, got {k!r}")
    order = _argsort(input, dim, bool(largest))
    index = getitem(order, (slice(None),) * (dim % len(shape)) + (slice(0, int(k)),))
    if not sorted:
        index = take_along_axis(index, _argsort(index, dim, False), dim)
    return take_along_axis(input, index, dim), index


def eager_values(op: str, x) -> np.ndarray:
    """``x``'s values as a numpy array; a clear TypeError under jit, where they are not known yet."""
    try:
        return np.asarray(x._data if isinstance(x, Tensor) else x)
    except TypeError as err:
        raise TypeError(f"funcad.ops.{op}: the output's shape depends on the input's values, so it runs eagerly only "
                        f"(not while funcad.jit compiles): {err}") from None


def nonzero(input, as_tuple: bool = False):  # noqa: A002
    """Indices of the non-zero elements: an int64 (count, ndim) Tensor, or a tuple of one index vector per axis.
    Eager only: the count depends on the values."""
    found = np.nonzero(eager_values("nonzero", input))
    if as_tuple:
        return tuple(Tensor._wrap(i.astype(np.int64)) for i in found)
    return Tensor._wrap(np.stack(found, axis=1).astype(np.int64) if found else np.zeros((0, 0), np.int64))


def unique(input):  # noqa: A002
    """(the distinct values in ascending order, the int32 index of each input element among them). Eager only."""
    values, inverse = np.unique(eager_values("unique", input), return_inverse=True)
    return Tensor._wrap(values), Tensor._wrap(inverse.reshape(_shape_of(input)).astype(np.int32))


@primitive(**compiled_as_call(torch=("cumulative_extreme_index",
                                     lambda torch, x, axis, largest: (torch.cummax if largest else torch.cummin)(x, axis).indices)))
def _cumulative_extreme_index(x, axis, largest):
    """Index of the running max (min) along ``axis``; on a tie the later element's, after a NaN the NaN's (as torch)."""
    running = (np.maximum if largest else np.minimum).accumulate(x, axis=axis)
    positions = np.arange(x.shape[axis]).reshape([-1 if i == axis else 1 for i in range(x.ndim)])
    reaches = (x == running) | np.isnan(x)
    return np.maximum.accumulate(np.where(reaches, positions, 0), axis=axis)


_cumulative_extreme_index.nondifferentiable().declare(batch=axis_rule(_cumulative_extreme_index))


def _cumulative_extreme(input, axis: int, largest: bool, name: str):  # noqa: A002
    shape = _shape_of(input)
    if not shape:
        raise ValueError(f"funcad.ops.{name}: needs an input of at least one dimension, got a scalar")
    axis = _norm_axes(axis, len(shape))[0]
    indices = _cumulative_extreme_index(input, axis, largest)
    return gather_elements(input, axis, indices), indices


def cummax(input, axis: int):  # noqa: A002 - MindSpore's names
    """(running maximum along ``axis``, the index it comes from): each value is gathered from the input, so its
    gradient goes to the element it is. Ties take the later index and a NaN carries on, as in torch."""
    return _cumulative_extreme(input, axis, True, "cummax")


def cummin(input, axis: int):  # noqa: A002 - MindSpore's names
    """(running minimum along ``axis``, the index it comes from), as ``cummax``."""
    return _cumulative_extreme(input, axis, False, "cummin")
