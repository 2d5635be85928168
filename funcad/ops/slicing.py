"""MindSpore's slicing ops: ``slice`` (begin and size per axis), ``strided_slice`` (begin, end, strides and the bit
masks of TensorFlow's StridedSlice), ``unstack`` and ``meshgrid``.

Each builds a numpy index and reads it with ``getitem``, so gradients scatter back through getitem's rules.
"""

from __future__ import annotations

import builtins

from funcad.core.base_ops import shape_of as _shape_of
from funcad.ops.shape import broadcast_to, getitem, reshape


def slice(input_x, begin, size):  # noqa: A001 - MindSpore's name
    """``input_x[begin[i] : begin[i] + size[i]]`` on every axis; a size of -1 takes the rest of the axis."""
    shape = _shape_of(input_x)
    if len(begin) != len(shape) or len(size) != len(shape):
        raise ValueError(f"funcad.ops.slice: begin {tuple(begin)} and size {tuple(size)} need one entry per axis of shape {shape}")
    index = []
    for axis, (b, s, n) in enumerate(zip(begin, size, shape)):
        end = n if s == -1 else b + s
        if not 0 <= b <= end <= n:
            raise ValueError(f"funcad.ops.slice: begin {b} and size {s} do not fit axis {axis} of shape {shape}")
        index.append(builtins.slice(int(b), int(end)))
    return getitem(input_x, tuple(index))


def strided_slice(input_x, begin, end, strides, begin_mask: int = 0, end_mask: int = 0, ellipsis_mask: int = 0,
                  new_axis_mask: int = 0, shrink_axis_mask: int = 0):
    """``input_x[begin[0]:end[0]:strides[0], ...]``: entry i of the lists slices the next axis, the axes after the last
    entry stay whole. Bit i of ``begin_mask``/``end_mask`` ignores begin[i]/end[i] (the axis starts/ends at its edge);
    bit i of ``shrink_axis_mask`` takes the single index begin[i] and drops the axis; bit i of ``new_axis_mask`` inserts
    an axis of size 1 there, and of ``ellipsis_mask`` stands for as many whole axes as the other entries leave (Python's
    ``None`` and ``...``)."""
    shape = _shape_of(input_x)
    consuming = sum(1 for i in range(len(begin)) if not (new_axis_mask | ellipsis_mask) >> i & 1)
    if not len(begin) == len(end) == len(strides) or consuming > len(shape) or bin(ellipsis_mask).count("1") > 1:
        raise ValueError(f"funcad.ops.strided_slice: begin {tuple(begin)}, end {tuple(end)} and strides {tuple(strides)} need equal "
                         f"lengths slicing at most the rank of shape {shape}, with at most one ellipsis (mask {ellipsis_mask})")
    index = []
    for i, (b, e, s) in enumerate(zip(begin, end, strides)):
        if ellipsis_mask >> i & 1:
            index.append(Ellipsis)
        elif new_axis_mask >> i & 1:
            index.append(None)
        elif shrink_axis_mask >> i & 1:
            index.append(int(b))
        elif s == 0:
            raise ValueError(f"funcad.ops.strided_slice: stride {i} is 0")
        else:
            index.append(builtins.slice(None if begin_mask >> i & 1 else int(b), None if end_mask >> i & 1 else int(e), int(s)))
    return getitem(input_x, tuple(index))


def unstack(input_x, axis: int = 0):
    """The slices of ``input_x`` along ``axis``, as a tuple."""
    shape = _shape_of(input_x)
    axis = axis % len(shape)
    return tuple(getitem(input_x, (builtins.slice(None),) * axis + (i,)) for i in range(shape[axis]))


def meshgrid(*inputs, indexing: str = "xy"):
    """Coordinate grids of 1-D ``inputs`` (one Tensor each, or one tuple of them); 'xy' (Cartesian, the default)
    swaps the first two output axes against 'ij' (matrix)."""
    if len(inputs) == 1 and isinstance(inputs[0], (tuple, list)):
        inputs = tuple(inputs[0])
    if indexing not in ("xy", "ij"):
        raise ValueError(f"funcad.ops.meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    if any(len(_shape_of(v)) != 1 for v in inputs):
        raise ValueError(f"funcad.ops.meshgrid: inputs must be 1-D, got shapes {[_shape_of(v) for v in inputs]}")
    sizes = [_shape_of(v)[0] for v in inputs]
    order = list(range(len(inputs)))
    if indexing == "xy" and len(inputs) > 1:
        order[0], order[1] = 1, 0
    grid = tuple(sizes[k] for k in order)
    return tuple(broadcast_to(reshape(v, tuple(-1 if order[a] == k else 1 for a in range(len(inputs)))), grid) for k, v in enumerate(inputs))
