"""Reverse mode: a trace that records each op as a node, and the backward pass over it.

Nodes are numbered as they are created, so creation order is a topological order:
the backward pass visits reachable nodes by descending number, with an explicit
stack (no recursion), and drops each cotangent once it has been passed on.
"""

from __future__ import annotations

import itertools
from operator import attrgetter

from funcad.core.tensor import Tensor
from funcad.core.trace import Trace, Tracer

_node_ids = itertools.count()


class VJPTracer(Tracer):
    """A value under reverse-mode tracing, and the node that produced it."""

    __slots__ = ("_prim", "_parents", "_args", "_kwargs", "_id")

    def __init__(self, trace, value, prim=None, parents=(), args=(), kwargs=None):
        self._trace = trace
        self._value = value
        self._prim = prim
        self._parents = parents
        self._args = args
        self._kwargs = kwargs
        self._id = next(_node_ids)


class VJPTrace(Trace):
    __slots__ = ()

    def new_input(self, value) -> VJPTracer:
        return VJPTracer(self, value)

    def process(self, prim, args, kwargs):
        if not self.alive:  # a tracer that escaped its finished transform is just its value
            return prim(*[a._value if a.__class__ is VJPTracer and a._trace is self else a for a in args], **kwargs)
        inner = []
        parents = []
        vjps = prim.vjps
        n_rules = len(vjps)
        plain = True  # no tracer of a lower level left: run the forward directly, skipping a second dispatch
        for i, a in enumerate(args):
            if a.__class__ is VJPTracer and a._trace is self:
                if i < n_rules and vjps[i] is not None:
                    parents.append((i, a))
                a = a._value
            if plain and isinstance(a, Tensor) and a.__class__ is not Tensor:
                plain = False
            inner.append(a)
        ans = prim.forward(inner, kwargs) if plain else prim(*inner, **kwargs)
        if not parents:
            return ans
        return VJPTracer(self, ans, prim, tuple(parents), tuple(inner), kwargs)


def _accumulate(table: dict, key: int, g) -> None:
    prev = table.get(key)
    table[key] = g if prev is None else prev + g


_EMPTY: dict = {}
_creation_id = attrgetter("_id")


def backward(trace: VJPTrace, seeds) -> dict:
    """Propagate ``seeds`` [(tracer, cotangent), ...] back to the inputs.

    Returns {id(input tracer): cotangent} for the trace's input nodes that were reached.
    """
    reached = {}
    stack = [t for t, _ in seeds if isinstance(t, VJPTracer) and t._trace is trace]
    while stack:
        node = stack.pop()
        key = id(node)
        if key in reached:
            continue
        reached[key] = node
        for _, parent in node._parents:
            if id(parent) not in reached:
                stack.append(parent)
    cotangents: dict = {}
    for t, g in seeds:
        if id(t) in reached:
            _accumulate(cotangents, id(t), g)
    inputs = {}
    order = sorted(reached.values(), key=_creation_id, reverse=True)
    del reached, stack
    for node in order:
        key = id(node)
        if node._prim is None:
            if key in cotangents:
                inputs[key] = cotangents[key]
            continue
        g = cotangents.pop(key, None)
        if g is None:
            continue
        vjps = node._prim.vjps
        ans, args, kwargs = node._value, node._args, node._kwargs or _EMPTY
        for argnum, parent in node._parents:
            gi = vjps[argnum](g, ans, *args, **kwargs)
            if gi is not None:
                pkey = id(parent)
                prev = cotangents.get(pkey)
                cotangents[pkey] = gi if prev is None else prev + gi
    return inputs
