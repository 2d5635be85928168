"""Batching rules of the neural-network ops (see funcad.ops.batching): convolutions, whose batched filters become
groups of one convolution; pooling's flat plane indices, offset per member; embedding lookups; the fused
cross-entropy with its gradient, whose members' samples fold into one batch of samples; and the LSTM cell, whose
rows fold likewise (the fused LSTM sequence loops: its packed layout holds the batch inside)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from funcad.core import base_ops
from funcad.core.primitive import Primitive
from funcad.core.tensor import Tensor
from funcad.ops import conv, math, pool, reduce, shape
from funcad.ops.batching import batch_size, bind_arguments, fold_rule, loop_rule, move_axis, ndim_of, to_front
from funcad.ops.cross_entropy import _class_cross_entropy, _class_cross_entropy_grad
from funcad.ops.embedding import _lookup
from funcad.ops.recurrent import _lstm_cell, _lstm_cell_backward


def _lookup_rule(prim):
    fallback = loop_rule(prim)

    def rule(args, dims, /, **kwargs):
        if dims[0] is not None:  # batched tables
            return fallback(args, dims, **kwargs)
        return prim(*args, **kwargs), dims[1]

    return rule


def _into_channels(x, dim, size: int):
    """A batch of (N, C, H, W) members as one (N, B*C, H, W) array: each member's channels form their own groups."""
    x = to_front(x, dim, size)
    x = shape.transpose(x, (1, 0) + tuple(range(2, ndim_of(x))))
    return shape.reshape(x, (x.shape[0], -1) + tuple(x.shape[3:]))


def _from_channels(y, size: int):
    return shape.reshape(y, (y.shape[0], size, -1) + tuple(y.shape[2:]))


def _grouped_filters(w, dim, size: int):
    w = to_front(w, dim, size)
    return shape.reshape(w, (-1,) + tuple(w.shape[2:]))


def _conv_rule(args, dims, /, **kwargs):
    """Batched filters: every member's channels become groups of one convolution (groups times the batch)."""
    if dims[1] is None:
        return _fold_conv(args, dims, **kwargs)
    bound = bind_arguments(conv._conv, args, kwargs)
    size = batch_size(args, dims)
    x, w = bound.arguments["x"], bound.arguments["w"]
    y = conv._conv(_into_channels(x, dims[0], size), _grouped_filters(w, dims[1], size), geo=bound.arguments["geo"],
                   groups=bound.arguments["groups"] * size)
    return _from_channels(y, size), 1


def _conv_input_grad_rule(args, dims, /, **kwargs):
    if dims[1] is None:
        return _fold_conv_input_grad(args, dims, **kwargs)
    bound = bind_arguments(conv._conv_input_grad, args, kwargs)
    size = batch_size(args, dims)
    n, c, *plane = bound.arguments["x_shape"]
    y = conv._conv_input_grad(_into_channels(bound.arguments["g"], dims[0], size), _grouped_filters(bound.arguments["w"], dims[1], size),
                              geo=bound.arguments["geo"], groups=bound.arguments["groups"] * size, x_shape=(n, size * c, *plane))
    return _from_channels(y, size), 1


def _conv_weight_grad_rule(args, dims, /, **kwargs):
    """Per-member filter gradients (per-sample gradients of a convolution) in one grouped call."""
    bound = bind_arguments(conv._conv_weight_grad, args, kwargs)
    size = batch_size(args, dims)
    o, *rest = bound.arguments["w_shape"]
    dw = conv._conv_weight_grad(_into_channels(bound.arguments["x"], dims[0], size), _into_channels(bound.arguments["g"], dims[1], size),
                                geo=bound.arguments["geo"], groups=bound.arguments["groups"] * size, w_shape=(size * o, *rest))
    return shape.reshape(dw, (size, o, *rest)), 0


_fold_conv = fold_rule(conv._conv, (0,))
_fold_conv_input_grad = fold_rule(conv._conv_input_grad, (0,), shape_arg="x_shape")


def _planes_rule(prim: Primitive) -> Callable:
    """gather_planes / scatter_planes: flat indices into a batch of members are offset by each member's size."""
    fold = fold_rule(prim, (0, 1))

    def rule(args, dims, /, **kwargs):
        if dims[1] is None:  # shared indices into batched data
            bound = bind_arguments(prim, args, kwargs)
            member = tuple(args[0].shape[:dims[0]] + args[0].shape[dims[0] + 1:])
            if "plane_shape" in bound.arguments:
                member = member[:2] + tuple(bound.arguments["plane_shape"])
            size = batch_size(args, dims)
            step = int(np.prod(member, dtype=np.int64))
            index = args[1]
            offsets = Tensor._wrap((np.arange(size, dtype=np.int64) * step).reshape((size,) + (1,) * ndim_of(index)))
            return fold([args[0], offsets + index] + list(args[2:]), [dims[0], 0] + list(dims[2:]), **kwargs)
        if dims[0] is None and prim is pool._gather_planes:  # batched indices into shared data
            return prim(*args, **kwargs), dims[1]
        return fold(args, dims, **kwargs)

    return rule


