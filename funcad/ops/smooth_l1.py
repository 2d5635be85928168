"""Smooth L1 and Huber losses: quadratic below a threshold, linear above, as torch.nn.functional's smooth_l1_loss and
huber_loss (and MindSpore's ops.huber_loss)."""

from __future__ import annotations

from funcad.ops.math import abs as _abs
from funcad.ops.math import where
from funcad.ops.nn import _reduce
from funcad.ops.shape import _shape_of


def smooth_l1_loss(input, target, beta: float = 1.0, reduction: str = "none"):  # noqa: A002 - MindSpore's names
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta, with d = input - target (beta = 0 is the L1 loss).

    Unreduced by default, as MindSpore 2.x's ``ops.smooth_l1_loss`` (torch's default is ``reduction="mean"``)."""
    if _shape_of(input) != _shape_of(target):
        raise ValueError(f"funcad.ops.smooth_l1_loss: input shape {_shape_of(input)} and target shape {_shape_of(target)} differ")
    if beta < 0:
        raise ValueError(f"funcad.ops.smooth_l1_loss: beta must be non-negative, got {beta}")
    diff = input - target
    size = _abs(diff)
    if beta == 0:
        return _reduce(size, reduction, "smooth_l1_loss")
    beta = float(beta)
    quadratic = size < beta
    near = where(quadratic, diff, 0.0)  # the square only sees small differences: 0 * (slope inf) would make the gradient NaN
    loss = where(quadratic, near * near * (0.5 / beta), size - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0):  # noqa: A002 - torch's name
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta), with d = input - target: ``delta`` times the smooth L1
    loss with ``beta = delta``, computed directly as torch does."""
    if _shape_of(input) != _shape_of(target):
        raise ValueError(f"funcad.ops.huber_loss: input shape {_shape_of(input)} and target shape {_shape_of(target)} differ")
    if not delta > 0:
        raise ValueError(f"funcad.ops.huber_loss: delta must be positive, got {delta}")
    delta = float(delta)
    diff = input - target
    size = _abs(diff)
    quadratic = size < delta
    near = where(quadratic, diff, 0.0)
    loss = where(quadratic, 0.5 * near * near, delta * (size - 0.5 * delta))
    return _reduce(loss, reduction, "huber_loss")
