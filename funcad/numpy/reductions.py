"""numpy's NaN-ignoring reductions, and ``where`` with one argument (eager only): composites of funcad ops, so a
NaN element gets a zero gradient and the others the gradient of the plain reduction over them."""

from __future__ import annotations

import numpy as np

from funcad.core.base_ops import shape_of as _shape_of
from funcad.core.tensor import Tensor
from funcad.ops.creation import ones_like as _ones_like
from funcad.ops.indexing import nonzero
from funcad.ops.math import divide, isnan, logical_not, multiply, not_equal, sqrt, subtract
from funcad.ops.math import where as _choose
from funcad.ops.reduce import amax as _max
from funcad.ops.reduce import amin as _min
from funcad.ops.reduce import prod, sum
from funcad.ops.shape import cast, reshape

__all__ = ["average", "count_nonzero", "nanmax", "nanmean", "nanmin", "nanprod", "nanstd", "nansum", "nanvar", "ptp", "where"]


def _filled(a, value):
    return _choose(isnan(a), value, a)


def _count(a, axis, keepdims: bool):
    return sum(cast(logical_not(isnan(a)), np.dtype(a.dtype)), axis=axis, keepdims=keepdims)


def nansum(a, axis=None, keepdims: bool = False):
    return sum(_filled(a, 0.0), axis=axis, keepdims=keepdims)


def nanprod(a, axis=None, keepdims: bool = False):
    return prod(_filled(a, 1.0), axis=axis, keepdims=keepdims)


def nanmax(a, axis=None, keepdims: bool = False):
    """The largest non-NaN element (NaN where a slice holds only NaN, as numpy, which also warns)."""
    out = _max(_filled(a, -np.inf), axis=axis, keepdims=keepdims)
    return _choose(_count(a, axis, keepdims) == 0, np.nan, out)


def nanmin(a, axis=None, keepdims: bool = False):
    out = _min(_filled(a, np.inf), axis=axis, keepdims=keepdims)
    return _choose(_count(a, axis, keepdims) == 0, np.nan, out)


def nanmean(a, axis=None, keepdims: bool = False):
    return divide(nansum(a, axis, keepdims), _count(a, axis, keepdims))


def nanvar(a, axis=None, ddof: int = 0, keepdims: bool = False):
    """The variance of the non-NaN elements with ``ddof`` delta degrees of freedom."""
    centred = subtract(_filled(a, 0.0), nanmean(a, axis, keepdims=True))
    squares = _choose(isnan(a), 0.0, multiply(centred, centred))
    return divide(sum(squares, axis=axis, keepdims=keepdims), subtract(_count(a, axis, keepdims), float(ddof)))


def nanstd(a, axis=None, ddof: int = 0, keepdims: bool = False):
    return sqrt(nanvar(a, axis, ddof, keepdims))


def average(a, axis=None, weights=None, keepdims: bool = False):
    """The mean along ``axis``, weighted by ``weights`` (broadcast against ``a``, or 1-D along ``axis``) when given."""
    if weights is None:
        return divide(sum(a, axis=axis, keepdims=keepdims), float(np.prod([_shape_of(a)[i] for i in _axes(a, axis)])))
    if len(_shape_of(weights)) == 1 and len(_shape_of(a)) > 1 and isinstance(axis, int):
        weights = reshape(weights, tuple(-1 if i == axis % len(_shape_of(a)) else 1 for i in range(len(_shape_of(a)))))
    return divide(sum(multiply(a, weights), axis=axis, keepdims=keepdims), sum(multiply(weights, _ones_like(a)), axis=axis, keepdims=keepdims))


def _axes(a, axis) -> tuple:
    ndim = len(_shape_of(a))
    return tuple(range(ndim)) if axis is None else tuple(i % ndim for i in ((axis,) if isinstance(axis, int) else axis))


def ptp(a, axis=None, keepdims: bool = False):
    """max - min along ``axis``."""
    return subtract(_max(a, axis=axis, keepdims=keepdims), _min(a, axis=axis, keepdims=keepdims))


def count_nonzero(a, axis=None, keepdims: bool = False):
    """How many elements are not zero (an int64 count, no gradient)."""
    return sum(cast(not_equal(a, 0), np.int64), axis=axis, keepdims=keepdims)


def where(condition, x=None, y=None):
    """numpy.where: with x and y, a choice per element (differentiable, jit-compatible); with the condition alone,
    the indices of its True elements as a tuple of int64 Tensors (eager only: the count depends on the values)."""
    if x is None and y is None:
        if not _shape_of(condition):
            condition = Tensor._wrap(np.atleast_1d(np.asarray(condition)))
        return nonzero(condition, as_tuple=True)
    if x is None or y is None:
        raise ValueError("funcad.numpy.where: give both x and y, or neither")
    return _choose(condition, x, y)
