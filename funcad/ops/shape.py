"""Shape ops: reshape, transpose, indexing, joining, tiling (broadcasting and casts come from core; padding in
``funcad.ops.padding``)."""

from __future__ import annotations

import math
import numbers

import numpy as np

from funcad.core.base_ops import broadcast_to, cast, stop_gradient, sum_to, unbroadcast
from funcad.core.base_ops import shape_of as _shape_of
from funcad.core.batching import move_axis, with_rank
from funcad.core.dtypes import DType
from funcad.core.primitive import compiled_as_call, defadjoint, primitive
from funcad.core.tensor import Tensor
from funcad.core.trace import Tracer
from funcad.ops.batching import axis_rule
from funcad.ops.indices import check_index_range

__all__ = ["broadcast_to", "cast", "stop_gradient", "sum_to", "unbroadcast"]  # re-exported from core


def _norm_axes(axis, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim if ndim else a for a in axes)


# -- reshaping ----------------------------------------------------------------------------
@primitive(**compiled_as_call(emit=lambda a, node, out, em: f"{a[0]}.reshape({node.out.shape!r})", torch="reshape",
                              simplify=("collapse_repeats", "same_type_noop"), complex=True))
def reshape(x, shape):
    return np.reshape(x, shape)


reshape.deflinear(lambda g, ans, x, shape: reshape(g, _shape_of(x)))


def _reshape_batch(args, dims, /, **kwargs):
    x = move_axis(args[0], dims[0], 0)
    target = (args[1],) if isinstance(args[1], (int, np.integer)) else tuple(args[1])
    return reshape(x, (x.shape[0],) + target), 0


reshape.declare(batch=_reshape_batch)


def _emit_transpose(a, node, out, em):
    axes = node.args[1].value
    if axes is None or tuple(axes) == tuple(range(node.out.ndim))[::-1]:
        return f"{a[0]}.T"
    return f"{a[0]}.transpose({tuple(axes)!r})"


@primitive(**compiled_as_call(emit=_emit_transpose, simplify=("compose_permutations",), role="transpose", complex=True,
                              torch=("permute", lambda torch, x, axes: torch.permute(x, tuple(reversed(range(x.ndim))) if axes is None else axes))))
def _transpose(x, axes):
    return np.transpose(x, axes)


_transpose.deflinear(lambda g, ans, x, axes: _transpose(g, None if axes is None else tuple(int(a) for a in np.argsort(axes))))


def _transpose_batch(args, dims, /, **kwargs):
    x = move_axis(args[0], dims[0], 0)
    rank = len(x.shape) - 1
    axes = tuple(range(rank))[::-1] if args[1] is None else args[1]
    return transpose(x, (0,) + tuple(a % rank + 1 for a in axes)), 0


_transpose.declare(batch=_transpose_batch)


def transpose(x, axes=None):
    """Permute axes (reverse them when ``axes`` is None), as numpy.transpose."""
    return _transpose(x, None if axes is None else tuple(int(a) for a in axes))


def swapaxes(x, axis1: int, axis2: int):
    ndim = len(_shape_of(x))
    axes = list(range(ndim))
    a, b = axis1 % ndim, axis2 % ndim
    axes[a], axes[b] = axes[b], axes[a]
    return _transpose(x, tuple(axes))


def expand_dims(x, axis):
    shape = list(_shape_of(x))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    ndim = len(shape) + len(axes)
    for a in sorted(ax % ndim for ax in axes):
        shape.insert(a, 1)
    return reshape(x, tuple(shape))


def squeeze(x, axis=None):
    shape = _shape_of(x)
    if axis is None:
        return reshape(x, tuple(n for n in shape if n != 1))
    axes = _norm_axes(axis, len(shape))
    for a in axes:
        if shape[a] != 1:
            raise ValueError(f"funcad.ops.squeeze: cannot squeeze axis {a} of size {shape[a]} (shape {shape})")
    return reshape(x, tuple(n for i, n in enumerate(shape) if i not in axes))


