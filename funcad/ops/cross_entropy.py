"""Cross-entropy of logits: one primitive for class-index targets (every weight, ignore_index and reduction), its
closed-form derivatives in the logits and in the class weights, and torch's probability targets and smoothing."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from funcad.core.batching import batch_size
from funcad.core.dtypes import accumulated
from funcad.core.primitive import Primitive, compiled_as_call, primitive
from funcad.core.tensor import Tensor
from funcad.ops.batching import bind_arguments, loop_rule, to_front
from funcad.ops.indices import check_index_range
from funcad.ops.math import negative, not_equal, where
from funcad.ops.nn import (
    _as_batch_of_one,
    _check_classes,
    _check_input,
    _pick,
    _place,
    _reduce,
    _smoothing_term,
    log_softmax,
    softmax,
)
from funcad.ops.reduce import sum
from funcad.ops.shape import _shape_of, broadcast_to, cast, expand_dims, getitem, reshape


def _valid_targets(x, target, ignore_index: int):
    """(mask of non-ignored targets, or None when none is ignored; targets with ignored ones replaced by class 0),
    range-checked here because a target traced by funcad.jit is only known when the program runs, and numpy would
    wrap a negative class around. The common case (every target a class, none ignored) costs two reductions."""
    span = check_index_range("cross_entropy", target, x.shape[1], "target values", ignore_index=ignore_index)
    if span is None or not span[0] <= ignore_index <= span[1]:
        return None, target
    valid = target != ignore_index
    return valid, np.where(valid, target, 0)


def _target_positions(safe) -> tuple:
    """Fancy index of each sample's target class in an (N, C, ...) array (one numpy call to gather or scatter)."""
    if safe.ndim == 1:
        return np.arange(safe.shape[0]), safe
    grids = np.indices(safe.shape, sparse=True)
    return (grids[0], safe, *grids[1:])


def _per_sample(values):
    """Per-sample values (N, ...) shaped to broadcast over x's class axis 1."""
    return values.reshape(values.shape[:1] + (1,) + values.shape[1:])


def _sample_weights(x, weight, valid, safe):
    """Each sample's weight in the loss: its class's weight (when given) times 0 for an ignored target; None when all
    are 1. Computed as nll_loss computes them, so the losses agree to the bit."""
    if weight is None:
        return None if valid is None else valid.astype(x.dtype)
    per_sample = np.asarray(weight)[safe]
    return per_sample if valid is None else per_sample * valid.astype(x.dtype)


def _torch_cross_entropy(torch, x, target, weight, ignore_index, reduction):
    ignored = -100 if ignore_index is None else ignore_index
    return torch.nn.functional.cross_entropy(x, target, weight, ignore_index=ignored, reduction=reduction)


@primitive(**compiled_as_call(torch=_torch_cross_entropy))
def _class_cross_entropy(x, target, weight, ignore_index, reduction):
    """Cross-entropy of logits (N, C, ...) against class indices: -w[t] log_softmax(x)[t] per sample (0 where the target
    is ignored), reduced by 'mean' (over the weights), 'sum' or 'none'.

    The one implementation of cross-entropy on class indices, eager and compiled: forward and backward cost one
    dispatch each instead of about a dozen, and its gradient is the closed form (softmax - one_hot) * w. Sums in
    the order nll_loss does, so the value equals nll_loss(log_softmax(x)) to the bit.
    """
    valid, safe = _valid_targets(x, target, ignore_index)
    losses = -log_softmax.impl(x, 1)[_target_positions(safe)]
    weights = _sample_weights(x, weight, valid, safe)
    if weights is not None:
        losses = losses * weights
    if reduction == "none":
        return losses
    total = accumulated(losses, axis=None)
    if reduction == "sum":
        return total
    return total / (x.dtype.type(losses.size) if weights is None else np.add.reduce(weights, axis=None))


@primitive(**compiled_as_call())
def _class_cross_entropy_grad(g, x, target, weight, ignore_index, reduction):
    """d loss / d x scaled by the cotangent g (a scalar, or one per sample for 'none'): (softmax(x) - one_hot(target))
    times each sample's weight, over the total weight for 'mean'."""
    valid, safe = _valid_targets(x, target, ignore_index)
    grad = np.exp(log_softmax.impl(x, 1))
    grad[_target_positions(safe)] -= 1  # one position per sample: no repeated indices
    weights = _sample_weights(x, weight, valid, safe)
    if reduction == "mean":
        g = g / (x.dtype.type(safe.size) if weights is None else np.add.reduce(weights, axis=None))
    if weights is None and np.ndim(g) == 0:
        return grad * np.asarray(g, dtype=x.dtype)
    scale = np.broadcast_to(g, safe.shape) if weights is None else weights * g
    return grad * _per_sample(np.asarray(scale)).astype(x.dtype, copy=False)


def _sample_scale(g, x, target, weight, ignore_index: int, reduction: str):
    """g times each sample's share of the reduction, shaped to broadcast over the class axis (differentiable in g)."""
    shape = _shape_of(x)
    valid = not_equal(target, ignore_index)
    weights = cast(valid, x.dtype)
    if weight is not None:
        per_class = reshape(weight, (1, shape[1]) + (1,) * (len(shape) - 2))
        weights = _pick(broadcast_to(per_class, shape), where(valid, target, 0)) * weights
    share = weights / sum(weights) if reduction == "mean" else weights
    return expand_dims(share * g, 1)


