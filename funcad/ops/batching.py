"""The common shapes of vmap batching rules, and the rule vmap picks for a primitive.

A rule has JAX's shape, ``rule(args, dims, **kwargs) -> (out, out_dim)``: ``dims[i]`` is the batch axis of
``args[i]`` (None for an unbatched argument) and the rule computes every batch member at once with funcad ops.
Each op declares its rule beside its forward (``batch=``), most of them built here from a few kinds of op:

- elementwise ops (declared ``elementwise``): batch axes move to the front, ranks align, numpy broadcasts the rest
  (derived here, not declared);
- ops with an ``axis`` argument: the batch axis goes to the front and the named axes shift past it;
- ops on (N, C, ...) arrays whose members are independent along N (conv, pooling, class picks): the batch folds
  into N and unfolds after;
- a primitive with no rule runs once per batch member (a loop, warned about once per primitive).
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable

from funcad.core import base_ops, batching
from funcad.core.batching import batch_size, move_axis, ndim_of, with_rank
from funcad.core.primitive import Primitive


# -- helpers ---------------------------------------------------------------------------------------------------------
def to_front(x, dim, size: int):
    """``x`` with its batch axis first; an unbatched ``x`` is broadcast to ``size`` members."""
    if dim is None:
        return base_ops.broadcast_to(x, (size,) + tuple(x.shape))
    return move_axis(x, dim, 0)


def bind_arguments(prim: Primitive, args, kwargs) -> inspect.BoundArguments:
    bound = inspect.signature(prim.impl).bind(*args, **kwargs)
    bound.apply_defaults()
    return bound


def call_bound(prim: Primitive, bound: inspect.BoundArguments):
    return prim(*bound.args, **bound.kwargs)


# -- the loop fallback -----------------------------------------------------------------------------------------------
_warned: set = set()


def loop_rule(prim: Primitive, reason: str = "has no batching rule") -> Callable:
    """Run ``prim`` once per batch member and stack the results (correct for any op, slow); the warning gives ``reason``
    (a rule batching only some cases loops over the others with its own)."""

    def rule(args, dims, /, **kwargs):
        if prim.name not in _warned:
            _warned.add(prim.name)
            warnings.warn(f"vmap: funcad.ops.{prim.name} {reason}; it runs once per batch member", stacklevel=4)
        members = []
        for i in range(batch_size(args, dims)):
            member = [a if d is None else a[(slice(None),) * d + (i,)] for a, d in zip(args, dims)]
            members.append(prim(*member, **kwargs))
        from funcad.ops.shape import stack  # shape declares its rules with this module: importing it here breaks the cycle

        return stack(members, 0), 0

    rule.is_loop = True
    return rule


# -- derived rules ---------------------------------------------------------------------------------------------------
def pointwise_rule(prim: Primitive) -> Callable:
    """Elementwise (broadcasting) ops: derived from their ``elementwise`` declaration."""

    def rule(args, dims, /, **kwargs):
        batched = [i for i, d in enumerate(dims) if d is not None]
        rank = max((ndim_of(a) - (d is not None) for a, d in zip(args, dims)), default=0)
        if len(batched) == 1:  # one batched array: it keeps its batch axis when the others are scalars or align behind it
            only, dim = args[batched[0]], dims[batched[0]]
            if all(ndim_of(a) == 0 for i, a in enumerate(args) if i != batched[0]) or (dim == 0 and ndim_of(only) - 1 == rank):
                return prim(*args, **kwargs), dim
        size = batch_size(args, dims)
        moved = [a if d is None else with_rank(to_front(a, d, size), rank) for a, d in zip(args, dims)]
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
            bound.arguments[names[0]] = bound.arguments[names[0]].reshape((size, -1))
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
            bound.arguments[names[i]] = x.reshape((-1,) + tuple(x.shape[2:]))
        if shape_arg is not None:
            n, *rest = bound.arguments[shape_arg]
            bound.arguments[shape_arg] = (size * n, *rest)
        out = call_bound(prim, bound)
        return out.reshape((size, -1) + tuple(out.shape[1:])), 0

    return rule


# -- rule lookup -----------------------------------------------------------------------------------------------------
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


batching.resolve_rule = rule_for
