"""Flatten nested tuples, lists and dicts into leaves and rebuild them (a pytree)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# A treedef is a hashable description: "*" for a leaf, None for None, or (kind, keys, children).
LEAF = "*"


def flatten(tree: Any) -> tuple[list, Any]:
    leaves: list = []

    def walk(node):
        if node is None:
            return None
        if isinstance(node, (tuple, list)):
            kind = type(node) if type(node) in (tuple, list) else tuple
            return (kind, None, tuple(walk(c) for c in node))
        if isinstance(node, dict):
            keys = tuple(node.keys())
            return (dict, keys, tuple(walk(node[k]) for k in keys))
        leaves.append(node)
        return LEAF

    return leaves, walk(tree)


def unflatten(treedef: Any, leaves) -> Any:
    it = iter(leaves)

    def build(td):
        if td is None:
            return None
        if td == LEAF:
            return next(it)
        kind, keys, children = td
        built = [build(c) for c in children]
        if kind is dict:
            return dict(zip(keys, built))
        return kind(built)

    return build(treedef)


def tree_map(fn: Callable, tree: Any) -> Any:
    leaves, treedef = flatten(tree)
    return unflatten(treedef, [fn(leaf) for leaf in leaves])
