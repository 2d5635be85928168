"""``Cell.bprop``: MindSpore's custom backward for a Cell, ``bprop(self, *inputs, out, dout) -> input cotangents``.

A Cell whose class defines ``bprop`` runs its ``construct`` as a ``custom_vjp`` function whose backward rule is the
Cell's ``bprop``, so the rule holds under grad of any order (when it is written in funcad ops), vmap and jit. The
``out`` bprop receives is the forward's own output, not a second run's (a dropout Cell's bprop sees the mask its
forward drew). As in MindSpore, the Parameters the Cell reads get no gradient through it, except those listed in the Cell's
``internal_params``: for them ``bprop`` returns ``(input cotangents, {parameter: cotangent})`` (a Parameter missing
from the dict gets zeros), and they become arguments of the custom function, so ``grad(..., weights=)`` reaches them.
"""

from __future__ import annotations

from collections.abc import Callable

from funcad.core.custom import custom_vjp
from funcad.core.tensor import Parameter


def with_bprop(cell) -> Callable:
    """The Cell's construct with its bprop as the backward rule (built once per Cell and set of internal_params)."""
    params = _internal_params(cell)
    cached = cell.__dict__.get("_bprop_function")
    if cached is None or cached[0] != [id(p) for p in params]:
        n_params = len(params)
        custom = custom_vjp(_bound_construct(cell, params))
        custom.name = f"{type(cell).__name__}.bprop"
        custom.residuals_from_call = True  # bprop's ``out`` is the forward's own output (a dropout's mask included)
        custom.defvjp(lambda *values: _forward(cell, params, values),
                      lambda saved, dout: _backward(cell, params, n_params, saved, dout))
        cached = ([id(p) for p in params], custom)
        object.__setattr__(cell, "_bprop_function", cached)
    custom = cached[1]
    return lambda *inputs: custom(*inputs, *(p._current() for p in params))


def _internal_params(cell) -> list[Parameter]:
    params = list(cell.__dict__.get("internal_params") or ())
    for p in params:
        if not isinstance(p, Parameter):
            raise TypeError(f"{type(cell).__name__}.internal_params: expected Parameters, got {type(p).__name__}")
    return params


def _bound_construct(cell, params: list[Parameter]) -> Callable:
    """construct as a function of (*inputs, *values of params): the Parameters read those values while it runs."""
    def run(*values):
        split = len(values) - len(params)
        saved = [p._bound for p in params]
        for p, v in zip(params, values[split:]):
            p._bound = None if v is p else v
        try:
            return cell.construct(*values[:split])
        finally:
            for p, s in zip(params, saved):
                p._bound = s

    return run


def _forward(cell, params, values):
    out = _bound_construct(cell, params)(*values)
    return out, (tuple(values), out)


def _backward(cell, params, n_params, saved, dout):
    values, out = saved
    inputs = values[: len(values) - n_params]
    grads = cell.bprop(*inputs, out, dout)
    param_grads = {}
    if n_params and isinstance(grads, tuple) and len(grads) == 2 and isinstance(grads[1], dict):
        grads, param_grads = grads
    grads = tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)
    unknown = [k for k in param_grads if not any(k is p for p in params)]
    if unknown:
        raise ValueError(f"{type(cell).__name__}.bprop: gradients given for Parameters not in internal_params: "
                         f"{[getattr(k, 'name', k) for k in unknown]}")
    by_id = {id(k): v for k, v in param_grads.items()}
    return grads + tuple(by_id.get(id(p)) for p in params)