def _softmax_curvature(ct, g, x, *static):
    """The loss Hessian in x applied to ct, scaled by g: per sample s * (ct - sum(ct * s)) with s = softmax(x) over classes."""
    s = softmax(x, axis=1)
    return _sample_scale(g, x, *static) * s * (ct - sum(ct * s, axis=1, keepdims=True))


def _slope_along(v, x, target, weight, ignore_index: int, reduction: str):
    """<d loss / d x, v>: summed over everything, or per sample (over classes only) for 'none'."""
    slope = _class_cross_entropy_grad(1.0, x, target, weight, ignore_index, reduction)
    return sum(slope * v, axis=1 if reduction == "none" else None)


# -- the weights' derivatives ---------------------------------------------------------------------------
def _targets(x, target, ignore_index: int) -> tuple:
    """(targets with ignored ones replaced by class 0, the mask of non-ignored ones as x's dtype, x's shape), by ops."""
    valid = not_equal(target, ignore_index)
    return where(valid, target, 0), cast(valid, x.dtype), _shape_of(x)


def _at_targets(per_class, safe, shape: tuple):
    """Each sample's entry of a per-class vector (C,): per_class[target] shaped (N, ...)."""
    return _pick(broadcast_to(reshape(per_class, (1, shape[1]) + (1,) * (len(shape) - 2)), shape), safe)


def _weight_shares(values, weight, safe, mask, shape: tuple, reduction: str):
    """d/d weight[target_i] of the reduction of weight[target] * values (values zero where ignored), per sample:
    the values themselves, or for 'mean' (values - mask * mean) / total weight."""
    if reduction != "mean":
        return values
    w_t = _at_targets(weight, safe, shape) * mask
    total = sum(w_t)
    return (values - mask * (sum(w_t * values) / total)) / total


def _to_classes(per_sample, safe, shape: tuple):
    """Per-sample values summed into their target classes: a (C,) cotangent for the weights."""
    return sum(_place(per_sample, safe, shape[1]), axis=(0,) + tuple(range(2, len(shape))))


def _reduced(per_sample, reduction: str):
    return per_sample if reduction == "none" else sum(per_sample)


def _loss_weight_cotangent(g, ans, x, target, weight, ignore_index: int, reduction: str):
    safe, mask, shape = _targets(x, target, ignore_index)
    nll = negative(_pick(log_softmax(x, axis=1), safe)) * mask
    return _to_classes(_weight_shares(nll, weight, safe, mask, shape, reduction) * g, safe, shape)


def _loss_weight_tangent(t, ans, x, target, weight, ignore_index: int, reduction: str):
    safe, mask, shape = _targets(x, target, ignore_index)
    nll = negative(_pick(log_softmax(x, axis=1), safe)) * mask
    return _reduced(_at_targets(t, safe, shape) * _weight_shares(nll, weight, safe, mask, shape, reduction), reduction)


def _unit_slope(x, target, ignore_index: int):
    """(softmax(x) - one_hot(target)), zero for ignored targets: the slope before weights and reduction."""
    return _class_cross_entropy_grad(1.0, x, target, None, ignore_index, "sum")


def _grad_weight_cotangent(ct, ans, g, x, target, weight, ignore_index: int, reduction: str):
    safe, mask, shape = _targets(x, target, ignore_index)
    along = sum(ct * _unit_slope(x, target, ignore_index), axis=1)
    return _to_classes(_weight_shares(along, weight, safe, mask, shape, reduction) * g, safe, shape)


def _grad_weight_tangent(t, ans, g, x, target, weight, ignore_index: int, reduction: str):
    safe, mask, shape = _targets(x, target, ignore_index)
    t_t = _at_targets(t, safe, shape) * mask
    if reduction == "mean":
        w_t = _at_targets(weight, safe, shape) * mask
        total = sum(w_t)
        t_t = (t_t - w_t * (sum(t_t) / total)) / total
    return _unit_slope(x, target, ignore_index) * expand_dims(t_t * g, 1)


# The targets and options take no derivative.
_class_cross_entropy.defvjp(lambda g, ans, x, *static: _class_cross_entropy_grad(g, x, *static), None, _loss_weight_cotangent)
_class_cross_entropy.defjvp(lambda t, ans, x, *static: _slope_along(t, x, *static), None, _loss_weight_tangent)
_class_cross_entropy_grad.defvjp(lambda ct, ans, g, x, *static: _slope_along(ct, x, *static),
                                 lambda ct, ans, g, x, *static: _softmax_curvature(ct, g, x, *static), None, _grad_weight_cotangent)
_class_cross_entropy_grad.defjvp(lambda t, ans, g, x, *static: _class_cross_entropy_grad(t, x, *static),
                                 lambda t, ans, g, x, *static: _softmax_curvature(t, g, x, *static), None, _grad_weight_tangent)


