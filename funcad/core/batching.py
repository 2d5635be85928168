"""vmap's trace: tracers that carry a batch of values stacked along one axis, and the ``vmap`` transform.

A ``BatchTracer`` holds an array with one extra axis, ``_bdim``, the batch axis; everything else about it (its
``shape``, ``ndim``) is the shape of one member, so the traced function never sees the batch. An op on batched
tracers is handed to the primitive's batching rule (``batch(args, dims, **kwargs) -> (out, out_dim)``, ``dims[i]``
the batch axis of ``args[i]`` or None), which computes all members at once with funcad ops, so a batched value
can itself be traced by a lower transform (grad of vmap, jit of vmap) and a rule's ops by a higher one.

Each rule is declared beside its op; ``funcad.ops.batching`` holds the common shapes of rule, derives the rules of
elementwise ops and installs ``resolve_rule``; core imports nothing from ops. The axis helpers below call Tensor
methods (each one op), so core's own primitives can use them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from funcad.core import pytree
from funcad.core.tensor import Tensor
from funcad.core.trace import Trace, Tracer, scope


# -- helpers for batching rules ----------------------------------------------------------------------------------
def ndim_of(a) -> int:
    """The rank of an array argument; 0 for anything else (a scalar, a dtype, a shape)."""
    return len(a.shape) if isinstance(a, (Tensor, np.ndarray, np.generic)) else 0


def batch_size(args, dims) -> int:
    return next(a.shape[d] for a, d in zip(args, dims) if d is not None)


def move_axis(x, src: int, dst: int):
    """``x`` (a Tensor) with its axis ``src`` moved to position ``dst`` (Tensor.transpose is the transpose op)."""
    if src == dst:
        return x
    perm = [d for d in range(ndim_of(x)) if d != src]
    perm.insert(dst, src)
    return x.transpose(perm)


def with_rank(x, rank: int):
    """A batch-first ``x`` with ones inserted after the batch axis, so one member has ``rank`` dimensions."""
    missing = rank - (ndim_of(x) - 1)
    if missing <= 0:
        return x
    return x.reshape((x.shape[0],) + (1,) * missing + tuple(x.shape[1:]))


# Set by funcad.ops.batching: maps a primitive to its batching rule (declared, derived or the loop fallback).
resolve_rule: Callable | None = None


class BatchTracer(Tracer):
    """One member's view of a batch: ``_value`` holds all members stacked along axis ``_bdim``."""

    __slots__ = ("_bdim",)

    @property
    def shape(self) -> tuple:
        shape = tuple(self._value.shape)
        return shape[: self._bdim] + shape[self._bdim + 1 :]

    @property
    def ndim(self) -> int:
        return self._value.ndim - 1

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def __bool__(self) -> bool:
        return bool(self._concrete())

    def _concrete(self):
        raise TypeError(f"vmap: the value of a batched tensor of shape {self.shape} (batch of {self._value.shape[self._bdim]}) "
                        "cannot be read inside the mapped function (Python control flow or a numpy call on it); use funcad ops")


class BatchTrace(Trace):
    __slots__ = ("size",)

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def wrap(self, value, bdim):
        if bdim is None:
            return value
        t = object.__new__(BatchTracer)
        t._trace, t._value, t._bdim = self, value, bdim
        return t

    def process(self, prim, args, kwargs):
        values, dims = [], []
        for a in args:
            if isinstance(a, BatchTracer) and a._trace is self:
                values.append(a._value)
                dims.append(a._bdim)
            else:
                values.append(a)
                dims.append(None)
        if not self.alive or all(d is None for d in dims):  # an escaped tracer is just its stacked value
            return prim(*values, **kwargs)
        out, out_dim = resolve_rule(prim)(values, dims, **kwargs)
        return self.wrap(out, out_dim)


# -- the transform ---------------------------------------------------------------------------------------------------
def _axes_per_leaf(axes, tree, what: str, fname: str) -> list:
    """``axes`` (an int, None or a pytree prefix of ``tree``) expanded to one entry per leaf of ``tree``."""
    if axes is None or isinstance(axes, int):
        return [axes] * len(pytree.flatten(tree)[0])
    if isinstance(axes, (tuple, list)) and isinstance(tree, (tuple, list)):
        if len(axes) != len(tree):
            raise ValueError(f"{fname}: {what} has {len(axes)} entries but there are {len(tree)} "
                             f"{'arguments' if what == 'in_axes' else 'outputs'} ({what}={axes!r})")
        return [a for sub_axes, sub in zip(axes, tree) for a in _axes_per_leaf(sub_axes, sub, what, fname)]
    if isinstance(axes, dict) and isinstance(tree, dict):
        if set(axes) != set(tree):
            raise ValueError(f"{fname}: {what} keys {sorted(axes)} do not match {sorted(tree)}")
        return [a for k in tree for a in _axes_per_leaf(axes[k], tree[k], what, fname)]
    raise TypeError(f"{fname}: {what} must be an int, None or a tuple/list/dict matching the structure, got {axes!r}")


