"""User-defined derivatives: ``custom_vjp`` and ``custom_jvp`` (JAX's decorators), which ``Cell.bprop`` builds on.

Each call of a decorated function becomes one primitive: its forward runs the function on plain values, its
derivative rules call the user's rules, its batching rule is the same custom function with every part vmapped,
and jit calls it as one node. The user's rules are written in funcad ops, so they are differentiated, batched and
compiled like any code: gradients of any order go through them.

Arguments and outputs are pytrees (tuples, lists, dicts) of Tensors, as in JAX. The primitive sees the leaves of
the differentiable arguments; the arguments named by ``nondiff_argnums`` (functions, sizes, flags) are fixed for
the call and handed to the rules first, as JAX does. Several outputs travel as one flat array in their common
dtype (a primitive has one output) and are cut back into the output's structure, shapes and dtypes.
Parameters the function reads are constants to it (their gradients do not flow through it), as in a MindSpore
Cell with ``bprop``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from funcad.core import pytree, tensor_methods
from funcad.core.base_ops import cast, shape_of, sum_to
from funcad.core.batching import vmap
from funcad.core.primitive import Primitive, compiled_as_call
from funcad.core.tensor import Tensor
from funcad.core.trace import Tracer
from funcad.core.transforms import jvp, vjp


def as_tensors(arrays) -> list:
    """A primitive's array arguments as Tensors (for running funcad code inside its forward); others unchanged."""
    return [Tensor._wrap(a) if not isinstance(a, Tensor) and hasattr(a, "dtype") else a for a in arrays]


class PerNode:
    """A backward rule for every argument of a node from one computation: ``compute(g, args)`` gives all the
    cotangents on the first request; each is handed out once and dropped, so none outlives the backward pass."""

    def __init__(self, compute: Callable, with_output: bool = False):
        """``with_output``: ``compute(g, args, ans)`` also receives the node's output."""
        self.compute, self.with_output, self.key, self.values = compute, with_output, None, []

    def __call__(self, i, g, ans, *args):
        key = (id(g), tuple(id(a) for a in args))
        if key != self.key:
            self.key, self.values = key, list(self.compute(g, args, ans) if self.with_output else self.compute(g, args))
        value, self.values[i] = self.values[i], None
        return value


