"""The primitives the engine itself applies: broadcasting and its undoing, dtype casts, and stop_gradient.

The backward pass sums a broadcast cotangent back to its input's shape (``unbroadcast``), the forward pass
broadcasts a tangent to its output's shape, the compiler casts a written value to its Parameter's dtype and routes
constants through ``stop_gradient``, and ``has_aux`` stops gradients at every level: all of them need these ops
from core. ``funcad.ops`` re-exports them.
"""

from __future__ import annotations

import numpy as np

from funcad.core.lowering import with_out
from funcad.core.primitive import compiled_as_call, defadjoint, primitive


def shape_of(x) -> tuple:
    """The shape of a Tensor, tracer or array; () for a Python scalar."""
    shape = getattr(x, "shape", None)
    return () if shape is None else tuple(shape)


# -- broadcasting ------------------------------------------------------------------------
def _sum_to_axes(node) -> tuple[tuple, bool]:
    """The axes sum_to reduces, and whether they are just the leading ones (then no reshape is needed)."""
    x, shape = node.args[0], node.out.shape
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    return axes, axes == tuple(range(lead))


def _emit_sum_to(a, node, out, em):
    axes, leading = _sum_to_axes(node)
    if leading:
        return with_out(f"np.add.reduce({a[0]}, axis={axes!r})", out)
    return f"np.add.reduce({a[0]}, axis={axes!r}, keepdims=True).reshape({node.out.shape!r})"


@primitive(**compiled_as_call(emit=lambda a, node, out, em: f"np.broadcast_to({a[0]}, {node.out.shape!r})",
                              simplify=("same_type_noop",), role="broadcast", torch="broadcast_to"))
def broadcast_to(x, shape):
    return np.broadcast_to(x, tuple(shape))


@primitive(**compiled_as_call(emit=_emit_sum_to, takes_out=lambda node: _sum_to_axes(node)[1], simplify=("same_type_noop",),
                              torch=lambda torch, x, shape: x.sum_to_size(tuple(shape))))
def sum_to(x, shape):
    """Sum ``x`` down to ``shape``: the adjoint of broadcasting (the shared unbroadcast)."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    if lead < 0:
        raise ValueError(f"cannot sum shape {x.shape} down to {shape}")
    kept = tuple(lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    if not kept:  # only leading axes to sum (a bias's gradient): one reduction, no reshape
        return np.add.reduce(x, axis=tuple(range(lead)))
    out = np.add.reduce(x, axis=tuple(range(lead)) + kept, keepdims=True)
    return np.reshape(out, shape)


def unbroadcast(g, shape: tuple):
    """Undo NumPy broadcasting of a cotangent ``g`` so it matches an input of ``shape``."""
    if tuple(g.shape) == tuple(shape):
        return g
    return sum_to(g, tuple(shape))


def broadcast_like(t, shape: tuple):
    """A tangent broadcast to an output of ``shape`` (itself when it has that shape already)."""
    return t if tuple(t.shape) == tuple(shape) else broadcast_to(t, tuple(shape))


defadjoint(broadcast_to, sum_to, lambda g, ans, x, shape: unbroadcast(g, shape_of(x)),
           lambda g, ans, x, shape: broadcast_to(g, shape_of(x)))


# -- dtype and gradient control ---------------------------------------------------------------
@primitive(**compiled_as_call(emit=lambda a, node, out, em: f"{a[0]}.astype(np.{np.dtype(node.args[1].value).name}, copy=False)",
                              simplify=("same_type_noop",), role="cast", torch=lambda torch, x, dtype: x.to(dtype)))
def cast(x, dtype):
    return x.astype(np.dtype(dtype), copy=False)


cast.deflinear(lambda g, ans, x, dtype: cast(g, x.dtype) if np.issubdtype(x.dtype, np.inexact) else None)


@primitive(**compiled_as_call(simplify=("passthrough",), torch=("detach", lambda torch, x: x.detach())))
def stop_gradient(x):
    """Identity whose output is a constant for every transform, at every nesting level."""
    return x


stop_gradient.nondifferentiable()
