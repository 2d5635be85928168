"""Embedding lookup: rows of a weight table picked by integer indices, with torch's ``padding_idx``."""

from __future__ import annotations

import numpy as np

from funcad.core.batching import batch_first, move_axis
from funcad.core.primitive import compiled_as_call, primitive
from funcad.core.tensor import Tensor
from funcad.core.trace import Tracer
from funcad.ops.batching import loop_rule
from funcad.ops.indices import check_index_range
from funcad.ops.math import add, not_equal
from funcad.ops.shape import _shape_of, broadcast_to, cast, reshape


def _check_range(indices, num_rows: int) -> None:
    check_index_range("embedding", indices, num_rows, detail=f" for a table of {num_rows} rows")


@primitive(**compiled_as_call(torch=lambda torch, weight, indices, padding_idx: torch.nn.functional.embedding(indices, weight, padding_idx)))
def _lookup(weight, indices, padding_idx):
    """weight[indices]; ``padding_idx`` only matters to the derivative: that row's entries have none.

    The range check here is what guards indices traced by funcad.jit, known only when the program runs.
    """
    _check_range(indices, weight.shape[0])
    return np.take(weight, indices, axis=0)


@primitive(**compiled_as_call())
def _scatter_rows(g, indices, num_rows: int, padding_idx):
    """Adjoint of _lookup: each index's cotangent summed into its row (repeats accumulate); the padding row stays 0."""
    out = np.zeros((num_rows,) + g.shape[indices.ndim :], dtype=g.dtype)
    np.add.at(out, indices, g)
    if padding_idx is not None:
        out[padding_idx] = 0
    return out


def _lookup_derivative(t, indices, padding_idx):
    """The derivative of _lookup applied to ``t``: rows of t, zero where the index is the padding row."""
    rows = _lookup(t, indices, padding_idx=padding_idx)
    if padding_idx is None:
        return rows
    index_shape = _shape_of(indices)
    keep = cast(not_equal(indices, padding_idx), rows.dtype)  # ops, not a read of the values: indices may be traced
    return rows * reshape(keep, index_shape + (1,) * (len(rows.shape) - len(index_shape)))


_lookup.defvjp(lambda g, ans, weight, indices, padding_idx: _scatter_rows(g, indices, num_rows=_shape_of(weight)[0], padding_idx=padding_idx))
_lookup.defjvp(lambda t, ans, weight, indices, padding_idx: _lookup_derivative(t, indices, padding_idx))
_scatter_rows.deflinear(lambda c, ans, g, indices, num_rows, padding_idx: _lookup_derivative(c, indices, padding_idx))


def _scatter_rows_rule(args, dims, /, num_rows: int, padding_idx):
    """Per-member table gradients in one scatter. Shared indices: the batch axis of ``g`` goes right after the index
    axes, so each index adds a (batch, dim) block to its row (out: rows, batch, dim). Per-member indices: member b's
    rows are offset by b * num_rows in one table of batch * num_rows rows, then split back."""
    (g, indices), (dg, di) = args, dims[:2]
    if di is None:
        index_ndim = len(_shape_of(indices))
        g = move_axis(g, dg, index_ndim)
        return _scatter_rows(g, indices, num_rows=num_rows, padding_idx=padding_idx), 1
    indices = batch_first(indices, di)
    size, index_shape = _shape_of(indices)[0], _shape_of(indices)[1:]
    g = batch_first(g, dg) if dg is not None else broadcast_to(g, (size,) + _shape_of(g))
    offsets = Tensor._wrap((np.arange(size) * num_rows).reshape((size,) + (1,) * len(index_shape)).astype(np.dtype(indices.dtype)))
    rows = _scatter_rows(g, add(indices, offsets), num_rows=size * num_rows, padding_idx=None)
    rows = reshape(rows, (size, num_rows) + tuple(_shape_of(rows)[1:]))
    if padding_idx is None:
        return rows, 0
    keep = np.ones((num_rows,) + (1,) * (len(_shape_of(rows)) - 2), dtype=np.dtype(rows.dtype))
    keep[padding_idx] = 0
    return rows * Tensor._wrap(keep), 0


_scatter_rows.declare(batch=_scatter_rows_rule)


def _lookup_batch(prim):
    fallback = loop_rule(prim)

    def rule(args, dims, /, **kwargs):
        if dims[0] is not None:  # batched tables
            return fallback(args, dims, **kwargs)
        return prim(*args, **kwargs), dims[1]

    return rule


_lookup.declare(batch=_lookup_batch(_lookup))


def embedding(indices, weight, padding_idx: int | None = None):
    """Rows of ``weight`` (num_embeddings, dim) at integer ``indices`` of any shape -> indices.shape + (dim,).

    Gradients of repeated indices add up in their row; the ``padding_idx`` row gets no gradient (as torch).
    Indices traced by ``funcad.jit`` are range-checked when the program runs.
    """
    ws = _shape_of(weight)
    if len(ws) != 2:
        raise ValueError(f"funcad.ops.embedding: weight must be 2-D (num_embeddings, dim), got shape {ws}")
    idx = indices if isinstance(indices, Tracer) else np.asarray(indices)
    if not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(f"funcad.ops.embedding: indices must be integers, got {idx.dtype}{list(idx.shape)}")
    if not isinstance(idx, Tracer):
        _check_range(idx, ws[0])  # before the op, so the error is not wrapped in the primitive's
    if padding_idx is not None:
        if not -ws[0] <= padding_idx < ws[0]:
            raise ValueError(f"funcad.ops.embedding: padding_idx {padding_idx} out of range for {ws[0]} embeddings")
        padding_idx = int(padding_idx) % ws[0]
    return _lookup(weight, idx, padding_idx=padding_idx)