def flatten(x, start_dim: int = 1, end_dim: int = -1):
    """Merge axes start_dim..end_dim into one (MindSpore's ops.flatten keeps the batch axis)."""
    shape = _shape_of(x)
    if not shape:
        return reshape(x, (1,))
    s, e = start_dim % len(shape), end_dim % len(shape)
    merged = math.prod(shape[s : e + 1])
    return reshape(x, shape[:s] + (merged,) + shape[e + 1 :])


# -- indexing -------------------------------------------------------------------------------
def _is_basic_index(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice, np.integer)) for i in items)


def _plain_index(index):
    """Indices may hold Tensors (integer or boolean arrays); turn them into arrays.

    A bare integer index traced by ``funcad.jit`` stays traced (it is a positional input of the op); a traced
    boolean mask cannot, since the result's shape depends on its values: reading it raises the jit's error.
    """
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Tracer) and np.issubdtype(index.dtype, np.integer):
        return index
    if isinstance(index, Tensor):
        return np.asarray(index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


# Moving, selecting and joining elements has real 0/1 coefficients: the rules below are right for complex values too.
def _torch_getitem(torch, x, index):
    """torch's translation: ``x[index]``, or, for a negative step (which torch's slicing refuses), a gather at the flat
    positions numpy's ``x[index]`` reads."""
    parts = index if isinstance(index, tuple) else (index,)
    if not any(isinstance(p, slice) and p.step is not None and p.step < 0 for p in parts):
        return x[index]
    flat = np.arange(x.numel()).reshape(tuple(x.shape))[index]
    return x.reshape(-1)[torch.from_numpy(np.ascontiguousarray(flat))]


@primitive(**compiled_as_call(torch=_torch_getitem, complex=True))
def _getitem(x, index):
    return x[index]


def _torch_scatter_add(torch, g, index, shape):
    """torch's translation: an index_add at the flat positions numpy's ``zeros(shape)[index]`` reads (all of numpy's
    index forms, repeats accumulating)."""
    flat = np.arange(int(np.prod(shape))).reshape(shape)[index]
    out = torch.zeros(int(np.prod(shape)), dtype=g.dtype)
    return out.index_add(0, torch.from_numpy(flat.reshape(-1)), g.reshape(-1)).reshape(shape)


@primitive(**compiled_as_call(complex=True, torch=_torch_scatter_add))
def scatter_add(g, index, shape):
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated indices accumulate)."""
    out = np.zeros(shape, dtype=g.dtype)
    if _is_basic_index(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


defadjoint(_getitem, scatter_add, lambda g, ans, x, index: scatter_add(g, index, _shape_of(x)),
           lambda g, ans, gx, index, shape: _getitem(g, index))


def _batched_index(index) -> tuple[tuple, int | None]:
    """``index`` behind a full slice over the batch axis, and the number of advanced-index dimensions when numpy puts
    them first (advanced indices not adjacent), else None (they stay in place, after the batch axis)."""
    index = (slice(None),) + (index if isinstance(index, tuple) else (index,))
    arrays = [i for i, e in enumerate(index) if isinstance(e, (np.ndarray, list, Tensor))]
    if not arrays:
        return index, None
    advanced = [i for i, e in enumerate(index) if i in arrays or isinstance(e, (int, np.integer))]
    if advanced == list(range(advanced[0], advanced[-1] + 1)):
        return index, None
    parts = [np.nonzero(np.asarray(e))[0] if np.asarray(e).dtype == bool else np.asarray(e) for i, e in enumerate(index) if i in advanced]
    return index, np.broadcast(*parts).nd if len(parts) > 1 else parts[0].ndim


def _flat_batch_index(index, n: int):
    """A batch-first integer array (B, K...) indexing each member's own axis of length ``n``, as positions into the
    batch-first array's (B * n, ...) flattening (negative entries count from that axis's end)."""
    from funcad.ops.math import add, less, where  # math imports this module

    shape = _shape_of(index)
    index = where(less(index, 0), add(index, n), index)
    if not isinstance(index, Tracer):  # past the end would read the next member's entries
        check_index_range("getitem", index._data if isinstance(index, Tensor) else np.asarray(index), n, "a batched index",
                          f" (a member's axis of length {n})")
    offsets = (np.arange(shape[0], dtype=np.dtype(index.dtype)) * n).reshape((shape[0],) + (1,) * (len(shape) - 1))
    return add(index, offsets)


def _getitem_batch(args, dims, /, **kwargs):
    if dims[1] is not None:  # a batched integer array (getitem's traced entry): each member picks from its own x
        index = move_axis(args[1], dims[1], 0)
        if dims[0] is None:
            return _getitem(args[0], index), 0
        x = move_axis(args[0], dims[0], 0)
        shape = _shape_of(x)
        return _getitem(reshape(x, (shape[0] * shape[1],) + shape[2:]), _flat_batch_index(index, shape[1])), 0
    index, lead = _batched_index(args[1])
    return _getitem(move_axis(args[0], dims[0], 0), index), 0 if lead is None else lead


def _scatter_add_batch(args, dims, /, **kwargs):
    g, index, target = args
    if dims[1] is not None:  # a batched integer array: each member adds into its own zeros
        index = move_axis(index, dims[1], 0)
        size = _shape_of(index)[0]
        g = broadcast_to(g, (size,) + _shape_of(g)) if dims[0] is None else move_axis(g, dims[0], 0)
        flat = scatter_add(g, _flat_batch_index(index, target[0]), (size * target[0],) + tuple(target[1:]))
        return reshape(flat, (size,) + tuple(target)), 0
    index, lead = _batched_index(index)
    g = move_axis(g, dims[0], lead or 0)
    return scatter_add(g, index, (g.shape[lead or 0],) + tuple(target)), 0


_getitem.declare(batch=_getitem_batch)
scatter_add.declare(batch=_scatter_add_batch)


def getitem(x, index):
    """``x[index]``: slices, ints, None, Ellipsis, boolean masks, integer arrays."""
    index = _plain_index(index)
    at = _lone_traced_entry(index)
    return _getitem(x, index) if at is None else _getitem_traced_entry(x, index, at)


def updated_at(x, index, value):
    """``x`` with ``value`` (broadcast, cast to x's dtype) written at ``index``: ``x[index] = value`` as a function of
    both, so gradients reach each (x's through the places not written). A place the index names twice receives the
    sum of the values written there, where numpy keeps the last."""
    index = _plain_index(index)
    if _lone_traced_entry(index) is not None:
        raise NotImplementedError("funcad: assigning at a traced integer index inside a tuple index is not supported; "
                                  "use ops.tensor_scatter_update or ops.where")
    shape = _shape_of(x)
    part = _getitem(x, index)
    value = value if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value, dtype=np.dtype(part.dtype)))
    written = broadcast_to(cast(value, part.dtype), _shape_of(part))
    from funcad.ops.math import not_equal, where  # math imports this module

    mask = not_equal(scatter_add(Tensor._wrap(np.ones(_shape_of(part), np.int8)), index, shape), 0)
    return where(mask, scatter_add(written, index, shape), x)


def _lone_traced_entry(index) -> int | None:
    """Where a tuple index holds one integer array traced by ``funcad.jit`` among basic entries (slices, ints, None,
    Ellipsis): ``ops.gather(x, i, axis)``, ``x[:, i]``. None otherwise."""
    if not isinstance(index, tuple):
        return None
    traced = [k for k, entry in enumerate(index) if isinstance(entry, Tracer)]
    if len(traced) != 1 or not np.issubdtype(index[traced[0]].dtype, np.integer):
        return None
    basic = (slice, int, np.integer, type(None), type(Ellipsis))
    return traced[0] if all(isinstance(entry, basic) for k, entry in enumerate(index) if k != traced[0]) else None


def _getitem_traced_entry(x, index: tuple, at: int):
    """``x[index]`` with a traced integer array at ``at``: the basic index with that axis kept whole, then the array as
    a bare index (a traced input of the op) along it, its axes placed where numpy places them: at the first of the
    array and the ints if those stand together, else in front."""
    consumed = sum(1 for entry in index if entry is not None and entry is not Ellipsis)
    spread = len(_shape_of(x)) - consumed  # the axes an Ellipsis stands for

    def axes_before(k: int) -> int:
        return sum(1 if isinstance(e, slice) or e is None else spread if e is Ellipsis else 0 for e in index[:k])

    advanced = [k for k, entry in enumerate(index) if k == at or isinstance(entry, (int, np.integer))]
    together = advanced == list(range(advanced[0], advanced[-1] + 1))
    kept = _getitem(x, index[:at] + (slice(None),) + index[at + 1 :])
    picked = _getitem(move_axis(kept, axes_before(at), 0), index[at])
    k, dest = len(index[at].shape), axes_before(advanced[0]) if together else 0
    rest = list(range(k, len(_shape_of(picked))))
    return transpose(picked, tuple(rest[:dest] + list(range(k)) + rest[dest:]))


# -- joining and splitting ---------------------------------------------------------------------
@primitive(**compiled_as_call(torch=("cat", lambda torch, *xs, axis=0: torch.cat(xs, axis)), complex=True))
def _concat(*xs, axis=0):
    return np.concatenate(xs, axis=axis)


def _concat_cotangent(i, g, ans, *xs, axis=0):
    """Argument i's slice of the joined cotangent."""
    ax = axis % len(g.shape)
    start = sum(_shape_of(x)[ax] for x in xs[:i])
    idx = [slice(None)] * len(g.shape)
    idx[ax] = slice(start, start + _shape_of(xs[i])[ax])
    return _getitem(g, tuple(idx))


def _concat_tangent(i, t, ans, *xs, axis=0):
    """Argument i's tangent joined with zeros in the other arguments' places."""
    parts = [t if j == i else Tensor._wrap(np.zeros(_shape_of(x), ans.dtype)) for j, x in enumerate(xs)]
    return _concat(*parts, axis=axis)


_concat.defvariadic(_concat_cotangent, _concat_tangent)
_concat.declare(batch=axis_rule(_concat))


def concat(tensors, axis: int = 0):
    """Join along an existing axis (numpy.concatenate)."""
    return _concat(*tensors, axis=axis)


concatenate = concat


def stack(tensors, axis: int = 0):
    """Join along a new axis (numpy.stack)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("funcad.ops.stack: needs at least one tensor")
    first = _shape_of(tensors[0])
    for t in tensors[1:]:
        if _shape_of(t) != first:
            raise ValueError(f"funcad.ops.stack: all inputs must share a shape, got {first} and {_shape_of(t)}")
    return concat([expand_dims(t, axis) for t in tensors], axis)


def _pieces(x, bounds: list, axis: int) -> list:
    """The slices of ``x`` between consecutive ``bounds`` along ``axis``."""
    shape = _shape_of(x)
    ax = axis % len(shape)
    pieces = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        idx = [slice(None)] * len(shape)
        idx[ax] = slice(a, b)
        pieces.append(_getitem(x, tuple(idx)))
    return pieces


def split_numpy(x, indices_or_sections, axis: int = 0, op: str = "funcad.numpy.split") -> list:
    """numpy.split: ``n`` equal sections (which must divide the axis), or the pieces between the listed indices.

    funcad.numpy's ``split`` and the internal callers that cut a Tensor into ``n`` equal parts use it; MindSpore's
    ``ops.split`` takes piece sizes instead."""
    shape = _shape_of(x)
    n = shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        if indices_or_sections <= 0 or n % indices_or_sections:
            raise ValueError(f"{op}: axis {axis} of size {n} does not divide into {indices_or_sections} sections")
        step = n // int(indices_or_sections)
        bounds = list(range(0, n + 1, step))
    else:
        bounds = [0, *(int(i) for i in indices_or_sections), n]
    return _pieces(x, bounds, axis)


def split(tensor, split_size_or_sections, axis: int = 0) -> tuple:
    """MindSpore 2.x's ``ops.split``: pieces of ``split_size_or_sections`` elements along ``axis`` (the last one
    smaller when the size does not divide), or of the sizes listed, which must add up to the axis' size."""
    shape = _shape_of(tensor)
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -len(shape) <= axis < len(shape):
        raise ValueError(f"funcad.ops.split: axis {axis!r} is out of range for shape {shape}")
    n = shape[axis]
    if isinstance(split_size_or_sections, (int, np.integer)) and not isinstance(split_size_or_sections, bool):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError(f"funcad.ops.split: split_size_or_sections must be positive, got {size}")
        bounds = [*range(0, n, size), n] if n else [0, 0]
    elif isinstance(split_size_or_sections, (tuple, list)) and all(isinstance(s, (int, np.integer)) for s in split_size_or_sections):
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ValueError(f"funcad.ops.split: sizes {tuple(sizes)} do not add up to axis {axis} of size {n} (shape {shape})")
        bounds = [0, *np.cumsum(sizes).tolist()]
    else:
        raise TypeError(f"funcad.ops.split: split_size_or_sections must be an int or a tuple/list of ints, got {split_size_or_sections!r}")
    return tuple(_pieces(tensor, bounds, axis))


def _torch_flip(torch, x, axis=None):
    return torch.flip(x, tuple(range(x.ndim)) if axis is None else (axis,) if isinstance(axis, int) else tuple(axis))


@primitive(**compiled_as_call(torch=_torch_flip))
def _flip(x, axis=None):
    return np.flip(x, axis=axis)


_flip.deflinear(lambda g, ans, x, axis=None: _flip(g, axis))
_flip.declare(batch=axis_rule(_flip))


def flip(input, dims=None, *, axis=None):  # noqa: A002 - MindSpore's names
    """The order of the elements along ``dims`` (an int or a tuple; every axis when None) reversed; ``axis`` is
    numpy's name for it."""
    if dims is not None and axis is not None:
        raise TypeError("funcad.ops.flip: give the axes once, as dims or as numpy's axis")
    dims = axis if dims is None else dims
    return _flip(input, tuple(dims) if isinstance(dims, list) else dims)


# -- tiling, repeating, gathering ------------------------------------------------------
@primitive(**compiled_as_call(torch="tile"))
def _tile(x, reps):
    return np.tile(x, reps)


def _tile_grad(g, ans, x, reps):
    """Fold each tiled axis into (copies, size) and sum the copies."""
    shape = _shape_of(x)
    d = max(len(shape), len(reps))
    sizes = (1,) * (d - len(shape)) + tuple(shape)
    reps = (1,) * (d - len(reps)) + tuple(reps)
    folded = reshape(g, tuple(n for pair in zip(reps, sizes) for n in pair))
    return reshape(sum_to(folded, tuple(n for pair in zip((1,) * d, sizes) for n in pair)), shape)


_tile.deflinear(_tile_grad)


def _tile_batch(args, dims, /, **kwargs):
    x, reps = move_axis(args[0], dims[0], 0), tuple(args[1])
    rank = max(len(x.shape) - 1, len(reps))
    return _tile(with_rank(x, rank), (1,) * (rank + 1 - len(reps)) + reps), 0


_tile.declare(batch=_tile_batch)


def tile(x, reps):
    """Repeat the whole array ``reps`` times along each axis (numpy.tile)."""
    reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    if any(r < 0 for r in reps):
        raise ValueError(f"funcad.ops.tile: reps must be non-negative, got {reps}")
    return _tile(x, reps)


def _take(x, index, axis: int):
    return _getitem(x, (slice(None),) * axis + (index,))


def repeat(x, repeats, axis: int | None = None):
    """Repeat each element ``repeats`` times (numpy.repeat); the gradient sums the copies."""
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    shape = _shape_of(x)
    if not shape:
        x, shape = reshape(x, (1,)), (1,)
    axis = axis % len(shape)
    counts = np.asarray(repeats, dtype=np.int64)
    if counts.ndim > 1 or (counts.ndim == 1 and counts.shape[0] not in (1, shape[axis])) or (counts < 0).any():
        raise ValueError(f"funcad.ops.repeat: repeats {np.asarray(repeats).tolist()} do not fit axis {axis} of shape {shape}")
    return _take(x, np.repeat(np.arange(shape[axis]), counts), axis)


def _along_mesh(indices, axis: int, shape: tuple) -> tuple:
    """The open-mesh index numpy.take_along_axis uses: ``indices`` on ``axis``, an arange on every other axis."""
    return tuple(indices if k == axis else np.arange(n).reshape((-1,) + (1,) * (len(shape) - 1 - k)) for k, n in enumerate(shape))


@primitive(**compiled_as_call(torch=lambda torch, x, indices, axis: torch.take_along_dim(x, indices.long(), axis)))
def _take_along(x, indices, axis: int):
    return x[_along_mesh(indices, axis, x.shape)]


def _torch_add_along(torch, g, indices, axis: int, shape: tuple):
    """torch's scatter_add of g at the picked positions (numpy's negative indices wrapped; indices broadcast to g's shape)."""
    index = (indices.long() % shape[axis]).expand(g.shape)
    return torch.zeros(shape, dtype=g.dtype, device=g.device).scatter_add(axis, index, g)


@primitive(**compiled_as_call(torch=_torch_add_along))
def _add_along(g, indices, axis: int, shape: tuple):
    """Adjoint of _take_along: zeros of ``shape`` with g added at the picked positions (repeats accumulate)."""
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, _along_mesh(indices, axis, shape), g)
    return out


