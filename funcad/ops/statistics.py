"""MindSpore's statistics, searching and combinatorics functions: quantile, nanquantile, histc, bincount, searchsorted,
bucketize, argwhere, unique_consecutive, msort, cartesian_prod, combinations, renorm and pdist.

All are compositions of other ops: values are picked by ``take_along_axis``/``getitem`` (so their gradients reach the
elements picked) and counts are sums of comparisons or one-hot rows (constants). Those whose output shape depends on
the input's values (``bincount``'s length, ``argwhere``, ``unique_consecutive``) need known values, so they run eagerly
or on constants only, as ``nonzero`` and ``unique`` do.
"""

from __future__ import annotations

import itertools

import numpy as np

from funcad.core.base_ops import shape_of as _shape_of
from funcad.core.tensor import Tensor
from funcad.ops.indexing import eager_values, nonzero, sort
from funcad.ops.linalg_functions import FLOATS, check_floats
from funcad.ops.math import (
    add,
    equal,
    floor,
    greater,
    greater_equal,
    isnan,
    less,
    less_equal,
    logical_and,
    maximum,
    minimum,
    multiply,
    subtract,
    where,
)
from funcad.ops.reduce import amax, amin, norm
from funcad.ops.reduce import sum as _sum
from funcad.ops.scatter_ops import unsorted_segment_sum
from funcad.ops.shape import broadcast_to, cast, expand_dims, getitem, one_hot, reshape, squeeze, stack, take_along_axis, transpose
from funcad.ops.slicing import meshgrid


def _moved(x, axis: int, to: int):
    """``x`` with its (non-negative) ``axis`` moved to position ``to`` (0 or -1)."""
    order = [d for d in range(len(_shape_of(x))) if d != axis]
    order.insert(to % (len(order) + 1), axis)
    return transpose(x, tuple(order))


# -- quantiles ----------------------------------------------------------------------------------------------------
def _quantile(op: str, x, q, axis, keepdims: bool, skip_nan: bool):
    """Linear interpolation between the order statistics at q * (n - 1), n being each slice's count (of non-NaN
    values for ``skip_nan``); q's axis (when q is 1-D) leads the result, as torch's."""
    check_floats("ops." + op, x)
    qs = np.asarray(eager_values(op, q) if isinstance(q, Tensor) else q, dtype=np.float64)
    if qs.ndim > 1 or qs.size == 0 or np.any((qs < 0) | (qs > 1)) or np.any(np.isnan(qs)):
        raise ValueError(f"funcad.ops.{op}: q must be a number or a 1-D sequence of numbers in [0, 1], got {q!r}")
    shape = _shape_of(x)
    if axis is None:
        data, kept = reshape(x, (-1,)), (1,) * len(shape)
    else:
        if not -max(len(shape), 1) <= axis < max(len(shape), 1):
            raise ValueError(f"funcad.ops.{op}: axis {axis} is out of range for an input of shape {shape}")
        axis %= max(len(shape), 1)
        data = _moved(x, axis, -1) if shape else reshape(x, (1,))
        kept = tuple(1 if i == axis else n for i, n in enumerate(shape))
    ordered = sort(data, -1)[0]  # NaN last
    size = _shape_of(ordered)[-1]
    nan_count = _sum(cast(isnan(ordered), np.float64), -1, keepdims=True)
    count = subtract(float(size), nan_count) if skip_nan else float(size)
    q_shape = qs.shape + (1,) * len(_shape_of(ordered))  # q's axis, then the slices' axes with the last of size 1
    last = maximum(subtract(count, 1.0), 0.0)  # the last order statistic's index
    position = multiply(Tensor._wrap(qs.reshape(q_shape)), last)
    below = floor(position)
    weight = cast(subtract(position, below), np.dtype(x.dtype))
    full = qs.shape + tuple(_shape_of(ordered))
    values = broadcast_to(ordered, full)
    low = take_along_axis(values, cast(below, np.int64), -1)
    high = take_along_axis(values, cast(minimum(add(below, 1.0), last), np.int64), -1)
    result = squeeze(add(low, multiply(subtract(high, low), weight)), -1)
    empty = equal(count, 0.0) if skip_nan else greater(nan_count, 0.0)
    result = where(squeeze(broadcast_to(empty, qs.shape + _shape_of(empty)), -1), np.nan, result)
    return reshape(result, qs.shape + kept) if keepdims else result


