"""User-defined derivatives: ``custom_vjp`` and ``custom_jvp`` (JAX's decorators), which ``Cell.bprop`` builds on.

The decorated function becomes a primitive of its own: its forward runs the function on plain values, its
derivative rules call the user's rules, its batching rule is the same custom function with every part vmapped,
and jit calls it as one node. The user's rules are written in funcad ops, so they are differentiated, batched and
compiled like any code: gradients of any order go through them.

A custom function takes Tensors positionally and returns one Tensor. Parameters it reads are constants to it
(their gradients do not flow through it), as in a MindSpore Cell with ``bprop``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from funcad.core.base_ops import shape_of, sum_to
from funcad.core.batching import vmap
from funcad.core.primitive import Primitive, compiled_as_call
from funcad.core.tensor import Tensor
from funcad.core.transforms import jvp, vjp


def _plain(out, name: str):
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}: a custom-derivative function must return one Tensor, got {type(out).__name__}")
    return out._data


def as_tensors(arrays) -> list:
    """A primitive's array arguments as Tensors (for running funcad code inside its forward); others unchanged."""
    return [Tensor._wrap(a) if not isinstance(a, Tensor) and hasattr(a, "dtype") else a for a in arrays]


def _check_cotangents(name: str, cotangents, args) -> tuple:
    """The rule's result: one cotangent (or None) per argument, each of that argument's shape."""
    if not isinstance(cotangents, (tuple, list)) or len(cotangents) != len(args):
        got = f"{len(cotangents)} values" if isinstance(cotangents, (tuple, list)) else f"a {type(cotangents).__name__}"
        raise ValueError(f"{name}: the backward rule must return a tuple of {len(args)} cotangents (one per input), got {got}")
    for i, (c, a) in enumerate(zip(cotangents, args)):
        if c is not None and tuple(shape_of(c)) != tuple(shape_of(a)):
            raise ValueError(f"{name}: the backward rule's cotangent {i} has shape {tuple(shape_of(c))}, "
                             f"but input {i} has shape {tuple(shape_of(a))}")
    return tuple(cotangents)


class PerNode:
    """A backward rule for every argument of a node from one computation: ``compute(g, args)`` gives all the
    cotangents on the first request; each is handed out once and dropped, so none outlives the backward pass."""

    def __init__(self, compute: Callable):
        self.compute, self.key, self.values = compute, None, []

    def __call__(self, i, g, ans, *args):
        key = (id(g), tuple(id(a) for a in args))
        if key != self.key:
            self.key, self.values = key, list(self.compute(g, args))
        value, self.values[i] = self.values[i], None
        return value


class custom_vjp:  # noqa: N801 - JAX's name
    """``f = custom_vjp(fn)``; ``f.defvjp(fwd, bwd)`` with ``fwd(*args) -> (out, residuals)`` and
    ``bwd(residuals, g) -> tuple of one cotangent (or None) per argument``."""

    def __init__(self, fn: Callable):
        self.fn = fn
        self.name = getattr(fn, "__name__", "custom_vjp")
        functools.update_wrapper(self, fn)
        self.prim = None

    def defvjp(self, fwd: Callable, bwd: Callable) -> custom_vjp:
        self.prim = _vjp_primitive(self.fn, fwd, bwd, self.name)
        return self

    def __call__(self, *args):
        if self.prim is None:
            raise TypeError(f"custom_vjp {self.name}: call defvjp(fwd, bwd) before using it")
        return self.prim(*args)


def _vjp_primitive(fn: Callable, fwd: Callable, bwd: Callable, name: str) -> Primitive:
    prim = Primitive(name, lambda *arrays: _plain(fn(*as_tensors(arrays)), name), **compiled_as_call())
    cotangent = PerNode(lambda g, args: _check_cotangents(name, bwd(fwd(*args)[1], g), args))

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


class custom_jvp:  # noqa: N801 - JAX's name
    """``f = custom_jvp(fn)``; ``f.defjvp(rule)`` with ``rule(primals, tangents) -> (out, tangent_out)``, linear in the
    tangents. Reverse mode transposes the rule (the vjp of ``tangents -> tangent_out``)."""

    def __init__(self, fn: Callable):
        self.fn = fn
        self.name = getattr(fn, "__name__", "custom_jvp")
        functools.update_wrapper(self, fn)
        self.prim = None

    def defjvp(self, rule: Callable) -> Callable:
        self.prim = _jvp_primitive(self.fn, rule, self.name)
        return rule

    def __call__(self, *args):
        if self.prim is None:
            raise TypeError(f"custom_jvp {self.name}: call defjvp(rule) before using it")
        return self.prim(*args)


def _jvp_primitive(fn: Callable, rule: Callable, name: str) -> Primitive:
    prim = Primitive(name, lambda *arrays: _plain(fn(*as_tensors(arrays)), name), **compiled_as_call())

    def only(i, t, args):
        return tuple(t if j == i else _zeros(a) for j, a in enumerate(args))

    def tangent(i, t, ans, *args):
        out = rule(tuple(args), only(i, t, args))
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise ValueError(f"{name}: the jvp rule must return (primal_out, tangent_out), got {type(out).__name__}")
        if tuple(shape_of(out[1])) != tuple(shape_of(ans)):
            raise ValueError(f"{name}: the jvp rule's tangent has shape {tuple(shape_of(out[1]))}, the output has shape {tuple(shape_of(ans))}")
        return out[1]

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
    return Tensor._wrap(np.zeros(shape_of(a), dtype=getattr(a, "dtype", np.float32)))
