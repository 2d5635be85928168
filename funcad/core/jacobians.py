"""Jacobians and Hessians: vjp or jvp applied to every basis vector at once, through vmap.

``jacrev`` pulls back the rows of an identity the size of the outputs, ``jacfwd`` pushes forward the columns of one
the size of the inputs; the basis is one batched value, so a Jacobian costs one vectorised pass, not a Python loop.
Shapes follow JAX and MindSpore: for an output leaf of shape ``o`` and an input leaf of shape ``i`` the block has
shape ``o + i``; the result has the outputs' structure, each leaf holding the inputs' structure (one entry per
``grad_position`` when that is a tuple).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from funcad.core import pytree
from funcad.core.batching import vmap
from funcad.core.tensor import Tensor
from funcad.core.transforms import _as_input, _normalize_positions, _vjp, grad, jvp


class _Inputs:
    """The differentiated arguments of one call, flattened to leaves, and how to put leaves back."""

    def __init__(self, args: tuple, grad_position, fname: str):
        positions, self.bare = _normalize_positions(grad_position, fname)
        if not positions:
            raise ValueError(f"{fname}: grad_position must name at least one argument, got None")
        self.args = list(args)
        self.positions = []
        for p in positions:
            if not -len(args) <= p < len(args):
                raise ValueError(f"{fname}: grad_position {p} is out of range for a function called with {len(args)} arguments")
            self.positions.append(p % len(args))
        self.leaves, self.treedefs, self.counts = [], [], []
        for p in self.positions:
            leaves, treedef = pytree.flatten(self.args[p])
            self.leaves += [_as_input(v, fname, "argument at position {}", p) for v in leaves]
            self.treedefs.append(treedef)
            self.counts.append(len(leaves))

    def call(self, fn: Callable) -> Callable:
        """``fn`` as a function of the leaves alone."""

        def flat(*leaves):
            args = list(self.args)
            it = iter(leaves)
            for p, treedef, n in zip(self.positions, self.treedefs, self.counts):
                args[p] = pytree.unflatten(treedef, [next(it) for _ in range(n)])
            return fn(*args)

        return flat

    def regroup(self, per_leaf: list):
        """Values given per input leaf, in the inputs' structure (bare for one int grad_position)."""
        it = iter(per_leaf)
        grouped = [pytree.unflatten(td, [next(it) for _ in range(n)]) for td, n in zip(self.treedefs, self.counts)]
        return grouped[0] if self.bare else tuple(grouped)


def _basis(sizes: list, shapes: list, dtypes: list) -> list:
    """Rows of one identity matrix over all leaves, split per leaf and shaped (total, *leaf shape)."""
    total = sum(sizes)
    bounds = np.cumsum([0] + sizes)
    return [Tensor._wrap(np.eye(total, dtype=dt)[:, a:b].reshape((total,) + tuple(shape)))
            for a, b, shape, dt in zip(bounds[:-1], bounds[1:], shapes, dtypes)]


def _blocks(stacked: Tensor, sizes: list, block_shape: Callable) -> list:
    """Split ``stacked`` (total, ...) along its first axis into the per-leaf pieces, each reshaped by ``block_shape``."""
    bounds = np.cumsum([0] + sizes)
    return [block_shape(stacked[int(a):int(b)], k) for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))]


def jacrev(fn: Callable, grad_position: Any = 0, has_aux: bool = False) -> Callable:
    """Reverse-mode Jacobian of ``fn`` (MindSpore's ``mindspore.jacrev``): one vmapped pullback of the outputs' basis."""

    def jacobian(*args):
        inputs = _Inputs(args, grad_position, "jacrev")
        out, pullback, *aux = _vjp(inputs.call(fn), tuple(inputs.leaves), None, has_aux, "jacrev")
        out_leaves, out_def = pytree.flatten(out)
        sizes = [int(np.prod(o.shape, dtype=np.int64)) for o in out_leaves]
        basis = _basis(sizes, [o.shape for o in out_leaves], [o.dtype for o in out_leaves])
        rows = vmap(lambda *cot: pullback(pytree.unflatten(out_def, cot)))(*basis)  # per input leaf: (total, *leaf)
        per_input = [_blocks(r, sizes, lambda piece, k, leaf=leaf: piece.reshape(tuple(out_leaves[k].shape) + tuple(leaf.shape)))
                     for r, leaf in zip(rows, inputs.leaves)]
        jac = pytree.unflatten(out_def, [inputs.regroup([blocks[k] for blocks in per_input]) for k in range(len(out_leaves))])
        return (jac, aux[0]) if has_aux else jac

    jacobian.__name__ = f"jacrev({getattr(fn, '__name__', 'fn')})"
    return jacobian


def jacfwd(fn: Callable, grad_position: Any = 0, has_aux: bool = False) -> Callable:
    """Forward-mode Jacobian of ``fn`` (MindSpore's ``mindspore.jacfwd``): one vmapped jvp of the inputs' basis."""

    def jacobian(*args):
        inputs = _Inputs(args, grad_position, "jacfwd")
        leaves = inputs.leaves
        sizes = [int(np.prod(x.shape, dtype=np.int64)) for x in leaves]
        basis = _basis(sizes, [x.shape for x in leaves], [x.dtype for x in leaves])
        flat = inputs.call(fn)

        def push(*tangents):
            result = jvp(flat, tuple(leaves), tangents, has_aux=has_aux)
            if not has_aux:
                return result[1]
            aux = result[2]
            return result[1], (aux[0] if len(aux) == 1 else aux)  # one aux value comes back bare, as from jacrev

        pushed = vmap(push, 0, (0, None) if has_aux else 0)(*basis)
        tangents, aux = pushed if has_aux else (pushed, None)
        out_leaves, out_def = pytree.flatten(tangents)  # each (total inputs, *output leaf)

        def block(column, k, out_shape):
            # column: (size of input k, *out); the block is out + input k's shape
            moved = column.reshape(tuple(leaves[k].shape) + out_shape)
            n_in = len(leaves[k].shape)
            return moved.transpose(tuple(range(n_in, n_in + len(out_shape))) + tuple(range(n_in)))

        per_output = []
        for t in out_leaves:
            out_shape = tuple(t.shape[1:])
            per_output.append(inputs.regroup(_blocks(t, sizes, lambda piece, k, s=out_shape: block(piece, k, s))))
        jac = pytree.unflatten(out_def, per_output)
        return (jac, aux) if has_aux else jac

    jacobian.__name__ = f"jacfwd({getattr(fn, '__name__', 'fn')})"
    return jacobian


def hessian(fn: Callable, grad_position: Any = 0, has_aux: bool = False) -> Callable:
    """Hessian of a scalar ``fn``: forward over reverse, ``jacfwd(jacrev(fn))`` (JAX's ``jax.hessian``)."""
    return jacfwd(jacrev(fn, grad_position, has_aux), grad_position, has_aux)


def hvp(fn: Callable, inputs, v):
    """Hessian-vector product of a scalar ``fn`` at ``inputs`` along ``v`` without forming the Hessian: the jvp of
    its gradient (forward over reverse), one gradient's cost. ``inputs``/``v``: a Tensor or a tuple of them; the
    result has their structure."""
    single = not isinstance(inputs, (tuple, list))
    inputs = (inputs,) if single else tuple(inputs)
    v = (v,) if single else tuple(v)
    gradient = grad(fn, 0 if len(inputs) == 1 else tuple(range(len(inputs))))
    return jvp(gradient, inputs, v)[1]
