"""How a primitive declares its inline numpy code for ``funcad.jit``: emitters and the helpers they share.

An emitter is ``emit(args, node, out, emitter) -> str | None``: ``args`` are the argument expressions, ``node`` the
graph node (its ``args`` atoms: ``atom.is_var`` tells a traced variable from a constant, ``.value`` holds a
constant), ``out`` a buffer name for ``out=`` or None, and ``emitter`` offers ``bind``, ``literal``, ``zeros`` and
``scratch``. Returning None falls back to calling the primitive's ``impl``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from funcad.core.dtypes import LOW_PRECISION


def with_out(call: str, out: str | None) -> str:
    """``np.f(a, b)`` -> ``np.f(a, b, out=buf)`` when a buffer is given."""
    return call if out is None else f"{call[:-1]}, out={out})"


def ufunc_emitter(name: str, arity: int) -> Callable:
    """``np.<name>(a, b)`` for exactly ``arity`` arguments."""

    def emit(args, node, out, em):
        return with_out(f"np.{name}({', '.join(args)})", out) if len(args) == arity else None

    return emit


def full_width(emit: Callable) -> Callable:
    """``emit``, except where the result is a 16-bit float: there the compiled program calls the primitive's own impl,
    which accumulates in float32 as eager mode does (``funcad.core.dtypes.widened``)."""

    def wrapped(args, node, out, em):
        return None if np.dtype(node.out.dtype) in LOW_PRECISION else emit(args, node, out, em)

    return wrapped


def impl_with_out(args, node, out, em) -> str:
    """The primitive's own ``impl`` called with ``out=``: for an impl that takes ``out`` itself, so a trick it plays
    is written once and serves eager and compiled calls alike."""
    call = f"{em.bind(node.prim.impl, 'f')}({', '.join(args)})"
    return with_out(call, out)
