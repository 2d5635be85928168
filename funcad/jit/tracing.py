"""Abstract tracing: run the user's function once on tracers that know only shapes and dtypes.

Every primitive applied to a ``JitTracer`` is recorded as a graph node; its output shape and
dtype come from running the primitive's forward once on zero-filled arrays of the right shapes.
A transform started inside the jitted function (``grad``, ``value_and_grad``) runs at a higher
level, so the ops of its VJP rules land in the same graph: forward, backward and the optimizer
update become one program. Parameters read inside become implicit inputs and ``set_data`` calls
become state writes, through the hooks ``funcad.core.tensor`` offers a compiler.
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np

import funcad
from funcad.core import pytree
from funcad.core.base_ops import cast, stop_gradient
from funcad.core.seed import global_rng
from funcad.core.tensor import Parameter, Tensor, parameter_hooks
from funcad.core.trace import Trace, Tracer, scope
from funcad.jit.ir import Const, Graph, Node, Var, type_text

_FUNCAD_DIR = os.path.dirname(os.path.abspath(funcad.__file__)) + os.sep


class ConcretizationError(TypeError):
    """A traced value was needed as a concrete Python or numpy value while compiling."""


def user_location() -> str:
    """``file:line`` of the innermost frame outside funcad: the user's code that asked for a value."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_FUNCAD_DIR):
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else "<unknown>"


class JitTracer(Tracer):
    """A traced array under ``funcad.jit``: ``_value`` is its graph variable (shape and dtype only)."""

    __slots__ = ()

    def __init__(self, trace: JitTrace, var: Var):
        self._trace = trace
        self._value = var

    def __bool__(self) -> bool:
        return self._trace.guard(self._value)

    def _concrete(self):
        var = self._value
        raise ConcretizationError(
            f"funcad.jit: while compiling {self._trace.graph.name!r}, the value of a traced Tensor "
            f"{type_text(var.shape, var.dtype)} was needed in Python at {user_location()} "
            "(float(), int(), numpy conversion, asnumpy() or item(); only bool(), as in an if/while, is guarded). "
            "Under jit only shapes and dtypes are known; use funcad.ops.where for value-dependent choices, "
            "pass the value as a non-array (static) argument, or call the function without jit."
        )


def _dummy(atom):
    if isinstance(atom, Var):
        return np.zeros(atom.shape, atom.dtype)
    return atom.value


def _identity_dummy(atom, dummy):
    """Identity matrices in the last two axes of a square-matrix variable (what a factorisation accepts)."""
    if isinstance(atom, Var) and dummy.ndim >= 2 and dummy.shape[-1] == dummy.shape[-2]:
        return np.broadcast_to(np.eye(dummy.shape[-1], dtype=dummy.dtype), dummy.shape).copy()
    return dummy