def quantile(input, q, axis: int | None = None, keepdims: bool = False):  # noqa: A002 - MindSpore's names
    """The q-th quantiles of ``input`` along ``axis`` (all elements when None), linearly interpolated; NaN where a
    slice holds a NaN. A 1-D ``q`` adds a leading axis of its length. Gradients reach the two order statistics."""
    return _quantile("quantile", input, q, axis, keepdims, skip_nan=False)


def nanquantile(input, q, axis: int | None = None, keepdims: bool = False):  # noqa: A002
    """``quantile`` ignoring NaNs (NaN only where a slice holds nothing else)."""
    return _quantile("nanquantile", input, q, axis, keepdims, skip_nan=True)


# -- counting and searching ---------------------------------------------------------------------------------------
def histc(input, bins: int = 100, min: float = 0.0, max: float = 0.0):  # noqa: A001, A002 - MindSpore's names
    """Counts of ``input``'s elements in ``bins`` equal bins over [min, max] (the data's own range when min == max,
    widened by 1 each way if that is a point); elements outside are ignored, the top edge falls in the last bin.
    The counts have the input's float dtype (float32 for integer input)."""
    if not isinstance(bins, (int, np.integer)) or bins <= 0:
        raise ValueError(f"funcad.ops.histc: bins must be a positive int, got {bins!r}")
    if min > max:
        raise ValueError(f"funcad.ops.histc: min must not exceed max, got min={min}, max={max}")
    dtype = np.dtype(input.dtype) if np.dtype(input.dtype) in FLOATS else np.dtype(np.float32)
    x = reshape(cast(input, dtype), (-1,))
    low, high = (amin(x), amax(x)) if min == max else (Tensor._wrap(np.asarray(min, dtype)), Tensor._wrap(np.asarray(max, dtype)))
    point = equal(low, high)
    low, high = where(point, subtract(low, 1.0), low), where(point, add(high, 1.0), high)
    inside = logical_and(greater_equal(x, low), less_equal(x, high))
    index = cast(floor(multiply(subtract(x, low), bins) / subtract(high, low)), np.int64)
    index = where(logical_and(inside, less(index, bins)), index, bins - 1)
    return _sum(multiply(one_hot(index, bins, dtype=dtype), expand_dims(cast(inside, dtype), -1)), 0)


def bincount(input, weights=None, minlength: int = 0):  # noqa: A002
    """Occurrences of each value 0, 1, ... max(input) of the 1-D non-negative int ``input`` (at least ``minlength``
    of them), each weighted by ``weights`` when given: float32 counts, or sums of the weights (differentiable in them).
    The length depends on the values, so ``input`` must be known (eagerly, or a constant)."""
    values = eager_values("bincount", input)
    if values.ndim != 1 or values.dtype.kind not in "iu":
        raise ValueError(f"funcad.ops.bincount: needs a 1-D int input, got {values.dtype}{values.shape}")
    if values.size and values.min() < 0:
        raise ValueError(f"funcad.ops.bincount: input values must be non-negative, got {values.min()}")
    if not isinstance(minlength, (int, np.integer)) or minlength < 0:
        raise ValueError(f"funcad.ops.bincount: minlength must be a non-negative int, got {minlength!r}")
    if weights is not None and _shape_of(weights) != values.shape:
        raise ValueError(f"funcad.ops.bincount: weights of shape {_shape_of(weights)} do not match input of shape {values.shape}")
    length = int(np.max(values, initial=-1)) + 1
    length = length if length > minlength else int(minlength)
    counted = Tensor._wrap(np.ones(values.shape, np.float32)) if weights is None else weights
    return unsorted_segment_sum(counted, values, length)