# -- one call: its arguments as leaves, its outputs as one array -------------------------------------------------------
class _Call:
    """How one call's arguments map to the primitive's leaves and its outputs to the primitive's one array.

    The output layout is recorded when the function runs (``pack``), which happens inside the primitive's call in
    every mode (eagerly, while jit traces, and with member shapes under vmap), before ``unpack`` needs it.
    """

    def __init__(self, name: str, args: tuple, nondiff_argnums: tuple):
        self.name = name
        for pos in nondiff_argnums:
            if not -len(args) <= pos < len(args):
                raise ValueError(f"{name}: nondiff_argnums names argument {pos}, but the call has {len(args)} arguments")
        fixed = {pos % len(args) for pos in nondiff_argnums}
        for pos in fixed:
            if any(isinstance(leaf, Tracer) for leaf in pytree.flatten(args[pos])[0]):
                raise TypeError(f"{name}: argument {pos} is in nondiff_argnums but holds a traced Tensor (under grad, vmap "
                                "or jit); pass it as a differentiable argument (its cotangent may be None)")
        self.static = [args[p] for p in sorted(fixed)]
        self.positions = [p for p in range(len(args)) if p not in fixed]
        self.fixed = {p: args[p] for p in fixed}
        self.diff_args = tuple(args[p] for p in self.positions)
        self.leaves, self.in_def = pytree.flatten(self.diff_args)
        self.plain = not fixed and len(self.leaves) == len(args)  # every argument is one leaf (the common case)
        self.out_def, self.shapes, self.dtypes = None, [], []

    def arguments(self, leaves) -> list:
        """The function's full argument list with these leaves in the differentiable places."""
        if self.plain:
            return list(leaves)
        diff = iter(pytree.unflatten(self.in_def, leaves))
        return [self.fixed[p] if p in self.fixed else next(diff) for p in range(len(self.fixed) + len(self.positions))]

    def pack(self, out) -> Tensor:
        leaves, self.out_def = pytree.flatten(out)
        if not leaves:
            raise TypeError(f"{self.name}: a custom-derivative function must return at least one Tensor, got {out!r}")
        for i, leaf in enumerate(leaves):
            if not isinstance(leaf, Tensor):
                raise TypeError(f"{self.name}: a custom-derivative function must return Tensors (or tuples, lists, dicts "
                                f"of them); output leaf {i} is a {type(leaf).__name__}")
        self.shapes = [tuple(leaf.shape) for leaf in leaves]
        self.dtypes = [np.dtype(leaf.dtype) for leaf in leaves]
        return self.pack_like(leaves)

    def pack_like(self, leaves) -> Tensor:
        """Leaves of the recorded output layout as one array (a single leaf stays as it is)."""
        if len(leaves) == 1:
            return leaves[0]
        common = np.result_type(*self.dtypes)
        return tensor_methods._ops.concat([cast(leaf, common).reshape((-1,)) for leaf in leaves], 0)

    def unpack(self, packed):
        if len(self.shapes) == 1:
            return pytree.unflatten(self.out_def, [packed])
        parts, start = [], 0
        for shape, dtype in zip(self.shapes, self.dtypes):
            size = int(np.prod(shape, dtype=np.int64))
            parts.append(cast(packed[start : start + size].reshape(shape), dtype))
            start += size
        return pytree.unflatten(self.out_def, parts)

    def tangent_leaves(self, tangent_out) -> list:
        """A jvp rule's output tangent as leaves of the output's layout, shapes checked."""
        leaves, tree = pytree.flatten(tangent_out)
        if tree != self.out_def:
            raise ValueError(f"{self.name}: the jvp rule's tangent has the structure {tree}, the output has {self.out_def}")
        for i, (t, shape) in enumerate(zip(leaves, self.shapes)):
            if tuple(shape_of(t)) != shape:
                raise ValueError(f"{self.name}: the jvp rule's tangent for output leaf {i} has shape {tuple(shape_of(t))}, "
                                 f"the output has shape {shape}")
        return leaves

    def leaf_cotangents(self, cotangents) -> tuple:
        """The backward rule's result (one cotangent pytree or None per differentiable argument) as one cotangent
        (or None) per leaf, each checked against its input's shape."""
        n = len(self.diff_args)
        if not isinstance(cotangents, (tuple, list)) or len(cotangents) != n:
            got = f"{len(cotangents)} values" if isinstance(cotangents, (tuple, list)) else f"a {type(cotangents).__name__}"
            raise ValueError(f"{self.name}: the backward rule must return a tuple of {n} cotangents (one per "
                             f"differentiable input), got {got}")
        out = []
        for k, (c, a) in enumerate(zip(cotangents, self.diff_args)):
            a_leaves, a_def = pytree.flatten(a)
            if c is None:
                out += [None] * len(a_leaves)
                continue
            c_leaves, c_def = pytree.flatten(c)
            if c_def != a_def:
                raise ValueError(f"{self.name}: the backward rule's cotangent {k} has the structure {c_def}, but input "
                                 f"{self.positions[k]} has {a_def}")
            for j, (cl, al) in enumerate(zip(c_leaves, a_leaves)):
                if tuple(shape_of(cl)) != tuple(shape_of(al)):
                    leaf = f" (leaf {j})" if len(a_leaves) > 1 else ""
                    raise ValueError(f"{self.name}: the backward rule's cotangent {k}{leaf} has shape {tuple(shape_of(cl))}, "
                                     f"but input {self.positions[k]}{leaf} has shape {tuple(shape_of(al))}")
            out += c_leaves
        return tuple(out)


class _Custom:
    """What both decorators share: the function, its name, its fixed arguments and the call through a primitive."""

    kind = "custom"

    def __init__(self, fn: Callable, nondiff_argnums: tuple = ()):
        self.fn = fn
        self.name = getattr(fn, "__name__", self.kind)
        self.nondiff_argnums = tuple(nondiff_argnums)
        functools.update_wrapper(self, fn)
        self.rules = None

    def __call__(self, *args):
        if self.rules is None:
            raise TypeError(f"{self.kind} {self.name}: call {'defvjp(fwd, bwd)' if self.kind == 'custom_vjp' else 'defjvp(rule)'} before using it")
        call = _Call(self.name, args, self.nondiff_argnums)

        def packed(*leaves):
            return call.pack(self.fn(*call.arguments(leaves)))

        return call.unpack(self._primitive(call, packed)(*call.leaves))


class custom_vjp(_Custom):  # noqa: N801 - JAX's name
    """``f = custom_vjp(fn, nondiff_argnums=())``; ``f.defvjp(fwd, bwd)`` with ``fwd(*args) -> (out, residuals)`` and
    ``bwd(*nondiff_args, residuals, g) -> tuple of one cotangent (a pytree like its argument, or None) per
    differentiable argument``; ``g`` has the output's structure."""

    kind = "custom_vjp"
    residuals_from_call = False  # True: the residuals are (arguments, output) of the call itself, not fwd's (Cell.bprop)

    def defvjp(self, fwd: Callable, bwd: Callable) -> custom_vjp:
        self.rules = (fwd, bwd)
        return self

    def _primitive(self, call: _Call, packed: Callable) -> Primitive:
        fwd, bwd = self.rules

        def packed_fwd(*leaves):
            out, residuals = fwd(*call.arguments(leaves))
            return call.pack(out), residuals

        def packed_bwd(residuals, g):
            return call.leaf_cotangents(bwd(*call.static, residuals, call.unpack(g)))

        def call_residuals(leaves, ans):
            return tuple(call.arguments(leaves)), call.unpack(ans)

        return _vjp_primitive(packed, packed_fwd, packed_bwd, self.name, call_residuals if self.residuals_from_call else None)


