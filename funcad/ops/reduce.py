"""Reductions: sum, mean, prod, max/min, var/std, logsumexp, norm, cumsum, logcumsumexp, argmax/argmin."""

from __future__ import annotations

import numpy as np

from funcad.core.dtypes import accumulated
from funcad.core.lowering import full_width, with_out
from funcad.core.primitive import compiled_as_call, primitive
from funcad.core.tensor import Tensor
from funcad.ops.batching import axis_rule
from funcad.ops.decompositions import _svd_s
from funcad.ops.math import abs as _abs
from funcad.ops.math import exp, isfinite, log, maximum, minimum, not_equal, power, sqrt, where
from funcad.ops.padding import _pad_constant
from funcad.ops.shape import (
    _norm_axes,
    _shape_of,
    broadcast_to,
    cast,
    flip,
    getitem,
    reshape,
    squeeze,
    stop_gradient,
    take_along_axis,
    transpose,
)


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


def _torch_reduction(name: str):
    """The torch translation of a reduction: ``torch.<name>`` over the axes, None meaning every axis (as numpy)."""

    def translate(torch, x, axis, keepdims):
        dims = tuple(range(x.ndim)) if axis is None else axis
        return x if dims == () else getattr(torch, name)(x, dim=dims, keepdim=bool(keepdims))

    translate.__name__ = name
    return translate


def _emit_sum(a, node, out, em):
    axis, keepdims = node.args[1].value, node.args[2].value
    return with_out(f"np.add.reduce({a[0]}, axis={axis!r}, keepdims={bool(keepdims)})", out)


@primitive(**compiled_as_call(emit=full_width(_emit_sum), takes_out=True, torch=("sum", _torch_reduction("sum"))))
def _sum(x, axis, keepdims):
    return accumulated(x, axis=axis, keepdims=keepdims)


_sum.deflinear(lambda g, ans, x, axis, keepdims: _expand_back(g, _shape_of(x), axis, keepdims))
_sum.declare(batch=axis_rule(_sum))


def _mindspore_names(axis, keepdims: bool, dim, keep: bool | None) -> tuple:
    """MindSpore spells the reduction arguments dim/keepdim or keep_dims in places: they override numpy's names."""
    return (axis if dim is None else dim), (keepdims if keep is None else keep)


def sum(x, axis=None, keepdims: bool = False, *, dim=None, keepdim: bool | None = None, dtype=None):  # noqa: A001 - numpy's name
    """Sum over ``axis`` (MindSpore 2.x spells it ``dim``, ``keepdim``), in ``dtype`` when given (the input cast first)."""
    axis, keepdims = _mindspore_names(axis, keepdims, dim, keepdim)
    return _sum(x if dtype is None else cast(x, dtype), _axis_arg(axis), keepdims)


def mean(x, axis=None, keepdims: bool = False, *, keep_dims: bool | None = None):
    axis, keepdims = _mindspore_names(axis, keepdims, None, keep_dims)
    n = _count(_shape_of(x), _axis_arg(axis))
    return _sum(x, _axis_arg(axis), keepdims) / float(n)


def _torch_prod(torch, x, axis, keepdims):
    """torch.prod takes one axis: the axes one after another, the last first (the earlier keep their numbers)."""
    axes = range(x.ndim) if axis is None else (axis,) if isinstance(axis, int) else axis
    for a in sorted({a % x.ndim for a in axes}, reverse=True):
        x = torch.prod(x, a, keepdim=bool(keepdims))
    return x


@primitive(**compiled_as_call(torch=_torch_prod))
def _prod(x, axis, keepdims):
    return np.prod(x, axis=axis, keepdims=keepdims)


def _exclusive_cumprod_last(x, reverse: bool):
    """Product of the elements before each one along the last axis (after it, with ``reverse``); 1 at the edge.

    A Hillis-Steele scan of shifted copies: only multiplications, slices and padding with ones, whose own
    derivatives are exact, so every derivative of it is exact too, zeros included (no division anywhere).
    """
    shape = _shape_of(x)
    n = shape[-1]
    lead = ((0, 0),) * (len(shape) - 1)

    def shifted(y, d):  # y moved d places along the last axis, the vacated places filled with ones
        if reverse:
            return _pad_constant(getitem(y, (Ellipsis, slice(d, None))), lead + ((0, d),), 1.0)
        return _pad_constant(getitem(y, (Ellipsis, slice(0, n - d))), lead + ((d, 0),), 1.0)

    y = shifted(x, 1)
    d = 1
    while d < n:
        y = y * shifted(y, d)
        d *= 2
    return y


