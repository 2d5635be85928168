"""Epilogue fusion: elementwise steps on an op's output folded into the op's own output pass.

A node whose primitive declares an ``epilogue`` (the convolution) absorbs the chain of elementwise nodes that
follows it (a bias or BatchNorm scale and shift, a ReLU, a residual add) while each intermediate value has that
chain as its only use: the chain's last node becomes one node of the epilogue primitive, which runs the steps on
each block of the output while it is in cache. Steps keep the intermediate's shape and dtype (a step that
broadcasts the value up or casts it ends the chain), and each is the step's own primitive applied elementwise, so
the fused node computes the unfused values bit for bit.

Not fused: BatchNorm's training statistics (a sum over the whole output, which must exist before the normalisation
can start, and which summed block by block would round differently from numpy's pairwise sum).
"""

from __future__ import annotations

from typing import NamedTuple

from funcad.jit.ir import Graph, Node, Var


class Step(NamedTuple):
    """One elementwise step of an epilogue: ``prim`` with the running value at ``position`` (and the next operand at
    the other position when ``takes_operand``)."""

    prim: object
    position: int
    takes_operand: bool
    kwargs: tuple

    def __repr__(self) -> str:
        return f"{self.prim.name}{('(_, y)', '(y, _)')[self.position == 0] if self.takes_operand else ''}"


def _use_counts(graph: Graph) -> dict:
    uses: dict = {}
    for node in graph.nodes:
        for a in node.args:
            if isinstance(a, Var):
                uses[a.id] = uses.get(a.id, 0) + 1
    for a in graph.results():
        if isinstance(a, Var):
            uses[a.id] = uses.get(a.id, 0) + 2  # a value leaving the program is never an intermediate
    return uses


def _step(node: Node, value: Var):
    """(step, operand) when ``node`` can run as a step on ``value`` in place, else None."""
    if not node.prim.elementwise or node.out.shape != value.shape or node.out.dtype != value.dtype:
        return None
    positions = [i for i, a in enumerate(node.args) if isinstance(a, Var) and a.id == value.id]
    if len(positions) != 1 or len(node.args) > 2:
        return None
    position = positions[0]
    operand = node.args[1 - position] if len(node.args) == 2 else None
    return Step(node.prim, position, operand is not None, tuple(node.kwargs.items())), operand


def fuse_epilogues(graph: Graph) -> None:
    """Fold single-use elementwise chains into the nodes before them that declare an ``epilogue``."""
    uses = _use_counts(graph)
    kept: list = []
    open_at: dict = {}  # id of a value an epilogue may take on -> index in kept of the node making it
    for node in graph.nodes:
        for a in node.args:
            at = open_at.pop(a.id, None) if isinstance(a, Var) else None
            if at is None:
                continue
            head = kept[at]
            found = _step(node, head.out)
            if found is not None:
                step, operand = found
                kwargs = {"steps": (), **head.kwargs}
                kwargs["steps"] = kwargs["steps"] + (step,)
                node = Node(head.prim.epilogue, head.args + ((operand,) if operand is not None else ()), kwargs, node.out, False)
                kept[at] = None
            break  # a value is used once: no other argument can be an open one
        if node.prim.epilogue is not None and uses.get(node.out.id) == 1:
            open_at[node.out.id] = len(kept)
        kept.append(node)
    graph.nodes = [n for n in kept if n is not None]
