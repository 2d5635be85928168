"""torch functions with no funcad op of their name or arguments, written with funcad ops: order statistics
(``median``, ``nanmedian``, ``kthvalue``, ``mode``), ``meshgrid``, ``take``, ``take_along_dim``, ``bucketize`` and
``searchsorted``, ``block_diag``, ``atleast_1d/2d/3d``, ``diag``/``diag_embed``/``diagonal``, ``trapz``/``trapezoid``,
``logdet`` and ``vander``.

Reductions over one ``dim`` return (values, indices) with the index torch's CPU kernel picks among equal elements,
the gradient going to that element; a median of all the elements spreads its gradient evenly over the elements equal
to it, as torch's does.
"""

from __future__ import annotations

import collections

import numpy as np
import torch

from funcad import ops

Selected = collections.namedtuple("Selected", ["values", "indices"])


def _all_median(input, ignore_nan: bool):  # noqa: A002
    """The lower median of every element: its value exactly, its gradient shared by the elements equal to it."""
    flat = ops.reshape(input, (-1,))
    value = ops.stop_gradient((ops.nanmedian if ignore_nan else ops.median)(flat, 0)[0])
    equal = ops.cast(flat == value, flat.dtype)
    spread = ops.sum((flat - ops.stop_gradient(flat)) * equal) / ops.maximum(ops.sum(equal), 1.0)
    return value + spread


def _selection(op, ignore_nan: bool | None = None):
    def translated(input, axis=None, keepdims=False):  # noqa: A002 - torch's dim/keepdim arrive renamed
        if axis is None:
            if ignore_nan is None:
                return Selected(*op(ops.reshape(input, (-1,)), 0))
            return _all_median(input, ignore_nan)
        return Selected(*op(input, axis, keepdims))
    return translated


def kthvalue(input, k, axis=-1, keepdims=False):  # noqa: A002
    return Selected(*ops.kthvalue(input, int(k), axis, keepdims))


def meshgrid(*tensors, indexing="ij"):
    """torch's default indexing is 'ij' (funcad's, as numpy's, 'xy')."""
    tensors = tuple(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)) else tensors
    return tuple(ops.meshgrid(*tensors, indexing=indexing or "ij"))


def take(input, index):  # noqa: A002
    """Elements of the flattened input at ``index`` (negative counts from the end)."""
    flat = ops.reshape(input, (-1,))
    return ops.gather(flat, ops.cast(index, np.int64) % flat.shape[0], 0)


def take_along_dim(input, indices, axis=None):  # noqa: A002
    if axis is None:
        return ops.take_along_axis(ops.reshape(input, (-1,)), ops.reshape(indices, (-1,)), 0)
    return ops.take_along_axis(input, indices, axis)


def _counts_below(sequence, values, right: bool, out_int32: bool):
    """How many of ``sequence``'s last-axis entries lie below each value (or at or below it, ``right``): an integer
    constant, without gradient."""
    values, sequence = ops.stop_gradient(values), ops.stop_gradient(sequence)
    below = (sequence <= values[..., None]) if right else (sequence < values[..., None])
    return ops.sum(ops.cast(below, np.int32 if out_int32 else np.int64), -1)


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):  # noqa: A002
    return _counts_below(boundaries, input, right, out_int32)


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, out=None, sorter=None):  # noqa: A002
    if sorter is not None:
        raise NotImplementedError("torch.searchsorted: sorter=... has no funcad translation")
    right = right or side == "right"
    if len(sorted_sequence.shape) == 1:
        return _counts_below(sorted_sequence, input, right, out_int32)
    return _counts_below(ops.expand_dims(sorted_sequence, -2), input, right, out_int32)


def block_diag(*tensors):
    """The matrices (scalars and vectors as one row) along the diagonal of a zero matrix."""
    blocks = [ops.reshape(t, (1, -1)) if len(t.shape) < 2 else t for t in tensors]
    width = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        rows.append(ops.pad(b, ((0, 0), (left, width - left - b.shape[1]))))
        left += b.shape[1]
    return ops.concat(rows, 0)


def _at_least(op):
    def translated(*tensors):
        if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
            return tuple(op(t) for t in tensors[0])
        return op(tensors[0]) if len(tensors) == 1 else tuple(op(t) for t in tensors)
    return translated


def diag(input, diagonal=0):  # noqa: A002
    """A vector as a diagonal matrix, a matrix's diagonal as a vector (``diagonal`` above the main one)."""
    return ops.diag_embed(input, diagonal) if len(input.shape) == 1 else ops.diagonal(input, diagonal)


def diag_embed(input, offset=0, axis2=-2, dim2=-1):  # noqa: A002 - torch's dim1 arrives renamed axis2
    return ops.diag_embed(input, offset, axis2, dim2)


def diagonal(input, offset=0, axis2=0, dim2=1):  # noqa: A002 - torch's dim1 arrives renamed axis2
    return ops.diagonal(input, offset, axis2, dim2)


def trapezoid(y, x=None, *, dx=None, axis=-1):
    return ops.trapz(y, x, dx=dx, dim=axis)


def vander(x, N=None, increasing=False):  # noqa: N803 - torch's name
    """Columns x^(N-1) ... x^0 (or increasing), built by products so the gradient is defined at x = 0."""
    columns = [ops.ones_like(x)]
    for _ in range((x.shape[0] if N is None else int(N)) - 1):
        columns.append(columns[-1] * x)
    return ops.stack(columns if increasing else columns[::-1], 1)


median = _selection(ops.median, False)
nanmedian = _selection(ops.nanmedian, True)
mode = _selection(ops.mode)

FUNCTIONS = {
    torch.median: median, torch.nanmedian: nanmedian, torch.kthvalue: kthvalue, torch.mode: mode, torch.meshgrid: meshgrid,
    torch.take: take, torch.take_along_dim: take_along_dim, torch.bucketize: bucketize, torch.searchsorted: searchsorted,
    torch.block_diag: block_diag, torch.atleast_1d: _at_least(ops.atleast_1d), torch.atleast_2d: _at_least(ops.atleast_2d),
    torch.atleast_3d: _at_least(ops.atleast_3d), torch.diag: diag, torch.diag_embed: diag_embed, torch.diagonal: diagonal,
    torch.trapz: trapezoid, torch.trapezoid: trapezoid, torch.logdet: ops.logdet, torch.vander: vander,
}
METHODS = {
    "median": median, "nanmedian": nanmedian, "kthvalue": kthvalue, "mode": mode, "take": take, "take_along_dim": take_along_dim,
    "diag": diag, "diag_embed": diag_embed, "diagonal": diagonal, "logdet": ops.logdet,
}