def _prod_others(x, axis):
    """For each element, the product of the others along ``axis``: left exclusive product times right one.

    Built from multiplications only, so its derivatives (prod's higher-order derivatives) are exact at zeros.
    """
    shape = _shape_of(x)
    axes = _norm_axes(axis, len(shape))
    if _count(shape, axes) <= 1:
        return Tensor._wrap(np.ones(shape, dtype=x.dtype))  # the empty product, a constant
    kept = tuple(i for i in range(len(shape)) if i not in axes)
    order = kept + axes
    moved = transpose(x, order) if order != tuple(range(len(shape))) else x
    flat = reshape(moved, tuple(shape[i] for i in kept) + (-1,))
    others = _exclusive_cumprod_last(flat, reverse=False) * _exclusive_cumprod_last(flat, reverse=True)
    others = reshape(others, tuple(shape[i] for i in order))
    return transpose(others, tuple(int(i) for i in np.argsort(order))) if order != tuple(range(len(shape))) else others


_prod.defvjp(lambda g, ans, x, axis, keepdims: _expand_back(g, _shape_of(x), axis, keepdims) * _prod_others(x, axis))
_prod.defjvp(lambda t, ans, x, axis, keepdims: _sum(t * _prod_others(x, axis), axis, keepdims))
_prod.declare(batch=axis_rule(_prod))


def prod(x, axis=None, keepdims: bool = False, *, keep_dims: bool | None = None):
    axis, keepdims = _mindspore_names(axis, keepdims, None, keep_dims)
    return _prod(x, _axis_arg(axis), keepdims)


@primitive(**compiled_as_call(torch=("cumsum",
                                     lambda torch, x, axis=None: torch.cumsum(x.reshape(-1), 0) if axis is None else torch.cumsum(x, axis))))
def _cumsum(x, axis=None):
    return np.cumsum(x, axis=axis)


def _cumsum_grad(g, ans, x, axis=None):
    if axis is None:
        return reshape(flip(_cumsum(flip(g, 0), axis=0), 0), _shape_of(x))
    return flip(_cumsum(flip(g, axis), axis=axis), axis)


_cumsum.deflinear(_cumsum_grad)
_cumsum.declare(batch=axis_rule(_cumsum, when_none="flatten"))


def cumsum(x, axis=None, dtype=None):
    """Running sums along ``axis`` (of the flattened input when None), in ``dtype`` when given (MindSpore's
    ``ops.cumsum(x, axis, dtype=None)``: the input cast first)."""
    return _cumsum(x if dtype is None else cast(x, dtype), axis)


@primitive(**compiled_as_call(torch=("logcumsumexp", lambda torch, x, axis: torch.logcumsumexp(x, axis))))
def _logcumsumexp(x, axis):
    return np.logaddexp.accumulate(x, axis=axis)


def _log_parts(v):
    """(log of v's positive part, log of its negative part's magnitude), -inf where that part is zero: a signed
    weight carried through a sum of exponentials without overflow."""
    minus_inf = Tensor._wrap(np.array(-np.inf, dtype=np.result_type(v.dtype, np.float16)))
    return (where(v > 0, log(where(v > 0, v, 1)), minus_inf), where(v < 0, log(where(v < 0, -v, 1)), minus_inf))


def _minus(part, ans):
    """part - ans, where a -inf part stays -inf (no -inf - -inf where every input so far is -inf)."""
    return part - where(part == -np.inf, 0, ans)


def _logcumsumexp_grad(g, ans, x, axis):
    """dx_j = sum_{i >= j} g_i exp(x_j - ans_i): a reversed logcumsumexp of log|g| - ans, per sign of g."""
    def suffix(v):
        return flip(_logcumsumexp(flip(v, axis), axis), axis)

    positive, negative = _log_parts(g)
    return exp(x + suffix(_minus(positive, ans))) - exp(x + suffix(_minus(negative, ans)))


def _logcumsumexp_tangent(t, ans, x, axis):
    """dans_i = sum_{j <= i} t_j exp(x_j - ans_i), per sign of t."""
    positive, negative = _log_parts(t)
    return exp(_minus(_logcumsumexp(positive + x, axis), ans)) - exp(_minus(_logcumsumexp(negative + x, axis), ans))


