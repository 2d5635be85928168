"""torch functions with no funcad op of their name or arguments, written with funcad ops: order statistics
(``median``, ``nanmedian``, ``kthvalue``, ``mode``, ``quantile``, ``nanquantile``), ``meshgrid``, ``take``,
``take_along_dim``, ``bucketize`` and ``searchsorted``, ``block_diag``, ``atleast_1d/2d/3d``,
``diag``/``diag_embed``/``diagonal``, ``trapz``/``trapezoid``, ``logdet``, ``vander``, and the selections whose size
depends on the values (``nonzero``, ``argwhere``, ``unique``: eager only, as funcad's ``ops.nonzero`` and ``ops.unique``).

Reductions over one ``dim`` return (values, indices) with the index torch's CPU kernel picks among equal elements,
the gradient going to that element; a median of all the elements spreads its gradient evenly over the elements equal
to it, as torch's does.
"""

from __future__ import annotations

import collections

import numpy as np
import torch

from funcad import ops
from funcad.core.tensor import Tensor

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


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):  # noqa: A002
    return ops.searchsorted(boundaries, input, out_int32=out_int32, right=right)


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, out=None, sorter=None):  # noqa: A002
    if sorter is not None:
        raise NotImplementedError("torch.searchsorted: sorter=... has no funcad translation")
    return ops.searchsorted(sorted_sequence, input, out_int32=out_int32, right=right or side == "right")


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
    """Columns x^(N-1) ... x^0 (``ops.vander``), or their reverse with ``increasing``."""
    columns = ops.vander(x, N)
    return ops.flip(columns, (1,)) if increasing else columns


INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantiles(ignore_nan: bool):
    """torch.quantile / nanquantile(input, q, dim=None, keepdim=False, *, interpolation='linear'): each row sorted, the
    q-th quantile at rank q * (n - 1) interpolated between its neighbours (n the row's non-NaN count for nanquantile),
    so the gradient goes to those two elements, as torch's; a row with a NaN is NaN for quantile, an all-NaN row for
    nanquantile. A 1-D ``q`` puts its axis first."""
    name = "nanquantile" if ignore_nan else "quantile"

    def translated(input, q, axis=None, keepdims=False, *, interpolation="linear", out=None):  # noqa: A002
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"torch.{name}: interpolation must be one of {', '.join(INTERPOLATIONS)}, got {interpolation!r}")
        shape = tuple(input.shape)
        rows = ops.reshape(input, (-1,)) if axis is None else ops.moveaxis(input, axis, -1)
        levels = np.asarray(q._data if hasattr(q, "_data") else q, dtype=np.dtype(input.dtype))
        if levels.ndim > 1 or ((levels < 0) | (levels > 1)).any():
            raise ValueError(f"torch.{name}: q must be a number or a 1-D tensor of values in [0, 1], got {levels}")
        missing = ops.isnan(rows)
        ordered = ops.sort(rows, -1)[0]  # NaN last
        count = ops.sum(ops.cast(ops.logical_not(missing), ordered.dtype), -1, keepdims=True) if ignore_nan else rows.shape[-1]
        lead = (1,) * (len(rows.shape) - 1) + (1,)
        ranks = ops.stop_gradient(Tensor(levels.reshape(levels.shape + lead)) * (count - 1))  # (Q?, ..., 1)
        low, high = ops.floor(ranks), ops.ceil(ranks)
        if interpolation == "nearest":
            low = high = ops.round(ranks)  # halves to even, as torch's round
        elif interpolation == "lower":
            high = low
        elif interpolation == "higher":
            low = high
        weight = (ranks - low) if interpolation == "linear" else ops.cast(high > low, ranks.dtype) * 0.5
        last = rows.shape[-1] - 1
        ordered = ops.broadcast_to(ordered, levels.shape + tuple(ordered.shape))
        at = lambda rank: ops.take_along_axis(ordered, ops.cast(ops.clamp(rank, 0, last), np.int64), -1)  # noqa: E731
        below = at(low)
        value = below + (at(high) - below) * weight
        empty = (count == 0) if ignore_nan else ops.any(missing, -1, keepdims=True)
        value = ops.squeeze(ops.where(ops.broadcast_to(empty, tuple(value.shape)), float("nan"), value), -1)
        if keepdims:
            value = ops.reshape(value, levels.shape + tuple(1 if axis is None or i == axis % len(shape) else n for i, n in enumerate(shape)))
        return value
    return translated


def nonzero(input, *, as_tuple=False, out=None):  # noqa: A002
    """torch.nonzero: int64 indices, (count, ndim) or one vector per axis (eager only: the count depends on the values)."""
    return ops.nonzero(input, as_tuple)


def unique(input, sorted=True, return_inverse=False, return_counts=False, axis=None):  # noqa: A002
    """torch.unique of all the elements (eager only), ascending as torch's CPU kernel gives them (``sorted=False``
    included), with int64 inverse indices and counts when asked; the values carry no gradient (torch's has none)."""
    if axis is not None:
        raise NotImplementedError(f"torch.unique: dim={axis} has no funcad translation (unique of all the elements only)")
    values, inverse = ops.unique(input)
    result = [values]
    if return_inverse:
        result.append(ops.cast(inverse, np.int64))
    if return_counts:
        result.append(Tensor(np.bincount(np.asarray(inverse).reshape(-1), minlength=values.shape[0]).astype(np.int64)))
    return result[0] if len(result) == 1 else tuple(result)


median = _selection(ops.median, False)
nanmedian = _selection(ops.nanmedian, True)
mode = _selection(ops.mode)

FUNCTIONS = {
    torch.median: median, torch.nanmedian: nanmedian, torch.kthvalue: kthvalue, torch.mode: mode, torch.meshgrid: meshgrid,
    torch.take: take, torch.take_along_dim: take_along_dim, torch.bucketize: bucketize, torch.searchsorted: searchsorted,
    torch.block_diag: ops.block_diag, torch.atleast_1d: _at_least(ops.atleast_1d), torch.atleast_2d: _at_least(ops.atleast_2d),
    torch.atleast_3d: _at_least(ops.atleast_3d), torch.diag: diag, torch.diag_embed: diag_embed, torch.diagonal: diagonal,
    torch.trapz: trapezoid, torch.trapezoid: trapezoid, torch.logdet: ops.logdet, torch.vander: vander,
    torch.quantile: _quantiles(False), torch.nanquantile: _quantiles(True), torch.nonzero: nonzero,
    torch.argwhere: lambda input: ops.nonzero(input), torch.unique: unique,
}
METHODS = {
    "median": median, "nanmedian": nanmedian, "kthvalue": kthvalue, "mode": mode, "take": take, "take_along_dim": take_along_dim,
    "diag": diag, "diag_embed": diag_embed, "diagonal": diagonal, "logdet": ops.logdet,
    "quantile": FUNCTIONS[torch.quantile], "nanquantile": FUNCTIONS[torch.nanquantile], "nonzero": nonzero, "argwhere": FUNCTIONS[torch.argwhere],
    "unique": unique,
}
