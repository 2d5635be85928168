"""Graph passes: constant folding, algebraic simplification, common subexpressions, dead code.

Each pass walks the node list once with plain loops and a substitution table (variable id ->
replacement atom); the replacements keep the value bit for bit (x * 1, x + 0, the transpose
of a transpose, a reshape/cast/broadcast to what the value already is), so a compiled
program computes what eager execution computes.
"""

from __future__ import annotations

import numpy as np

from funcad.jit.ir import Const, Graph, Node, Var
from funcad.ops import linalg as _linalg
from funcad.ops import math as _math
from funcad.ops import shape as _shape

# Ops that broadcast their array arguments against each other, numpy-style.
BROADCASTING = frozenset({_math.add, _math.subtract, _math.multiply, _math.divide, _math.maximum, _math.minimum, _math.power,
                          _math.where})


def _resolve(atom, subst: dict):
    return subst.get(atom.id, atom) if isinstance(atom, Var) else atom


def _resolve_results(graph: Graph, subst: dict) -> None:
    graph.outputs = [_resolve(o, subst) if isinstance(o, Var) else o for o in graph.outputs]
    inputs = {id(p): v for p, v in graph.params}
    writes = []
    for p, a in graph.writes:
        a = _resolve(a, subst)
        if a is not inputs.get(id(p)):  # writing back the value read is no write at all
            writes.append((p, a))
    graph.writes = writes


def _rewrite(graph: Graph, rule) -> None:
    """Apply ``rule(node, producer)`` to each node; a returned atom replaces the node's output."""
    subst: dict = {}
    producer: dict = {}
    kept = []
    for node in graph.nodes:
        node.args = tuple(_resolve(a, subst) for a in node.args)
        replacement = rule(node, producer)
        if replacement is not None:
            subst[node.out.id] = replacement
            continue
        producer[node.out.id] = node
        kept.append(node)
    graph.nodes = kept
    _resolve_results(graph, subst)


# -- constant folding -------------------------------------------------------------------------
def _fold(node, producer):
    if node.args and all(isinstance(a, Const) for a in node.args):
        return Const(node.prim.run([a.value for a in node.args], node.kwargs))
    return None


def fold_constants(graph: Graph) -> None:
    """Evaluate nodes whose arguments are all constants once, at compile time."""
    _rewrite(graph, _fold)


# -- algebraic simplification ----------------------------------------------------------------------
def _same_type(atom, out: Var) -> bool:
    return isinstance(atom, Var) and atom.shape == out.shape and atom.dtype == out.dtype


def _permutation(axes, ndim: int) -> tuple:
    return tuple(range(ndim))[::-1] if axes is None else tuple(axes)


def _simplify_transpose(node, producer):
    x, axes = node.args
    perm = _permutation(axes.value, node.out.ndim)
    inner = producer.get(x.id) if isinstance(x, Var) else None
    if inner is not None and inner.prim is _shape._transpose:
        first = _permutation(inner.args[1].value, node.out.ndim)
        perm = tuple(first[i] for i in perm)
        x = inner.args[0]
        node.args = (x, Const(perm))
    return x if perm == tuple(range(node.out.ndim)) and _same_type(x, node.out) else None


def _simplify_identity_arith(node):
    prim, out = node.prim, node.out
    x, y = node.args
    if prim is _math.multiply:
        if isinstance(y, Const) and y.fills_with(1) and _same_type(x, out):
            return x
        if isinstance(x, Const) and x.fills_with(1) and _same_type(y, out):
            return y
    elif prim is _math.add:
        if isinstance(y, Const) and y.fills_with(0) and _same_type(x, out):
            return x
        if isinstance(x, Const) and x.fills_with(0) and _same_type(y, out):
            return y
    elif prim is _math.subtract:
        if isinstance(y, Const) and y.fills_with(0) and _same_type(x, out):
            return x
    elif prim is _math.divide:
        if isinstance(y, Const) and y.fills_with(1) and _same_type(x, out):
            return x
    return None


def _drop_explicit_broadcasts(node, producer) -> None:
    """``add(broadcast_to(b, s), x)`` -> ``add(b, x)`` when numpy's own broadcasting gives the same shape."""
    args = list(node.args)
    for i, a in enumerate(args):
        src = producer.get(a.id) if isinstance(a, Var) else None
        if src is None or src.prim is not _shape.broadcast_to:
            continue
        trial = args[:i] + [src.args[0]] + args[i + 1 :]
        if np.broadcast_shapes(*(t.shape for t in trial)) == node.out.shape:
            args = trial
    node.args = tuple(args)


def _drop_mask_casts(node, producer) -> None:
    """``x * cast(mask, float)`` -> ``x * mask`` for a boolean mask: numpy converts it exactly, one pass fewer."""
    x, y = node.args
    for i, (a, other) in enumerate(((x, y), (y, x))):
        src = producer.get(a.id) if isinstance(a, Var) else None
        if src is None or src.prim is not _shape.cast or src.args[0].dtype != np.bool_:
            continue
        if _same_type(other, node.out) and np.issubdtype(other.dtype, np.floating):
            node.args = (src.args[0], other) if i == 0 else (other, src.args[0])
            return


