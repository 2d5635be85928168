"""``funcad.export`` and ``funcad.load``: a Cell's compiled forward graph on disk, run again by ``nn.GraphCell``.

The file is a zip archive (written whole or not at all) with two members: ``graph.json``, the graph ``funcad.jit``
traces and optimises for the given inputs (inputs, weights by name, one node per primitive application, outputs;
every pass but epilogue fusion, whose fused ops have no derivatives), and ``weights.npz``, the weights and array
constants. Nothing is pickled: primitives are stored by name and looked up among funcad's primitives when loading,
and every value in the graph is a number, string, tuple (or a named tuple class of funcad, by name), slice, dtype or
array. The forward is traced with the Cell in evaluation mode; a graph that would change a Parameter
(BatchNorm's statistics in training mode) is refused.

``file_format`` 'FUNCAD' writes ``<file_name>.funcad``; 'MINDIR' is accepted so MindSpore code runs unchanged and
writes the same funcad format under ``<file_name>.mindir`` (it is not MindSpore's protobuf MindIR).
"""

from __future__ import annotations

import importlib
import io
import json
import os
import pkgutil
import tempfile
import zipfile

import numpy as np

import funcad.core
import funcad.ops
from funcad.core.dtypes import DType
from funcad.core.primitive import Primitive
from funcad.core.tensor import Tensor
from funcad.jit.api import Jitted
from funcad.jit.ir import Const, Var
from funcad.jit.passes import PASSES
from funcad.nn.cell import Cell
from funcad.nn.graph_cell import Graph, GraphCell, GraphNode

FORMAT = "funcad-graph"
VERSION = 1
_SUFFIXES = {"FUNCAD": ".funcad", "MINDIR": ".mindir"}


def _primitives() -> dict:
    """Every primitive of funcad by name (the modules of funcad.ops and funcad.core)."""
    found: dict = {}
    for package in (funcad.ops, funcad.core):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            for value in vars(importlib.import_module(info.name)).values():
                if isinstance(value, Primitive):
                    found.setdefault(value.name, set()).add(value)
    return found


def _unique_primitive(name: str, registry: dict) -> Primitive:
    candidates = registry.get(name, set())
    if len(candidates) != 1:
        why = "is not a module-level primitive of funcad" if not candidates else "names several primitives"
        raise ValueError(f"funcad.export: op {name!r} {why}; such a graph cannot be saved by name")
    return next(iter(candidates))


class _Encoder:
    """Graph values to JSON; arrays go to the npz member under generated keys."""

    def __init__(self):
        self.arrays: dict = {}

    def value(self, v, where: str):
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int):
            return v
        if isinstance(v, float):
            return v if np.isfinite(v) else {"float": repr(v)}
        if isinstance(v, tuple) and hasattr(type(v), "_fields"):
            cls = type(v)
            if not cls.__module__.startswith("funcad."):
                raise ValueError(f"funcad.export: {where} holds a {cls.__name__}, a named tuple from outside funcad")
            return {"namedtuple": [f"{cls.__module__}:{cls.__qualname__}", [self.value(x, where) for x in v]]}
        if isinstance(v, (tuple, list)):
            return {"tuple" if isinstance(v, tuple) else "list": [self.value(x, where) for x in v]}
        if isinstance(v, slice):
            return {"slice": [self.value(v.start, where), self.value(v.stop, where), self.value(v.step, where)]}
        if v is Ellipsis:
            return {"ellipsis": True}
        if isinstance(v, (np.dtype, DType)) or (isinstance(v, type) and issubclass(v, np.generic)):
            return {"dtype": np.dtype(v).str}
        if isinstance(v, (np.ndarray, np.generic, Tensor)):
            key = f"const{len(self.arrays)}"
            self.arrays[key] = np.asarray(v)
            return {"array": key}
        raise ValueError(f"funcad.export: {where} holds a {type(v).__name__}, which the graph format cannot store")


def _decode(v, arrays):
    if not isinstance(v, dict):
        return v
    (kind, body), = v.items()
    if kind in ("tuple", "list"):
        items = [_decode(x, arrays) for x in body]
        return tuple(items) if kind == "tuple" else items
    if kind == "namedtuple":
        return _named_tuple(body[0])(*(_decode(x, arrays) for x in body[1]))
    if kind == "slice":
        return slice(*(_decode(x, arrays) for x in body))
    if kind == "ellipsis":
        return Ellipsis
    if kind == "dtype":
        return np.dtype(body)
    if kind == "array":
        return arrays[body]
    if kind == "float":
        return float(body)
    raise ValueError(f"funcad.load: unknown value kind {kind!r}")


