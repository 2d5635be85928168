"""Batching rules for vmap: derived from what primitives declare, and declared for the ops that need their own.

A rule has JAX's shape, ``rule(args, dims, **kwargs) -> (out, out_dim)``: ``dims[i]`` is the batch axis of
``args[i]`` (None for an unbatched argument) and the rule computes every batch member at once with funcad ops.
Most rules come from a few kinds of op:

- elementwise ops (declared ``elementwise``): batch axes move to the front, ranks align, numpy broadcasts the rest;
- ops with an ``axis`` argument: the batch axis goes to the front and the named axes shift past it;
- ops on (N, C, ...) arrays whose members are independent along N (conv, pooling, class picks): the batch folds
  into N and unfolds after;
- a primitive with no rule runs once per batch member (a loop, warned about once per primitive).
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable

import numpy as np

from funcad.core import base_ops, batching
from funcad.core.primitive import Primitive
from funcad.core.tensor import Tensor
from funcad.ops import linalg, nn, pool, reduce, shape

# -- helpers ---------------------------------------------------------------------------------------------------------


def _is_array(a) -> bool:
    return isinstance(a, (Tensor, np.ndarray, np.generic))


def ndim_of(a) -> int:
    return len(a.shape) if _is_array(a) else 0


def batch_size(args, dims) -> int:
    return next(a.shape[d] for a, d in zip(args, dims) if d is not None)


def move_axis(x, src: int, dst: int):
    if src == dst:
        return x
    perm = [d for d in range(ndim_of(x)) if d != src]
    perm.insert(dst, src)
    return shape.transpose(x, perm)


def to_front(x, dim, size: int):
    """``x`` with its batch axis first; an unbatched ``x`` is broadcast to ``size`` members."""
    if dim is None:
        return base_ops.broadcast_to(x, (size,) + tuple(x.shape))
    return move_axis(x, dim, 0)


def _with_rank(x, rank: int):
    """A batch-first ``x`` with ones inserted after the batch axis, so one member has ``rank`` dimensions."""
    missing = rank - (ndim_of(x) - 1)
    if missing <= 0:
        return x
    return shape.reshape(x, (x.shape[0],) + (1,) * missing + tuple(x.shape[1:]))


def bind_arguments(prim: Primitive, args, kwargs) -> inspect.BoundArguments:
    bound = inspect.signature(prim.impl).bind(*args, **kwargs)
    bound.apply_defaults()
    return bound


def call_bound(prim: Primitive, bound: inspect.BoundArguments):
    return prim(*bound.args, **bound.kwargs)


# -- the loop fallback -----------------------------------------------------------------------------------------------
_warned: set = set()


def loop_rule(prim: Primitive) -> Callable:
    """Run ``prim`` once per batch member and stack the results (correct for any op, slow)."""

    def rule(args, dims, /, **kwargs):
        if prim.name not in _warned:
            _warned.add(prim.name)
            warnings.warn(f"vmap: funcad.ops.{prim.name} has no batching rule; it runs once per batch member", stacklevel=4)
        members = []
        for i in range(batch_size(args, dims)):
            member = [a if d is None else shape.getitem(a, (slice(None),) * d + (i,)) for a, d in zip(args, dims)]
            members.append(prim(*member, **kwargs))
        return shape.stack(members, 0), 0

    rule.is_loop = True
    return rule


# -- derived rules ---------------------------------------------------------------------------------------------------
def pointwise_rule(prim: Primitive) -> Callable:
    """Elementwise (broadcasting) ops and shape-keeping unary ones (cast, stop_gradient)."""

    def rule(args, dims, /, **kwargs):
        batched = [i for i, d in enumerate(dims) if d is not None]
        rank = max((ndim_of(a) - (d is not None) for a, d in zip(args, dims) if _is_array(a)), default=0)
        if len(batched) == 1:  # one batched array: it keeps its batch axis when the others are scalars or align behind it
            only, dim = args[batched[0]], dims[batched[0]]
            if all(ndim_of(a) == 0 for i, a in enumerate(args) if i != batched[0]) or (dim == 0 and ndim_of(only) - 1 == rank):
                return prim(*args, **kwargs), dim
        size = batch_size(args, dims)
        moved = [a if d is None else _with_rank(to_front(a, d, size), rank) for a, d in zip(args, dims)]
        return prim(*moved, **kwargs), 0

    return rule


def _axes_after_batch(axis, rank: int, when_none: str):
    """The axes of a batch-first array that ``axis`` names on one member of ``rank`` dimensions."""
    if axis is None:
        return None if when_none == "flatten" else tuple(range(1, rank + 1))
    if isinstance(axis, (tuple, list)):
        return tuple(a % rank + 1 for a in axis)
    return axis % max(rank, 1) + 1


def axis_rule(prim: Primitive, arrays: tuple = (0,), when_none: str = "all", name: str = "axis", shape_arg: str | None = None) -> Callable:
    """An op whose ``axis`` argument names axes of its array arguments ``arrays`` (each moved or broadcast to a
    batch-first array; for ``concat(*xs, axis)`` every operand): the axes shift past the batch. ``when_none`` says
    what axis=None means: "all" axes, or "flatten" the first array first (cumsum, argmax). ``shape_arg`` names an
    output-shape argument that gains the batch."""
    variadic = _varargs(prim)

    def rule(args, dims, /, **kwargs):
        bound = bind_arguments(prim, args, kwargs)
        names = list(bound.arguments)
        size = batch_size(args, dims)
        if variadic:
            rank = ndim_of(args[0]) - (dims[0] is not None)
            bound.arguments[names[0]] = tuple(to_front(x, d, size) for x, d in zip(args, dims))
        else:
            rank = ndim_of(args[arrays[0]]) - (dims[arrays[0]] is not None)
            for pos in arrays:
                bound.arguments[names[pos]] = to_front(args[pos], dims[pos] if pos < len(dims) else None, size)
        axis = bound.arguments[name]
        if axis is None and when_none == "flatten":
            bound.arguments[names[0]] = shape.reshape(bound.arguments[names[0]], (size, -1))
            bound.arguments[name] = 1
        else:
            bound.arguments[name] = _axes_after_batch(axis, rank, when_none)
        if shape_arg is not None:
            bound.arguments[shape_arg] = (size,) + tuple(bound.arguments[shape_arg])
        return call_bound(prim, bound), 0

    return rule


def _varargs(prim: Primitive) -> bool:
    params = list(inspect.signature(prim.impl).parameters.values())
    return bool(params) and params[0].kind is inspect.Parameter.VAR_POSITIONAL


def fold_rule(prim: Primitive, batched: tuple, shape_arg: str | None = None, broadcast: bool = False) -> Callable:
    """An op on (N, ...) arrays whose samples are independent along N: the batch folds into N and unfolds after.
    The arguments at ``batched`` need a batch (``broadcast``: an unbatched one is broadcast to it) and every other
    array none; otherwise the op loops. ``shape_arg`` names an (N, ...) shape argument whose N grows."""
    fallback = loop_rule(prim)

    def rule(args, dims, /, **kwargs):
        unbatched_fold = any(dims[i] is None for i in batched if i < len(dims))
        if (unbatched_fold and not broadcast) or any(d is not None for i, d in enumerate(dims) if i not in batched):
            return fallback(args, dims, **kwargs)
        bound = bind_arguments(prim, args, kwargs)
        names = list(bound.arguments)
        size = batch_size(args, dims)
        for i in batched:
            x = to_front(args[i], dims[i], size)
            bound.arguments[names[i]] = shape.reshape(x, (-1,) + tuple(x.shape[2:]))
        if shape_arg is not None:
            n, *rest = bound.arguments[shape_arg]
            bound.arguments[shape_arg] = (size * n, *rest)
        out = call_bound(prim, bound)
        return shape.reshape(out, (size, -1) + tuple(out.shape[1:])), 0

    return rule


# -- hand-written rules ----------------------------------------------------------------------------------------------
def _broadcast_to_rule(args, dims, /, **kwargs):
    x, target = args
    x = _with_rank(move_axis(x, dims[0], 0), len(target))
    return base_ops.broadcast_to(x, (x.shape[0],) + tuple(target)), 0


def _sum_to_rule(args, dims, /, **kwargs):
    x, target = move_axis(args[0], dims[0], 0), tuple(args[1])
    lead = ndim_of(x) - 1 - len(target)
    axes = tuple(range(1, lead + 1)) + tuple(lead + 1 + i for i, n in enumerate(target) if n == 1 and x.shape[lead + 1 + i] != 1)
    summed = reduce.sum(x, axis=axes, keepdims=True) if axes else x
    return shape.reshape(summed, (x.shape[0],) + target), 0


def _reshape_rule(args, dims, /, **kwargs):
    x = move_axis(args[0], dims[0], 0)
    target = (args[1],) if isinstance(args[1], (int, np.integer)) else tuple(args[1])
    return shape.reshape(x, (x.shape[0],) + target), 0


def _transpose_rule(args, dims, /, **kwargs):
    x = move_axis(args[0], dims[0], 0)
    rank = ndim_of(x) - 1
    axes = tuple(range(rank))[::-1] if args[1] is None else args[1]
    return shape.transpose(x, (0,) + tuple(a % rank + 1 for a in axes)), 0


def _advancedndim_of(index: tuple) -> int | None:
    """numpy puts the advanced-index dimensions first when advanced indices are not adjacent: their number then,
    else None (they stay in place, after the batch axis)."""
    arrays = [i for i, e in enumerate(index) if isinstance(e, (np.ndarray, list, Tensor))]
    if not arrays:
        return None
    advanced = [i for i, e in enumerate(index) if i in arrays or isinstance(e, (int, np.integer))]
    if advanced == list(range(advanced[0], advanced[-1] + 1)):
        return None
    parts = [np.nonzero(np.asarray(e))[0] if np.asarray(e).dtype == bool else np.asarray(e) for i, e in enumerate(index) if i in advanced]
    return np.broadcast(*parts).nd if len(parts) > 1 else parts[0].ndim


def _getitem_rule(args, dims, /, **kwargs):
    x, index = move_axis(args[0], dims[0], 0), args[1]
    index = (slice(None),) + (index if isinstance(index, tuple) else (index,))
    lead = _advancedndim_of(index)
    return shape._getitem(x, index), 0 if lead is None else lead


def _scatter_add_rule(args, dims, /, **kwargs):
    g, index, target = args
    index = (slice(None),) + (index if isinstance(index, tuple) else (index,))
    lead = _advancedndim_of(index)
    g = move_axis(g, dims[0], 0 if lead is None else lead)
    return shape.scatter_add(g, index, (g.shape[0 if lead is None else lead],) + tuple(target)), 0


def _tile_rule(args, dims, /, **kwargs):
    x, reps = move_axis(args[0], dims[0], 0), tuple(args[1])
    rank = max(ndim_of(x) - 1, len(reps))
    return shape._tile(_with_rank(x, rank), (1,) * (rank + 1 - len(reps)) + reps), 0


def _pad_rule(prim):
    fallback = loop_rule(prim)

    def rule(args, dims, /, **kwargs):
        if dims[1:] != [None] * (len(dims) - 1):
            return fallback(args, dims, **kwargs)
        x, widths, value = args
        return prim(move_axis(x, dims[0], 0), ((0, 0),) + tuple(widths), value), 0

    return rule


def _matmul_rule(args, dims, /, **kwargs):
    """Vectors become matrices (a row on the left, a column on the right), batched operands go batch-first with
    their members' ranks aligned (numpy broadcasts an unbatched operand), and the added axes come off the product."""
    x, y = args
    x_vector, y_vector = ndim_of(x) - (dims[0] is not None) == 1, ndim_of(y) - (dims[1] is not None) == 1
    if dims[1] is None and ndim_of(y) == 2:  # a shared matrix on the right: one 2-D product over all rows of the batch
        x = move_axis(x, dims[0], 0)
        return shape.reshape(linalg.matmul(shape.reshape(x, (-1, x.shape[-1])), y), tuple(x.shape[:-1]) + (y.shape[-1],)), 0
    x = x if dims[0] is None else move_axis(x, dims[0], 0)
    y = y if dims[1] is None else move_axis(y, dims[1], 0)
    x = shape.expand_dims(x, -2) if x_vector else x
    y = shape.expand_dims(y, -1) if y_vector else y
    rank = max(ndim_of(x) - (dims[0] is not None), ndim_of(y) - (dims[1] is not None))
    x = x if dims[0] is None else _with_rank(x, rank)
    y = y if dims[1] is None else _with_rank(y, rank)
    out = linalg.matmul(x, y)
    if y_vector:
        out = shape.squeeze(out, -1)
    if x_vector:
        out = shape.squeeze(out, -1 if y_vector else -2)
    return out, 0


