"""Order statistics along an axis: median, nanmedian, kthvalue, mode, each (values, int64 indices).

The index of each result is a constant computed in numpy, choosing among equal elements as torch's CPU kernels do,
so the twin of a torch model picks the same element; the value is gathered at that index, so its gradient goes to
that element alone (as torch's does).
"""

from __future__ import annotations

import numpy as np

from funcad.core.base_ops import shape_of as _shape_of
from funcad.core.primitive import compiled_as_call, primitive
from funcad.ops.batching import axis_rule
from funcad.ops.shape import _norm_axes, squeeze, take_along_axis


def _rows(x: np.ndarray, axis: int) -> np.ndarray:
    """x with ``axis`` last, as a 2-D array of rows."""
    moved = np.moveaxis(x, axis, -1)
    return moved.reshape(-1, moved.shape[-1]) if moved.ndim else moved.reshape(1, 1)


def _as_index(picked: list, x: np.ndarray, axis: int) -> np.ndarray:
    """Per-row picks back in x's shape with ``axis`` kept as size 1."""
    shape = list(np.moveaxis(x, axis, -1).shape[:-1]) if x.ndim else []
    out = np.asarray(picked, np.int64).reshape(shape + [1])
    return np.moveaxis(out, -1, axis) if x.ndim else out.reshape(())


def _greater_or_nan(a: float, b: float) -> bool:
    return (a != a and b == b) or a > b


def _quickselect(row: np.ndarray, k: int) -> int:
    """torch's CPU ``kthvalue`` selection (median-of-three quickselect, NaN largest): the index of the k-th smallest
    (0-based), which among equal values depends on this exact sequence of swaps."""
    values, index = [float(v) for v in row], list(range(len(row)))

    def swap(i: int, j: int) -> None:
        values[i], values[j] = values[j], values[i]
        index[i], index[j] = index[j], index[i]

    low, high = 0, len(values) - 1
    while high > low + 1:
        swap(low + (high - low) // 2, low + 1)
        if _greater_or_nan(values[low + 1], values[high]):
            swap(low + 1, high)
        if _greater_or_nan(values[low], values[high]):
            swap(low, high)
        if _greater_or_nan(values[low + 1], values[low]):
            swap(low + 1, low)
        i, j, pivot = low + 1, high, values[low]
        while True:
            i += 1
            while _greater_or_nan(pivot, values[i]):
                i += 1
            j -= 1
            while _greater_or_nan(values[j], pivot):
                j -= 1
            if j < i:
                break
            swap(i, j)
        swap(low, j)
        if j <= k:
            low = i
        if j >= k:
            high = j - 1
    if high == low + 1 and _greater_or_nan(values[low], values[high]):
        swap(low, high)
    return index[k]


@primitive(**compiled_as_call(torch=("kth_index", lambda torch, x, axis, k: torch.kthvalue(x, k + 1, axis, keepdim=True).indices)))
def _kth_index(x, axis, k):
    """Index of the k-th smallest (0-based) along ``axis``, kept as an axis of size 1."""
    return _as_index([_quickselect(row, k) for row in _rows(x, axis)], x, axis)


def _median_pick(row: np.ndarray, ignore_nan: bool) -> int:
    """torch's median index: the lower median, equal values ordered by index; a row with NaN gives its first NaN
    (median) or the median of the rest (nanmedian; 0 when all are NaN)."""
    nan = np.isnan(row)
    if nan.any() and not ignore_nan:
        return int(np.argmax(nan))
    count = int((~nan).sum())
    return int(np.argsort(row, kind="stable")[(count - 1) // 2]) if count else 0


@primitive(**compiled_as_call(torch=("median_index", lambda torch, x, axis, ignore_nan:
                                     (torch.nanmedian if ignore_nan else torch.median)(x, axis, keepdim=True).indices)))
def _median_index(x, axis, ignore_nan):
    """Index of the lower median along ``axis``, kept as an axis of size 1."""
    return _as_index([_median_pick(row, ignore_nan) for row in _rows(x, axis)], x, axis)


def _mode_pick(row: np.ndarray) -> int:
    """torch's mode index: the smallest of the most frequent values, at its last occurrence (torch's for rows of up to
    16 elements, which its sort keeps in order)."""
    values, counts = np.unique(row, return_counts=True)
    best = values[int(np.argmax(counts))]
    return int(np.flatnonzero(row == best)[-1])


@primitive(**compiled_as_call(torch=("mode_index", lambda torch, x, axis: torch.mode(x, axis, keepdim=True).indices)))
def _mode_index(x, axis):
    """Index of the most frequent value along ``axis``, kept as an axis of size 1."""
    return _as_index([_mode_pick(row) for row in _rows(x, axis)], x, axis)


for _prim in (_kth_index, _median_index, _mode_index):
    _prim.nondifferentiable().declare(batch=axis_rule(_prim))


def _picked(input, index, axis: int, keepdims: bool):  # noqa: A002
    values = take_along_axis(input, index, axis) if _shape_of(input) else input
    if keepdims or not _shape_of(input):
        return values, index
    return squeeze(values, axis), squeeze(index, axis)


def _axis(input, axis: int) -> int:  # noqa: A002
    shape = _shape_of(input)
    return _norm_axes(axis, len(shape))[0] if shape else 0


def median(input, axis: int = -1, keepdims: bool = False):  # noqa: A002 - MindSpore's names
    """(lower median along ``axis``, its int64 index); a NaN in the row makes it NaN. The gradient goes to that element."""
    axis = _axis(input, axis)
    return _picked(input, _median_index(input, axis, False), axis, keepdims)


def nanmedian(input, axis: int = -1, keepdims: bool = False):  # noqa: A002
    """(lower median along ``axis`` of the values that are not NaN, its int64 index), as ``median``."""
    axis = _axis(input, axis)
    return _picked(input, _median_index(input, axis, True), axis, keepdims)


def kthvalue(input, k: int, axis: int = -1, keepdims: bool = False):  # noqa: A002
    """(``k``-th smallest along ``axis``, 1-based as torch's, its int64 index). The gradient goes to that element."""
    axis = _axis(input, axis)
    size = _shape_of(input)[axis] if _shape_of(input) else 1
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= size:
        raise ValueError(f"funcad.ops.kthvalue: k must be an int in [1, {size}], got {k!r}")
    return _picked(input, _kth_index(input, axis, int(k) - 1), axis, keepdims)


def mode(input, axis: int = -1, keepdims: bool = False):  # noqa: A002
    """(most frequent value along ``axis``, the smallest on a tie; its int64 index). The gradient goes to that element."""
    axis = _axis(input, axis)
    return _picked(input, _mode_index(input, axis), axis, keepdims)