defadjoint(_take_along, _add_along, lambda g, ans, x, indices, axis: _add_along(g, indices, axis, _shape_of(x)),
           lambda c, ans, g, indices, axis, shape: _take_along(c, indices, axis))
_take_along.declare(batch=axis_rule(_take_along, arrays=(0, 1)))
_add_along.declare(batch=axis_rule(_add_along, arrays=(0, 1), shape_arg="shape"))


def take_along_axis(x, indices, axis: int | None = -1):
    """numpy.take_along_axis; repeated indices accumulate their gradients. ``indices`` may be traced by funcad.jit."""
    idx = indices if isinstance(indices, Tracer) else np.asarray(indices)
    if not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(f"funcad.ops.take_along_axis: indices must be integers, got {idx.dtype}")
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    shape = _shape_of(x)
    if idx.ndim != len(shape):
        raise ValueError(f"funcad.ops.take_along_axis: indices of shape {tuple(idx.shape)} and input of shape {shape} differ in rank")
    return _take_along(x, idx, axis % len(shape))


def one_hot(indices, depth: int = -1, on_value=1, off_value=0, axis: int = -1, *, dtype=None):
    """Encode integer class indices along a new axis: MindSpore's ``ops.one_hot(indices, depth, on_value, off_value,
    axis)`` and torch's ``F.one_hot(indices, num_classes)``; a dtype in third place (funcad's earlier form) is
    ``dtype``. With the default values the result is ``dtype`` (float32 unless given), else the values' dtype.

    Indices traced by ``funcad.jit`` need an explicit ``depth``; there an out-of-range index gives a row of
    ``off_value`` (its values are unknown while compiling), while eagerly it raises.
    """
    if isinstance(on_value, (type, np.dtype, DType)):
        dtype, on_value = on_value, 1
    traced = isinstance(indices, Tracer)
    idx = indices if traced else np.asarray(indices)
    if not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(f"funcad.ops.one_hot: indices must be integers, got {idx.dtype}")
    if depth < 0:
        if traced:
            raise ValueError("funcad.ops.one_hot: indices traced by funcad.jit need an explicit depth (their values are unknown)")
        depth = int(idx.max()) + 1 if idx.size else 0
    if not traced:
        check_index_range("one_hot", idx, depth, error=ValueError)
    from funcad.ops.math import equal, where  # math imports this module

    hot = equal(expand_dims(idx, -1), Tensor._wrap(np.arange(depth)))
    if isinstance(on_value, numbers.Number) and isinstance(off_value, numbers.Number) and (on_value, off_value) == (1, 0):
        hot = cast(hot, np.float32 if dtype is None else dtype)
    else:
        on_value, off_value = (np.float32(v) if isinstance(v, float) else v for v in (on_value, off_value))
        hot = where(hot, on_value, off_value) if dtype is None else cast(where(hot, on_value, off_value), dtype)
    rank = len(_shape_of(hot))
    if not -rank <= axis < rank:
        raise ValueError(f"funcad.ops.one_hot: axis {axis} is out of range for a {rank}-dimensional result")
    return move_axis(hot, rank - 1, axis % rank)