# -- vmap: every member's samples fold into one batch of samples --------------------------------------------------
class _CrossEntropyBatch:
    """The fused cross-entropy's arguments with every member's samples folded into one batch of samples."""

    def __init__(self, prim: Primitive, args, dims, kwargs):
        self.bound = bind_arguments(prim, args, kwargs)
        self.size = size = batch_size(args, dims)
        at = dict(zip(self.bound.arguments, dims))
        x = to_front(self.bound.arguments["x"], at.get("x"), size)  # (B, N, C, ...)
        target = to_front(self.bound.arguments["target"], at.get("target"), size)
        self.sample_shape = tuple(target.shape[1:])
        self.x = reshape(x, (-1,) + tuple(x.shape[2:]))
        self.target = reshape(target, (-1,) + tuple(target.shape[2:]))
        self.weight, self.ignore, self.reduction = (self.bound.arguments[k] for k in ("weight", "ignore_index", "reduction"))

    def per_member(self, samples):
        return reshape(samples, (self.size, -1))

    def total_weight(self):
        """Each member's 'mean' denominator: the summed weights of its non-ignored targets."""
        valid = not_equal(self.target, self.ignore)
        shares = cast(valid, self.x.dtype)
        if self.weight is not None:
            shares = shares * getitem(self.weight, where(valid, self.target, 0))
        return sum(self.per_member(shares), axis=1)


def _unbatched_weight(prim: Primitive, rule: Callable) -> Callable:
    fallback = loop_rule(prim)

    def guarded(args, dims, /, **kwargs):
        at = dict(zip(bind_arguments(prim, args, kwargs).arguments, dims))
        return fallback(args, dims, **kwargs) if at.get("weight") is not None else rule(args, dims, **kwargs)

    return guarded


def _class_cross_entropy_batch(args, dims, /, **kwargs):
    """Every member's per-sample losses in one call, reduced per member."""
    ce = _CrossEntropyBatch(_class_cross_entropy, args, dims, kwargs)
    losses = _class_cross_entropy(ce.x, ce.target, ce.weight, ce.ignore, "none")
    if ce.reduction == "none":
        return reshape(losses, (ce.size,) + ce.sample_shape), 0
    total = sum(ce.per_member(losses), axis=1)
    return (total if ce.reduction == "sum" else total / ce.total_weight()), 0


def _class_cross_entropy_grad_batch(args, dims, /, **kwargs):
    """Every member's gradient in one call: each member's cotangent spread over its samples (over its total weight
    for 'mean'), then the per-sample gradient."""
    ce = _CrossEntropyBatch(_class_cross_entropy_grad, args, dims, kwargs)
    g = to_front(ce.bound.arguments["g"], dims[0], ce.size)
    if ce.reduction == "mean":
        g = g / ce.total_weight()
    if ce.reduction != "none":
        g = broadcast_to(reshape(g, (ce.size,) + (1,) * len(ce.sample_shape)), (ce.size,) + ce.sample_shape)
    grad = _class_cross_entropy_grad(reshape(g, (-1,) + ce.sample_shape[1:]), ce.x, ce.target, ce.weight, ce.ignore, "none")
    return reshape(grad, (ce.size, -1) + tuple(grad.shape[1:])), 0


_class_cross_entropy.declare(batch=_unbatched_weight(_class_cross_entropy, _class_cross_entropy_batch))
_class_cross_entropy_grad.declare(batch=_unbatched_weight(_class_cross_entropy_grad, _class_cross_entropy_grad_batch))


def cross_entropy(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0):  # noqa: A002
    """Cross-entropy of logits (N, C, ...) or (C,) against class indices or class probabilities (torch's semantics)."""
    shape = _shape_of(input)
    if len(shape) == 1:
        return _as_batch_of_one(cross_entropy, input, target, reduction, weight, ignore_index, reduction, label_smoothing)
    _check_input("cross_entropy", shape, weight)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"funcad.ops.cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    num_classes = shape[1]
    target_dtype = np.asarray(target).dtype if not isinstance(target, Tensor) else target.dtype
    if target_dtype.kind in "iu":
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"funcad.ops.cross_entropy: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
        t = _check_classes("cross_entropy", shape, target, ignore_index, check_values=False)  # the op checks the values
        loss = _class_cross_entropy(input, t, weight, ignore_index, reduction)
        if label_smoothing == 0.0:
            return loss
        smooth = _smoothing_term(log_softmax(input, axis=1), t, weight, ignore_index, reduction)
        return loss * (1.0 - label_smoothing) + smooth * (label_smoothing / num_classes)
    if _shape_of(target) != shape:
        raise ValueError(f"funcad.ops.cross_entropy: probability target shape {_shape_of(target)} does not match input shape {shape}")
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + label_smoothing / num_classes
    logp = log_softmax(input, axis=1)
    w = 1.0 if weight is None else reshape(weight, (1, num_classes) + (1,) * (len(shape) - 2))
    loss = negative(sum(logp * target * w, axis=1))
    if reduction == "mean":
        return sum(loss) / float(int(np.prod(shape)) // num_classes)
    return _reduce(loss, reduction, "cross_entropy")
