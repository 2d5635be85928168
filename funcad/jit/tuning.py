"""Compile-time choices: a node whose primitive declares ``tune`` gets the keyword arguments it picks.

``tune(node)`` reads the node's arguments (their shapes and dtypes) and keyword arguments and returns the keyword
arguments to replace (the convolutions choose their ``algorithm``: the eager default, a pinned one, or with
``conv_algorithm="benchmark"`` the fastest measured, cached per signature). The choice is then an ordinary keyword
argument of the node: it shows in ``lower().as_text()`` and the generated code passes it to the primitive's impl.
"""

from __future__ import annotations

from funcad.jit.ir import Graph


def tune(graph: Graph) -> Graph:
    for node in graph.nodes:
        choose = node.prim.tune
        if choose is not None:
            node.kwargs = {**node.kwargs, **choose(node)}
    return graph
