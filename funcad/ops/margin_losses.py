"""Margin, embedding and likelihood losses with MindSpore's and torch's names and formulas: margin_ranking_loss,
soft_margin_loss, hinge_embedding_loss, cosine_embedding_loss, triplet_margin_loss, multilabel_soft_margin_loss,
poisson_nll_loss, gaussian_nll_loss, multi_margin_loss and multilabel_margin_loss.

Each is a short composite of funcad ops (so gradients, jit and vmap come from those), written as torch computes it:
the values, and the gradients where a clamp or a stopped epsilon decides them, are torch's.
"""

from __future__ import annotations

import math as _pymath

import numpy as np

from funcad.core.tensor import Tensor
from funcad.core.trace import Tracer
from funcad.ops.activation_composites import logsigmoid
from funcad.ops.aliases import any, pairwise_distance
from funcad.ops.creation import arange
from funcad.ops.indexing import gather
from funcad.ops.indices import check_index_range
from funcad.ops.math import (
    add,
    clip,
    equal,
    exp,
    less,
    log,
    logical_and,
    logical_not,
    maximum,
    minimum,
    multiply,
    negative,
    not_equal,
    softplus,
    sqrt,
    subtract,
    where,
)
from funcad.ops.nn import _reduce
from funcad.ops.reduce import cumsum, sum
from funcad.ops.shape import _shape_of, cast, expand_dims, reshape, stop_gradient, take_along_axis


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


def _class_targets(op: str, input, target):  # noqa: A002
    """(N, C) input and (N,) integer targets (an unbatched (C,) sample and scalar target as a batch of one), checked."""
    shape = _shape_of(input)
    if len(shape) == 1:
        input, target = expand_dims(input, 0), reshape(target, (1,))
        shape = _shape_of(input)
    if len(shape) != 2:
        raise ValueError(f"funcad.ops.{op}: input must be (N, C) or (C,), got shape {shape}")
    t = target if isinstance(target, Tracer) else target._data if target.__class__ is Tensor else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"funcad.ops.{op}: target must hold class indices (integers), got {t.dtype}")
    return input, t, shape


def multi_margin_loss(input, target, p: int = 1, margin: float = 1.0, weight=None, reduction: str = "mean"):  # noqa: A002
    """Per sample, sum over the classes i other than the target y of max(0, margin - x[y] + x[i])**p, times weight[y]
    when given, over C: the multi-class hinge loss of MindSpore's ``ops.multi_margin_loss`` and torch's."""
    if p not in (1, 2):
        raise ValueError(f"funcad.ops.multi_margin_loss: p must be 1 or 2, got {p}")
    unbatched = len(_shape_of(input)) == 1
    input, t, shape = _class_targets("multi_margin_loss", input, target)  # noqa: A001
    if tuple(t.shape) != shape[:1]:
        raise ValueError(f"funcad.ops.multi_margin_loss: target shape {tuple(t.shape)} does not match input shape {shape} (expected {shape[:1]})")
    if not isinstance(t, Tracer):
        check_index_range("multi_margin_loss", t, shape[1], "target values", error=ValueError)
    if weight is not None and tuple(_shape_of(weight)) != shape[1:]:
        raise ValueError(f"funcad.ops.multi_margin_loss: weight must hold one value per class, shape {shape[1:]}, got {tuple(_shape_of(weight))}")
    picked = expand_dims(t, 1)
    hinge = maximum(add(subtract(input, take_along_axis(input, picked, 1)), float(margin)), 0.0)
    if p == 2:
        hinge = multiply(hinge, hinge)
    if weight is not None:
        hinge = multiply(hinge, expand_dims(gather(weight, t, 0), 1))
    others = not_equal(expand_dims(arange(shape[1]), 0), picked)
    loss = sum(where(others, hinge, 0.0), axis=1) / float(shape[1])
    if unbatched and reduction == "none":
        return reshape(loss, ())
    return _reduce(loss, reduction, "multi_margin_loss")


def multilabel_margin_loss(input, target, reduction: str = "mean"):  # noqa: A002
    """Per sample, sum over its target classes j and its other classes i of max(0, 1 - (x[j] - x[i])), over C. The
    targets are the class indices before the first -1 of each row of ``target`` (input's shape), as in MindSpore and
    torch."""
    shape = _shape_of(input)
    unbatched = len(shape) == 1
    if unbatched:
        input, target = expand_dims(input, 0), expand_dims(target, 0)  # noqa: A001
        shape = _shape_of(input)
    t = target if isinstance(target, Tracer) else target._data if target.__class__ is Tensor else np.asarray(target)
    if len(shape) != 2:
        raise ValueError(f"funcad.ops.multilabel_margin_loss: input must be (N, C) or (C,), got shape {shape}")
    if t.dtype.kind not in "iu":
        raise TypeError(f"funcad.ops.multilabel_margin_loss: target must hold class indices (integers), got {t.dtype}")
    if tuple(t.shape) != shape:
        raise ValueError(f"funcad.ops.multilabel_margin_loss: target shape {tuple(t.shape)} must equal input shape {shape}")
    if not isinstance(t, Tracer):
        listed = t[np.cumsum(t < 0, axis=1) == 0]
        bad = listed[listed >= shape[1]]
        if bad.size:
            raise ValueError(f"funcad.ops.multilabel_margin_loss: target classes must lie in [0, {shape[1]}) before each row's first -1, "
                             f"got {bad[:5].tolist()}")
    listed = equal(cumsum(cast(less(t, 0), np.int64), axis=1), 0)  # (N, J): the classes before the first -1
    safe = where(listed, t, 0)
    chosen = logical_and(equal(expand_dims(safe, 2), reshape(arange(shape[1]), (1, 1, -1))), expand_dims(listed, 2))  # (N, J, C)
    is_target = any(chosen, axis=1)  # (N, C)
    hinge = maximum(add(subtract(expand_dims(input, 1), expand_dims(take_along_axis(input, safe, 1), 2)), 1.0), 0.0)  # (N, J, C)
    counted = logical_and(expand_dims(listed, 2), expand_dims(logical_not(is_target), 1))
    loss = sum(where(counted, hinge, 0.0), axis=(1, 2)) / float(shape[1])
    if unbatched and reduction == "none":
        return reshape(loss, ())
    return _reduce(loss, reduction, "multilabel_margin_loss")
