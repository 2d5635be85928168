"""Flatten nested tuples, lists and dicts into leaves and rebuild them (a pytree).

Written as module-level functions (no self-referencing closures), so a flatten leaves no
reference cycle behind that would keep traced values alive until the next garbage collection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# A treedef is a hashable description: "*" for a leaf, None for None, or (kind, keys, children).
LEAF = "*"


def _walk(node, leaves: list):
    if node is None:
        return None
    if isinstance(node, (tuple, list)):
        kind = type(node) if type(node) in (tuple, list) else tuple
        return (kind, None, tuple(_walk(c, leaves) for c in node))
    if isinstance(node, dict):
        keys = tuple(node.keys())
        return (dict, keys, tuple(_walk(node[k], leaves) for k in keys))
    leaves.append(node)
    return LEAF


def flatten(tree: Any) -> tuple[list, Any]:
    leaves: list = []
    return leaves, _walk(tree, leaves)


def _build(td, it):
    if td is None:
        return None
    if td == LEAF:
        return next(it)
    kind, keys, children = td
    built = [_build(c, it) for c in children]
    if kind is dict:
        return dict(zip(keys, built))
    return kind(built)


def unflatten(treedef: Any, leaves) -> Any:
    return _build(treedef, iter(leaves))


def tree_map(fn: Callable, tree: Any) -> Any:
    leaves, treedef = flatten(tree)
    return unflatten(treedef, [fn(leaf) for leaf in leaves])
