"""``mindspore.ops.composite``, which MindSpore code imports as ``C``: ``GradOperation``, and the function-mapping
helpers MindSpore's optimizers and training cells are written with, ``MultitypeFuncGraph``, ``HyperMap`` and ``Map``.

In MindSpore these build graphs; here they are their Python meaning: a function dispatched on its arguments' kinds,
and a map over (nested) tuples.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from funcad.core.tensor import Tensor
from funcad.ops.aliases import clip_by_global_norm, clip_by_value  # C.clip_by_value and C.clip_by_global_norm, as MindSpore's clip_ops
from funcad.ops.grad_operation import GradOperation

__all__ = ["GradOperation", "MultitypeFuncGraph", "HyperMap", "Map", "clip_by_value", "clip_by_global_norm"]


def _kinds(value) -> tuple[str, ...]:
    """MindSpore's type names ``value`` matches, the most specific first ('Tensor' also for numpy arrays)."""
    if isinstance(value, (Tensor, np.ndarray)):
        return ("Tensor",)
    if isinstance(value, (bool, np.bool_)):
        return ("Bool", "Number")
    if isinstance(value, (int, float, np.number)):
        return ("Number",)
    kinds = {str: "String", tuple: "Tuple", list: "List", dict: "Dict", type(None): "None"}
    kind = next((name for cls, name in kinds.items() if isinstance(value, cls)), None)
    return (kind,) if kind else ("Function",) if callable(value) else (type(value).__name__,)


class MultitypeFuncGraph:
    """A function with one implementation per combination of argument kinds, registered by MindSpore's type names::

        apply_decay = C.MultitypeFuncGraph("apply_decay")

        @apply_decay.register("Number", "Tensor", "Tensor")
        def _(weight_decay, weight, gradient): ...
    """

    def __init__(self, name: str, read_value: bool = False):
        self.name = name
        self._entries: list[tuple[tuple[str, ...], Callable]] = []

    def register(self, *type_names: str) -> Callable[[Callable], Callable]:
        def add(fn: Callable) -> Callable:
            self._entries.append((tuple(type_names), fn))
            return fn
        return add

    def __call__(self, *args):
        kinds = [_kinds(a) for a in args]
        for names, fn in self._entries:
            if len(names) == len(args) and all(n in k for n, k in zip(names, kinds)):
                return fn(*args)
        registered = "; ".join(", ".join(names) for names, _ in self._entries) or "nothing"
        raise TypeError(f"MultitypeFuncGraph {self.name!r}: no implementation for arguments of kinds "
                        f"({', '.join(k[0] for k in kinds)}); registered: {registered}")


class Map:
    """``Map(fn)(*sequences)`` (or ``Map()(fn, *sequences)``): ``fn`` applied to the sequences' items in step, as a tuple."""

    recursive = False

    def __init__(self, ops: Callable | None = None):
        self.ops = ops

    def __call__(self, *args):
        fn, sequences = (self.ops, args) if self.ops is not None else (args[0], args[1:])
        return self._map(fn, sequences)

    def _map(self, fn: Callable, args: tuple):
        sequences = [a for a in args if isinstance(a, (tuple, list))]
        if not sequences:
            return fn(*args)
        lengths = {len(s) for s in sequences}
        if len(lengths) != 1 or len(sequences) != len(args):
            raise ValueError(f"{type(self).__name__}: arguments must all be sequences of one length, got "
                             f"{[len(a) if isinstance(a, (tuple, list)) else type(a).__name__ for a in args]}")
        step = self._map if self.recursive else (lambda f, items: f(*items))
        return tuple(step(fn, items) for items in zip(*args))


class HyperMap(Map):
    """``Map`` that also maps into nested tuples and lists, down to their leaves."""

    recursive = True
