"""GraphCell: a Cell that runs an exported graph (``funcad.load``), as MindSpore's ``nn.GraphCell`` runs a MindIR.

The graph is a straight line of primitive applications over its inputs, its weights (Parameters of this Cell,
named as in the exported Cell) and constants. Running it calls the same primitives, so a GraphCell is
differentiable with respect to its inputs and weights and can be compiled with ``funcad.jit``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from funcad.core import pytree
from funcad.core.tensor import Parameter, Tensor
from funcad.nn.cell import Cell


@dataclass(frozen=True)
class GraphNode:
    """``out = prim(*args, **kwargs)``; an argument is ``("var", id)`` or ``("const", value)``."""

    prim: object
    args: tuple
    kwargs: dict
    out: int


@dataclass(frozen=True)
class Graph:
    """What ``funcad.load`` reads: input specs, weights, nodes and outputs of an exported Cell."""

    name: str
    inputs: tuple  # ((var id, shape, dtype name), ...)
    params: tuple  # ((var id, parameter name), ...)
    weights: dict  # parameter name -> array
    nodes: tuple  # GraphNode, ...
    outputs: tuple  # ("var", id) or ("const", value), ...
    out_tree: object  # pytree structure of the outputs


class GraphCell(Cell):
    """Runs a loaded graph on inputs of the shapes and dtypes it was exported with; ``GraphCell(graph_cell)`` makes
    a new Cell running the same graph with its own copy of the weights."""

    def __init__(self, graph: Graph | GraphCell):
        super().__init__()
        if isinstance(graph, GraphCell):
            weights = {name: np.array(p._data) for name, p in graph.parameters_and_names()}
            graph = graph.graph
        elif isinstance(graph, Graph):
            weights = graph.weights
        else:
            raise TypeError(f"GraphCell: expected a graph from funcad.load, got {type(graph).__name__}")
        object.__setattr__(self, "graph", graph)
        for _, name in graph.params:
            self.insert_param_to_cell(name, Parameter(np.array(weights[name]), name=name))

    def construct(self, *inputs):
        graph = self.graph
        if len(inputs) != len(graph.inputs):
            raise TypeError(f"GraphCell '{graph.name}': takes {len(graph.inputs)} inputs, got {len(inputs)}")
        env = {}
        for i, (x, (var, shape, dtype)) in enumerate(zip(inputs, graph.inputs)):
            got = (tuple(np.shape(x)), np.dtype(getattr(x, "dtype", None) or np.asarray(x).dtype).name)
            if got != (tuple(shape), dtype):
                raise ValueError(f"GraphCell '{graph.name}': input {i} must be {dtype}{list(shape)} as exported, "
                                 f"got {got[1]}{list(got[0])}")
            env[var] = x if isinstance(x, Tensor) else Tensor(x)
        for var, name in graph.params:
            env[var] = self._params[name]
        for node in graph.nodes:
            args = [env[value] if kind == "var" else value for kind, value in node.args]
            env[node.out] = node.prim(*args, **node.kwargs)
        leaves = [env[value] if kind == "var" else value for kind, value in graph.outputs]
        return pytree.unflatten(graph.out_tree, leaves)
