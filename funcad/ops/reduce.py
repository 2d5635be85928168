"""Reductions: sum, mean, prod, max/min, var/std, logsumexp, norm, cumsum, argmax/argmin."""

from __future__ import annotations

import numpy as np

from funcad.core.backend import xp
from funcad.core.primitive import primitive
from funcad.ops.math import exp, log, sqrt, where
from funcad.ops.shape import _norm_axes, _shape_of, broadcast_to, cast, reshape


def _keep_shape(shape: tuple, axis) -> tuple:
    axes = _norm_axes(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _expand_back(g, x_shape: tuple, axis, keepdims: bool):
    """Broadcast a reduced cotangent back over the reduced axes of an input of ``x_shape``."""
    if not keepdims:
        g = reshape(g, _keep_shape(x_shape, axis))
    return broadcast_to(g, x_shape)


def _count(shape: tuple, axis) -> int:
    return int(np.prod([shape[a] for a in _norm_axes(axis, len(shape))]))


def _axis_arg(axis):
    return tuple(axis) if isinstance(axis, list) else axis


@primitive
def _sum(x, axis, keepdims):
    return xp.sum(x, axis=axis, keepdims=keepdims)


_sum.defvjp(lambda g, ans, x, axis, keepdims: _expand_back(g, _shape_of(x), axis, keepdims))
_sum.defjvp(lambda t, ans, x, axis, keepdims: _sum(t, axis, keepdims))


def sum(x, axis=None, keepdims: bool = False):  # noqa: A001 - numpy's name
    return _sum(x, _axis_arg(axis), keepdims)


def mean(x, axis=None, keepdims: bool = False):
    n = _count(_shape_of(x), _axis_arg(axis))
    return _sum(x, _axis_arg(axis), keepdims) / float(n)


@primitive
def _prod(x, axis, keepdims):
    return xp.prod(x, axis=axis, keepdims=keepdims)


def _prod_grad(g, ans, x, axis, keepdims):
    """Product of the other elements, without dividing by zero: exact with one or more zeros."""
    shape = _shape_of(x)
    is_zero = x == 0
    zeros = _expand_back(_sum(cast(is_zero, x.dtype), axis, True), shape, axis, True)
    nonzero_prod = _expand_back(_prod(where(is_zero, 1.0, x), axis, True), shape, axis, True)
    others = where(is_zero, where(zeros == 1.0, nonzero_prod, 0.0), where(zeros == 0.0, nonzero_prod / where(is_zero, 1.0, x), 0.0))
    return _expand_back(g, shape, axis, keepdims) * others


_prod.defvjp(_prod_grad)


def prod(x, axis=None, keepdims: bool = False):
    return _prod(x, _axis_arg(axis), keepdims)


@primitive
def cumsum(x, axis=None):
    return xp.cumsum(x, axis=axis)


def _cumsum_grad(g, ans, x, axis=None):
    from funcad.ops.shape import flip

    if axis is None:
        return reshape(flip(cumsum(flip(g, 0), axis=0), 0), _shape_of(x))
    return flip(cumsum(flip(g, axis), axis=axis), axis)


cumsum.defvjp(_cumsum_grad)
cumsum.defjvp(lambda t, ans, x, axis=None: cumsum(t, axis=axis))


def _tie_share(x, ans, axis, keepdims):
    """Indicator of the extremal elements, divided by how many tie (torch.amax's rule)."""
    shape = _shape_of(x)
    full = _expand_back(ans, shape, axis, keepdims)
    mask = cast(x == full, x.dtype)
    counts = _expand_back(_sum(mask, _norm_axes(axis, len(shape)), True), shape, axis, True)
    return mask / counts


@primitive
def _max(x, axis, keepdims):
    return xp.max(x, axis=axis, keepdims=keepdims)


@primitive
def _min(x, axis, keepdims):
    return xp.min(x, axis=axis, keepdims=keepdims)


def _extreme_grad(g, ans, x, axis, keepdims):
    return _expand_back(g, _shape_of(x), axis, keepdims) * _tie_share(x, ans, axis, keepdims)


def _extreme_tangent(t, ans, x, axis, keepdims):
    return _sum(t * _tie_share(x, ans, axis, keepdims), axis, keepdims)


_max.defvjp(_extreme_grad)
_min.defvjp(_extreme_grad)
_max.defjvp(_extreme_tangent)
_min.defjvp(_extreme_tangent)


def max(x, axis=None, keepdims: bool = False):  # noqa: A001 - numpy's name
    """Largest element; tied maxima share the gradient evenly."""
    return _max(x, _axis_arg(axis), keepdims)


def min(x, axis=None, keepdims: bool = False):  # noqa: A001 - numpy's name
    """Smallest element; tied minima share the gradient evenly."""
    return _min(x, _axis_arg(axis), keepdims)


amax, amin = max, min


def var(x, axis=None, ddof: int = 0, keepdims: bool = False):
    """Variance with ``ddof`` delta degrees of freedom (numpy's convention; torch's unbiased is ddof=1)."""
    axis = _axis_arg(axis)
    n = _count(_shape_of(x), axis)
    if n - ddof <= 0:
        raise ValueError(f"funcad.ops.var: {n} elements along axis {axis} with ddof={ddof}")
    centred = x - mean(x, axis, keepdims=True)
    return _sum(centred * centred, axis, keepdims) / float(n - ddof)


def std(x, axis=None, ddof: int = 0, keepdims: bool = False):
    return sqrt(var(x, axis, ddof, keepdims))


def logsumexp(x, axis=None, keepdims: bool = False):
    """log(sum(exp(x))) computed stably by shifting by the (gradient-stopped) maximum."""
    from funcad.ops.shape import stop_gradient

    axis = _axis_arg(axis)
    shift = stop_gradient(_max(x, axis, True))
    shift = where(isfinite_mask(shift), shift, 0.0)
    out = log(_sum(exp(x - shift), axis, True)) + shift
    if not keepdims:
        out = reshape(out, tuple(n for i, n in enumerate(out.shape) if i not in _norm_axes(axis, len(out.shape))))
    return out


def isfinite_mask(x):
    from funcad.ops.math import isfinite

    return isfinite(x)


def norm(x, ord=None, axis=None, keepdims: bool = False):  # noqa: A002 - numpy's name
    """Vector p-norm (default 2) or Frobenius norm; gradient at 0 is 0 for the 2-norm."""
    from funcad.ops.math import abs as _abs
    from funcad.ops.math import power

    axis = _axis_arg(axis)
    if ord is None or ord == 2 or ord == "fro":
        sq = _sum(x * x, axis, keepdims)
        safe = where(sq > 0, sq, 1.0)
        return where(sq > 0, sqrt(safe), 0.0)
    if ord == 1:
        return _sum(_abs(x), axis, keepdims)
    if ord == np.inf:
        return _max(_abs(x), axis, keepdims)
    p = float(ord)
    return power(_sum(power(_abs(x), p), axis, keepdims), 1.0 / p)


@primitive
def argmax(x, axis=None):
    return xp.argmax(x, axis=axis)


@primitive
def argmin(x, axis=None):
    return xp.argmin(x, axis=axis)

