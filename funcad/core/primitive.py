"""Primitives: the unit of the engine. One name, one array forward, one VJP and one JVP rule.

Rules are written in funcad ops, so differentiating a rule (gradients of gradients)
needs nothing extra. ``Primitive.__call__`` is the single dispatch point every op
goes through: it resolves bound Parameters, finds the highest-level tracer among the
inputs and hands the op to that tracer's trace, or runs the forward on arrays.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from funcad.core.tensor import Parameter, Tensor
from funcad.core.trace import Tracer

_new_tensor = object.__new__
_ndarray = np.ndarray
_asarray = np.asarray
_FLOAT64 = np.dtype(np.float64)
_FLOAT32 = np.dtype(np.float32)
_array_types = (np.ndarray, np.generic)


def _describe(value) -> str:
    if isinstance(value, (Tensor, np.ndarray)):
        return f"{value.dtype}{list(value.shape)}"
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (Tensor, np.ndarray)):
        return "[" + ", ".join(_describe(v) for v in value) + "]"
    return repr(value) if len(repr(value)) < 40 else type(value).__name__


class Primitive:
    """An op with a numpy forward ``impl`` and per-argument VJP/JVP rules.

    ``defvjp(r0, r1, ...)``: ``r_i(g, ans, *args, **kwargs)`` returns the cotangent of
    argument i (None marks an argument that takes no gradient). ``defjvp`` likewise maps
    the tangent of argument i to its contribution to the output's tangent.
    A primitive with no VJP rules is not differentiable: its output is a constant.
    """

    def __init__(self, name: str, impl: Callable):
        self.name = name
        self.impl = impl
        self.vjps: tuple = ()
        self.jvps: tuple = ()
        self.__doc__ = impl.__doc__
        self.__wrapped__ = impl

    def defvjp(self, *rules) -> Primitive:
        self.vjps = rules
        return self

    def defjvp(self, *rules) -> Primitive:
        self.jvps = rules
        return self

    def vjp_rule(self, argnum: int):
        rules = self.vjps
        return rules[argnum] if argnum < len(rules) else None

    def jvp_rule(self, argnum: int):
        rules = self.jvps
        return rules[argnum] if argnum < len(rules) else None

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def __call__(self, *args, **kwargs):
        # The hot path of the whole engine: a plain Tensor costs one isinstance and one class check.
        top = None
        for a in args:
            if isinstance(a, Tensor) and a.__class__ is not Tensor:
                if isinstance(a, Parameter):
                    return self._call_with_parameters(args, kwargs)
                if isinstance(a, Tracer) and (top is None or a._trace.level > top._trace.level):
                    top = a
        if top is not None:
            return top._trace.process(self, args, kwargs)
        return self.forward(args, kwargs)

    def _call_with_parameters(self, args, kwargs):
        """Parameters stand for their current value: a transform's tracer, a compiler's, or their own data."""
        resolved = []
        top = None
        for a in args:
            if isinstance(a, Parameter):
                a = a._current()
                if isinstance(a, Parameter):  # unbound and no compiler tracing: its own value
                    a = Tensor._wrap(a._data)
            if isinstance(a, Tracer) and (top is None or a._trace.level > top._trace.level):
                top = a
            resolved.append(a)
        if top is not None:
            return top._trace.process(self, resolved, kwargs)
        return self.forward(resolved, kwargs)

    def forward(self, args, kwargs) -> Tensor:
        """Run ``impl`` on inputs holding no tracers or Parameters (the caller has checked), with errors that name
        the op and its inputs. When only Python scalars go in, a float result is float32 (MindSpore's default),
        not numpy's float64.
        """
        raw = [a._data if isinstance(a, Tensor) else a for a in args]
        try:
            out = self.impl(*raw, **kwargs)
        except (ValueError, IndexError, TypeError) as err:
            raise self._error(err, raw) from None
        if out.__class__ is not _ndarray:
            out = _asarray(out)
        if out.dtype is _FLOAT64 and not any(isinstance(a, _array_types) for a in raw):
            out = out.astype(_FLOAT32)
        t = _new_tensor(Tensor)
        t._data = out
        return t

    def run(self, args, kwargs) -> np.ndarray:
        """The forward on plain arrays, as an array (what a compiler calls while tracing and folding constants)."""
        return self.forward(args, kwargs)._data

    def _error(self, err: Exception, raw) -> Exception:
        if str(err).startswith("funcad.ops."):  # the implementation already named the op the user called
            return err
        shapes = ", ".join(_describe(a) for a in raw)
        return type(err)(f"funcad.ops.{self.name}: {err} (inputs: {shapes})")


def primitive(impl: Callable) -> Primitive:
    """Decorator: turn an array function into a Primitive named after it (``_sum`` is reported as ``sum``)."""
    return Primitive(impl.__name__.lstrip("_"), impl)
