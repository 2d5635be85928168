"""Planted layer faults (``--plant side:output|outgrad:layer.path:i,j:step[:delta]``) as output edits of one layer.

Both engines apply the same formula, so a fault means the same on either side: ``output`` adds ``delta`` to one
element of each floating-point output of the layer (an index shorter than the output's rank names a slice: ``0`` is the
whole first sample); ``outgrad`` returns ``out + m * (out - stop_gradient(out))`` with
``m`` zero except ``delta`` at that element: the value is unchanged and the gradient reaching the layer's output is
multiplied by ``1 + delta`` there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from funcad import Tensor, ops
from harness.faults import LAYER_KINDS, Fault
from harness.layers.capture import is_float, leaves, map_leaves
from torch_ref.arrays import from_numpy, numpy_dtype


def _each_float(out, change: Callable):
    """``out`` with each floating-point leaf replaced by ``change(leaf)``."""
    if not any(is_float(leaf) for leaf in leaves(out)):
        raise ValueError("fault: the layer has no floating-point output")
    return map_leaves(lambda leaf: change(leaf) if is_float(leaf) else leaf, out)


def _marker(fault: Fault, shape: tuple[int, ...], dtype) -> np.ndarray:
    if len(fault.index) > len(shape) or not all(0 <= i < n for i, n in zip(fault.index, shape)):
        raise ValueError(f"--plant {fault}: element {fault.index} is outside the output of layer {fault.param} with shape {shape}")
    m = np.zeros(shape, dtype)
    m[fault.index] = fault.delta
    return m


def funcad_edit(fault: Fault) -> Callable:
    def edit(out):
        def change(leaf):
            m = Tensor(_marker(fault, tuple(leaf.shape), np.dtype(leaf.dtype)))
            return leaf + m if fault.kind == "output" else leaf + m * (leaf - ops.stop_gradient(leaf))
        return _each_float(out, change)
    return edit


def torch_edit(fault: Fault) -> Callable:
    def edit(out):
        def change(leaf):
            m = from_numpy(_marker(fault, tuple(leaf.shape), numpy_dtype(leaf.dtype))).to(leaf.device)
            return leaf + m if fault.kind == "output" else leaf + m * (leaf - leaf.detach())
        return _each_float(out, change)
    return edit


def layer_edits(faults: Sequence[Fault], side: str, step: int, paths: Sequence[str]) -> dict[str, Callable]:
    """Layer path -> output edit for ``side``'s layer faults at ``step``; a path that is no layer is a ValueError."""
    mine = [f for f in faults if f.kind in LAYER_KINDS and f.side == side and f.step == step]
    for fault in mine:
        if fault.param not in paths:
            raise ValueError(f"--plant {fault}: no layer {fault.param!r}; layers are {', '.join(paths)}")
    make = funcad_edit if side == "funcad" else torch_edit
    return {f.param: make(f) for f in mine}