def _named_tuple(where: str) -> type:
    """A named tuple class of funcad's own (an op's static argument, such as a convolution's geometry)."""
    module_name, _, qualname = where.partition(":")
    if not module_name.startswith("funcad."):
        raise ValueError(f"funcad.load: {where!r} is not a funcad type")
    cls = importlib.import_module(module_name)
    for part in qualname.split("."):
        cls = getattr(cls, part, None)
    if not (isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")):
        raise ValueError(f"funcad.load: {where!r} is not a named tuple of funcad")
    return cls


def _tree_to_json(tree):
    if tree is None or isinstance(tree, str):
        return tree
    kind, keys, children = tree
    return {"kind": kind.__name__, "keys": list(keys) if keys is not None else None, "children": [_tree_to_json(c) for c in children]}


def _tree_from_json(tree):
    if tree is None or isinstance(tree, str):
        return tree
    kind = {"tuple": tuple, "list": list, "dict": dict}[tree["kind"]]
    keys = tuple(tree["keys"]) if tree["keys"] is not None else None
    return (kind, keys, tuple(_tree_from_json(c) for c in tree["children"]))


def export(net: Cell, *inputs, file_name: str, file_format: str = "FUNCAD") -> str:
    """Trace ``net`` on ``inputs`` (Tensors or arrays: their shapes and dtypes become the graph's) and write the
    graph and weights to ``file_name`` plus the format's suffix; returns the path written."""
    if not isinstance(net, Cell):
        raise TypeError(f"funcad.export: net must be a Cell, got {type(net).__name__}")
    if file_format not in _SUFFIXES:
        raise ValueError(f"funcad.export: file_format must be one of {', '.join(_SUFFIXES)}, got {file_format!r}")
    if not inputs:
        raise ValueError("funcad.export: give example inputs; their shapes and dtypes fix the graph's")
    for i, x in enumerate(inputs):
        if not isinstance(x, (Tensor, np.ndarray)):
            raise TypeError(f"funcad.export: input {i} must be a Tensor or an array, got {type(x).__name__}")
    with net.training_mode(False):
        # Unfused (funcad.jit.fusion): a loaded graph stays differentiable, and each op is one a reader knows.
        traced = Jitted(lambda *xs: net(*xs), passes=tuple(p for p in PASSES if p != "fuse"))
        traced.__name__ = type(net).__name__
        graph = traced.lower(*inputs).graph
    if graph.guards:
        raise ValueError(f"funcad.export: {type(net).__name__}'s forward branches in Python on a Tensor's value "
                         f"({len(graph.guards)} guarded condition(s)); the graph format holds one straight-line path, so "
                         "export a forward that picks values with ops.where instead")
    if graph.writes:
        names = ", ".join(p.name for p, _ in graph.writes)
        raise ValueError(f"funcad.export: {type(net).__name__}'s forward changes Parameters ({names}); export a Cell "
                         "whose evaluation-mode forward only reads its state")
    registry = _primitives()
    enc = _Encoder()

    def atom(a, where):
        if isinstance(a, Var):
            return {"var": a.id}
        return {"const": enc.value(a.value if isinstance(a, Const) else a, where)}

    nodes = []
    for node in graph.nodes:
        where = f"op {node.prim.name!r}"
        _unique_primitive(node.prim.name, registry)
        nodes.append({"op": node.prim.name, "args": [atom(a, where) for a in node.args],
                      "kwargs": {k: enc.value(v, where) for k, v in node.kwargs.items()}, "out": node.out.id})
    weights = {p.name: np.asarray(p._data) for p, _ in graph.params}
    outputs = [atom(o, "an output") for o in graph.outputs]
    doc = {
        "format": FORMAT, "version": VERSION, "name": graph.name,
        "inputs": [{"var": v.id, "shape": list(v.shape), "dtype": v.dtype.name} for v in graph.inputs],
        "params": [{"var": v.id, "name": p.name} for p, v in graph.params],
        "nodes": nodes, "outputs": outputs, "out_tree": _tree_to_json(graph.out_tree),
    }
    path = os.fspath(file_name)
    if not path.endswith(_SUFFIXES[file_format]):
        path += _SUFFIXES[file_format]
    _write_archive(path, json.dumps(doc), {**{f"weight:{k}": v for k, v in weights.items()}, **enc.arrays})
    return path


def _write_archive(path: str, graph_json: str, arrays: dict) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".export-", suffix=".tmp")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("graph.json", graph_json)
            archive.writestr("weights.npz", buffer.getvalue())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load(file_name: str, **kwargs) -> GraphCell:
    """Read a file written by ``funcad.export`` into a ``nn.GraphCell`` that runs the graph (MindSpore's ``load``
    returns a graph for ``nn.GraphCell``; ``nn.GraphCell(funcad.load(path))`` works too)."""
    path = os.fspath(file_name)
    try:
        with zipfile.ZipFile(path) as archive:
            doc = json.loads(archive.read("graph.json"))
            with np.load(io.BytesIO(archive.read("weights.npz")), allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise FileNotFoundError(f"funcad.load: no such file {path!r}") from None
    except (zipfile.BadZipFile, KeyError, ValueError) as err:
        raise ValueError(f"funcad.load: {path!r} is not a graph written by funcad.export ({err})") from None
    if doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise ValueError(f"funcad.load: {path!r} holds format {doc.get('format')!r} version {doc.get('version')!r}, "
                         f"not {FORMAT!r} version {VERSION}")
    registry = _primitives()

    def atom(a):
        return ("var", a["var"]) if "var" in a else ("const", _decode(a["const"], arrays))

    nodes = tuple(GraphNode(_unique_primitive(n["op"], registry), tuple(atom(a) for a in n["args"]),
                            {k: _decode(v, arrays) for k, v in n["kwargs"].items()}, n["out"]) for n in doc["nodes"])
    graph = Graph(
        name=doc["name"],
        inputs=tuple((i["var"], tuple(i["shape"]), i["dtype"]) for i in doc["inputs"]),
        params=tuple((p["var"], p["name"]) for p in doc["params"]),
        weights={p["name"]: arrays[f"weight:{p['name']}"] for p in doc["params"]},
        nodes=nodes, outputs=tuple(atom(o) for o in doc["outputs"]), out_tree=_tree_from_json(doc["out_tree"]),
    )
    return GraphCell(graph)
