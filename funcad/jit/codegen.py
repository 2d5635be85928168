"""Code generation: a graph becomes one straight-line Python function that calls numpy directly.

A primitive that declares an emitter gets its numpy call written inline (``v7 = np.matmul(v3, v5.T)``);
any other calls its own forward ``impl`` (bound in the function's namespace), so every op compiles.
Which ops are elementwise or take ``out=`` is read from the primitives' declarations too. The source is compiled once per input signature.
"""

from __future__ import annotations

import itertools
import linecache
import math

import numpy as np

from funcad.jit.ir import Const, Graph, Node, Var

_program_ids = itertools.count()


def takes_out(node: Node) -> bool:
    """Whether the node's inline expression accepts ``out=`` (declared by its primitive, per node if it depends)."""
    declared = node.prim.takes_out
    return declared(node) if callable(declared) else bool(declared)


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

    def zeros(self, shape: tuple, dtype) -> str:
        """Name of a read-only zero array of this shape and dtype, one per program."""
        key = ("zeros", shape, np.dtype(dtype))
        name = self._names.get(key)
        if name is None:
            value = np.zeros(shape, dtype)
            value.flags.writeable = False
            name = self._names[key] = f"z{len(self._names)}"
            self.namespace[name] = value
        return name

    def scratch(self, shape: tuple, dtype) -> str:
        """Name of a working array of this shape and dtype, one per program, for a temporary that dies inside the
        expression that makes it."""
        key = ("scratch", shape, np.dtype(dtype))
        name = self._names.get(key)
        if name is None:
            name = self._names[key] = f"m{len(self._names)}"
            self.namespace[name] = np.empty(shape, dtype)
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

    def expression(self, node: Node, out: str | None = None) -> str:
        args = [self.ref(a) for a in node.args]
        if self.emits_inline(node):
            expr = node.prim.emit(args, node, out, self)
            if expr is not None:
                return expr
        impl = self.bind(node.prim.impl, "f")
        kwargs = "".join(f", {k}={self.literal(v)}" for k, v in node.kwargs.items())
        return f"{impl}({', '.join(args)}{kwargs})"

    def aside_call(self, node: Node) -> str:
        """The node's ``impl`` handed to the call's runner of its primitive's ``aside`` class: the variable holds a task
        until waited for."""
        args = "".join(f", {self.ref(a)}" for a in node.args)
        kwargs = "".join(f", {k}={self.literal(v)}" for k, v in node.kwargs.items())
        return f"{self.runner(node.prim.aside)}.submit({self.bind(node.prim.impl, 'f')}{args}{kwargs})"

    def runner(self, runner_class) -> str:
        """Name of the variable holding the call's instance of ``runner_class`` (made where the program starts)."""
        return "aside" + self.bind(runner_class, "r")

    @staticmethod
    def emits_inline(node: Node) -> bool:
        return bool(node.prim.emit) and not node.kwargs


def _write_expressions(graph: Graph, em: Emitter) -> tuple[list[str], dict]:
    """Expressions for the written values, and the writes that may land in a recycled array.

    Values that might be shared are copied, as set_data copies. A value computed by an ``out=``-capable
    node into a fresh array may instead be computed into a *spare*: an earlier value of that Parameter
    that nothing else references any more (checked after every call, see ``Program``).
    """
    producer = {n.out.id: n for n in graph.nodes}
    viewing = {n.out.id for n in graph.nodes if n.views} | {v.id for v in graph.inputs} | {v.id for _, v in graph.params}
    taken = {o.id for o in graph.outputs if isinstance(o, Var)}
    exprs, spares = [], {}
    for k, (p, a) in enumerate(graph.writes):
        ref = em.ref(a)
        if isinstance(a, Const) or a.id in viewing or a.id in taken:
            exprs.append(f"np.array({ref}, dtype={em.literal(p._data.dtype)})")
        elif a.shape == ():
            exprs.append(f"np.asarray({ref})")
        else:
            exprs.append(ref)
            node = producer[a.id]
            if em.emits_inline(node) and takes_out(node) and a.dtype == p._data.dtype:
                spares[a.id] = k
        if isinstance(a, Var):
            taken.add(a.id)
    return exprs, spares