_logcumsumexp.defvjp(_logcumsumexp_grad)
_logcumsumexp.defjvp(_logcumsumexp_tangent)
_logcumsumexp.declare(batch=axis_rule(_logcumsumexp))


def logcumsumexp(input, axis: int):  # noqa: A002 - MindSpore's names
    """log(cumsum(exp(input))) along ``axis``, computed as a running logaddexp (no overflow, no underflow to -inf)."""
    return _logcumsumexp(input, _norm_axes(axis, len(_shape_of(input)))[0])


def _tie_share(x, ans, axis, keepdims):
    """Indicator of the extremal elements, divided by how many tie (torch.amax's rule)."""
    shape = _shape_of(x)
    full = _expand_back(ans, shape, axis, keepdims)
    mask = cast(x == full, x.dtype)
    counts = _expand_back(_sum(mask, _norm_axes(axis, len(shape)), True), shape, axis, True)
    return mask / counts


@primitive(**compiled_as_call(torch=_torch_reduction("amax")))
def _max(x, axis, keepdims):
    return np.max(x, axis=axis, keepdims=keepdims)


@primitive(**compiled_as_call(torch=_torch_reduction("amin")))
def _min(x, axis, keepdims):
    return np.min(x, axis=axis, keepdims=keepdims)


def _extreme_grad(g, ans, x, axis, keepdims):
    return _expand_back(g, _shape_of(x), axis, keepdims) * _tie_share(x, ans, axis, keepdims)


def _extreme_tangent(t, ans, x, axis, keepdims):
    return _sum(t * _tie_share(x, ans, axis, keepdims), axis, keepdims)


_max.defvjp(_extreme_grad)
_min.defvjp(_extreme_grad)
_max.defjvp(_extreme_tangent)
_min.defjvp(_extreme_tangent)
_max.declare(batch=axis_rule(_max))
_min.declare(batch=axis_rule(_min))


def _fill_initial(x, initial, where_mask, pairwise, op: str):
    """The input as MindSpore's max/min/amax/amin see it: ``initial`` folded in elementwise (the result is never
    past it), and ``initial`` in the places ``where`` is False (which needs an ``initial``)."""
    if where_mask is not None and initial is None:
        raise ValueError(f"funcad.ops.{op}: where= needs an initial= for the places it masks out")
    if initial is None:
        return x
    if not isinstance(initial, (int, float, np.number)) or isinstance(initial, bool):
        raise TypeError(f"funcad.ops.{op}: initial must be a number, got {type(initial).__name__}")
    x = pairwise(x, initial)
    return x if where_mask is None else where(where_mask, x, initial)


def _values_and_index(x, axis, keepdims: bool, initial, where_mask, op: str):
    """MindSpore's ops.max/min: the extremum along ``axis`` and the index of its first occurrence (int32, as its
    ArgMaxWithValue). The values are gathered at that index, so the gradient reaches that element alone (MindSpore's
    and torch.max(x, dim)'s rule). With ``axis=None`` MindSpore reduces every element, ignores the later arguments and
    gives index 0; tied extrema then share the gradient evenly (its ReduceMax rule)."""
    largest = op == "max"
    reduce_all, pairwise, arg = (_max, maximum, _argmax) if largest else (_min, minimum, _argmin)
    if axis is None or not _shape_of(x):
        return reduce_all(x, None, False), Tensor._wrap(np.array(0, np.int32))
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"funcad.ops.{op}: axis must be an int or None, got {axis!r} (ops.amax/amin reduce several axes)")
    x = _fill_initial(x, initial, where_mask, pairwise, op)
    index = arg(x, int(axis), True)
    values = take_along_axis(x, index, int(axis))
    if not keepdims:
        values, index = squeeze(values, int(axis)), squeeze(index, int(axis))
    return values, cast(index, np.int32)


def max(input, axis=None, keepdims: bool = False, *, initial=None, where=None, dim=None, keepdim: bool | None = None):  # noqa: A001, A002 - MindSpore's names
    """MindSpore 2.x's ``ops.max``: the tuple ``(values, indices)`` of the largest elements along ``axis`` and the
    index of the first of them (``ops.amax`` gives the values alone, over any axes)."""
    axis, keepdims = _mindspore_names(axis, keepdims, dim, keepdim)
    return _values_and_index(input, axis, keepdims, initial, where, "max")