def _vjp_primitive(fn: Callable, fwd: Callable, bwd: Callable, name: str, call_residuals: Callable | None = None) -> Primitive:
    """A primitive of array leaves with one array output: ``fn`` runs it, ``bwd(residuals, g)`` gives the leaves'
    cotangents (checked), ``fwd`` the output and the residuals. With ``call_residuals(args, ans)`` the residuals are
    made from the node's arguments and output, so the backward pass does not run the forward again (a forward that
    draws random numbers, as a dropout Cell's, is then seen by the rule as it ran); vmap still runs ``fwd``."""
    prim = Primitive(name, lambda *arrays: fn(*as_tensors(arrays))._data, **compiled_as_call())
    if call_residuals is None:
        cotangent = PerNode(lambda g, args: bwd(fwd(*args)[1], g))
    else:
        cotangent = PerNode(lambda g, args, ans: bwd(call_residuals(args, ans), g), with_output=True)

    def tangent(i, t, ans, *args):  # forward mode differentiates the function itself
        return jvp(lambda xi: fn(*args[:i], xi, *args[i + 1 :]), (args[i],), (t,))[1]

    prim.defvariadic(cotangent, tangent)

    def batched(args, dims):
        member_fwd = vmap(fwd, tuple(dims))

        def batch_bwd(residuals, g):
            out_axes = tuple(0 if d is None else d for d in dims)
            grads = vmap(bwd, (0, 0), out_axes)(residuals, g)
            return tuple(None if c is None else (sum_to(c, shape_of(a)) if d is None else c) for c, a, d in zip(grads, args, dims))

        return _vjp_primitive(vmap(fn, tuple(dims)), member_fwd, batch_bwd, name)(*args), 0

    prim.declare(batch=lambda args, dims, /, **kwargs: batched(args, dims))
    return prim


class custom_jvp(_Custom):  # noqa: N801 - JAX's name
    """``f = custom_jvp(fn, nondiff_argnums=())``; ``f.defjvp(rule)`` with ``rule(*nondiff_args, primals, tangents)
    -> (out, tangent_out)``, linear in the tangents (``primals`` and ``tangents`` are tuples of the differentiable
    arguments, ``tangent_out`` has the output's structure). Reverse mode transposes the rule."""

    kind = "custom_jvp"

    def defjvp(self, rule: Callable) -> Callable:
        self.rules = rule
        return rule

    def _primitive(self, call: _Call, packed: Callable) -> Primitive:
        def packed_rule(primals, tangents):
            diff_primals = pytree.unflatten(call.in_def, primals)
            diff_tangents = pytree.unflatten(call.in_def, tangents)
            out = self.rules(*call.static, diff_primals, diff_tangents)
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                raise ValueError(f"{self.name}: the jvp rule must return (primal_out, tangent_out), got {type(out).__name__}")
            packed_out = call.pack(out[0])
            return packed_out, call.pack_like(call.tangent_leaves(out[1]))

        return _jvp_primitive(packed, packed_rule, self.name)


def _jvp_primitive(fn: Callable, rule: Callable, name: str) -> Primitive:
    prim = Primitive(name, lambda *arrays: fn(*as_tensors(arrays))._data, **compiled_as_call())

    def only(i, t, args):
        return tuple(t if j == i else _zeros(a) for j, a in enumerate(args))

    def tangent(i, t, ans, *args):
        return rule(tuple(args), only(i, t, args))[1]

    def cotangent(i, g, ans, *args):
        _, pullback = vjp(lambda ti: rule(tuple(args), only(i, ti, args))[1], _zeros(args[i]))
        return pullback(g)[0]

    prim.defvariadic(cotangent, tangent)

    def batched(args, dims):
        def member_rule(primals, tangents):
            return vmap(lambda p, t: tuple(rule(p, t)), (tuple(dims), tuple(dims)))(primals, tangents)

        return _jvp_primitive(vmap(fn, tuple(dims)), member_rule, name)(*args), 0

    prim.declare(batch=lambda args, dims, /, **kwargs: batched(args, dims))
    return prim


def _zeros(a) -> Tensor:
    """Zeros shaped like argument ``a``, in its dtype (float32 for a Python number)."""
    return Tensor._wrap(np.zeros(shape_of(a), dtype=getattr(a, "dtype", np.float32)))