def aside_joins(graph: Graph) -> dict:
    """{index of a node run aside: index of the first node reading its value (the node count: only returned)}.

    A primitive declaring ``aside`` (a convolution's weight gradient) runs on another core from where the program
    reaches it until that first reader, which waits for it (the declared class runs it: ``Primitive`` says how).
    """
    readers: dict = {}
    for i, node in enumerate(graph.nodes):
        for a in node.args:
            if isinstance(a, Var):
                readers.setdefault(a.id, i)
    return {i: readers.get(node.out.id, len(graph.nodes)) for i, node in enumerate(graph.nodes) if node.runs_aside}


def _liveness(graph: Graph, roots: tuple = ()) -> tuple[dict, dict, dict]:
    """(index of each Var's last use, the memory roots each Var lives in, index of each root's last use).

    Every op's output is a root of its own unless the op makes a view, which lives in its inputs' roots; the Vars in
    ``roots`` (inputs, say) are roots too. A use at the node count means the value is returned. A node run aside uses
    its arguments until its value is waited for, so no buffer they live in is written over while it runs.
    """
    nodes = graph.nodes
    joins = aside_joins(graph)
    last: dict = {}
    for i, node in enumerate(nodes):
        for a in node.args:
            if isinstance(a, Var):
                last[a.id] = max(last.get(a.id, -1), joins.get(i, i))
    for a in graph.results():
        if isinstance(a, Var):
            last[a.id] = len(nodes)
    holds: dict = {v.id: {v.id} for v in roots}
    for node in nodes:
        if node.views:
            holds[node.out.id] = {r for a in node.args if isinstance(a, Var) for r in holds.get(a.id, ())}
        else:
            holds[node.out.id] = {node.out.id}
    root_last: dict = {}
    for var_id, i in last.items():
        for r in holds.get(var_id, ()):
            root_last[r] = max(root_last.get(r, -1), i)
    return last, holds, root_last


class BufferPlan:
    """Preallocated arrays the program writes intermediates into (``out=``), reused call after call.

    Liveness is tracked per memory root: a view (reshape, transpose, ...) keeps its base alive.
    A buffer is free again once every value living in it has had its last use; an elementwise op
    may write over an input that dies at that very op. Values that leave the program (outputs and
    written Parameters) always get fresh arrays, so nothing a caller holds is ever overwritten.
    """

    def __init__(self, graph: Graph, em: Emitter, enabled: bool = True):
        nodes = graph.nodes
        end = len(nodes)
        last, holds, root_last = _liveness(graph)
        dying: dict = {}
        for r, i in root_last.items():
            dying.setdefault(i, []).append(r)
        self.out_of: dict = {}  # node index -> buffer name
        self.buffers: dict = {}  # buffer name -> (shape, dtype)
        self.drop_after: dict = {}  # node index -> names of fresh intermediates last used there
        free: dict = {}
        in_buffer: dict = {}
        for i, node in enumerate(nodes):
            released = [in_buffer[r] for r in dying.get(i, ()) if r in in_buffer]
            out = node.out
            planned = enabled and em.emits_inline(node) and takes_out(node) and out.shape != () and root_last.get(out.id, end) < end
            if planned and node.prim.elementwise:
                self._release(free, released)
                released = []
            if planned:
                pool = free.get((out.shape, out.dtype))
                name = pool.pop() if pool else self._new(out)
                in_buffer[out.id] = self.out_of[i] = name
            self._release(free, released)
        for var_id, i in last.items():
            if i < end and var_id not in in_buffer and var_id in holds:
                self.drop_after.setdefault(i, []).append(f"v{var_id}")

    def _new(self, var: Var) -> str:
        name = f"b{len(self.buffers)}"
        self.buffers[name] = (var.shape, var.dtype)
        return name

    def _release(self, free: dict, names: list) -> None:
        for name in names:
            free.setdefault(self.buffers[name], []).append(name)

    def allocate(self, namespace: dict) -> None:
        for name, (shape, dtype) in self.buffers.items():
            namespace[name] = np.empty(shape, dtype)


