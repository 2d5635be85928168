"""Gradient hooks: functions that read, and may replace, a cotangent as the backward pass reaches a value.

``Tensor.register_hook(fn)`` hooks a value (an intermediate of a differentiated function, or an input handed to
grad); ``hook_identity`` is an identity op whose cotangent goes through a hook (what ``ops.HookBackward`` builds
on). A hook returning None leaves the cotangent as it was; one returning a Tensor of
another shape is an error naming the hook and both shapes. Hooks run in eager mode; under funcad.jit they raise,
since the backward pass then runs once, while tracing, not on every call.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from funcad.core.base_ops import shape_of
from funcad.core.primitive import compiled_as_call, primitive
from funcad.core.tensor import parameter_hooks
from funcad.core.trace import Tracer

_handle_ids = itertools.count()
# id(tensor) -> (tensor, {handle id: hook}); the tensor is kept so its id stays its own while hooked
tensor_hooks: dict = {}


class HookHandle:
    """What registering a hook returns: ``remove()`` unregisters it (MindSpore's and torch's handle)."""

    def __init__(self, hooks: dict, hook: Callable, on_empty: Callable | None = None):
        self.hooks, self.id, self.on_empty = hooks, next(_handle_ids), on_empty
        hooks[self.id] = hook

    def remove(self) -> None:
        self.hooks.pop(self.id, None)
        if not self.hooks and self.on_empty is not None:
            self.on_empty()


def check_hook(what: str, hook) -> None:
    if not callable(hook):
        raise TypeError(f"{what}: the hook must be callable, got {type(hook).__name__}")


def register_tensor_hook(tensor, hook: Callable) -> HookHandle:
    check_hook("Tensor.register_hook", hook)
    key = id(tensor)
    entry = tensor_hooks.setdefault(key, (tensor, {}))
    return HookHandle(entry[1], hook, lambda: tensor_hooks.pop(key, None))


def replaced(what: str, hook: Callable, g, new):
    """The cotangent after a hook: ``g`` when it returned None, else its result, checked against ``g``'s shape."""
    if new is None:
        return g
    if tuple(shape_of(new)) != tuple(shape_of(g)):
        raise ValueError(f"{what}: hook {getattr(hook, '__name__', repr(hook))} returned a gradient of shape "
                         f"{tuple(shape_of(new))} for one of shape {tuple(shape_of(g))}")
    return new


def refuse_under_jit(what: str, value) -> None:
    """Raise when a compiler is tracing: ``value`` is its tracer, or (for a cotangent still constant, as a loss's
    seed is) its Parameter hooks are installed."""
    if _under_jit(value) or parameter_hooks.write is not None:
        raise RuntimeError(f"{what}: gradient hooks run in eager mode only; under funcad.jit the backward pass runs once, "
                           "while tracing. Call the function without jit to use hooks")


def _under_jit(value) -> bool:
    """Whether ``value`` is, or wraps, a value the jit compiler is tracing (core cannot import the jit)."""
    while isinstance(value, Tracer):
        if type(value).__name__ == "JitTracer":
            return True
        value = value._value
    return False


def run_tensor_hooks(node, g):
    """The cotangent of a reached value after its hooks (the node itself or, for an input, the Tensor it wraps)."""
    for key in (id(node), id(node._value)):
        entry = tensor_hooks.get(key)
        if entry is not None:
            refuse_under_jit("Tensor.register_hook", g)
            for hook in list(entry[1].values()):
                g = replaced("Tensor.register_hook", hook, g, hook(g))
    return g


@primitive(**compiled_as_call())
def hook_identity(x, hook):
    """x unchanged; its cotangent goes through ``hook(g) -> new g or None``."""
    return x


hook_identity.defvjp(lambda g, ans, x, hook: hook(g))
hook_identity.defjvp(lambda t, ans, x, hook: t)
hook_identity.declare(batch=lambda args, dims, /, **kwargs: (hook_identity(*args, **kwargs), dims[0]))
