"""Views in a replayed torch graph: an in-place write through a view reaches the tensor it views, as in torch.

torch's ``h[:, :2].mul_(2)``, ``h.view(-1).add_(1)`` or ``h.t().zero_()`` change ``h``; the funcad twin computes with
values, so ``_Program.run`` rebinds the written view and then, through this module, each tensor it is a view of: the
view's elements are located in its base by running the same view op on the base's flat positions
(``arange(base.size)``), and the base becomes its functional update at those positions (``ops._updated_at``), which
gradients and ``funcad.jit`` follow. Another view of the same tensor made before the write and read after it would
need storage shared between values: that is a ``TranslationError`` naming both nodes, never a silently stale value.
"""

from __future__ import annotations

import operator

import numpy as np
import torch
from torch import fx

from funcad import ops
from funcad.core.tensor import Tensor
from torch_ref.layer_table import TranslationError

# Tensor methods and torch functions whose result shares its input's storage (the first argument).
VIEW_METHODS = frozenset({"view", "view_as", "flatten", "unflatten", "squeeze", "unsqueeze", "transpose", "permute", "t", "narrow",
                          "select", "contiguous", "swapaxes", "swapdims", "movedim", "diagonal", "__getitem__"})
VIEW_FUNCTIONS = frozenset({operator.getitem, torch.flatten, torch.squeeze, torch.unsqueeze, torch.transpose, torch.permute, torch.t,
                            torch.narrow, torch.select, torch.swapaxes, torch.swapdims, torch.movedim, torch.diagonal})
# ... and those that share it only when torch finds strides for the result, which the twin cannot know for a view's view.
MAYBE_VIEW_METHODS = frozenset({"reshape", "reshape_as"})
MAYBE_VIEW_FUNCTIONS = frozenset({torch.reshape})


def _is_basic_index(index) -> bool:
    """Whether ``x[index]`` is a view in torch: ints, slices, None and Ellipsis only (tensor or list indices copy)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, slice, type(None), type(Ellipsis))) and not isinstance(i, bool) for i in items)


def view_kind(node: fx.Node) -> str | None:
    """"view" when ``node`` returns a view of its first argument, "maybe" when only for some strides, else None."""
    if node.op == "call_method":
        return "view" if node.target in VIEW_METHODS else "maybe" if node.target in MAYBE_VIEW_METHODS else None
    if node.op == "call_function":
        return "view" if node.target in VIEW_FUNCTIONS else "maybe" if node.target in MAYBE_VIEW_FUNCTIONS else None
    return None


class Aliases:
    """One replay's view links (node -> the node it views, recorded as nodes run) and the views a write left stale."""

    def __init__(self, where: str):
        self.where = where
        self.base_of: dict[str, fx.Node] = {}  # view node name -> base node
        self.view_node: dict[str, fx.Node] = {}
        self.stale: dict[str, str] = {}  # node name -> the in-place node after which its value is out of date

    def record(self, node: fx.Node, args: tuple, kwargs: dict) -> None:
        """Note ``node`` as a view of its first argument when torch's result would share that argument's storage."""
        kind = view_kind(node)
        if kind is None or not node.args or not isinstance(node.args[0], fx.Node) or not isinstance(args[0], (Tensor, np.ndarray)):
            return
        if node.target in (operator.getitem, "__getitem__") and not _is_basic_index(args[1] if len(args) > 1 else kwargs.get("idx")):
            return
        if kind == "maybe" and node.args[0].name in self.base_of:
            self.base_of[node.name] = None  # a write through it is refused (``write``)
        else:
            self.base_of[node.name] = node.args[0]
        self.view_node[node.name] = node

    def same_tensor(self, result_node: fx.Node, target: fx.Node) -> None:
        """An in-place op's result is the tensor it wrote (``y = h.add_(1)``): a later write through y reaches h."""
        self.base_of[result_node.name] = target
        self.view_node[result_node.name] = None

    def check(self, node: fx.Node) -> None:
        """Refuse to read a view a write has left out of date (``node``'s inputs; the output node's values too)."""
        for arg in node.all_input_nodes:
            if arg.name in self.stale:
                raise TranslationError(f"{self.where}: node {node.name!r} ({node.format_node()}) reads {arg.name!r}, a view of a tensor that "
                                       f"{self.stale[arg.name]!r} wrote in place through another view after {arg.name!r} was made; the funcad twin "
                                       "computes with values, not shared storage: make the view after the write, or write out of place")

    def write(self, writer: fx.Node, target: fx.Node, value, env: dict, load) -> list[fx.Node]:
        """Rebind ``target`` to ``value`` and every tensor it views to its update; returns the nodes rebound."""
        env[target.name] = value
        chain = [target]
        while target.name in self.base_of:
            base = self.base_of[target.name]
            if base is None:
                raise TranslationError(f"{self.where}: node {writer.name!r} ({writer.format_node()}) writes in place through "
                                       f"{target.name!r}, a reshape of a view, which torch copies or not by the view's strides: "
                                       "write through the view itself, or out of place")
            view = self.view_node[target.name]
            env[base.name] = value if view is None else self._updated_base(view, env[base.name], value, load)
            target, value = base, env[base.name]
            chain.append(target)
        root = chain[-1].name
        written = {n.name for n in chain}
        grew = True
        while grew:  # in-place results are the tensor they wrote: they see the write too
            same = [name for name, base in self.base_of.items()
                    if self.view_node[name] is None and base is not None and base.name in written and name not in written]
            for name in same:
                env[name] = env[self.base_of[name].name]
                written.add(name)
            grew = bool(same)
        for name in self.base_of:
            if name not in written and self._root(name) == root:
                self.stale[name] = writer.name
        for name in written:
            self.stale.pop(name, None)
        return chain

    def _root(self, name: str) -> str:
        while name in self.base_of and self.base_of[name] is not None:
            name = self.base_of[name].name
        return name

    def _updated_base(self, view: fx.Node, base, value, load):
        """``base`` with the elements ``view`` shows replaced by ``value``: the view op run on the base's flat positions
        says where each element of the view lies."""
        from torch_ref import from_torch

        shape = tuple(base.shape)
        positions = Tensor(np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape))
        args, kwargs = load(view.args), load(view.kwargs)
        method = view.target if view.op == "call_method" else None
        where = np.asarray(from_torch.funcad_call(from_torch.funcad_op(view.op, view.target), method, (positions, *args[1:]), kwargs))
        flat = where.reshape(-1)
        if np.unique(flat).size != flat.size:
            raise TranslationError(f"{self.where}: an in-place write through {view.name!r} ({view.format_node()}) reaches some elements "
                                   "of its base more than once")
        updated = ops._updated_at(ops.reshape(base, (-1,)), flat, ops.reshape(ops.cast(value, base.dtype), (-1,)))
        return ops.reshape(updated, shape)