def _overwritable(graph: Graph, spare_of: dict) -> list[bool]:
    """Per spare: may the Parameter's current array itself receive its new value? Yes when the program reads the old
    value (directly or through a view) no later than the elementwise op computing the new one, or not at all, and
    every later op is inline numpy arithmetic that cannot fail on values (so a failing call never leaves a
    Parameter half updated). The caller still checks at run time that nothing outside holds that array."""
    last = _liveness(graph, tuple(v for _, v in graph.params))[2]
    read_as = {id(p): v.id for p, v in graph.params}
    made_at = {node.out.id: i for i, node in enumerate(graph.nodes)}
    nodes = graph.nodes
    safe_from = len(nodes)  # nodes[safe_from:] cannot raise, nor return early on a guard
    while safe_from > 0 and nodes[safe_from - 1].prim.emit:
        safe_from -= 1
    guarded = {a.id for a, _ in graph.guards}
    safe_from = max([safe_from] + [i + 2 for i, node in enumerate(nodes) if node.out.id in guarded])
    flags = []
    for var_id, k in spare_of.items():
        p = graph.writes[k][0]
        i = made_at[var_id]
        last_read = last.get(read_as.get(id(p)), -1)
        reads_done = last_read < i or (last_read == i and nodes[i].prim.elementwise)
        flags.append(reads_done and i + 1 >= safe_from)
    return flags


def _guard_checks(graph: Graph) -> dict:
    """Lines returning None (this program does not apply) when a guarded condition differs from its traced value,
    keyed by the id of the Var computing it, written right after it (key None: inputs, checked first)."""
    made = {node.out.id for node in graph.nodes}
    checks: dict = {}
    for a, value in graph.guards:
        test = f"not v{a.id}" if value else f"v{a.id}"
        checks.setdefault(a.id if a.id in made else None, []).append(f"    if {test}:\n        return None")
    return checks


def generate(graph: Graph, buffers: bool = True) -> tuple[str, dict, list[tuple[int, bool]]]:
    """Source of ``program(*inputs, *params, *spares)`` returning (array outputs..., written values...), or None
    when a guard fails (nothing has been written then).

    Also returns, per spare argument, the index of the write it may receive and whether that Parameter's current
    array may be passed as the spare (see ``_overwritable``). ``buffers=False`` turns buffer planning and spares off
    (every value gets a fresh array), for comparison.
    """
    em = Emitter()
    plan = BufferPlan(graph, em, enabled=buffers)
    plan.allocate(em.namespace)
    writes, spare_of = _write_expressions(graph, em)
    if not buffers:
        spare_of = {}
    spare_name = {var_id: f"s{i}" for i, var_id in enumerate(spare_of)}
    params = [f"v{v.id}" for v in graph.inputs] + [f"v{v.id}" for _, v in graph.params] + list(spare_name.values())
    checks = _guard_checks(graph)
    lines = checks.pop(None, [])
    joins = aside_joins(graph)
    waits: dict = {}
    for i, j in joins.items():
        waits.setdefault(j, []).append(f"    v{graph.nodes[i].out.id} = v{graph.nodes[i].out.id}.result()")
    for i, node in enumerate(graph.nodes):
        lines += waits.get(i, [])
        out = plan.out_of.get(i, spare_name.get(node.out.id))
        expression = em.aside_call(node) if i in joins else em.expression(node, out)
        lines.append(f"    v{node.out.id} = {expression}")
        lines += checks.get(node.out.id, [])
        if i in plan.drop_after:
            lines.append(f"    del {', '.join(plan.drop_after[i])}")
    lines += waits.get(len(graph.nodes), [])
    results = [em.ref(o) for o in graph.outputs if isinstance(o, Var)] + writes
    lines.append(f"    return ({''.join(r + ', ' for r in results)})")
    if joins:  # the tasks run aside are all waited for however the call ends
        runners = list(dict.fromkeys(em.runner(graph.nodes[i].prim.aside) for i in joins))
        body = ["    " + part for line in lines for part in line.split("\n")]
        lines = [f"    {name} = {name[len('aside'):]}()" for name in runners] + ["    try:"] + body + ["    finally:"]
        lines += [f"        {name}.close()" for name in runners]
    lines.insert(0, f"def program({', '.join(params)}):")
    return "\n".join(lines) + "\n", em.namespace, list(zip(spare_of.values(), _overwritable(graph, spare_of)))


def compile_graph(graph: Graph, buffers: bool = True):
    """Compile the generated source; it is registered with linecache so tracebacks show it."""
    source, namespace, spare_writes = generate(graph, buffers)
    filename = f"<funcad.jit {graph.name} #{next(_program_ids)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)
    return namespace["program"], source, spare_writes