class _CrossEntropyBatch:
    """The fused cross-entropy's arguments with every member's samples folded into one batch of samples."""

    def __init__(self, prim: Primitive, args, dims, kwargs):
        self.bound = bind_arguments(prim, args, kwargs)
        self.size = size = batch_size(args, dims)
        at = dict(zip(self.bound.arguments, dims))
        x = to_front(self.bound.arguments["x"], at.get("x"), size)  # (B, N, C, ...)
        target = to_front(self.bound.arguments["target"], at.get("target"), size)
        self.sample_shape = tuple(target.shape[1:])
        self.x = shape.reshape(x, (-1,) + tuple(x.shape[2:]))
        self.target = shape.reshape(target, (-1,) + tuple(target.shape[2:]))
        self.weight, self.ignore, self.reduction = (self.bound.arguments[k] for k in ("weight", "ignore_index", "reduction"))

    def per_member(self, samples):
        return shape.reshape(samples, (self.size, -1))

    def total_weight(self):
        """Each member's 'mean' denominator: the summed weights of its non-ignored targets."""
        valid = math.not_equal(self.target, self.ignore)
        shares = base_ops.cast(valid, self.x.dtype)
        if self.weight is not None:
            shares = shares * shape.getitem(self.weight, math.where(valid, self.target, 0))
        return reduce.sum(self.per_member(shares), axis=1)


def _unbatched_weight(prim: Primitive, rule: Callable) -> Callable:
    fallback = loop_rule(prim)

    def guarded(args, dims, /, **kwargs):
        at = dict(zip(bind_arguments(prim, args, kwargs).arguments, dims))
        return fallback(args, dims, **kwargs) if at.get("weight") is not None else rule(args, dims, **kwargs)

    return guarded


def _class_cross_entropy_rule(args, dims, /, **kwargs):
    """Every member's per-sample losses in one call, reduced per member."""
    ce = _CrossEntropyBatch(_class_cross_entropy, args, dims, kwargs)
    losses = _class_cross_entropy(ce.x, ce.target, ce.weight, ce.ignore, "none")
    if ce.reduction == "none":
        return shape.reshape(losses, (ce.size,) + ce.sample_shape), 0
    total = reduce.sum(ce.per_member(losses), axis=1)
    return (total if ce.reduction == "sum" else total / ce.total_weight()), 0


def _class_cross_entropy_grad_rule(args, dims, /, **kwargs):
    """Every member's gradient in one call: each member's cotangent spread over its samples (over its total weight
    for 'mean'), then the per-sample gradient."""
    ce = _CrossEntropyBatch(_class_cross_entropy_grad, args, dims, kwargs)
    g = to_front(ce.bound.arguments["g"], dims[0], ce.size)
    if ce.reduction == "mean":
        g = g / ce.total_weight()
    if ce.reduction != "none":
        g = base_ops.broadcast_to(shape.reshape(g, (ce.size,) + (1,) * len(ce.sample_shape)), (ce.size,) + ce.sample_shape)
    grad = _class_cross_entropy_grad(shape.reshape(g, (-1,) + ce.sample_shape[1:]), ce.x, ce.target, ce.weight, ce.ignore, "none")
    return shape.reshape(grad, (ce.size, -1) + tuple(grad.shape[1:])), 0


def _lstm_cell_rule(args, dims, /, **kwargs):
    """The cell works on any leading axes of (..., 4H) gates and (..., H) states: the batch leads both, and the
    stacked (h, c) output has it after the stack axis."""
    size = batch_size(args, dims)
    gates, c = (to_front(a, d, size) for a, d in zip(args, dims))
    return _lstm_cell(gates, c), 1


def _lstm_cell_backward_rule(args, dims, /, **kwargs):
    size = batch_size(args, dims)
    cot = args[0]
    if dims[0] is None:  # (2, ..., H): the batch goes after the (h, c) axis
        cot = base_ops.broadcast_to(shape.expand_dims(cot, 1), (cot.shape[0], size) + tuple(cot.shape[1:]))
    else:
        cot = move_axis(cot, dims[0], 1)
    gates, c = (to_front(a, d, size) for a, d in zip(args[1:], dims[1:]))
    return _lstm_cell_backward(cot, gates, c), 0


def _declare() -> None:
    _lstm_cell.declare(batch=_lstm_cell_rule)
    _lstm_cell_backward.declare(batch=_lstm_cell_backward_rule)
    conv._conv.declare(batch=_conv_rule)
    conv._conv_input_grad.declare(batch=_conv_input_grad_rule)
    conv._conv_weight_grad.declare(batch=_conv_weight_grad_rule)
    pool._gather_planes.declare(batch=_planes_rule(pool._gather_planes))
    pool._scatter_planes.declare(batch=_planes_rule(pool._scatter_planes))
    _lookup.declare(batch=_lookup_rule(_lookup))
    _class_cross_entropy.declare(batch=_unbatched_weight(_class_cross_entropy, _class_cross_entropy_rule))
    _class_cross_entropy_grad.declare(batch=_unbatched_weight(_class_cross_entropy_grad, _class_cross_entropy_grad_rule))


_declare()
