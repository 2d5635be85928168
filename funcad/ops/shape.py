"""Shape ops: reshape, transpose, indexing, joining, padding (broadcasting and casts come from core)."""

from __future__ import annotations

import math

import numpy as np

from funcad.core.base_ops import broadcast_to, cast, stop_gradient, sum_to, unbroadcast
from funcad.core.base_ops import shape_of as _shape_of
from funcad.core.primitive import compiled_as_call, defadjoint, primitive
from funcad.core.tensor import Tensor
from funcad.core.trace import Tracer
from funcad.ops.indices import check_index_range

__all__ = ["broadcast_to", "cast", "stop_gradient", "sum_to", "unbroadcast"]  # re-exported from core


def _norm_axes(axis, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim if ndim else a for a in axes)


# -- reshaping ----------------------------------------------------------------------------
@primitive(**compiled_as_call(emit=lambda a, node, out, em: f"{a[0]}.reshape({node.out.shape!r})", torch="reshape",
                              simplify=("collapse_repeats", "same_type_noop")))
def reshape(x, shape):
    return np.reshape(x, shape)


reshape.deflinear(lambda g, ans, x, shape: reshape(g, _shape_of(x)))


def _emit_transpose(a, node, out, em):
    axes = node.args[1].value
    if axes is None or tuple(axes) == tuple(range(node.out.ndim))[::-1]:
        return f"{a[0]}.T"
    return f"{a[0]}.transpose({tuple(axes)!r})"


@primitive(**compiled_as_call(emit=_emit_transpose, simplify=("compose_permutations",), role="transpose",
                              torch=("permute", lambda torch, x, axes: torch.permute(x, tuple(reversed(range(x.ndim))) if axes is None else axes))))
def _transpose(x, axes):
    return np.transpose(x, axes)


_transpose.deflinear(lambda g, ans, x, axes: _transpose(g, None if axes is None else tuple(int(a) for a in np.argsort(axes))))


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


@primitive(**compiled_as_call(torch=lambda torch, x, index: x[index]))
def _getitem(x, index):
    return x[index]


@primitive(**compiled_as_call())
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


def getitem(x, index):
    """``x[index]``: slices, ints, None, Ellipsis, boolean masks, integer arrays."""
    return _getitem(x, _plain_index(index))


# -- joining and splitting ---------------------------------------------------------------------
@primitive(**compiled_as_call(torch=("cat", lambda torch, *xs, axis=0: torch.cat(xs, axis))))
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


def _torch_flip(torch, x, axis=None):
    return torch.flip(x, tuple(range(x.ndim)) if axis is None else (axis,) if isinstance(axis, int) else tuple(axis))


@primitive(**compiled_as_call(torch=_torch_flip))
def flip(x, axis=None):
    return np.flip(x, axis=axis)


flip.deflinear(lambda g, ans, x, axis=None: flip(g, axis))


# -- tiling, repeating, padding, gathering ------------------------------------------------------
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


def _torch_pad(torch, x, widths, value):
    return torch.nn.functional.pad(x, [w for pair in reversed(widths) for w in pair], value=value)


@primitive(**compiled_as_call(torch=_torch_pad))
def _pad_constant(x, widths, value):
    return np.pad(x, widths, mode="constant", constant_values=value)


def _unpad(g, widths):
    return _getitem(g, tuple(slice(a, n - b) for (a, b), n in zip(widths, g.shape)))


_pad_constant.defvjp(lambda g, ans, x, widths, value: _unpad(g, widths))
_pad_constant.defjvp(lambda t, ans, x, widths, value: _pad_constant(t, widths, 0.0))

_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")
_MINDSPORE_MODES = {"replicate": "edge", "circular": "wrap"}


def _last_axes_first(padding, ndim: int) -> tuple:
    """MindSpore's (and torch's) flat padding: (left, right) pairs for the last axis, then the one before..."""
    if len(padding) % 2 or len(padding) // 2 > ndim:
        raise ValueError(f"funcad.ops.pad: padding {tuple(padding)} must hold (before, after) pairs for at most {ndim} axes")
    pairs = [(padding[i], padding[i + 1]) for i in range(0, len(padding), 2)]
    return tuple([(0, 0)] * (ndim - len(pairs)) + pairs[::-1])


def pad(x, pad_width, mode: str = "constant", constant_values=0.0, *, value=None):
    """Pad with a constant or by reading existing elements (numpy's modes, and MindSpore's replicate and circular).

    ``pad_width`` as numpy reads it (an int, or a (before, after) pair per axis), or as MindSpore's ``padding``:
    a flat tuple of ints, pairs for the last axes, last axis first. ``value`` is MindSpore's name for the constant.
    """
    shape = _shape_of(x)
    if isinstance(pad_width, (tuple, list)) and pad_width and all(isinstance(w, (int, np.integer)) for w in pad_width):
        pad_width = _last_axes_first(pad_width, len(shape))
    widths = _pad_widths(pad_width, len(shape))
    mode = _MINDSPORE_MODES.get(mode, mode)
    if mode == "constant":
        fill = constant_values if value is None else value
        return _pad_constant(x, widths, 0.0 if fill is None else float(fill))  # MindSpore's value=None means 0
    if mode not in _PAD_MODES:
        raise ValueError(f"funcad.ops.pad: mode {mode!r} is not supported; use one of {_PAD_MODES + tuple(_MINDSPORE_MODES)}")
    # Every other mode reads existing elements: gather them by index, so the gradient scatters back.
    for axis, (n, w) in enumerate(zip(shape, widths)):
        if w != (0, 0):
            if n == 0:
                raise ValueError(f"funcad.ops.pad: cannot pad an empty axis {axis} (shape {shape}) in mode {mode!r}")
            x = _take(x, np.pad(np.arange(n), w, mode=mode), axis)
    return x


def _along_mesh(indices, axis: int, shape: tuple) -> tuple:
    """The open-mesh index numpy.take_along_axis uses: ``indices`` on ``axis``, an arange on every other axis."""
    return tuple(indices if k == axis else np.arange(n).reshape((-1,) + (1,) * (len(shape) - 1 - k)) for k, n in enumerate(shape))


@primitive(**compiled_as_call(torch=lambda torch, x, indices, axis: torch.take_along_dim(x, indices.long(), axis)))
def _take_along(x, indices, axis: int):
    return x[_along_mesh(indices, axis, x.shape)]


@primitive(**compiled_as_call())
def _add_along(g, indices, axis: int, shape: tuple):
    """Adjoint of _take_along: zeros of ``shape`` with g added at the picked positions (repeats accumulate)."""
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, _along_mesh(indices, axis, shape), g)
    return out


defadjoint(_take_along, _add_along, lambda g, ans, x, indices, axis: _add_along(g, indices, axis, _shape_of(x)),
           lambda c, ans, g, indices, axis, shape: _take_along(c, indices, axis))


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
    if not traced:
        check_index_range("one_hot", idx, num_classes, error=ValueError)
    from funcad.ops.math import equal  # math imports this module

    return cast(equal(expand_dims(idx, -1), Tensor._wrap(np.arange(num_classes))), dtype)
