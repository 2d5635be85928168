"""Trace levels and the Tracer base class.

Every running transform (grad, jvp, jit) owns a Trace with a level one above the
transform it runs inside. A Tracer belongs to one Trace; an op sees the tracer of
the highest level among its inputs, lets that trace process it, and the trace
re-binds the op one level lower. Values of other transforms therefore never mix
(no perturbation confusion). The current level is per thread, so two threads may differentiate at once.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod

import numpy as np

from funcad.core.tensor import Parameter, Tensor, array_attribute


class _ThreadState(threading.local):
    depth = 0  # the level of the innermost running transform in this thread


_state = _ThreadState()


class Trace(ABC):
    """One running transform; subclasses say how an op on their tracers is processed."""

    __slots__ = ("level", "alive")

    def __init__(self):
        self.level = _state.depth + 1
        self.alive = True

    @abstractmethod
    def process(self, prim, args, kwargs):
        """Handle ``prim`` applied to ``args`` of which at least one is this trace's tracer."""


class _TraceScope:
    """Makes ``trace`` the innermost level while its body runs."""

    __slots__ = ("trace", "saved")

    def __init__(self, trace: Trace):
        self.trace = trace

    def __enter__(self):
        self.saved = _state.depth
        _state.depth = self.trace.level
        return self.trace

    def __exit__(self, *exc):
        _state.depth = self.saved
        self.trace.alive = False
        return False


def scope(trace: Trace) -> _TraceScope:
    return _TraceScope(trace)


def current_depth() -> int:
    return _state.depth


class Tracer(Tensor):
    """A Tensor stand-in carrying a lower-level value ``_value`` for a running transform."""

    __slots__ = ("_value", "_trace")

    shape, dtype, ndim, size = (array_attribute("_value", name) for name in ("shape", "dtype", "ndim", "size"))

    @property
    def _data(self):
        return self._concrete()

    def _concrete(self) -> np.ndarray:
        value = self._value
        return value._concrete() if isinstance(value, Tensor) else np.asarray(value)

    def __bool__(self) -> bool:
        """Asked of the value one level down, so ``funcad.jit`` under a transform sees the ``if`` it must guard."""
        value = self._value
        return bool(value) if isinstance(value, Tensor) else bool(np.asarray(value))

    def __repr__(self) -> str:
        """The value, as MindSpore's PyNative mode prints a Tensor inside grad; an abstract value (under jit) has
        none, so its shape, dtype and transform level."""
        try:
            return super().__repr__()
        except TypeError:
            return f"{type(self).__name__}(shape={self.shape}, dtype={self.dtype}, level={self._trace.level})"


def numpy_dtype(value):
    """numpy's dtype of a Tensor, tracer or numpy array (None for anything else, a Python number say). A tracer's is
    read at the bottom of its stack of tracers: cheaper than ``.dtype``, which wraps it in a DType at every level."""
    cls = value.__class__
    if cls is Tensor or cls is Parameter:
        return value._data.dtype
    if cls is np.ndarray:
        return value.dtype
    if not isinstance(value, Tensor):
        return None
    while isinstance(value, Tracer):
        value = value._value
    cls = value.__class__
    return value._data.dtype if cls is Tensor or cls is Parameter else np.dtype(value.dtype)


def lower(value, trace: Trace):
    """Strip ``trace``'s tracer from a value, leaving the value one level down."""
    if isinstance(value, Tracer) and value._trace is trace:
        return value._value
    return value