def _dense_rule(args, dims, /, **kwargs):
    x, w, *bias = args
    if all(d is None for d in dims[1:]):  # batched inputs, shared weights: one 2-D product over the batch's rows too
        x = move_axis(x, dims[0], 0)
        out = linalg._dense(shape.reshape(x, (-1, x.shape[-1])), w, *bias)
        return shape.reshape(out, tuple(x.shape[:-1]) + (out.shape[-1],)), 0
    size = batch_size(args, dims)
    w = shape.swapaxes(to_front(w, dims[1], size), -1, -2)  # (B, in, out)
    lead = tuple(x.shape[:-1]) if dims[0] is None else tuple(move_axis(x, dims[0], 0).shape[1:-1])
    out = shape.reshape(linalg.matmul(_rows(x, dims[0]), w), (size,) + lead + (w.shape[-1],))
    if bias and bias[0] is not None:
        b = bias[0] if dims[2] is None else _with_rank(move_axis(bias[0], dims[2], 0), len(lead) + 1)
        out = out + b
    return out, 0


def _rows(a, dim):
    """A batch-first (B, M, last) view of ``a``'s members as rows, or (M, last) for an unbatched ``a``."""
    if dim is None:
        return shape.reshape(a, (-1, a.shape[-1]))
    a = move_axis(a, dim, 0)
    return shape.reshape(a, (a.shape[0], -1, a.shape[-1]))


