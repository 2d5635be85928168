"""Cell hooks with MindSpore's names: forward pre-hooks and hooks, backward pre-hooks and hooks.

- ``register_forward_pre_hook(fn)``: ``fn(cell, inputs)`` before construct; a returned value replaces the inputs.
- ``register_forward_hook(fn)``: ``fn(cell, inputs, output)`` after it; a returned value replaces the output.
- ``register_backward_pre_hook(fn)``: ``fn(cell, grad_output)`` when the output's gradient arrives; a returned
  tuple replaces it.
- ``register_backward_hook(fn)``: ``fn(cell, grad_input, grad_output)`` when an input's gradient is computed; a
  returned tuple replaces it. Each Tensor input is reported on its own (``grad_input`` holds its one gradient).

Each returns a handle with ``remove()``. Forward hooks are plain Python around construct: under funcad.jit they
run once, while tracing, and what they return is compiled in. Backward hooks run in eager mode only: under jit
they raise a RuntimeError naming the Cell.
"""

from __future__ import annotations

from collections.abc import Callable

from funcad.core.hooks import HookHandle, check_hook, hook_identity, refuse_under_jit, replaced
from funcad.core.tensor import Tensor

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
        args = tuple(hook_identity(a, _input_rule(cell, table, seen, name)) if isinstance(a, Tensor) else a for a in args)
    out = run(*args, **kwargs)
    if backward:
        if not isinstance(out, Tensor):
            raise TypeError(f"{name}: backward hooks need a Cell returning one Tensor, got {type(out).__name__}")
        out = hook_identity(out, _output_rule(cell, table, seen, name))
    for hook in list(table["forward"].values()):
        new = hook(cell, args, out)
        if new is not None:
            out = new
    return out


def _output_rule(cell, table: dict, seen: dict, name: str) -> Callable:
    def rule(g):
        refuse_under_jit(f"{name}.register_backward_pre_hook", g)
        for hook in list(table["backward_pre"].values()):
            new = hook(cell, (g,))
            g = replaced(f"{name} backward pre-hook", hook, g, None if new is None else _as_tuple(new)[0])
        seen["grad_output"] = (g,)
        return g

    return rule


def _input_rule(cell, table: dict, seen: dict, name: str) -> Callable:
    def rule(g):
        refuse_under_jit(f"{name}.register_backward_hook", g)
        for hook in list(table["backward"].values()):
            new = hook(cell, (g,), seen.get("grad_output", ()))
            g = replaced(f"{name} backward hook", hook, g, None if new is None else _as_tuple(new)[0])
        return g

    return rule
