"""``Cell.bprop``: MindSpore's custom backward for a Cell, ``bprop(self, *inputs, out, dout) -> input cotangents``.

A Cell whose class defines ``bprop`` runs its ``construct`` as a ``custom_vjp`` function whose backward rule is the
Cell's ``bprop``, so the rule holds under grad of any order (when it is written in funcad ops), vmap and jit. As in
MindSpore, the Parameters the Cell reads get no gradient through it.
"""

from __future__ import annotations

from funcad.core.custom import custom_vjp


def with_bprop(cell) -> custom_vjp:
    """The Cell's construct with its bprop as the backward rule (built once per Cell)."""
    custom = cell.__dict__.get("_bprop_function")
    if custom is None:
        custom = custom_vjp(cell.construct)
        custom.name = f"{type(cell).__name__}.bprop"
        custom.defvjp(lambda *inputs: _forward(cell, inputs), lambda saved, dout: _backward(cell, saved, dout))
        object.__setattr__(cell, "_bprop_function", custom)
    return custom


def _forward(cell, inputs):
    out = cell.construct(*inputs)
    return out, (inputs, out)


def _backward(cell, saved, dout):
    inputs, out = saved
    grads = cell.bprop(*inputs, out, dout)
    return tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)