def _simplify(node, producer):
    prim, args, out = node.prim, node.args, node.out
    if prim is _shape.stop_gradient:
        return args[0]
    if prim is _shape.cast:
        return args[0] if _same_type(args[0], out) else None
    if prim is _shape.reshape or prim is _shape.broadcast_to or prim is _shape.sum_to:
        x = args[0]
        inner = producer.get(x.id) if isinstance(x, Var) else None
        if prim is _shape.reshape and inner is not None and inner.prim is _shape.reshape:
            x = inner.args[0]
            node.args = (x, args[1])
        return x if _same_type(x, out) else None
    if prim is _shape._transpose:
        return _simplify_transpose(node, producer)
    if prim in BROADCASTING:
        _drop_explicit_broadcasts(node, producer)
        if len(node.args) == 2:
            if prim is _math.multiply:
                _drop_mask_casts(node, producer)
            return _simplify_identity_arith(node)
    return None


def simplify(graph: Graph) -> None:
    """Remove what differentiation leaves behind: identities, double transposes, explicit broadcasts."""
    _rewrite(graph, _simplify)


# -- transposed products ------------------------------------------------------------------------------
def _is_matrix_transpose(node) -> bool:
    return node.prim is _shape._transpose and node.out.ndim == 2 and _permutation(node.args[1].value, 2) == (1, 0)


def transpose_products(graph: Graph) -> None:
    """``transpose(a @ b)`` -> ``b.T @ a.T`` for matrices, so a weight gradient comes out in the weight's layout.

    The transposed result is then C-contiguous and the optimizer's elementwise update streams through
    memory instead of striding across it. BLAS computes every element from the same products either way.
    """
    uses: dict = {}
    for node in graph.nodes:
        for a in node.args:
            if isinstance(a, Var):
                uses[a.id] = uses.get(a.id, 0) + 1
    producer = {}
    kept = []

    def transposed(a):
        src = producer.get(a.id)
        if src is not None and _is_matrix_transpose(src):
            return src.args[0]
        node = Node(_shape._transpose, (a, Const(None)), {}, graph.new_var(a.shape[::-1], a.dtype), True)
        kept.append(node)
        return node.out

    for node in graph.nodes:
        src = producer.get(node.args[0].id) if node.args and isinstance(node.args[0], Var) else None
        if _is_matrix_transpose(node) and src is not None and src.prim is _linalg.matmul and uses.get(src.out.id) == 1 \
                and all(isinstance(a, Var) and a.ndim == 2 for a in src.args):
            a, b = src.args
            node = Node(_linalg.matmul, (transposed(b), transposed(a)), {}, node.out, False)
        producer[node.out.id] = node
        kept.append(node)
    graph.nodes = kept


# -- common subexpressions ------------------------------------------------------------------------
def _freeze(value):
    """A hashable stand-in for an op's static argument (slices and lists are not hashable)."""
    if isinstance(value, (tuple, list)):
        return (type(value).__name__,) + tuple(_freeze(v) for v in value)
    if isinstance(value, slice):
        return ("slice", _freeze(value.start), _freeze(value.stop), _freeze(value.step))
    if isinstance(value, dict):
        return ("dict",) + tuple((k, _freeze(v)) for k, v in value.items())
    if isinstance(value, (np.ndarray, np.generic)):
        return ("array", id(value))
    try:
        hash(value)
    except TypeError:
        return ("object", id(value))
    return (type(value).__name__, value)


def _atom_key(atom):
    return ("var", atom.id) if isinstance(atom, Var) else _freeze(atom.value)


def eliminate_common_subexpressions(graph: Graph) -> None:
    """Compute each distinct (op, arguments) once; later copies reuse the first result."""
    seen: dict = {}

    def rule(node, producer):
        key = (id(node.prim), tuple(_atom_key(a) for a in node.args), _freeze(node.kwargs))
        first = seen.get(key)
        if first is not None:
            return first
        seen[key] = node.out
        return None

    _rewrite(graph, rule)


# -- dead code ---------------------------------------------------------------------------------------
def eliminate_dead_code(graph: Graph) -> None:
    """Drop nodes no output or state write depends on (e.g. gradients nobody uses)."""
    live = {a.id for a in graph.results() if isinstance(a, Var)}
    kept = []
    for node in reversed(graph.nodes):
        if node.out.id in live:
            kept.append(node)
            live.update(a.id for a in node.args if isinstance(a, Var))
    kept.reverse()
    graph.nodes = kept


PASSES = {
    "fold": fold_constants,
    "simplify": simplify,
    "cse": eliminate_common_subexpressions,
    "transpose_products": transpose_products,
    "dce": eliminate_dead_code,
}


def optimize(graph: Graph, passes=tuple(PASSES)) -> Graph:
    """Run the named passes (all by default) twice in PASSES order: rewrites of the first round expose the second's."""
    unknown = set(passes) - set(PASSES)
    if unknown:
        raise ValueError(f"funcad.jit: unknown passes {sorted(unknown)}; known: {', '.join(PASSES)}")
    for _ in range(2):
        for name, run in PASSES.items():
            if name in passes:
                run(graph)
    return graph
