"""Padding: a constant fill as one primitive (its VJP crops), every other mode as a gather of existing elements."""

from __future__ import annotations

import numpy as np

from funcad.core.batching import move_axis
from funcad.core.primitive import compiled_as_call, primitive
from funcad.core.tensor import Tensor
from funcad.ops.shape import _getitem, _shape_of, _take


def _pad_widths(pad_width, shape: tuple) -> tuple:
    """(before, after) per axis; a negative width (MindSpore's) crops that side, so no axis may be cropped below 0."""
    try:
        widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (len(shape), 2))
    except ValueError:
        raise ValueError(f"funcad.ops.pad: pad_width {pad_width!r} does not fit an input with {len(shape)} dimensions") from None
    if (widths.sum(axis=1) < -np.asarray(shape, dtype=np.int64)).any():
        raise ValueError(f"funcad.ops.pad: pad widths {widths.tolist()} crop more than the input's shape {shape}")
    return tuple((int(a), int(b)) for a, b in widths)


def _crop_negative(x, widths: tuple):
    """``x`` (padded by the non-negative widths) with the negative widths cropped off its ends: MindSpore's and torch's
    negative padding, applied after the padding so that reflections still read the cropped elements."""
    if all(a >= 0 and b >= 0 for a, b in widths):
        return x
    return _getitem(x, tuple(slice(max(-a, 0), n - max(-b, 0)) for (a, b), n in zip(widths, _shape_of(x))))


def _torch_pad(torch, x, widths, value):
    return torch.nn.functional.pad(x, [w for pair in reversed(widths) for w in pair], value=value)


@primitive(**compiled_as_call(torch=_torch_pad))
def _pad_constant(x, widths, value):
    return np.pad(x, widths, mode="constant", constant_values=value)


def _unpad(g, widths):
    return _getitem(g, tuple(slice(a, n - b) for (a, b), n in zip(widths, g.shape)))


_pad_constant.defvjp(lambda g, ans, x, widths, value: _unpad(g, widths))
_pad_constant.defjvp(lambda t, ans, x, widths, value: _pad_constant(t, widths, 0.0))


def _pad_batch(args, dims, /, **kwargs):
    """Only the input can be batched: the widths and the fill value are Python numbers (``pad`` takes float(fill))."""
    x, widths, value = args
    return _pad_constant(move_axis(x, dims[0], 0), ((0, 0),) + tuple(widths), value), 0


_pad_constant.declare(batch=_pad_batch)

_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")
_MINDSPORE_MODES = {"replicate": "edge", "circular": "wrap"}


def _last_axes_first(padding, ndim: int) -> tuple:
    """MindSpore's (and torch's) flat padding: (left, right) pairs for the last axis, then the one before..."""
    if len(padding) % 2 or len(padding) // 2 > ndim:
        raise ValueError(f"funcad.ops.pad: padding {tuple(padding)} must hold (before, after) pairs for at most {ndim} axes")
    pairs = [(padding[i], padding[i + 1]) for i in range(0, len(padding), 2)]
    return tuple([(0, 0)] * (ndim - len(pairs)) + pairs[::-1])


def pad(x, pad_width=None, mode: str = "constant", constant_values=0.0, *, value=None, padding=None):
    """Pad with a constant or by reading existing elements (numpy's modes, and MindSpore's replicate and circular).

    ``pad_width`` as numpy reads it (an int, or a (before, after) pair per axis), or as MindSpore's ``padding`` (also
    its keyword): a flat tuple, list or Tensor of ints, pairs for the last axes, last axis first; a negative width crops, as in
    MindSpore. ``value`` is MindSpore's name for the constant.
    """
    if (pad_width is None) == (padding is None):
        raise TypeError("funcad.ops.pad: give the widths once, as pad_width or as MindSpore's padding")
    pad_width = padding if pad_width is None else pad_width
    shape = _shape_of(x)
    if isinstance(pad_width, Tensor):  # MindSpore's padding given as a Tensor: its flat form, not numpy's per-axis one
        pad_width = tuple(int(w) for w in np.asarray(pad_width).reshape(-1))
    if isinstance(pad_width, (tuple, list)) and pad_width and all(isinstance(w, (int, np.integer)) for w in pad_width):
        pad_width = _last_axes_first(pad_width, len(shape))
    signed = _pad_widths(pad_width, shape)
    widths = tuple((max(a, 0), max(b, 0)) for a, b in signed)
    mode = _MINDSPORE_MODES.get(mode, mode)
    if mode == "constant":
        fill = constant_values if value is None else value
        return _crop_negative(_pad_constant(x, widths, 0.0 if fill is None else float(fill)), signed)  # MindSpore's value=None means 0
    if mode not in _PAD_MODES:
        raise ValueError(f"funcad.ops.pad: mode {mode!r} is not supported; use one of {_PAD_MODES + tuple(_MINDSPORE_MODES)}")
    # Every other mode reads existing elements: gather them by index, so the gradient scatters back.
    for axis, (n, w) in enumerate(zip(shape, widths)):
        if w != (0, 0):
            if n == 0:
                raise ValueError(f"funcad.ops.pad: cannot pad an empty axis {axis} (shape {shape}) in mode {mode!r}")
            x = _take(x, np.pad(np.arange(n), w, mode=mode), axis)
    return _crop_negative(x, signed)
