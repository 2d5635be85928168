"""numpy's stacking, splitting and axis-moving functions, and its small products (kron, outer, inner, cross), as
exact composites of funcad ops (so gradients come from theirs)."""

from __future__ import annotations

import numpy as np

from funcad.core.base_ops import shape_of as _shape_of
from funcad.ops.linalg import tensordot
from funcad.ops.math import multiply, subtract
from funcad.ops.shape import broadcast_to, concat, flip, getitem, reshape, split_numpy, stack, transpose

__all__ = ["append", "array_split", "atleast_1d", "atleast_2d", "atleast_3d", "column_stack", "cross", "diff", "dsplit", "dstack", "hsplit",
           "hstack", "inner", "kron", "meshgrid", "moveaxis", "ravel", "rot90", "take", "vsplit", "vstack"]


def _at_least(x, ndim: int):
    shape = _shape_of(x)
    if len(shape) >= ndim:
        return x
    if ndim == 3 and len(shape) == 2:
        return reshape(x, shape + (1,))
    if ndim == 3 and len(shape) == 1:
        return reshape(x, (1,) + shape + (1,))
    return reshape(x, (1,) * (ndim - len(shape)) + shape)


def _each(arys, ndim: int):
    out = [_at_least(a, ndim) for a in arys]
    return out[0] if len(out) == 1 else out


def atleast_1d(*arys):
    return _each(arys, 1)


def atleast_2d(*arys):
    return _each(arys, 2)


def atleast_3d(*arys):
    """As numpy: a 1-D (n,) becomes (1, n, 1), a 2-D (m, n) becomes (m, n, 1)."""
    return _each(arys, 3)


def vstack(tup):
    return concat([_at_least(a, 2) for a in tup], 0)


def hstack(tup):
    parts = [_at_least(a, 1) for a in tup]
    return concat(parts, 0 if len(_shape_of(parts[0])) == 1 else 1)


def dstack(tup):
    return concat([_at_least(a, 3) for a in tup], 2)


def column_stack(tup):
    return concat([reshape(a, (-1, 1)) if len(_shape_of(a)) == 1 else a for a in tup], 1)


def array_split(ary, indices_or_sections, axis: int = 0):
    """numpy.array_split: ``n`` sections need not divide the axis (the first ones get one element more)."""
    if isinstance(indices_or_sections, (int, np.integer)):
        n = _shape_of(ary)[axis]
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError(f"funcad.numpy.array_split: the number of sections must be positive, got {sections}")
        sizes = [n // sections + (1 if i < n % sections else 0) for i in range(sections)]
        indices_or_sections = list(np.cumsum(sizes)[:-1])
    return split_numpy(ary, indices_or_sections, axis)


def vsplit(ary, indices_or_sections):
    return split_numpy(ary, indices_or_sections, 0)


def hsplit(ary, indices_or_sections):
    return split_numpy(ary, indices_or_sections, 1 if len(_shape_of(ary)) > 1 else 0)


def dsplit(ary, indices_or_sections):
    return split_numpy(ary, indices_or_sections, 2)


def moveaxis(a, source, destination):
    """Move axes to new positions, the others keeping their order."""
    ndim = len(_shape_of(a))
    source = [s % ndim for s in ((source,) if isinstance(source, int) else source)]
    destination = [d % ndim for d in ((destination,) if isinstance(destination, int) else destination)]
    if len(source) != len(destination):
        raise ValueError(f"funcad.numpy.moveaxis: source {source} and destination {destination} must have the same length")
    order = [i for i in range(ndim) if i not in source]
    for d, s in sorted(zip(destination, source)):
        order.insert(d, s)
    return transpose(a, tuple(order))


def rot90(m, k: int = 1, axes=(0, 1)):
    """Rotate by 90 degrees k times in the plane of ``axes`` (from the first axis towards the second)."""
    k %= 4
    a, b = axes
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, a), b)
    order = list(range(len(_shape_of(m))))
    order[a], order[b] = order[b], order[a]
    return transpose(flip(m, b), tuple(order)) if k == 1 else flip(transpose(m, tuple(order)), b)