def searchsorted(sorted_sequence, values, *, out_int32: bool = False, right: bool = False, side: str | None = None, sorter=None):
    """For each of ``values`` the index in ``sorted_sequence`` (ascending along its last axis; 1-D, or with leading
    axes matching ``values``') where it would go to keep the order: before equal entries, or after them with
    ``right`` (or side='right'). ``sorter`` holds the indices that sort an unsorted sequence. int64 (int32 with
    ``out_int32``); counts of comparisons, a constant."""
    if side not in (None, "left", "right"):
        raise ValueError(f"funcad.ops.searchsorted: side must be 'left' or 'right', got {side!r}")
    if side is not None and right and side == "left":
        raise ValueError("funcad.ops.searchsorted: right=True contradicts side='left'")
    right = right or side == "right"
    seq, vals = _shape_of(sorted_sequence), _shape_of(values)
    if sorter is not None:
        sorted_sequence = take_along_axis(sorted_sequence, sorter, -1)
    if not seq or (len(seq) > 1 and tuple(seq[:-1]) != tuple(vals[:-1])):
        raise ValueError(f"funcad.ops.searchsorted: sorted_sequence of shape {seq} must be 1-D or share the leading axes of values {vals}")
    compare = less_equal if right else less
    if len(seq) == 1:
        hits = compare(sorted_sequence, expand_dims(values, -1))
    else:
        hits = compare(expand_dims(sorted_sequence, -2), expand_dims(values, -1))
    return cast(_sum(cast(hits, np.int64), -1), np.int32 if out_int32 else np.int64)


def bucketize(input, boundaries, *, right: bool = False):  # noqa: A002
    """The index of each element's bucket among the ascending ``boundaries`` (a list): i with
    boundaries[i-1] < x <= boundaries[i], or boundaries[i-1] <= x < boundaries[i] with ``right``; int32."""
    if not isinstance(boundaries, (list, tuple)):
        raise TypeError(f"funcad.ops.bucketize: boundaries must be a list of numbers, got {type(boundaries).__name__}")
    edges = Tensor._wrap(np.asarray(boundaries, np.float64 if not boundaries else None).reshape(-1))
    return searchsorted(edges, input, out_int32=True, right=right)


def argwhere(input):  # noqa: A002
    """The int64 (count, ndim) indices of ``input``'s non-zero elements, in row-major order. Eager only."""
    return nonzero(input)


def unique_consecutive(input, return_idx: bool = False, return_counts: bool = False, axis: int | None = None):  # noqa: A002
    """``input`` with each run of equal consecutive elements (slices along ``axis``; of the flattened input when None)
    kept once; with ``return_idx`` also the int64 index of each input element's run, with ``return_counts`` each
    run's int64 length: output, (output, idx), (output, counts) or (output, idx, counts). The values come from the
    runs' first elements, so their gradient goes there. Eager only."""
    data = eager_values("unique_consecutive", input)
    if axis is None:
        source, along, items = reshape(input, (-1,)), 0, data.reshape(-1, 1)
    else:
        if not data.ndim or not -data.ndim <= axis < data.ndim:
            raise ValueError(f"funcad.ops.unique_consecutive: axis {axis} is out of range for an input of shape {data.shape}")
        along = axis % data.ndim
        source, items = input, np.moveaxis(data, along, 0).reshape(data.shape[along], -1)
    changed = np.any(items[1:] != items[:-1], axis=1)
    first = [0] if len(items) else []
    run = np.concatenate([first, np.cumsum(changed)]).astype(np.int64)
    starts = np.concatenate([first, np.flatnonzero(changed) + 1]).astype(np.int64)
    output = getitem(source, (slice(None),) * along + (starts,))
    extras = []
    if return_idx:
        extras.append(Tensor._wrap(run.reshape(data.shape) if axis is None else run))
    if return_counts:
        extras.append(Tensor._wrap(np.diff(np.append(starts, run.size)).astype(np.int64)))
    return (output, *extras) if extras else output