def min(input, axis=None, keepdims: bool = False, *, initial=None, where=None, dim=None, keepdim: bool | None = None):  # noqa: A001, A002 - MindSpore's names
    """MindSpore 2.x's ``ops.min``: the tuple ``(values, indices)`` of the smallest elements along ``axis`` and the
    index of the first of them (``ops.amin`` gives the values alone, over any axes)."""
    axis, keepdims = _mindspore_names(axis, keepdims, dim, keepdim)
    return _values_and_index(input, axis, keepdims, initial, where, "min")


def amax(input, axis=None, keepdims: bool = False, *, initial=None, where=None, dim=None, keepdim: bool | None = None):  # noqa: A002
    """Largest element over ``axis`` (an int, a tuple of them, or None for all; ``dim``/``keepdim`` name the same),
    values only; ``initial`` and ``where`` as numpy's max; tied maxima share the gradient evenly."""
    axis, keepdims = _mindspore_names(axis, keepdims, dim, keepdim)
    return _max(_fill_initial(input, initial, where, maximum, "amax"), _axis_arg(axis), keepdims)


def amin(input, axis=None, keepdims: bool = False, *, initial=None, where=None, dim=None, keepdim: bool | None = None):  # noqa: A002
    """Smallest element over ``axis`` (an int, a tuple of them, or None for all; ``dim``/``keepdim`` name the same),
    values only; ``initial`` and ``where`` as numpy's min; tied minima share the gradient evenly."""
    axis, keepdims = _mindspore_names(axis, keepdims, dim, keepdim)
    return _min(_fill_initial(input, initial, where, minimum, "amin"), _axis_arg(axis), keepdims)


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


def logsumexp(x, axis=None, keepdims: bool = False, *, keep_dims: bool | None = None, dim=None, keepdim: bool | None = None):
    """log(sum(exp(x))) computed stably by shifting by the (gradient-stopped, finite) maximum; MindSpore's tutorials
    spell the axis ``dim`` (and ``keepdim``) as often as ``axis``/``keep_dims``."""
    axis, keepdims = _mindspore_names(axis, keepdims, dim, keep_dims if keep_dims is not None else keepdim)
    axis = _axis_arg(axis)
    shift = stop_gradient(_max(x, axis, True))
    shift = where(isfinite(shift), shift, 0.0)
    out = log(_sum(exp(x - shift), axis, True)) + shift
    if not keepdims:
        out = reshape(out, tuple(n for i, n in enumerate(out.shape) if i not in _norm_axes(axis, len(out.shape))))
    return out


def _two_norm(x, axis, keepdims):
    """sqrt(sum(x**2)) whose gradient at 0 is 0 (torch's choice), not 0/0; NaN stays NaN."""
    sq = _sum(x * x, axis, keepdims)
    nonzero = sq != 0
    return where(nonzero, sqrt(where(nonzero, sq, 1.0)), 0.0)


def _vector_norm(x, ord, axis, keepdims):
    if ord is None or ord == 2:
        return _two_norm(x, axis, keepdims)
    if ord == np.inf:
        return _max(_abs(x), axis, keepdims)
    if ord == -np.inf:
        return _min(_abs(x), axis, keepdims)
    if ord == 0:
        return _sum(cast(not_equal(x, 0), x.dtype), axis, keepdims)
    if ord == 1:
        return _sum(_abs(x), axis, keepdims)
    if isinstance(ord, str):
        raise ValueError(f"funcad.ops.norm: ord {ord!r} is a matrix norm; vectors take a number")
    p = float(ord)
    if p < 0:  # a zero element makes the sum infinite and the norm 0, as in numpy, torch and MindSpore
        a = _abs(x)
        nonzero = a != 0
        return power(_sum(where(nonzero, power(where(nonzero, a, 1.0), p), np.inf), axis, keepdims), 1.0 / p)
    return _safe_power(_sum(_safe_power(_abs(x), p), axis, keepdims), 1.0 / p)


def _safe_power(a, p: float):
    """a ** p for a >= 0 (or NaN), with 0 (not inf or nan) as the derivative where a == 0: torch's choice for p-norms at zeros."""
    nonzero = a != 0
    return where(nonzero, power(where(nonzero, a, 1.0), p), 0.0)


