"""``Cell.recompute()``: the Cell's activations are not kept for the backward pass but computed again there.

A recomputed Cell runs as one primitive whose arguments are its inputs and its trainable Parameters: the forward
runs construct on plain values (nothing inside it is recorded, so its intermediate arrays are freed as it goes),
and the backward rule runs construct again under vjp to pull the cotangent back to the inputs and Parameters. Peak
memory of a deep network then holds each block's inputs instead of all its activations, for one more forward pass.
Under vmap the Cell runs as usual (batched, not recomputed). Parameter writes (a BatchNorm's moving statistics)
happen in the forward pass only: the recomputation drops them, so a stateful Cell's state is updated once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from funcad.core.batching import vmap
from funcad.core.custom import PerNode, as_tensors
from funcad.core.primitive import Primitive, compiled_as_call
from funcad.core.tensor import parameter_hooks
from funcad.core.transforms import jvp, vjp


@contextlib.contextmanager
def _parameter_hooks(read, write):
    """Parameter reads and writes go to ``read`` and ``write`` while the body runs (None: the Parameter itself)."""
    saved = parameter_hooks.read, parameter_hooks.write
    parameter_hooks.read, parameter_hooks.write = read, write
    try:
        yield
    finally:
        parameter_hooks.read, parameter_hooks.write = saved


def _dropped(param, data) -> None:
    """A Parameter write that does nothing (the recomputation's, and a compiler's stand-in run's)."""


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

    def forward(*arrays):
        """construct on plain values; its state writes happen here, eagerly and when a compiled program calls it.
        While a compiler traces (on stand-in values) the writes are dropped and reads see the Parameters' values."""
        if parameter_hooks.write is None:
            return run(*as_tensors(arrays))._data
        with _parameter_hooks(None, _dropped):
            return run(*as_tensors(arrays))._data

    prim = Primitive(name, forward, **compiled_as_call())

    def pull_back(g, args):  # one recomputation serves every argument
        with _parameter_hooks(parameter_hooks.read, _dropped):
            return vjp(run, *args)[1](g)

    def tangent(i, t, ans, *args):
        with _parameter_hooks(parameter_hooks.read, _dropped):
            return jvp(lambda v: run(*args[:i], v, *args[i + 1 :]), (args[i],), (t,))[1]

    cotangent = PerNode(pull_back)

    prim.defvariadic(cotangent, tangent)
    prim.declare(batch=lambda args, dims, /, **kwargs: (vmap(run, tuple(dims))(*args), 0))
    object.__setattr__(cell, "_recompute_primitive", prim)
    return prim


def call(cell, *args):
    return recomputed(cell)(*args, *cell.trainable_params())
