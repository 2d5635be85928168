"""numpy's signatures for the ops whose MindSpore namesakes in funcad.ops take other arguments or mean otherwise."""

from __future__ import annotations

from funcad.core.base_ops import shape_of as _shape_of
from funcad.ops import aliases, indexing
from funcad.ops.linalg import einsum
from funcad.ops.shape import reshape

__all__ = ["cumprod", "diag", "diagonal", "sort"]


def cumprod(a, axis=None):
    """Running products along ``axis`` (of the flattened array when None)."""
    if axis is None:
        return aliases.cumprod(reshape(a, (-1,)), 0)
    return aliases.cumprod(a, axis)


def diagonal(a):
    """The main diagonal of a matrix."""
    return einsum("ii->i", a)


def diag(v):
    """numpy.diag: a 1-D input becomes a diagonal matrix; a matrix gives its main diagonal."""
    if len(_shape_of(v)) == 2:
        return diagonal(v)
    if len(_shape_of(v)) != 1:
        raise ValueError(f"funcad.numpy.diag: needs a 1-D or 2-D input, got shape {_shape_of(v)}")
    return aliases.diag(v)


def sort(a, axis: int = -1):
    """The sorted values along ``axis`` (the indices are numpy's argsort)."""
    return indexing.sort(a, axis)[0]
