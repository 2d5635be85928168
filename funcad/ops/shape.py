"""Shape ops: reshape, transpose, broadcasting and its undoing, indexing, joining, and casts."""

from __future__ import annotations

import math

import numpy as np

from funcad.core.backend import xp
from funcad.core.primitive import Primitive, primitive
from funcad.core.tensor import Tensor
from funcad.core.trace import Tracer


def _shape_of(x) -> tuple:
    shape = getattr(x, "shape", None)
    return () if shape is None else tuple(shape)


def _norm_axes(axis, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim if ndim else a for a in axes)


# -- broadcasting ------------------------------------------------------------------------
@primitive
def broadcast_to(x, shape):
    return xp.broadcast_to(x, tuple(shape))


@primitive
def sum_to(x, shape):
    """Sum ``x`` down to ``shape``: the adjoint of broadcasting (the shared unbroadcast)."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    if lead < 0:
        raise ValueError(f"cannot sum shape {x.shape} down to {shape}")
    kept = tuple(lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    if not kept:  # only leading axes to sum (a bias's gradient): one reduction, no reshape
        return xp.add.reduce(x, axis=tuple(range(lead)))
    out = xp.add.reduce(x, axis=tuple(range(lead)) + kept, keepdims=True)
    return xp.reshape(out, shape)


broadcast_to.defvjp(lambda g, ans, x, shape: unbroadcast(g, _shape_of(x)))
broadcast_to.defjvp(lambda t, ans, x, shape: broadcast_to(t, shape))
sum_to.defvjp(lambda g, ans, x, shape: broadcast_to(g, _shape_of(x)))
sum_to.defjvp(lambda t, ans, x, shape: sum_to(t, shape))


def unbroadcast(g, shape: tuple):
    """Undo NumPy broadcasting of a cotangent ``g`` so it matches an input of ``shape``."""
    if tuple(g.shape) == tuple(shape):
        return g
    return sum_to(g, tuple(shape))


# -- reshaping ----------------------------------------------------------------------------
@primitive
def reshape(x, shape):
    return xp.reshape(x, shape)


reshape.defvjp(lambda g, ans, x, shape: reshape(g, _shape_of(x)))
reshape.defjvp(lambda t, ans, x, shape: reshape(t, shape))


@primitive
def _transpose(x, axes):
    return xp.transpose(x, axes)


_transpose.defvjp(lambda g, ans, x, axes: _transpose(g, None if axes is None else tuple(int(a) for a in np.argsort(axes))))
_transpose.defjvp(lambda t, ans, x, axes: _transpose(t, axes))


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


# -- dtype and gradient control ---------------------------------------------------------------
@primitive
def cast(x, dtype):
    return x.astype(np.dtype(dtype), copy=False)


cast.defvjp(lambda g, ans, x, dtype: cast(g, x.dtype) if np.issubdtype(x.dtype, np.inexact) else None)
cast.defjvp(lambda t, ans, x, dtype: cast(t, dtype))


@primitive
def stop_gradient(x):
    """Identity whose output is a constant for every transform, at every nesting level."""
    return x


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


@primitive
def _getitem(x, index):
    return x[index]


@primitive
def scatter_add(g, index, shape):
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated indices accumulate)."""
    out = xp.zeros(shape, dtype=g.dtype)
    if _is_basic_index(index):
        out[index] = g
    else:
        xp.add.at(out, index, g)
    return out


_getitem.defvjp(lambda g, ans, x, index: scatter_add(g, index, _shape_of(x)))
_getitem.defjvp(lambda t, ans, x, index: _getitem(t, index))
scatter_add.defvjp(lambda g, ans, gx, index, shape: _getitem(g, index))
scatter_add.defjvp(lambda t, ans, gx, index, shape: scatter_add(t, index, shape))


def getitem(x, index):
    """``x[index]``: slices, ints, None, Ellipsis, boolean masks, integer arrays."""
    return _getitem(x, _plain_index(index))


# -- joining and splitting ---------------------------------------------------------------------
def _concat_impl(*xs, axis=0):
    return xp.concatenate(xs, axis=axis)


def _split_back(g, sizes, axis, i):
    start = sum(sizes[:i])
    idx = [slice(None)] * len(g.shape)
    idx[axis] = slice(start, start + sizes[i])
    return _getitem(g, tuple(idx))


_concat = Primitive("concat", _concat_impl)


def _concat_rule(i):
    def rule(g, ans, *xs, axis=0):
        ax = axis % len(g.shape)
        return _split_back(g, [_shape_of(x)[ax] for x in xs], ax, i)

    return rule


def _concat_tangent(i):
    def rule(t, ans, *xs, axis=0):
        parts = [t if j == i else Tensor._wrap(np.zeros(_shape_of(x), ans.dtype)) for j, x in enumerate(xs)]
        return _concat(*parts, axis=axis)

    return rule


_RULES_FOR_MANY = 64
_concat.defvjp(*[_concat_rule(i) for i in range(_RULES_FOR_MANY)])
_concat.defjvp(*[_concat_tangent(i) for i in range(_RULES_FOR_MANY)])


def concat(tensors, axis: int = 0):
    """Join along an existing axis (numpy.concatenate)."""
    tensors = list(tensors)
    if len(tensors) > _RULES_FOR_MANY:
        head = concat(tensors[:_RULES_FOR_MANY], axis)
        return concat([head] + tensors[_RULES_FOR_MANY:], axis)
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


