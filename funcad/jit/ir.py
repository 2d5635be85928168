"""The graph IR a jitted function is traced into: variables, constants, nodes, and its printed form.

A graph is a straight line of nodes in creation order, which is a topological order: every
pass walks it front to back (or back to front) with plain loops, never recursion.
"""

from __future__ import annotations

import numpy as np


class Var:
    """An abstract array: only its shape and dtype are known while tracing."""

    __slots__ = ("id", "shape", "dtype")
    is_var = True

    def __init__(self, id: int, shape: tuple, dtype: np.dtype):
        self.id = id
        self.shape = shape
        self.dtype = dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __repr__(self) -> str:
        return f"v{self.id}"


class Const:
    """A value known while tracing: an array captured by closure, or a Python literal argument."""

    __slots__ = ("value",)
    is_var = False

    def __init__(self, value):
        self.value = value

    @property
    def shape(self) -> tuple:
        return tuple(np.shape(self.value))

    @property
    def dtype(self) -> np.dtype:
        return np.asarray(self.value).dtype

    def fills_with(self, number) -> bool:
        """Whether every element equals ``number`` (literal 1.0 counts as ones)."""
        v = self.value
        if isinstance(v, bool) or v is None:
            return False
        if isinstance(v, (int, float)):
            return v == number
        return isinstance(v, (np.ndarray, np.generic)) and bool(np.all(np.asarray(v) == number))

    def __repr__(self) -> str:
        v = self.value
        if isinstance(v, (np.ndarray, np.generic)):
            arr = np.asarray(v)
            if arr.size <= 4:
                return f"{type_text(arr.shape, arr.dtype)}{arr.tolist()}"
            return f"const {type_text(arr.shape, arr.dtype)}"
        return repr(v)


class Node:
    """One primitive application: ``out = prim(*args, **kwargs)``.

    ``views`` is True when numpy returns a view of (or the very) input array, which buffer
    planning must know: the input's memory stays in use as long as the view does.
    """

    __slots__ = ("prim", "args", "kwargs", "out", "views")

    def __init__(self, prim, args: tuple, kwargs: dict, out: Var, views: bool):
        self.prim = prim
        self.args = args
        self.kwargs = kwargs
        self.out = out
        self.views = views

    @property
    def runs_aside(self) -> bool:
        """Whether the program hands this node to another core (its primitive's ``aside`` class judges it worth it)."""
        aside = self.prim.aside
        return aside is not None and aside.worth(self)

    def text(self) -> str:
        args = ", ".join(repr(a) for a in self.args)
        kw = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.out!r}: {type_text(self.out.shape, self.out.dtype)} = {self.prim.name}({args}{kw})"


class Graph:
    """A traced function: inputs (array arguments, then Parameters read), nodes, outputs and state writes."""

    def __init__(self, name: str):
        self.name = name
        self.inputs: list[Var] = []
        self.params: list = []  # [(Parameter, Var)] in first-read order; they follow ``inputs``
        self.nodes: list[Node] = []
        self.outputs: list = []  # the output pytree's leaves: Var, Const, or a static Python value
        self.out_tree = None
        self.writes: list = []  # [(Parameter, Var or Const)]: the Parameter's value after the call
        self.guards: list = []  # [(Var, bool)]: Python branched on bool(Var) while tracing; the program assumes it again
        self._next_id = 0

    def new_var(self, shape, dtype) -> Var:
        var = Var(self._next_id, tuple(shape), np.dtype(dtype))
        self._next_id += 1
        return var

    def results(self) -> list:
        """Every atom the program hands back or checks: array outputs, written values, then guarded conditions."""
        return [o for o in self.outputs if isinstance(o, (Var, Const))] + [a for _, a in self.writes] + [a for a, _ in self.guards]

    def as_text(self) -> str:
        head = ", ".join(f"{v!r}: {type_text(v.shape, v.dtype)}" for v in self.inputs)
        lines = [f"graph {self.name}({head}) {{"]
        for p, v in self.params:
            lines.append(f"  {v!r}: {type_text(v.shape, v.dtype)} = param {p.name!r}")
        lines += ["  " + n.text() for n in self.nodes]
        outs = ", ".join(repr(o) for o in self.outputs)
        lines.append(f"  return ({outs})")
        lines += [f"  write {p.name!r} <- {a!r}" for p, a in self.writes]
        lines += [f"  guard bool({a!r}) is {value}" for a, value in self.guards]
        lines.append("}")
        return "\n".join(lines)


_SHORT = {"float16": "f16", "float32": "f32", "float64": "f64", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
          "uint8": "u8", "bool": "bool"}


def type_text(shape: tuple, dtype) -> str:
    name = np.dtype(dtype).name
    return f"{_SHORT.get(name, name)}[{','.join(str(n) for n in shape)}]"
