"""Activations and losses built for numerical stability (no overflow for logits of +-1000)."""

from __future__ import annotations

import numpy as np

from funcad.core.dtypes import accumulated
from funcad.core.primitive import compiled_as_call, defadjoint, primitive
from funcad.core.tensor import Tensor
from funcad.core.trace import Tracer
from funcad.ops.batching import axis_rule, fold_rule
from funcad.ops.indices import check_index_range
from funcad.ops.math import abs as _abs
from funcad.ops.math import exp, greater, log, maximum, negative, not_equal, softplus, where
from funcad.ops.reduce import mean, sum
from funcad.ops.shape import _shape_of, broadcast_to, cast, expand_dims, getitem, reshape

_FEW_CLASSES = 64


@primitive(**compiled_as_call(torch=("log_softmax", lambda torch, x, axis=-1: torch.log_softmax(x, axis))))
def log_softmax(x, axis=-1):
    # ufunc reductions directly: numpy's max/sum wrappers cost more than the arithmetic on small arrays
    if getattr(x, "ndim", 0) == 2 and axis in (1, -1) and x.shape[1] <= _FEW_CLASSES:
        # Rows of a few classes (logits of a batch): numpy reduces a short contiguous row slowly, one row at a time,
        # so work on the transposed copy, where each reduction step is one vector op across the batch.
        xt = np.ascontiguousarray(x.T)
        shifted = xt - np.maximum.reduce(xt, axis=0)
        return np.ascontiguousarray((shifted - np.log(accumulated(np.exp(shifted), axis=0))).T)
    shifted = x - np.maximum.reduce(x, axis=axis, keepdims=True)
    return shifted - np.log(accumulated(np.exp(shifted), axis=axis, keepdims=True))


log_softmax.defvjp(lambda g, ans, x, axis=-1: g - exp(ans) * sum(g, axis=axis, keepdims=True))
log_softmax.defjvp(lambda t, ans, x, axis=-1: t - sum(exp(ans) * t, axis=axis, keepdims=True))
log_softmax.declare(batch=axis_rule(log_softmax))


@primitive(**compiled_as_call(torch=("softmax", lambda torch, x, axis=-1: torch.softmax(x, axis))))
def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / accumulated(e, axis=axis, keepdims=True)


softmax.defvjp(lambda g, ans, x, axis=-1: ans * (g - sum(g * ans, axis=axis, keepdims=True)))
softmax.defjvp(lambda t, ans, x, axis=-1: ans * (t - sum(t * ans, axis=axis, keepdims=True)))
softmax.declare(batch=axis_rule(softmax))


def _reduce(loss, reduction: str, op: str, weight_total=None):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return sum(loss)
    if reduction == "mean":
        return sum(loss) / weight_total if weight_total is not None else mean(loss)
    raise ValueError(f"funcad.ops.{op}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction: str = "mean"):  # noqa: A002
    """BCE on logits: (1 - t) x + (1 + (p - 1) t) softplus(-x), stable for any x (as torch)."""
    if _shape_of(input) != _shape_of(target):
        raise ValueError(f"funcad.ops.binary_cross_entropy_with_logits: input shape {_shape_of(input)} and target shape {_shape_of(target)} differ")
    if pos_weight is None:
        loss = (1.0 - target) * input + softplus(negative(input))
    else:
        log_weight = 1.0 + (pos_weight - 1.0) * target
        loss = (1.0 - target) * input + log_weight * softplus(negative(input))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


@primitive(**compiled_as_call(elementwise=True, torch=lambda torch, p: torch.clamp(torch.log(p), min=-100.0)))
def _clamped_log(p):
    """log(p) floored at -100, as torch's BCE does, so p = 0 or 1 gives a finite loss."""
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(p), -100.0).astype(p.dtype, copy=False)


# torch divides by max(p (1 - p), 1e-12) in BCE's backward; flooring p at 1e-12 here gives the same finite slopes.
_clamped_log.defelementwise(lambda v, ans, p: v / maximum(p, 1e-12))