def split(x, indices_or_sections, axis: int = 0):
    """Split into pieces along ``axis`` (numpy.split semantics)."""
    shape = _shape_of(x)
    n = shape[axis]
    if isinstance(indices_or_sections, int):
        if n % indices_or_sections:
            raise ValueError(f"funcad.ops.split: axis {axis} of size {n} does not divide into {indices_or_sections} sections")
        step = n // indices_or_sections
        bounds = list(range(0, n + 1, step))
    else:
        bounds = [0, *indices_or_sections, n]
    ax = axis % len(shape)
    pieces = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        idx = [slice(None)] * len(shape)
        idx[ax] = slice(a, b)
        pieces.append(_getitem(x, tuple(idx)))
    return pieces


@primitive
def flip(x, axis=None):
    return xp.flip(x, axis=axis)


flip.defvjp(lambda g, ans, x, axis=None: flip(g, axis))
flip.defjvp(lambda t, ans, x, axis=None: flip(t, axis))


# -- tiling, repeating, padding, gathering ------------------------------------------------------
@primitive
def _tile(x, reps):
    return xp.tile(x, reps)


def _tile_grad(g, ans, x, reps):
    """Fold each tiled axis into (copies, size) and sum the copies."""
    shape = _shape_of(x)
    d = max(len(shape), len(reps))
    sizes = (1,) * (d - len(shape)) + tuple(shape)
    reps = (1,) * (d - len(reps)) + tuple(reps)
    folded = reshape(g, tuple(n for pair in zip(reps, sizes) for n in pair))
    from funcad.ops.reduce import sum as _sum

    return reshape(_sum(folded, axis=tuple(range(0, 2 * d, 2))), shape)


_tile.defvjp(_tile_grad)
_tile.defjvp(lambda t, ans, x, reps: _tile(t, reps))


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


def _pad_widths(pad_width, ndim: int) -> tuple:
    try:
        widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (ndim, 2))
    except ValueError:
        raise ValueError(f"funcad.ops.pad: pad_width {pad_width!r} does not fit an input with {ndim} dimensions") from None
    if (widths < 0).any():
        raise ValueError(f"funcad.ops.pad: pad widths must be non-negative, got {widths.tolist()}")
    return tuple((int(a), int(b)) for a, b in widths)


@primitive
def _pad_constant(x, widths, value):
    return xp.pad(x, widths, mode="constant", constant_values=value)


def _unpad(g, widths):
    return _getitem(g, tuple(slice(a, n - b) for (a, b), n in zip(widths, g.shape)))


_pad_constant.defvjp(lambda g, ans, x, widths, value: _unpad(g, widths))
_pad_constant.defjvp(lambda t, ans, x, widths, value: _pad_constant(t, widths, 0.0))

_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def pad(x, pad_width, mode: str = "constant", constant_values=0.0):
    """numpy.pad for the modes constant, edge, reflect, symmetric and wrap; other modes are rejected."""
    shape = _shape_of(x)
    widths = _pad_widths(pad_width, len(shape))
    if mode == "constant":
        return _pad_constant(x, widths, float(constant_values))
    if mode not in _PAD_MODES:
        raise ValueError(f"funcad.ops.pad: mode {mode!r} is not supported; use one of {_PAD_MODES}")
    # Every other mode reads existing elements: gather them by index, so the gradient scatters back.
    for axis, (n, w) in enumerate(zip(shape, widths)):
        if w != (0, 0):
            if n == 0:
                raise ValueError(f"funcad.ops.pad: cannot pad an empty axis {axis} (shape {shape}) in mode {mode!r}")
            x = _take(x, np.pad(np.arange(n), w, mode=mode), axis)
    return x


def _along_mesh(indices, axis: int, shape: tuple) -> tuple:
    """The open-mesh index numpy.take_along_axis uses: ``indices`` on ``axis``, an arange on every other axis."""
    return tuple(indices if k == axis else xp.arange(n).reshape((-1,) + (1,) * (len(shape) - 1 - k)) for k, n in enumerate(shape))


@primitive
def _take_along(x, indices, axis: int):
    return x[_along_mesh(indices, axis, x.shape)]


@primitive
def _add_along(g, indices, axis: int, shape: tuple):
    """Adjoint of _take_along: zeros of ``shape`` with g added at the picked positions (repeats accumulate)."""
    out = xp.zeros(shape, dtype=g.dtype)
    xp.add.at(out, _along_mesh(indices, axis, shape), g)
    return out


_take_along.defvjp(lambda g, ans, x, indices, axis: _add_along(g, indices, axis, _shape_of(x)))
_take_along.defjvp(lambda t, ans, x, indices, axis: _take_along(t, indices, axis))
_add_along.defvjp(lambda c, ans, g, indices, axis, shape: _take_along(c, indices, axis))
_add_along.defjvp(lambda t, ans, g, indices, axis, shape: _add_along(t, indices, axis, shape))


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


def one_hot(indices, num_classes: int = -1, dtype=np.float32):
    """Encode integer class indices along a new last axis (torch.nn.functional.one_hot with a float dtype).

    Indices traced by ``funcad.jit`` need an explicit ``num_classes``; there an out-of-range index gives a row
    of zeros (its values are unknown while compiling), while eagerly it raises.
    """
    traced = isinstance(indices, Tracer)
    idx = indices if traced else np.asarray(indices)
    if not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(f"funcad.ops.one_hot: indices must be integers, got {idx.dtype}")
    if num_classes < 0:
        if traced:
            raise ValueError("funcad.ops.one_hot: indices traced by funcad.jit need an explicit num_classes (their values are unknown)")
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if not traced and idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(f"funcad.ops.one_hot: indices must lie in [0, {num_classes}), got values in [{idx.min()}, {idx.max()}]")
    from funcad.ops.math import equal

    return cast(equal(expand_dims(idx, -1), Tensor._wrap(np.arange(num_classes))), dtype)
