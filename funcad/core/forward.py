"""Forward mode: a trace whose tracers carry a primal and a tangent of the same shape.

A tangent contribution whose shape a broadcast changed (the op declares ``broadcasts``) is broadcast to
the output's shape here, once,
not by each rule; an input reaching an op with no rule for it raises, naming the op and the argument.
"""

from __future__ import annotations

from funcad.core.base_ops import broadcast_like
from funcad.core.reverse import missing_rule
from funcad.core.trace import Trace, Tracer


class JVPTracer(Tracer):
    __slots__ = ("_tangent",)

    def __init__(self, trace, value, tangent):
        self._trace = trace
        self._value = value
        self._tangent = tangent


class JVPTrace(Trace):
    __slots__ = ()

    def new_input(self, value, tangent) -> JVPTracer:
        return JVPTracer(self, value, tangent)

    def process(self, prim, args, kwargs):
        if not self.alive:  # a tracer that escaped its finished transform is just its value
            return prim(*[a._value if isinstance(a, JVPTracer) and a._trace is self else a for a in args], **kwargs)
        primals = []
        tangents = []
        for i, a in enumerate(args):
            if isinstance(a, JVPTracer) and a._trace is self:
                tangents.append((i, a._tangent))
                a = a._value
            primals.append(a)
        ans = prim(*primals, **kwargs)
        if prim.differentiable is False:
            return ans
        jvps = prim.jvps
        out_tangent = None
        for i, t in tangents:
            if i >= len(jvps):
                raise missing_rule(prim, i, "forward-mode (JVP)")
            rule = jvps[i]
            contribution = None if rule is None else rule(t, ans, *primals, **kwargs)
            if contribution is not None:
                if prim.broadcasts:
                    contribution = broadcast_like(contribution, ans.shape)
                out_tangent = contribution if out_tangent is None else out_tangent + contribution
        if out_tangent is None:
            return ans
        return JVPTracer(self, ans, out_tangent)