def msort(input):  # noqa: A002
    """``input`` sorted ascending along its first axis (values only; their gradient goes back to where each came from)."""
    return sort(input, 0)[0]


# -- combinatorics ------------------------------------------------------------------------------------------------
def _vectors(op: str, inputs) -> None:
    for i, t in enumerate(inputs):
        if len(_shape_of(t)) != 1:
            raise ValueError(f"funcad.ops.{op}: input {i} has shape {_shape_of(t)}; inputs must be 1-D")


def cartesian_prod(*inputs):
    """Every combination of one element from each 1-D input, in row-major order: shape (product of lengths, number
    of inputs); a single input comes back as it is (torch's rule)."""
    if not inputs:
        raise ValueError("funcad.ops.cartesian_prod: needs at least one input")
    _vectors("cartesian_prod", inputs)
    if len(inputs) == 1:
        return inputs[0]
    return stack([reshape(g, (-1,)) for g in meshgrid(*inputs, indexing="ij")], 1)


def combinations(input, r: int = 2, with_replacement: bool = False):  # noqa: A002
    """Every length-``r`` combination of the 1-D ``input``'s elements (itertools' order), with repeated elements when
    ``with_replacement``: shape (count, r)."""
    _vectors("combinations", (input,))
    if not isinstance(r, (int, np.integer)) or r < 0:
        raise ValueError(f"funcad.ops.combinations: r must be a non-negative int, got {r!r}")
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    index = np.array(list(pick(range(_shape_of(input)[0]), r)), np.int64).reshape(-1, r)
    return getitem(input, index)


# -- norms --------------------------------------------------------------------------------------------------------
def renorm(input, p: float, axis: int, maxnorm: float):  # noqa: A002
    """Each slice of ``input`` along ``axis`` whose p-norm exceeds ``maxnorm`` scaled down to it (by
    maxnorm / (norm + 1e-7), torch's form); the others unchanged."""
    shape = _shape_of(input)
    if not isinstance(p, (int, float)) or isinstance(p, bool) or p <= 0:
        raise ValueError(f"funcad.ops.renorm: p must be a positive number, got {p!r}")
    if maxnorm < 0:
        raise ValueError(f"funcad.ops.renorm: maxnorm must be non-negative, got {maxnorm}")
    if len(shape) < 2 or not -len(shape) <= axis < len(shape):
        raise ValueError(f"funcad.ops.renorm: needs an input of at least 2 dimensions and an axis among them, got shape {shape}, axis {axis}")
    axis %= len(shape)
    rows = reshape(_moved(input, axis, 0), (shape[axis], -1))
    norms = reshape(norm(rows, ord=p, axis=1), tuple(n if i == axis else 1 for i, n in enumerate(shape)))
    return multiply(input, where(greater(norms, maxnorm), maxnorm / (norms + 1e-7), 1.0))


def pdist(input, p: float = 2.0):  # noqa: A002
    """The p-norm distances between each pair of rows i < j of (..., N, M) ``input``, in row-major order of the
    pairs: shape (..., N (N - 1) / 2)."""
    shape = _shape_of(input)
    if len(shape) < 2:
        raise ValueError(f"funcad.ops.pdist: needs rows in the last two axes (..., N, M), got shape {shape}")
    if p < 0:
        raise ValueError(f"funcad.ops.pdist: p must be non-negative, got {p}")
    first, second = np.triu_indices(shape[-2], 1)
    rows = (Ellipsis, first, slice(None)), (Ellipsis, second, slice(None))
    return norm(subtract(getitem(input, rows[0]), getitem(input, rows[1])), ord=p, axis=-1)
