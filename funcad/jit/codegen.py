"""Code generation: a graph becomes one straight-line Python function that calls numpy directly.

Common primitives get an emitter writing the numpy call inline (``v7 = np.matmul(v3, v5.T)``);
any other primitive calls its own forward ``impl`` (bound in the function's namespace), so every
op in funcad.ops compiles. The source is compiled once per input signature.
"""

from __future__ import annotations

import itertools
import linecache
import math

import numpy as np

from funcad.jit.ir import Const, Graph, Node, Var
from funcad.ops import linalg as _linalg
from funcad.ops import math as _math
from funcad.ops import reduce as _reduce
from funcad.ops import shape as _shape

_program_ids = itertools.count()


def _ufunc(name: str, arity: int):
    def emit(a, node, em):
        return f"np.{name}({', '.join(a)})" if len(a) == arity else None

    return emit


def _transpose(a, node, em):
    x, axes = a[0], node.args[1].value
    if axes is None or tuple(axes) == tuple(range(node.out.ndim))[::-1]:
        return f"{x}.T"
    return f"{x}.transpose({tuple(axes)!r})"


def _sum(a, node, em):
    axis, keepdims = node.args[1].value, node.args[2].value
    return f"np.add.reduce({a[0]}, axis={em.literal(axis)}, keepdims={bool(keepdims)})"


def _sum_to(a, node, em):
    x = node.args[0]
    shape = node.out.shape
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    if axes == tuple(range(lead)):
        return f"np.add.reduce({a[0]}, axis={axes!r})"
    return f"np.add.reduce({a[0]}, axis={axes!r}, keepdims=True).reshape({shape!r})"


# Emitters take (argument expressions, node, emitter) and return an expression, or None to fall back.
EMITTERS = {
    _math.add: _ufunc("add", 2),
    _math.subtract: _ufunc("subtract", 2),
    _math.multiply: _ufunc("multiply", 2),
    _math.divide: _ufunc("divide", 2),
    _math.negative: _ufunc("negative", 1),
    _math.power: _ufunc("power", 2),
    _math.maximum: _ufunc("maximum", 2),
    _math.minimum: _ufunc("minimum", 2),
    _math.exp: _ufunc("exp", 1),
    _math.log: _ufunc("log", 1),
    _math.sqrt: _ufunc("sqrt", 1),
    _math.tanh: _ufunc("tanh", 1),
    _math.square: _ufunc("square", 1),
    _math.where: _ufunc("where", 3),
    _math.relu: lambda a, node, em: f"np.maximum({a[0]}, 0)",
    _linalg.matmul: _ufunc("matmul", 2),
    _shape.reshape: lambda a, node, em: f"{a[0]}.reshape({node.out.shape!r})",
    _shape._transpose: _transpose,
    _shape.broadcast_to: lambda a, node, em: f"np.broadcast_to({a[0]}, {node.out.shape!r})",
    _shape.sum_to: _sum_to,
    _shape.cast: lambda a, node, em: f"{a[0]}.astype({em.literal(np.dtype(node.args[1].value))}, copy=False)",
    _reduce._sum: _sum,
}
# Emitters above that read static arguments positionally need them given positionally.
_STATIC_POSITIONS = {_shape._transpose: 2, _reduce._sum: 3, _shape.cast: 2, _shape.reshape: 2, _shape.broadcast_to: 2, _shape.sum_to: 2}


class Emitter:
    """Collects names for constants and impls; literals that print exactly are written inline."""

    def __init__(self):
        self.namespace: dict = {"np": np}
        self._names: dict = {}

    def bind(self, value, prefix: str) -> str:
        key = id(value)
        name = self._names.get(key)
        if name is None:
            name = self._names[key] = f"{prefix}{len(self._names)}"
            self.namespace[name] = value
        return name

    def literal(self, value) -> str:
        if value is None or isinstance(value, (bool, int, str)):
            return repr(value)
        if type(value) is float and math.isfinite(value):
            return repr(value)
        if isinstance(value, tuple) and all(type(v) is int for v in value):
            return repr(value)
        return self.bind(value, "c")

    def ref(self, atom) -> str:
        return f"v{atom.id}" if isinstance(atom, Var) else self.literal(atom.value)

    def expression(self, node: Node) -> str:
        args = [self.ref(a) for a in node.args]
        emit = EMITTERS.get(node.prim)
        if emit is not None and not node.kwargs and len(node.args) == _STATIC_POSITIONS.get(node.prim, len(node.args)):
            expr = emit(args, node, self)
            if expr is not None:
                return expr
        impl = self.bind(node.prim.impl, "f")
        kwargs = "".join(f", {k}={self.literal(v)}" for k, v in node.kwargs.items())
        return f"{impl}({', '.join(args)}{kwargs})"


def _write_expressions(graph: Graph, em: Emitter) -> list[str]:
    """Expressions for the written values: copies where the array might be shared, as set_data copies."""
    viewing = {n.out.id for n in graph.nodes if n.views} | {v.id for v in graph.inputs} | {v.id for _, v in graph.params}
    taken = {o.id for o in graph.outputs if isinstance(o, Var)}
    exprs = []
    for p, a in graph.writes:
        ref = em.ref(a)
        if isinstance(a, Const) or a.id in viewing or a.id in taken:
            exprs.append(f"np.array({ref}, dtype={em.literal(p._data.dtype)})")
        elif a.shape == ():
            exprs.append(f"np.asarray({ref})")
        else:
            exprs.append(ref)
        if isinstance(a, Var):
            taken.add(a.id)
    return exprs


def generate(graph: Graph) -> tuple[str, dict]:
    """Python source of ``program(*inputs, *params)`` returning (array outputs..., written values...)."""
    em = Emitter()
    params = [f"v{v.id}" for v in graph.inputs] + [f"v{v.id}" for _, v in graph.params]
    lines = [f"def program({', '.join(params)}):"]
    lines += [f"    v{n.out.id} = {em.expression(n)}" for n in graph.nodes]
    results = [em.ref(o) for o in graph.outputs if isinstance(o, Var)]
    results += _write_expressions(graph, em)
    lines.append(f"    return ({''.join(r + ', ' for r in results)})")
    return "\n".join(lines) + "\n", em.namespace


def compile_graph(graph: Graph):
    """Compile the generated source; it is registered with linecache so tracebacks show it."""
    source, namespace = generate(graph)
    filename = f"<funcad.jit {graph.name} #{next(_program_ids)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)
    return namespace["program"], source