def binary_cross_entropy(input, target, weight=None, reduction: str = "mean"):  # noqa: A002
    """BCE on probabilities, with logs clamped at -100 as torch does."""
    if _shape_of(input) != _shape_of(target):
        raise ValueError(f"funcad.ops.binary_cross_entropy: input shape {_shape_of(input)} and target shape {_shape_of(target)} differ")
    log_p = _clamped_log(input)
    log_q = _clamped_log(1.0 - input)
    loss = negative(target * log_p + (1.0 - target) * log_q)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


@primitive(**compiled_as_call(torch=lambda torch, logp, target: torch.take_along_dim(logp, target.long().unsqueeze(1), 1).squeeze(1)))
def _pick(logp, target):
    """logp[n, target[n], ...] along the class axis 1 (ignored targets already replaced by a valid class).

    The range check guards targets traced by funcad.jit, known only when the program runs; numpy alone
    would wrap a negative class around.
    """
    check_index_range("nll_loss", target, logp.shape[1], "target values", " or equal ignore_index")
    return np.squeeze(np.take_along_axis(logp, np.expand_dims(target, 1), axis=1), 1)


@primitive(**compiled_as_call())
def _place(g, target, num_classes):
    """Adjoint of _pick: g placed at the target classes of a zero array."""
    shape = g.shape[:1] + (num_classes,) + g.shape[1:]
    out = np.zeros(shape, dtype=g.dtype)
    np.put_along_axis(out, np.expand_dims(target, 1), np.expand_dims(g, 1), axis=1)
    return out


defadjoint(_pick, _place, lambda g, ans, logp, target: _place(g, target, _shape_of(logp)[1]),
           lambda g, ans, gg, target, num_classes: _pick(g, target))
_pick.declare(batch=fold_rule(_pick, (0, 1), broadcast=True))
_place.declare(batch=fold_rule(_place, (0, 1), broadcast=True))


def _check_input(op: str, shape: tuple, weight) -> None:
    """Input (N, C, ...) and, when given, a weight with one entry per class (numpy would broadcast or index past it)."""
    if len(shape) < 2:
        raise ValueError(f"funcad.ops.{op}: input must be (N, C, ...), got shape {shape}")
    if weight is not None and tuple(_shape_of(weight)) != (shape[1],):
        raise ValueError(f"funcad.ops.{op}: weight must hold one value per class, shape ({shape[1]},) for input {shape}, "
                         f"got {tuple(_shape_of(weight))}")


def _check_classes(op: str, input_shape: tuple, target, ignore_index: int, check_values: bool = True):
    """The target as an array, or as given when it is a traced value (under jit only its shape is known); its values
    are checked too unless the op that takes it checks them."""
    t = target if isinstance(target, Tracer) else target._data if target.__class__ is Tensor else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"funcad.ops.{op}: class-index target must be integers, got {t.dtype}")
    expected = input_shape[:1] + input_shape[2:]
    if tuple(t.shape) != expected:
        raise ValueError(f"funcad.ops.{op}: target shape {tuple(t.shape)} does not match input shape {input_shape} (expected {expected})")
    if check_values and not isinstance(t, Tracer):
        check_index_range(op, t, input_shape[1], "target values", ignore_index=ignore_index)
    return t


def _as_batch_of_one(loss_fn, input, target, reduction: str, *options):  # noqa: A002
    """An unbatched sample (C,) as torch takes it: a batch of one, with a 0-d result for reduction='none'."""
    out = loss_fn(expand_dims(input, 0), expand_dims(target, 0), *options)
    return reshape(out, ()) if reduction == "none" else out


