"""The primitives the engine itself applies: broadcasting and its undoing, dtype casts, and stop_gradient.

The backward pass sums a broadcast cotangent back to its input's shape (``unbroadcast``), the forward pass
broadcasts a tangent to its output's shape, the compiler casts a written value to its Parameter's dtype and routes
constants through ``stop_gradient``, and ``has_aux`` stops gradients at every level: all of them need these ops
from core. ``funcad.ops`` re-exports them.
"""

from __future__ import annotations

import numpy as np

from funcad.core.batching import move_axis, ndim_of, with_rank
from funcad.core.complex_parts import is_complex, real
from funcad.core.dtypes import accumulated, is_float_dtype
from funcad.core.lowering import full_width, with_out
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
                              simplify=("same_type_noop",), role="broadcast", torch="broadcast_to", complex=True))
def broadcast_to(x, shape):
    return np.broadcast_to(x, tuple(shape))


@primitive(**compiled_as_call(emit=full_width(_emit_sum_to), takes_out=lambda node: _sum_to_axes(node)[1], simplify=("same_type_noop",),
                              torch=lambda torch, x, shape: x.sum_to_size(tuple(shape)), complex=True))
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
        return accumulated(x, axis=tuple(range(lead)))
    out = accumulated(x, axis=tuple(range(lead)) + kept, keepdims=True)
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


def _broadcast_to_batch(args, dims, /, **kwargs):
    x, target = args
    x = with_rank(move_axis(x, dims[0], 0), len(target))
    return broadcast_to(x, (x.shape[0],) + tuple(target)), 0


def _sum_to_batch(args, dims, /, **kwargs):
    x, target = move_axis(args[0], dims[0], 0), tuple(args[1])
    lead = ndim_of(x) - 1 - len(target)
    axes = tuple(range(1, lead + 1)) + tuple(lead + 1 + i for i, n in enumerate(target) if n == 1 and x.shape[lead + 1 + i] != 1)
    summed = x.sum(axis=axes, keepdims=True) if axes else x
    return summed.reshape((x.shape[0],) + target), 0


broadcast_to.declare(batch=_broadcast_to_batch)
sum_to.declare(batch=_sum_to_batch)


# -- dtype and gradient control ---------------------------------------------------------------
@primitive(**compiled_as_call(emit=full_width(lambda a, node, out, em: f"{a[0]}.astype(np.{np.dtype(node.args[1].value).name}, copy=False)"),
                              simplify=("same_type_noop",), role="cast", torch=lambda torch, x, dtype: x.to(dtype), complex=True))
def cast(x, dtype):
    dtype = np.dtype(dtype)
    if not hasattr(x, "dtype"):  # a Python number, as MindSpore's Cast takes (``cast(shape(x)[0], float32)``)
        return np.asarray(x, dtype=dtype)
    if x.dtype.kind == "c" and dtype.kind != "c":
        raise TypeError(f"funcad.ops.cast: {x.dtype} to {dtype} would drop the imaginary part; take ops.real, ops.imag or ops.abs")
    return x.astype(dtype, copy=False)


def _cast_back(g, x):
    """The cotangent in the input's dtype; a real input of a cast to complex takes the real part."""
    return cast(real(g) if is_complex(g) and not is_complex(x) else g, x.dtype)


cast.deflinear(lambda g, ans, x, dtype: _cast_back(g, x) if is_float_dtype(x.dtype) else None)


@primitive(**compiled_as_call(simplify=("passthrough",), torch=("detach", lambda torch, x: x.detach())))
def stop_gradient(x):
    """Identity whose output is a constant for every transform, at every nesting level."""
    return x


stop_gradient.nondifferentiable()


def _same_axis_batch(prim):
    """A shape-keeping op of one array (cast, stop_gradient): the batch axis stays where it is."""
    return lambda args, dims, /, **kwargs: (prim(*args, **kwargs), dims[0])


for _prim in (cast, stop_gradient):
    _prim.declare(batch=_same_axis_batch(_prim))
