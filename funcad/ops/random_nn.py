"""Random layers' functional forms with MindSpore 2.x's names: ``dropout2d``/``dropout3d`` (whole channels) and
``rrelu`` (leaky ReLU with slopes drawn per element). Draws come from funcad's random key, as ``dropout``'s."""

from __future__ import annotations

import numbers

import numpy as np

from funcad.ops.creation import ones
from funcad.ops.math import where
from funcad.ops.random import dropout
from funcad.ops.sampling import uniform
from funcad.ops.shape import _shape_of


def channel_dropout(x, p: float, spatial: int, owner: str):
    """Zero whole channels of (N, C, *spatial) or (C, *spatial) ``x`` with probability ``p``, scaling the rest by
    1 / (1 - p): one mask value per (sample, channel), drawn as ``dropout`` draws. ``owner`` names the caller in errors."""
    shape = _shape_of(x)
    if len(shape) not in (spatial + 1, spatial + 2):
        raise ValueError(f"{owner}: expected an input with {spatial} spatial axes after (N, C) or (C), got shape {shape}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{owner}: p must be in [0, 1], got {p}")
    if p == 0.0:
        return x
    return x * dropout(ones(tuple(shape[:-spatial]) + (1,) * spatial, x.dtype), p=p, training=True)


def dropout2d(input, p: float = 0.5, training: bool = True):  # noqa: A002 - MindSpore's name
    """Zero each channel of an (N, C, H, W) input with probability ``p`` while ``training`` and scale the others by
    1 / (1 - p); the input itself otherwise."""
    if len(_shape_of(input)) != 4:
        raise ValueError(f"funcad.ops.dropout2d: expected a 4-D input (N, C, H, W), got shape {_shape_of(input)}")
    return channel_dropout(input, p, 2, "funcad.ops.dropout2d") if training else input


def dropout3d(input, p: float = 0.5, training: bool = True):  # noqa: A002 - MindSpore's name
    """Zero each channel of an (N, C, D, H, W) input with probability ``p`` while ``training`` and scale the others by
    1 / (1 - p); the input itself otherwise."""
    if len(_shape_of(input)) != 5:
        raise ValueError(f"funcad.ops.dropout3d: expected a 5-D input (N, C, D, H, W), got shape {_shape_of(input)}")
    return channel_dropout(input, p, 3, "funcad.ops.dropout3d") if training else input


def check_slopes(owner: str, lower, upper) -> tuple[float, float]:
    """(lower, upper) as floats; numbers with lower <= upper, as MindSpore requires."""
    for name, value in (("lower", lower), ("upper", upper)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{owner}: {name} must be a float or an int, got {value!r}")
    if lower > upper:
        raise ValueError(f"{owner}: lower ({lower}) must not exceed upper ({upper})")
    return float(lower), float(upper)


def rrelu(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3):  # noqa: A002 - MindSpore's name
    """Randomized leaky ReLU, MindSpore 2.x's: x where x >= 0, else alpha * x with alpha ~ U(lower, upper) drawn per
    element from funcad's random key (so ``funcad.set_seed`` repeats it); the slopes are constants of the gradient."""
    lower, upper = check_slopes("funcad.ops.rrelu", lower, upper)
    alpha = uniform(_shape_of(input), lower, upper, dtype=np.dtype(input.dtype))
    return where(input >= 0, input, input * alpha)
