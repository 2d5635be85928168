"""Cell hooks with MindSpore's names: forward pre-hooks and hooks, backward pre-hooks and hooks.

- ``register_forward_pre_hook(fn)``: ``fn(cell, inputs)`` before construct; a returned value replaces the inputs.
- ``register_forward_hook(fn)``: ``fn(cell, inputs, output)`` after it; a returned value replaces the output.
- ``register_backward_pre_hook(fn)``: ``fn(cell, grad_output)`` when the outputs' gradients arrive, all at once
  (``grad_output`` holds one per floating-point Tensor output, as torch's full backward hooks; an output the loss
  does not use gets zeros); a returned tuple replaces them.
- ``register_backward_hook(fn)``: ``fn(cell, grad_input, grad_output)`` once the inputs' gradients are computed
  (``grad_input`` holds one entry per Tensor input, None for a non-floating one); a returned tuple replaces them
  (a None entry keeps that gradient). When no input is differentiated (a network's data input, under a gradient
  for the weights only) it runs when the outputs' gradients arrive, with every ``grad_input`` entry None, as torch's.

Each returns a handle with ``remove()``. Forward hooks are plain Python around construct: under funcad.jit they
run once, while tracing, and what they return is compiled in. Backward hooks run in eager mode only: under jit
they raise a RuntimeError naming the Cell. The outputs (and the inputs) pass through one ``custom_vjp`` identity
whose backward rule runs the hooks, so they see every gradient of the call together.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from funcad.core import pytree
from funcad.core.custom import custom_vjp
from funcad.core.dtypes import is_floating
from funcad.core.hooks import HookHandle, check_hook, refuse_under_jit, replaced
from funcad.core.tensor import Tensor
from funcad.core.trace import Tracer

KINDS = ("forward_pre", "forward", "backward_pre", "backward")


def register(cell, kind: str, hook: Callable) -> HookHandle:
    check_hook(f"{type(cell).__name__}.register_{kind}_hook", hook)
    table = cell.__dict__.get("_cell_hooks")
    if table is None:
        table = {k: {} for k in KINDS}
        object.__setattr__(cell, "_cell_hooks", table)
        object.__setattr__(cell, "_wrapped", True)
    return HookHandle(table[kind], hook)


def _as_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _floating(value) -> bool:
    return isinstance(value, Tensor) and is_floating(value.dtype)


def _through(values: list, rule: Callable, name: str) -> tuple:
    """``values`` unchanged; their cotangents, together, go through ``rule(grads) -> grads``."""
    identity = custom_vjp(lambda *xs: xs)
    identity.name = name
    identity.defvjp(lambda *xs: (xs, None), lambda _, grads: tuple(rule(tuple(grads))))
    return identity(*values)


def call(cell, args: tuple, kwargs: dict, run: Callable):
    """``run(*args, **kwargs)`` (the Cell's construct) with the Cell's hooks around it."""
    table = cell.__dict__["_cell_hooks"]
    name = type(cell).__name__
    for hook in list(table["forward_pre"].values()):
        new = hook(cell, args)
        if new is not None:
            args = _as_tuple(new)
    backward = table["backward_pre"] or table["backward"]
    seen: dict = {}
    if backward:
        tensors = [i for i, a in enumerate(args) if isinstance(a, (Tensor, np.ndarray))]
        hooked = [i for i in tensors if _floating(args[i])]
        # inputs no transform traces get no gradient: the backward hooks then run with the output's (grad_input Nones)
        seen["untraced_inputs"] = None if any(isinstance(args[i], Tracer) for i in hooked) else len(tensors)
        if seen["untraced_inputs"] is None:
            args = list(args)
            rule = _input_rule(cell, table, seen, name, [tensors.index(i) for i in hooked], len(tensors))
            for i, value in zip(hooked, _through([args[i] for i in hooked], rule, f"{name}.register_backward_hook")):
                args[i] = value
            args = tuple(args)
    out = run(*args, **kwargs)
    if backward:
        leaves, tree = pytree.flatten(out)
        hooked = [i for i, leaf in enumerate(leaves) if _floating(leaf)]
        if not hooked:
            raise TypeError(f"{name}: backward hooks need a Cell returning floating-point Tensors, got {type(out).__name__}")
        rule = _output_rule(cell, table, seen, name)
        for i, value in zip(hooked, _through([leaves[i] for i in hooked], rule, f"{name}.register_backward_pre_hook")):
            leaves[i] = value
        out = pytree.unflatten(tree, leaves)
    for hook in list(table["forward"].values()):
        new = hook(cell, args, out)
        if new is not None:
            out = new
    return out


def _replace_all(what: str, hook: Callable, grads: tuple, new) -> tuple:
    """A hook's result replacing ``grads``: None keeps them; else a tuple of as many (None entries keep theirs)."""
    if new is None:
        return grads
    new = _as_tuple(new)
    if len(new) != len(grads):
        raise ValueError(f"{what}: hook {getattr(hook, '__name__', repr(hook))} returned {len(new)} gradients for {len(grads)}")
    return tuple(g if n is None or g is None else replaced(what, hook, g, n) for g, n in zip(grads, new))


def _output_rule(cell, table: dict, seen: dict, name: str) -> Callable:
    def rule(grads: tuple) -> tuple:
        refuse_under_jit(f"{name}.register_backward_pre_hook", grads[0])
        for hook in list(table["backward_pre"].values()):
            grads = _replace_all(f"{name} backward pre-hook", hook, grads, hook(cell, grads))
        seen["grad_output"] = grads
        if seen["untraced_inputs"] is not None:
            for hook in list(table["backward"].values()):
                hook(cell, (None,) * seen["untraced_inputs"], grads)
        return grads

    return rule


def _input_rule(cell, table: dict, seen: dict, name: str, places: list, count: int) -> Callable:
    """``places[k]``: where the k-th hooked input sits among the call's ``count`` Tensor inputs."""

    def rule(grads: tuple) -> tuple:
        refuse_under_jit(f"{name}.register_backward_hook", grads[0])
        grad_input = [None] * count
        for place, g in zip(places, grads):
            grad_input[place] = g
        grad_input = tuple(grad_input)
        for hook in list(table["backward"].values()):
            grad_input = _replace_all(f"{name} backward hook", hook, grad_input, hook(cell, grad_input, seen.get("grad_output", ())))
        return tuple(grad_input[place] for place in places)

    return rule
