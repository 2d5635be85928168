"""Margin, embedding and likelihood losses with MindSpore's and torch's names and formulas: margin_ranking_loss,
soft_margin_loss, hinge_embedding_loss, cosine_embedding_loss, triplet_margin_loss, multilabel_soft_margin_loss,
poisson_nll_loss and gaussian_nll_loss.

Each is a short composite of funcad ops (so gradients, jit and vmap come from those), written as torch computes it:
the values, and the gradients where a clamp or a stopped epsilon decides them, are torch's.
"""

from __future__ import annotations

import math as _pymath

from funcad.ops.activation_composites import logsigmoid
from funcad.ops.aliases import pairwise_distance
from funcad.ops.math import add, clip, equal, exp, log, maximum, minimum, multiply, negative, not_equal, softplus, sqrt, subtract, where
from funcad.ops.nn import _reduce
from funcad.ops.reduce import sum
from funcad.ops.shape import stop_gradient


def margin_ranking_loss(input1, input2, target, margin: float = 0.0, reduction: str = "mean"):
    """max(0, -target * (input1 - input2) + margin): target 1 asks input1 to rank above input2, -1 below."""
    loss = maximum(add(negative(multiply(target, subtract(input1, input2))), margin), 0.0)
    return _reduce(loss, reduction, "margin_ranking_loss")


def soft_margin_loss(input, target, reduction: str = "mean"):  # noqa: A002 - torch's and MindSpore's names
    """log(1 + exp(-target * input)) for targets in {1, -1}."""
    return _reduce(softplus(negative(multiply(target, input))), reduction, "soft_margin_loss")


def hinge_embedding_loss(inputs, targets, margin: float = 1.0, reduction: str = "mean"):
    """``inputs`` where the target is 1, max(0, margin - inputs) where it is -1."""
    loss = add(where(not_equal(targets, 1), maximum(subtract(margin, inputs), 0.0), 0.0), where(not_equal(targets, -1), inputs, 0.0))
    return _reduce(loss, reduction, "hinge_embedding_loss")


def cosine_embedding_loss(input1, input2, target, margin: float = 0.0, reduction: str = "mean"):
    """1 - cos(input1, input2) where the target is 1, max(0, cos - margin) where it is -1; the cosine along axis 1,
    each squared norm plus 1e-12 (torch's)."""
    squares1 = add(sum(multiply(input1, input1), axis=1), 1e-12)
    squares2 = add(sum(multiply(input2, input2), axis=1), 1e-12)
    cos = sum(multiply(input1, input2), axis=1) / sqrt(multiply(squares1, squares2))
    loss = add(where(equal(target, 1), subtract(1.0, cos), 0.0), where(equal(target, -1), maximum(subtract(cos, margin), 0.0), 0.0))
    return _reduce(loss, reduction, "cosine_embedding_loss")


def triplet_margin_loss(anchor, positive, negative, margin: float = 1.0, p: float = 2, eps: float = 1e-6, swap: bool = False,
                        reduction: str = "mean"):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)) with d the p-norm distance (``pairwise_distance``);
    ``swap`` takes the closer of the negative to the anchor and to the positive."""
    to_negative = pairwise_distance(anchor, negative, p, eps)
    if swap:
        to_negative = minimum(to_negative, pairwise_distance(positive, negative, p, eps))
    loss = maximum(subtract(add(pairwise_distance(anchor, positive, p, eps), margin), to_negative), 0.0)
    return _reduce(loss, reduction, "triplet_margin_loss")


def multilabel_soft_margin_loss(input, target, weight=None, reduction: str = "mean"):  # noqa: A002
    """Per sample, the mean over the C labels of the binary cross-entropy of sigmoid(input) against ``target``."""
    loss = negative(add(multiply(target, logsigmoid(input)), multiply(subtract(1.0, target), logsigmoid(negative(input)))))
    if weight is not None:
        loss = multiply(loss, weight)
    return _reduce(sum(loss, axis=-1) / float(input.shape[-1]), reduction, "multilabel_soft_margin_loss")


def poisson_nll_loss(input, target, log_input: bool = True, full: bool = False, eps: float = 1e-8, reduction: str = "mean"):  # noqa: A002
    """The Poisson negative log-likelihood of ``target`` with rate exp(input) (``log_input``) or input; ``full`` adds
    Stirling's approximation of log(target!) where target > 1."""
    loss = subtract(exp(input), multiply(target, input)) if log_input else subtract(input, multiply(target, log(add(input, eps))))
    if full:
        counted = where(target > 1, target, 1.0)  # (the term is 0 elsewhere; 1 keeps its logs finite)
        stirling = add(subtract(multiply(counted, log(counted)), counted), multiply(0.5, log(multiply(2.0 * _pymath.pi, counted))))
        loss = add(loss, where(target > 1, stirling, 0.0))
    return _reduce(loss, reduction, "poisson_nll_loss")


def gaussian_nll_loss(input, target, var, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):  # noqa: A002
    """0.5 * (log(var) + (input - target)**2 / var), var held at least ``eps`` (its gradient as if unclamped, as torch);
    ``full`` adds 0.5 * log(2 pi)."""
    var = add(var, stop_gradient(subtract(clip(var, eps, None), var)))
    loss = multiply(0.5, add(log(var), multiply(subtract(input, target), subtract(input, target)) / var))
    if full:
        loss = add(loss, 0.5 * _pymath.log(2.0 * _pymath.pi))
    return _reduce(loss, reduction, "gaussian_nll_loss")