def kron(a, b):
    """The Kronecker product of two arrays of the same rank (the smaller one padded with leading axes)."""
    nd = max(len(_shape_of(a)), len(_shape_of(b)))
    a, b = _at_least(a, nd), _at_least(b, nd)
    sa, sb = _shape_of(a), _shape_of(b)
    outer = multiply(reshape(a, tuple(n for s in sa for n in (s, 1))), reshape(b, tuple(n for s in sb for n in (1, s))))
    return reshape(outer, tuple(x * y for x, y in zip(sa, sb)))


def inner(a, b):
    """Sum over the last axes of a and b (a scalar product for vectors)."""
    if not _shape_of(a) or not _shape_of(b):
        return multiply(a, b)
    return tensordot(a, b, ((len(_shape_of(a)) - 1,), (len(_shape_of(b)) - 1,)))


def cross(a, b, axis: int = -1):
    """The cross product of 3-vectors along ``axis``."""
    if _shape_of(a)[axis] != 3 or _shape_of(b)[axis] != 3:
        raise ValueError(f"funcad.numpy.cross: needs 3-vectors along axis {axis}, got shapes {_shape_of(a)} and {_shape_of(b)}")
    ndim_a, ndim_b = len(_shape_of(a)), len(_shape_of(b))

    def part(x, ndim, i):
        return getitem(x, (slice(None),) * (axis % ndim) + (i,))

    a0, a1, a2 = (part(a, ndim_a, i) for i in range(3))
    b0, b1, b2 = (part(b, ndim_b, i) for i in range(3))
    out = stack([subtract(multiply(a1, b2), multiply(a2, b1)), subtract(multiply(a2, b0), multiply(a0, b2)),
                 subtract(multiply(a0, b1), multiply(a1, b0))], -1)
    return out if axis % max(ndim_a, ndim_b) == max(ndim_a, ndim_b) - 1 else moveaxis(out, -1, axis)




def ravel(a):
    """The flattened array."""
    return reshape(a, (-1,))


def take(a, indices, axis=None):
    """Elements at ``indices`` along ``axis`` (of the flattened array when None); the gradient scatters back."""
    if axis is None:
        return getitem(ravel(a), (np.asarray(indices),))
    return getitem(a, (slice(None),) * (axis % len(_shape_of(a))) + (np.asarray(indices),))


def append(arr, values, axis=None):
    """``values`` joined after ``arr`` along ``axis`` (both flattened when None)."""
    if axis is None:
        return concat([ravel(arr), ravel(values)], 0)
    return concat([arr, values], axis)


def diff(a, n: int = 1, axis: int = -1):
    """The n-th differences along ``axis``."""
    ndim = len(_shape_of(a))
    for _ in range(n):
        a = subtract(getitem(a, (slice(None),) * (axis % ndim) + (slice(1, None),)),
                     getitem(a, (slice(None),) * (axis % ndim) + (slice(None, -1),)))
    return a


def meshgrid(*xi, indexing: str = "xy"):
    """Coordinate arrays from 1-D coordinate vectors (numpy.meshgrid, with its 'xy' and 'ij' indexings)."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"funcad.numpy.meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    sizes = [_shape_of(x)[0] for x in xi]
    shape = tuple(sizes)
    if indexing == "xy" and len(xi) >= 2:
        shape = (sizes[1], sizes[0]) + shape[2:]
    grids = []
    for i, x in enumerate(xi):
        axis = (1 - i if i < 2 else i) if indexing == "xy" and len(xi) >= 2 else i
        grids.append(broadcast_to(reshape(x, tuple(-1 if k == axis else 1 for k in range(len(xi)))), shape))
    return grids
