"""Compile-time choices: nodes whose primitive declares ``tune`` get the keyword arguments it picks for their inputs.

``tune(types, kwargs)`` receives the (shape, dtype) of each argument and the node's keyword arguments and
returns the ones to replace (the convolutions choose their ``algorithm``: the eager default, a pinned one,
or with ``conv_algorithm="benchmark"`` the fastest measured, cached per signature). The choice is then an
ordinary keyword argument of the node: it shows in ``lower().as_text()`` and the generated code calls it.
"""

from __future__ import annotations

from funcad.jit.ir import Graph


def tune(graph: Graph) -> Graph:
    for node in graph.nodes:
        choose = getattr(node.prim, "tune", None)
        if choose is not None:
            node.kwargs = {**node.kwargs, **choose([(a.shape, a.dtype) for a in node.args], node.kwargs)}
    return graph
