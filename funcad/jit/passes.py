"""Graph passes: constant folding, algebraic simplification, common subexpressions, dead code, and epilogue fusion
(``funcad.jit.fusion``).

Each pass walks the node list once with plain loops and a substitution table (variable id ->
replacement atom); the replacements keep the value bit for bit (x * 1, x + 0, the transpose
of a transpose, a reshape/cast/broadcast to what the value already is), so a compiled
program computes what eager execution computes. What applies to a node is read from its
primitive's declarations (``identities``, ``broadcasts``, ``simplify``, ``role``): the
rewrites are a table of patterns, not a list of ops.
"""

from __future__ import annotations

import numpy as np

from funcad.jit.fusion import fuse_epilogues
from funcad.jit.ir import Const, Graph, Node, Var


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
    # a condition that folded to a constant was true or false at trace time and stays so: no check left to make
    graph.guards = [(a, value) for a, value in ((_resolve(a, subst), value) for a, value in graph.guards) if isinstance(a, Var)]


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


def _is(producer: dict, atom, role: str):
    """The node making ``atom`` when its primitive plays ``role`` (see Primitive.role), else None."""
    src = producer.get(atom.id) if isinstance(atom, Var) else None
    return src if src is not None and src.prim.role == role else None


def _compose_permutations(node, producer):
    """transpose(transpose(x, p), q) -> transpose(x, p[q]); nothing at all when the result is the identity."""
    x, axes = node.args
    perm = _permutation(axes.value, node.out.ndim)
    inner = _is(producer, x, "transpose")
    if inner is not None:
        first = _permutation(inner.args[1].value, node.out.ndim)
        perm = tuple(first[i] for i in perm)
        x = inner.args[0]
        node.args = (x, Const(perm))
    return x if perm == tuple(range(node.out.ndim)) and _same_type(x, node.out) else None


def _identity_operand(node, producer):
    """``x * 1``, ``1 * x``, ``x + 0``, ``x - 0``, ``x / 1`` -> x, from the op's declared identities."""
    args = node.args
    if len(args) != 2:
        return None
    for position, value in node.prim.identities.items():
        c, other = args[position], args[1 - position]
        if isinstance(c, Const) and c.fills_with(value) and _same_type(other, node.out):
            return other
    return None


def _drop_explicit_broadcasts(node, producer):
    """``add(broadcast_to(b, s), x)`` -> ``add(b, x)`` when numpy's own broadcasting gives the same shape."""
    args = list(node.args)
    for i, a in enumerate(args):
        src = _is(producer, a, "broadcast")
        if src is None:
            continue
        trial = args[:i] + [src.args[0]] + args[i + 1 :]
        if np.broadcast_shapes(*(t.shape for t in trial)) == node.out.shape:
            args = trial
    node.args = tuple(args)


def _drop_mask_casts(node, producer):
    """``x * cast(mask, float)`` -> ``x * mask`` for a boolean mask: numpy converts it exactly, one pass fewer."""
    if len(node.args) != 2:
        return None
    x, y = node.args
    for i, (a, other) in enumerate(((x, y), (y, x))):
        src = _is(producer, a, "cast")
        if src is None or src.args[0].dtype != np.bool_:
            continue
        if _same_type(other, node.out) and np.issubdtype(other.dtype, np.floating):
            node.args = (src.args[0], other) if i == 0 else (other, src.args[0])
            return None
    return None


def _same_type_noop(node, producer):
    """A reshape, cast, broadcast or sum to the type the value already has is the value."""
    return node.args[0] if _same_type(node.args[0], node.out) else None


def _collapse_repeats(node, producer):
    """f(f(x, a), b) -> f(x, b) for an op whose second application overrides the first (reshape)."""
    x = node.args[0]
    inner = producer.get(x.id) if isinstance(x, Var) else None
    if inner is not None and inner.prim is node.prim:
        node.args = (inner.args[0],) + node.args[1:]
    return None


# Rewrite patterns by name: ``pattern(node, producer)`` returns an atom replacing the node's output, or None after
# perhaps rewriting the node's arguments in place. An op names the ones that apply in its ``simplify`` declaration;
# "identity_operand" applies wherever ``identities`` are declared, "drop_explicit_broadcasts" to elementwise ops
# that declare ``broadcasts``.
PATTERNS = {
    "passthrough": lambda node, producer: node.args[0],
    "collapse_repeats": _collapse_repeats,
    "same_type_noop": _same_type_noop,
    "compose_permutations": _compose_permutations,
    "drop_explicit_broadcasts": _drop_explicit_broadcasts,
    "drop_mask_casts": _drop_mask_casts,
    "identity_operand": _identity_operand,
}


def _patterns(prim) -> tuple:
    names = tuple(prim.simplify or ())
    if prim.broadcasts and prim.elementwise:
        names = ("drop_explicit_broadcasts",) + names
    if prim.identities:
        names = names + ("identity_operand",)
    return tuple(PATTERNS[n] for n in names)


def _simplify(node, producer):
    for pattern in _patterns(node.prim):
        replacement = pattern(node, producer)
        if replacement is not None:
            return replacement
    return None


def simplify(graph: Graph) -> None:
    """Remove what differentiation leaves behind: identities, double transposes, explicit broadcasts."""
    _rewrite(graph, _simplify)


# -- transposed products ------------------------------------------------------------------------------
def _is_matrix_transpose(node) -> bool:
    return node.prim.role == "transpose" and node.out.ndim == 2 and _permutation(node.args[1].value, 2) == (1, 0)


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

    def transposed(a, transpose):
        src = producer.get(a.id)
        if src is not None and _is_matrix_transpose(src):
            return src.args[0]
        node = Node(transpose, (a, Const(None)), {}, graph.new_var(a.shape[::-1], a.dtype), True)
        kept.append(node)
        return node.out

    for node in graph.nodes:
        src = producer.get(node.args[0].id) if node.args and isinstance(node.args[0], Var) else None
        if _is_matrix_transpose(node) and src is not None and src.prim.role == "matmul" and uses.get(src.out.id) == 1 \
                and all(isinstance(a, Var) and a.ndim == 2 for a in src.args):
            a, b = src.args
            node = Node(src.prim, (transposed(b, node.prim), transposed(a, node.prim)), {}, node.out, False)
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


def defer_aside_readers(graph: Graph) -> None:
    """Move the nodes reading a value run aside (``Primitive.aside``: a convolution's weight gradient), and everything
    after them in the data flow, behind every other node: the optimizer's update of a convolution's weight then waits
    for its gradient at the end of the backward pass, not as soon as the update of the layer before it is done, so
    the gradient has the rest of the pass to be computed in. Order among the moved nodes and among the others is kept."""
    late: set = set()
    early, moved = [], []
    for node in graph.nodes:
        if any(isinstance(a, Var) and a.id in late for a in node.args):
            late.add(node.out.id)
            moved.append(node)
        else:
            early.append(node)
        if node.runs_aside:
            late.add(node.out.id)
    graph.nodes = early + moved


PASSES = {
    "fold": fold_constants,
    "simplify": simplify,
    "cse": eliminate_common_subexpressions,
    "transpose_products": transpose_products,
    "dce": eliminate_dead_code,
    "fuse": fuse_epilogues,
    "defer_aside_readers": defer_aside_readers,
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