class JitTrace(Trace):
    """The outermost trace of a jitted call; it records a Graph."""

    __slots__ = ("graph", "_current", "_written", "_known")

    def __init__(self, name: str):
        super().__init__()
        self.graph = Graph(name)
        self._current: dict = {}  # id(Parameter) -> its JitTracer (the value reads see now)
        self._written: dict = {}  # id(Parameter) -> (Parameter, JitTracer or Const) of its last write
        self._known: dict = {}  # Var id -> its value in the call being traced (inputs, Parameters, guarded slices)

    def new_input(self, value) -> JitTracer:
        value = value._data if isinstance(value, Tensor) else np.asarray(value)
        var = self.graph.new_var(value.shape, value.dtype)
        self.graph.inputs.append(var)
        self._known[var.id] = value
        return JitTracer(self, var)

    def guard(self, var: Var) -> bool:
        """``bool()`` of a traced value, as Python's ``if``/``while`` asks for it: the value in the call being traced,
        computed from the nodes it depends on; the program records the outcome and checks it on every later call."""
        if var.size != 1:
            raise ValueError(f"funcad.jit: while compiling {self.graph.name!r}, the truth value of a traced Tensor "
                             f"{type_text(var.shape, var.dtype)} was asked at {user_location()}; only a one-element "
                             "Tensor has one (use ops.any / ops.all)")
        known = self._known
        if var.id not in known:
            needed, chain = {var.id}, []
            for node in reversed(self.graph.nodes):
                if node.out.id in needed and node.out.id not in known:
                    chain.append(node)
                    needed.update(a.id for a in node.args if isinstance(a, Var))
            with np.errstate(all="ignore"):
                for node in reversed(chain):
                    known[node.out.id] = node.prim.run([known[a.id] if isinstance(a, Var) else a.value for a in node.args],
                                                       node.kwargs)
        outcome = bool(np.asarray(known[var.id]))
        self.graph.guards.append((var, outcome))
        return outcome

    def atom(self, value):
        """The graph atom for an argument: a variable of this trace or a constant."""
        if isinstance(value, Parameter):
            value = value._current()
        if isinstance(value, JitTracer) and value._trace is self:
            return value._value
        if isinstance(value, Tracer):
            raise ValueError(
                f"funcad.jit: {self.graph.name!r} uses a value traced by another transform that is no longer running "
                f"({value!r}); return it from that transform instead of storing it"
            )
        if isinstance(value, Tensor):
            return Const(value._data)
        return Const(value)

    def process(self, prim, args, kwargs):
        atoms = tuple(self.atom(a) for a in args)
        dummies = [_dummy(a) for a in atoms]
        with np.errstate(all="ignore"):
            try:
                out = prim.run(dummies, kwargs)
            except np.linalg.LinAlgError:  # zero matrices are singular: identities stand in for them
                out = prim.run([_identity_dummy(a, d) for a, d in zip(atoms, dummies)], kwargs)
        arr = np.asarray(out)
        views = isinstance(out, np.ndarray) and any(
            isinstance(a, Var) and np.may_share_memory(out, d) for a, d in zip(atoms, dummies)
        )
        var = self.graph.new_var(arr.shape, arr.dtype)
        self.graph.nodes.append(Node(prim, atoms, dict(kwargs), var, views))
        return JitTracer(self, var)

    # -- Parameters: implicit inputs and state writes --------------------------------------------
    def read_param(self, param: Parameter):
        current = self._current.get(id(param))
        if current is None:
            data = param._data
            var = self.graph.new_var(data.shape, data.dtype)
            self.graph.params.append((param, var))
            self._known[var.id] = data
            current = self._current[id(param)] = JitTracer(self, var)
        return current

    def write_param(self, param: Parameter, data) -> None:
        if isinstance(data, Parameter):
            data = data._current()
        while isinstance(data, Tracer) and data._trace is not self:
            data = data._value  # drop the tracers of transforms running inside jit, as set_data does eagerly
        dtype = param._data.dtype
        if isinstance(data, JitTracer):
            if data.dtype != dtype:
                data = cast(data, dtype)
        else:
            data = Tensor._wrap(np.array(data._data if isinstance(data, Tensor) else data, dtype=dtype))
        self._current[id(param)] = data if isinstance(data, JitTracer) else self._constant_tracer(data)
        self._written[id(param)] = (param, data)

    def _constant_tracer(self, value: Tensor):
        """Reads after a write of a constant see that constant, routed through an identity node."""
        return self.process(stop_gradient, (value,), {})

    def writes(self) -> list:
        return [(p, self.atom(v)) for p, v in self._written.values()]


class _Hooks:
    """Installs the trace's Parameter hooks for the duration of tracing, restoring whatever was there."""

    def __init__(self, trace: JitTrace):
        self.trace = trace

    def __enter__(self):
        self.saved = parameter_hooks.read, parameter_hooks.write
        parameter_hooks.read, parameter_hooks.write = self.trace.read_param, self.trace.write_param

    def __exit__(self, *exc):
        parameter_hooks.read, parameter_hooks.write = self.saved
        return False


def trace_function(fn, name: str, leaves: list, is_array: list, rebuild, trace: JitTrace | None = None) -> Graph:
    """Trace ``fn`` on abstract stand-ins for the array leaves; ``rebuild(leaves)`` gives (args, kwargs). ``trace``: a
    fresh ``JitTrace`` (or subclass) to record into, for a caller that watches the ops as they come (torch_ref.mirror)."""
    trace = trace if trace is not None else JitTrace(name)
    rng_state = global_rng().bit_generator.state
    with scope(trace), _Hooks(trace):
        traced = [trace.new_input(v) if arr else v for v, arr in zip(leaves, is_array)]
        args, kwargs = rebuild(traced)
        out = fn(*args, **kwargs)
        if global_rng().bit_generator.state != rng_state:
            warnings.warn(
                f"funcad.jit: {name!r} drew from funcad's global random generator while being traced (an initialiser or a shuffle?); "
                "the numbers drawn are constants of the compiled program, reused by every call, unlike eager execution",
                RuntimeWarning,
                stacklevel=3,
            )
        out_leaves, out_tree = pytree.flatten(out)
        graph = trace.graph
        graph.outputs = [trace.atom(o) if isinstance(o, (Tensor, np.ndarray)) else o for o in out_leaves]
        graph.out_tree = out_tree
        graph.writes = trace.writes()
    return graph