def _matrix_norm(x, ord, axes, keepdims):
    row, col = axes
    if ord in (None, "fro"):
        return _two_norm(x, axes, keepdims)
    if ord in (1, -1, np.inf, -np.inf):
        inner, outer = (row, col) if ord in (1, -1) else (col, row)  # 1: column sums, inf: row sums
        sums = _sum(_abs(x), inner, True)
        pick = _max if ord > 0 else _min
        out = pick(sums, outer, True)
        return out if keepdims else reshape(out, tuple(n for i, n in enumerate(_shape_of(x)) if i not in axes))
    if ord in ("nuc", 2, -2):
        singular = _svd_s(transpose(x, tuple(i for i in range(len(_shape_of(x))) if i not in (row, col)) + (row, col)))
        out = _sum(singular, -1, False) if ord == "nuc" else (_max if ord == 2 else _min)(singular, -1, False)
        return out if not keepdims else reshape(out, tuple(1 if i in (row, col) else n for i, n in enumerate(_shape_of(x))))
    raise ValueError(f"funcad.ops.norm: matrix norm ord={ord!r} is not supported (use None, 'fro', 'nuc', 1, -1, 2, -2, inf or -inf)")


def norm(x, ord=None, axis=None, keepdims: bool = False, *, dim=None, keepdim: bool | None = None, dtype=None):  # noqa: A002 - numpy's name
    """numpy.linalg.norm: vector p-norms, and the Frobenius, nuclear, 1, 2 and inf matrix norms (and their negative
    orders) for 2-D inputs or a pair of axes; the nuclear and 2-norms come from the singular values. ``dtype``
    (MindSpore's) casts the input first."""
    axis, keepdims = _mindspore_names(axis, keepdims, dim, keepdim)
    x = x if dtype is None else cast(x, dtype)
    ndim = len(_shape_of(x))
    axis = _axis_arg(axis)
    if axis is None and ord is None:
        return _two_norm(x, None, keepdims)
    if axis is None:
        if ndim not in (1, 2):
            raise ValueError(f"funcad.ops.norm: ord={ord!r} without axis needs a 1-D or 2-D input, got shape {_shape_of(x)}")
        axis = tuple(range(ndim))
    axes = _norm_axes(axis, ndim)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes[0], keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    raise ValueError(f"funcad.ops.norm: axis must name one or two axes, got {axis}")


def vector_norm(x, ord=2, axis=None, keepdims: bool = False, *, dtype=None):  # noqa: A002 - MindSpore's name
    """MindSpore's ops.vector_norm: the p-norm of the elements over ``axis`` (an int, a tuple, or None for every
    element, whatever the rank), after casting to ``dtype`` when given."""
    x = x if dtype is None else cast(x, dtype)
    ndim = len(_shape_of(x))
    axes = tuple(range(ndim)) if axis is None else _norm_axes(_axis_arg(axis), ndim)
    if isinstance(ord, str):
        raise ValueError(f"funcad.ops.vector_norm: ord must be a number, got {ord!r}")
    return _vector_norm(x, ord, axes, keepdims)


@primitive(**compiled_as_call(torch=("argmax", lambda torch, x, axis, keepdims: torch.argmax(x, axis, bool(keepdims)))))
def _argmax(x, axis, keepdims):
    return np.argmax(x, axis=axis, keepdims=keepdims)


@primitive(**compiled_as_call(torch=("argmin", lambda torch, x, axis, keepdims: torch.argmin(x, axis, bool(keepdims)))))
def _argmin(x, axis, keepdims):
    return np.argmin(x, axis=axis, keepdims=keepdims)


for _prim in (_argmax, _argmin):
    _prim.nondifferentiable().declare(batch=axis_rule(_prim, when_none="flatten"))


def argmax(x, axis=None, keepdims: bool = False, *, dim=None, keepdim: bool | None = None):
    """Index of the largest element (a constant: no gradient). MindSpore 2.x's ``dim``/``keepdim`` name the same."""
    axis, keepdims = _mindspore_names(axis, keepdims, dim, keepdim)
    return _argmax(x, axis, keepdims)


def argmin(x, axis=None, keepdims: bool = False, *, dim=None, keepdim: bool | None = None):
    """Index of the smallest element (a constant: no gradient). MindSpore 2.x's ``dim``/``keepdim`` name the same."""
    axis, keepdims = _mindspore_names(axis, keepdims, dim, keepdim)
    return _argmin(x, axis, keepdims)