def nll_loss(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0):  # noqa: A002
    """Negative log-likelihood of class indices, given log-probabilities (N, C, ...) or one unbatched sample (C,).

    With ``label_smoothing`` e, MindSpore 2.x's form: (1 - e) * nll + e / C * s, where s = -sum over the classes of the
    input (unweighted, 0 at ignored targets), reduced as nll is except that 'mean' averages s over every position."""
    shape = _shape_of(input)
    if len(shape) == 1:
        return _as_batch_of_one(nll_loss, input, target, reduction, weight, ignore_index, reduction, label_smoothing)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"funcad.ops.nll_loss: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    _check_input("nll_loss", shape, weight)
    t = _check_classes("nll_loss", shape, target, ignore_index)
    # The validity mask is computed by ops, so a target traced by funcad.jit (values unknown) takes the same path.
    # With every target valid and no weight, multiplying by the mask (x * 1.0) changes no bit.
    valid = not_equal(t, ignore_index)
    safe_t = where(valid, t, 0)
    w_t = cast(valid, input.dtype)
    if weight is not None:
        per_class = reshape(weight, (1, shape[1]) + (1,) * (len(shape) - 2))
        w_t = _pick(broadcast_to(per_class, shape), safe_t) * w_t
    loss = negative(_pick(input, safe_t)) * w_t
    loss = _reduce(loss, reduction, "nll_loss", weight_total=sum(w_t) if reduction == "mean" else None)
    if not label_smoothing:
        return loss
    smooth = _reduce(negative(sum(input, axis=1)) * cast(valid, input.dtype), reduction, "nll_loss")
    return (1.0 - label_smoothing) * loss + (label_smoothing / shape[1]) * smooth


def _smoothing_term(logp, t, weight, ignore_index: int, reduction: str):
    """-sum over classes of (weighted) log-probabilities per valid sample, reduced as the nll term is.

    The validity mask and the counts are computed by ops, so a target traced by ``funcad.jit`` works too.
    """
    shape = _shape_of(logp)
    valid = not_equal(t, ignore_index)
    valid_f = cast(valid, logp.dtype)
    w = 1.0 if weight is None else reshape(weight, (1, shape[1]) + (1,) * (len(shape) - 2))
    smooth = negative(sum(logp * w, axis=1)) * valid_f
    if reduction != "mean":
        return _reduce(smooth, reduction, "cross_entropy")
    if weight is None:
        return sum(smooth) / maximum(sum(valid_f), 1.0)  # the count is exact in floating point
    w_t = getitem(weight, where(valid, t, 0)) * valid_f
    return sum(smooth) / sum(w_t)


def _difference(op: str, input, target):  # noqa: A002
    """input - target, with a shape mismatch reported under the loss's own name."""
    try:
        np.broadcast_shapes(_shape_of(input), _shape_of(target))
    except ValueError:
        raise ValueError(f"funcad.ops.{op}: input shape {_shape_of(input)} and target shape {_shape_of(target)} do not broadcast") from None
    return input - target


def mse_loss(input, target, reduction: str = "mean"):  # noqa: A002
    diff = _difference("mse_loss", input, target)
    return _reduce(diff * diff, reduction, "mse_loss")


def l1_loss(input, target, reduction: str = "mean"):  # noqa: A002
    return _reduce(_abs(_difference("l1_loss", input, target)), reduction, "l1_loss")



def kl_div(logits, labels, reduction: str = "mean", log_target: bool = False):
    """labels * (log(labels) - logits) per element, 0 where labels are not positive (as MindSpore's KLDivLoss; torch's
    kl_div gives NaN for a negative label): the divergence of the distribution ``exp(logits)`` from ``labels``; with
    ``log_target`` the labels are log-probabilities too
    (exp(labels) * (labels - logits)). Reduced by 'none', 'sum', 'mean' (over the elements) or 'batchmean' (the sum
    over the batch size, the true divergence per sample)."""
    if log_target:
        pointwise = exp(labels) * (labels - logits)
    else:
        positive = greater(labels, 0)
        pointwise = where(positive, labels * (log(where(positive, labels, 1.0)) - logits), 0.0)
    if reduction == "batchmean":
        return sum(pointwise) / (_shape_of(pointwise) or (1,))[0]
    if reduction not in ("none", "sum", "mean"):
        raise ValueError(f"funcad.ops.kl_div: reduction must be 'none', 'mean', 'batchmean' or 'sum', got {reduction!r}")
    return _reduce(pointwise, reduction, "kl_div")
