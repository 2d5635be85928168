"""Reverse mode: a trace that records each op as a node, and the backward pass over it.

Nodes are numbered as they are created, so creation order is a topological order:
the backward pass visits the nodes that receive a cotangent by descending number,
from a heap (no recursion), and drops each cotangent once it has been passed on.
"""

from __future__ import annotations

import itertools
from heapq import heappop, heappush

from funcad.core import hooks
from funcad.core.base_ops import unbroadcast
from funcad.core.complex_parts import is_complex, real
from funcad.core.tensor import Tensor
from funcad.core.trace import Trace, Tracer

_node_ids = itertools.count()


class VJPTracer(Tracer):
    """A value under reverse-mode tracing, and the node that produced it."""

    __slots__ = ("_prim", "_parents", "_args", "_kwargs", "_id")


_new_tracer = object.__new__


def _node(trace, value, prim=None, parents=(), args=(), kwargs=None) -> VJPTracer:
    """A VJPTracer numbered in creation order (one plain call: this runs for every op under a transform)."""
    node = _new_tracer(VJPTracer)
    node._trace, node._value, node._prim, node._parents, node._args, node._kwargs = trace, value, prim, parents, args, kwargs
    node._id = next(_node_ids)
    return node


class VJPTrace(Trace):
    __slots__ = ()

    def new_input(self, value) -> VJPTracer:
        return _node(self, value)

    def process(self, prim, args, kwargs):
        if not self.alive:  # a tracer that escaped its finished transform is just its value
            return prim(*[a._value if a.__class__ is VJPTracer and a._trace is self else a for a in args], **kwargs)
        inner = []
        raw = []  # the values' arrays, while no tracer of a lower level is among them
        parents = []
        vjps = prim.vjps
        n_rules = len(vjps)
        plain = True  # no tracer of a lower level left: run the forward directly, skipping a second dispatch
        for i, a in enumerate(args):
            if a.__class__ is VJPTracer and a._trace is self:
                if i < n_rules:
                    if vjps[i] is not None:  # None: declared to take no gradient
                        parents.append((i, a))
                elif prim.differentiable is not False:  # no rule: an error if a cotangent ever reaches it
                    parents.append((i, a))
                a = a._value
            if plain:
                if a.__class__ is Tensor:
                    raw.append(a._data)
                elif isinstance(a, Tensor):
                    plain = False
                else:
                    raw.append(a)
            inner.append(a)
        ans = prim.run_arrays(raw, kwargs) if plain else prim(*inner, **kwargs)
        if not parents:
            return ans
        return _node(self, ans, prim, tuple(parents), tuple(inner), kwargs)


_EMPTY: dict = {}


class _Cotangents:
    """Cotangents waiting to be passed on, keyed by node number, and a max-heap of those numbers."""

    __slots__ = ("values", "nodes", "heap")

    def __init__(self):
        self.values: dict = {}
        self.nodes: dict = {}
        self.heap: list = []

    def add(self, node: VJPTracer, g) -> None:
        k = node._id
        prev = self.values.get(k)
        if prev is None:
            self.values[k], self.nodes[k] = g, node
            heappush(self.heap, -k)
        else:
            self.values[k] = prev + g

    def pop_latest(self) -> tuple:
        k = -heappop(self.heap)
        return self.nodes.pop(k), self.values.pop(k)


def backward(trace: VJPTrace, seeds) -> dict:
    """Propagate ``seeds`` [(tracer, cotangent), ...] back to the inputs.

    A node enters a max-heap of creation numbers when it first receives a cotangent; popping the highest number
    first means every consumer of a node (created after it) has passed its share on before the node is processed.
    Only nodes that receive a cotangent are visited. Returns {id(input tracer): cotangent} for the trace's input
    nodes that were reached.
    """
    waiting = _Cotangents()
    for t, g in seeds:
        if t.__class__ is VJPTracer and t._trace is trace:
            waiting.add(t, g)
    inputs = {}
    run_hooks = hooks.run_tensor_hooks if hooks.tensor_hooks else None  # read once: hooks are registered before the backward pass
    while waiting.heap:
        node, g = waiting.pop_latest()
        if run_hooks is not None:
            g = run_hooks(node, g)
        prim = node._prim
        if prim is None:
            inputs[id(node)] = g
            continue
        vjps = prim.vjps
        broadcasts, complex_op = prim.broadcasts, prim.complex
        ans, args, kwargs = node._value, node._args, node._kwargs or _EMPTY
        for argnum, parent in node._parents:
            try:
                rule = vjps[argnum]
            except IndexError:
                raise missing_rule(prim, argnum, "reverse-mode (VJP)") from None
            gi = rule(g, ans, *args, **kwargs)
            if gi is not None:
                # A real argument of a complex op takes the real part of its cotangent. A plain Tensor's dtype is read
                # inline: add and multiply declare ``complex``, so this runs on most edges.
                if complex_op and (gi._data.dtype.kind == "c" if gi.__class__ is Tensor else is_complex(gi)) and not is_complex(parent._value):
                    gi = real(gi)
                if broadcasts:  # plain Tensors' shapes read off their arrays: a property call per edge costs more
                    value = parent._value
                    shape = value._data.shape if value.__class__ is Tensor else value.shape
                    if (gi._data.shape if gi.__class__ is Tensor else gi.shape) != shape:
                        gi = unbroadcast(gi, shape)  # a shape given as a list still compares as a tuple there
                waiting.add(parent, gi)
    return inputs


def missing_rule(prim, argnum: int, mode: str) -> NotImplementedError:
    return NotImplementedError(
        f"funcad.ops.{prim.name}: no {mode} rule for argument {argnum}; give the primitive one, or declare it "
        "nondifferentiable() if its output is a constant by nature")
