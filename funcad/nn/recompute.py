"""``Cell.recompute()``: the Cell's activations are not kept for the backward pass but computed again there.

A recomputed Cell runs as one primitive whose arguments are its inputs and its trainable Parameters: the forward
runs construct on plain values (nothing inside it is recorded, so its intermediate arrays are freed as it goes),
and the backward rule runs construct again under vjp to pull the cotangent back to the inputs and Parameters. Peak
memory of a deep network then holds each block's inputs instead of all its activations, for one more forward pass.
Under vmap the Cell runs as usual (batched, not recomputed). Its construct should not update Parameters (a
BatchNorm's moving statistics would be updated again by the recomputation).
"""

from __future__ import annotations

from collections.abc import Callable

from funcad.core.batching import vmap
from funcad.core.custom import PerNode, as_tensors
from funcad.core.primitive import Primitive, compiled_as_call
from funcad.core.transforms import jvp, vjp


def _with_weights(cell) -> Callable:
    """construct as a function of (*inputs, *weight values), the Parameters bound to those values while it runs."""
    params = cell.trainable_params()

    def run(*values):
        inputs, bound = values[: len(values) - len(params)], values[len(values) - len(params) :]
        saved = [p._bound for p in params]
        for p, v in zip(params, bound):
            p._bound = v
        try:
            return cell.construct(*inputs)
        finally:
            for p, s in zip(params, saved):
                p._bound = s

    return run


def recomputed(cell) -> Primitive:
    """The Cell's recomputing primitive (built once per Cell)."""
    prim = cell.__dict__.get("_recompute_primitive")
    if prim is not None:
        return prim
    run = _with_weights(cell)
    name = f"{type(cell).__name__}.recompute"
    prim = Primitive(name, lambda *arrays: run(*as_tensors(arrays))._data, **compiled_as_call())
    cotangent = PerNode(lambda g, args: vjp(run, *args)[1](g))  # one recomputation serves every argument

    def tangent(i, t, ans, *args):
        return jvp(lambda v: run(*args[:i], v, *args[i + 1 :]), (args[i],), (t,))[1]

    prim.defvariadic(cotangent, tangent)
    prim.declare(batch=lambda args, dims, /, **kwargs: (vmap(run, tuple(dims))(*args), 0))
    object.__setattr__(cell, "_recompute_primitive", prim)
    return prim


def call(cell, *args):
    return recomputed(cell)(*args, *cell.trainable_params())