def _normalize_axis(axis, ndim: int, fname: str, what: str) -> int:
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise TypeError(f"{fname}: {what} must be an int or None, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{fname}: {what}={axis} is out of range for a value with {ndim} dimensions (valid: {-ndim}..{ndim - 1})")
    return axis % ndim


def _as_tensor(value) -> Tensor:
    return value if isinstance(value, Tensor) else Tensor(value)


def vmap(fn: Callable, in_axes: Any = 0, out_axes: Any = 0) -> Callable:
    """Vectorise ``fn`` over a batch axis of its inputs (MindSpore's ``mindspore.vmap``, JAX's ``jax.vmap``).

    ``in_axes``: per positional argument the axis that holds the batch (an int, negative counting from the end, or
    None for an argument shared by every member), as one int/None for all or a pytree prefix of the arguments.
    ``out_axes`` likewise places the batch axis in each output. Parameters a Cell reads stay unbatched. An output
    that does not depend on a mapped input is repeated along the batch axis when its out_axes is an int (JAX's
    behaviour; the Jacobians need it: an output independent of an input has a zero block), and returned as it is
    when its out_axes is None. An object defining ``__vmap__(in_axes, out_axes)`` maps itself (``nn.CellList``:
    model ensembling over its cells' Parameters).
    """
    ensemble = getattr(fn, "__vmap__", None)
    if ensemble is not None:
        return ensemble(in_axes, out_axes)
    name = f"vmap({getattr(fn, '__name__', 'fn')})"

    def mapped(*args):
        in_leaves, in_def = pytree.flatten(tuple(args))
        axes = _axes_per_leaf(tuple(in_axes) if isinstance(in_axes, list) else in_axes, tuple(args), "in_axes", "vmap")
        sizes = {}
        leaves = []
        for i, (leaf, axis) in enumerate(zip(in_leaves, axes)):
            if axis is None:
                leaves.append(leaf)
                continue
            leaf = _as_tensor(leaf)
            axis = _normalize_axis(axis, leaf.ndim, "vmap", f"in_axes for input leaf {i} of shape {tuple(leaf.shape)}")
            sizes.setdefault(leaf.shape[axis], []).append(f"leaf {i} {tuple(leaf.shape)} axis {axis}")
            leaves.append((leaf, axis))
        if not sizes:
            raise ValueError("vmap: in_axes maps no input (all None); at least one argument needs a batch axis")
        if len(sizes) > 1:
            detail = "; ".join(f"size {n}: {', '.join(where)}" for n, where in sizes.items())
            raise ValueError(f"vmap: the mapped inputs disagree on the batch size ({detail})")
        trace = BatchTrace(next(iter(sizes)))
        with scope(trace):
            batched = [trace.wrap(*leaf) if isinstance(leaf, tuple) else leaf for leaf in leaves]
            out = fn(*pytree.unflatten(in_def, batched))
        return _place_outputs(out, trace)

    def _place_outputs(out, trace: BatchTrace):
        """Each output's batch axis moved to its out_axes entry."""
        out_leaves, out_def = pytree.flatten(out)
        axes = _axes_per_leaf(out_axes, out, "out_axes", "vmap")
        placed = []
        for i, (leaf, axis) in enumerate(zip(out_leaves, axes)):
            batched = isinstance(leaf, BatchTracer) and leaf._trace is trace
            if axis is None:
                if batched:
                    raise ValueError(f"vmap: out_axes is None for output leaf {i} of shape {tuple(leaf.shape)}, "
                                     "but that output varies over the batch; give it an axis")
                placed.append(leaf)
                continue
            if not batched:
                leaf = _as_tensor(leaf)
                repeated = leaf.reshape((1,) + tuple(leaf.shape)).broadcast_to((trace.size,) + tuple(leaf.shape))
                placed.append(move_axis(repeated, 0, _normalize_axis(axis, repeated.ndim, "vmap", f"out_axes for output leaf {i}")))
                continue
            axis = _normalize_axis(axis, leaf.ndim + 1, "vmap", f"out_axes for output leaf {i} of shape {tuple(leaf.shape)}")
            placed.append(move_axis(leaf._value, leaf._bdim, axis))
        return pytree.unflatten(out_def, placed)

    mapped.__name__ = name
    mapped.__wrapped__ = fn
    return mapped


def batch_first(value, dim):
    """``value`` with its batch axis ``dim`` moved to the front (``value`` itself for an unbatched one, dim None)."""
    return value if dim is None else move_axis(value, dim, 0)


def leading_axes_rule(prim) -> Callable:
    """The batching rule of an op that maps over the leading axes of its first argument, its only array one (numpy's
    linalg functions, draws from a stack of random keys): that argument's batch axis goes first."""

    def rule(args, dims, /, **kwargs):
        return prim(batch_first(args[0], dims[0]), *args[1:], **kwargs), 0

    return rule