def _dense_weight_grad_rule(args, dims, /, **kwargs):
    """Per-member g.T @ x; one row per member (per-sample gradients) is an outer product, computed as a broadcast
    multiply (a batched matmul with an inner size of 1 runs far slower)."""
    (g, x), (dg, dx) = args, dims
    g_rows, x_rows = _rows(g, dg), _rows(x, dx)
    if g_rows.shape[-2] == 1 and x_rows.shape[-2] == 1:
        return shape.swapaxes(g_rows, -1, -2) * x_rows, 0
    return linalg.matmul(shape.swapaxes(g_rows, -1, -2), x_rows), 0


def _einsum_rule(args, dims, /, spec):
    lhs, out = spec.split("->")
    letter = next(c for c in linalg._LETTERS if c not in spec)
    subs = lhs.split(",")
    operands = [x if d is None else move_axis(x, d, 0) for x, d in zip(args, dims)]
    spec = ",".join(sub if d is None else letter + sub for sub, d in zip(subs, dims)) + "->" + letter + out
    return linalg._einsum(*operands, spec=spec), 0


# -- declarations ----------------------------------------------------------------------------------------------------


def _declare() -> None:
    base_ops.broadcast_to.declare(batch=_broadcast_to_rule)
    base_ops.sum_to.declare(batch=_sum_to_rule)
    for prim in (base_ops.cast, base_ops.stop_gradient):
        prim.declare(batch=pointwise_rule(prim))
    shape.reshape.declare(batch=_reshape_rule)
    shape._transpose.declare(batch=_transpose_rule)
    shape._getitem.declare(batch=_getitem_rule)
    shape.scatter_add.declare(batch=_scatter_add_rule)
    shape._tile.declare(batch=_tile_rule)
    shape._pad_constant.declare(batch=_pad_rule(shape._pad_constant))
    shape._concat.declare(batch=axis_rule(shape._concat))
    shape.flip.declare(batch=axis_rule(shape.flip))
    shape._take_along.declare(batch=axis_rule(shape._take_along, arrays=(0, 1)))
    shape._add_along.declare(batch=axis_rule(shape._add_along, arrays=(0, 1), shape_arg="shape"))
    for prim in (reduce._sum, reduce._prod, reduce._max, reduce._min):
        prim.declare(batch=axis_rule(prim))
    for prim in (reduce.cumsum, reduce._argmax, reduce._argmin):
        prim.declare(batch=axis_rule(prim, when_none="flatten"))
    for prim in (nn.log_softmax, nn.softmax):
        prim.declare(batch=axis_rule(prim))
    nn._pick.declare(batch=fold_rule(nn._pick, (0, 1), broadcast=True))
    nn._place.declare(batch=fold_rule(nn._place, (0, 1), broadcast=True))
    linalg.matmul.declare(batch=_matmul_rule)
    linalg._dense.declare(batch=_dense_rule)
    linalg._dense_weight_grad.declare(batch=_dense_weight_grad_rule)
    linalg._einsum.declare(batch=_einsum_rule)
    pool._max_pool_argmax.declare(batch=fold_rule(pool._max_pool_argmax, (0,)))
    pool._window_sum.declare(batch=fold_rule(pool._window_sum, (0,)))
    pool._window_sum_transpose.declare(batch=fold_rule(pool._window_sum_transpose, (0,), shape_arg="x_shape"))
    pool._adaptive_mean.declare(batch=fold_rule(pool._adaptive_mean, (0,)))
    pool._adaptive_mean_transpose.declare(batch=fold_rule(pool._adaptive_mean_transpose, (0,)))


_derived: dict = {}


def rule_for(prim: Primitive) -> Callable:
    """The batching rule of ``prim``: its declared one, one derived from its declarations, or the loop."""
    if prim.batch:
        return prim.batch
    rule = _derived.get(prim)
    if rule is None:
        rule = _derived[prim] = pointwise_rule(prim) if prim.elementwise is True else loop_rule(prim)
    return rule


def has_batching_rule(prim: Primitive) -> bool:
    """Whether vmap batches ``prim`` in one call (a declared or derived rule), not by the loop."""
    return not getattr(rule_for(prim), "is_loop", False)


_declare()
batching.resolve_rule = rule_for
