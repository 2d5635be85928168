"""Connectionist temporal classification loss: MindSpore's ``ops.ctc_loss`` (the loss and the log-alphas), torch's
``F.ctc_loss`` values.

The forward variable alpha runs in log space over the extended label sequence (a blank before, between and after the
labels), vectorised over the batch and the 2S + 1 label positions, one step per time frame. It is built from funcad
ops, so its gradient (the forward-backward result), higher derivatives, jit, vmap and the torch mirror come from
theirs. Impossible states hold a large finite negative log-probability instead of -inf, so no 0 * inf reaches a
gradient; a loss that stays that low is infinite (the targets cannot be aligned), or 0 with ``zero_infinity``.
"""

from __future__ import annotations

import numpy as np

from funcad.core.tensor import Tensor
from funcad.core.trace import Tracer
from funcad.ops.creation import arange
from funcad.ops.math import equal, exp, greater, less, less_equal, log, logical_and, maximum, negative, not_equal, where
from funcad.ops.primitive_classes import PrimitiveClass
from funcad.ops.reduce import mean, sum
from funcad.ops.shape import (
    _shape_of,
    broadcast_to,
    cast,
    concat,
    expand_dims,
    getitem,
    reshape,
    stack,
    stop_gradient,
    take_along_axis,
)

_IMPOSSIBLE = -1e30  # log-probability of a state no path reaches (exp() of it minus any reachable value is exactly 0)
_REDUCTIONS = ("none", "mean", "sum")


def _integers(value, what: str):
    """``value`` (an int, a sequence, an array or a Tensor) as an integer array, or as given when traced (under jit or a
    mirror trace only its shape is known)."""
    if isinstance(value, Tracer):
        return value
    array = value._data if value.__class__ is Tensor else np.asarray(value)
    if array.dtype.kind not in "iu":
        raise TypeError(f"funcad.ops.ctc_loss: {what} must be integers, got {array.dtype}")
    return array


def _padded(targets, target_lengths: np.ndarray, batch: int):
    """Targets as (N, S): a 1-D concatenation of every sample's labels (torch's other layout) is cut by the lengths."""
    if isinstance(targets, Tracer) or len(targets.shape) != 1 or batch == 0:
        return targets
    if isinstance(target_lengths, Tracer):
        raise ValueError("funcad.ops.ctc_loss: concatenated 1-D targets need known target_lengths (they are traced here)")
    total = int(np.sum(target_lengths))
    if targets.shape[0] != total:
        raise ValueError(f"funcad.ops.ctc_loss: concatenated targets of shape {tuple(targets.shape)} must hold sum(target_lengths) = "
                         f"{total} labels")
    width = max(int(np.max(target_lengths)), 1)
    out = np.zeros((batch, width), targets.dtype)
    starts = np.concatenate([[0], np.cumsum(target_lengths)[:-1]])
    for n, (start, length) in enumerate(zip(starts, target_lengths)):
        out[n, :length] = targets[start:start + length]
    return out


def _check(shape: tuple, targets, input_lengths, target_lengths, blank: int, reduction: str) -> None:
    """Shapes always; values where they are known. Each message names the op and the offending shapes or values."""
    length, batch, classes = shape
    if reduction not in _REDUCTIONS:
        raise ValueError(f"funcad.ops.ctc_loss: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    if not 0 <= blank < classes:
        raise ValueError(f"funcad.ops.ctc_loss: blank must lie in [0, {classes}) for log_probs of shape {shape}, got {blank}")
    if len(targets.shape) != 2 or targets.shape[0] != batch:
        raise ValueError(f"funcad.ops.ctc_loss: targets must be (N, S) = ({batch}, S) for log_probs of shape {shape}, "
                         f"got shape {tuple(targets.shape)}")
    for name, lengths in (("input_lengths", input_lengths), ("target_lengths", target_lengths)):
        if tuple(lengths.shape) != (batch,):
            raise ValueError(f"funcad.ops.ctc_loss: {name} must hold one length per sample, shape ({batch},) for log_probs of shape "
                             f"{shape}, got shape {tuple(lengths.shape)}")
    if not isinstance(input_lengths, Tracer):
        bad = np.flatnonzero((input_lengths < 1) | (input_lengths > length))
        if bad.size:
            raise ValueError(f"funcad.ops.ctc_loss: input_lengths must lie in [1, {length}] (T of log_probs {shape}), got "
                             f"{input_lengths[bad].tolist()} at samples {bad.tolist()}")
    if not isinstance(target_lengths, Tracer):
        bad = np.flatnonzero((target_lengths < 0) | (target_lengths > targets.shape[1]))
        if bad.size:
            raise ValueError(f"funcad.ops.ctc_loss: target_lengths must lie in [0, {targets.shape[1]}] (S of targets "
                             f"{tuple(targets.shape)}), got {target_lengths[bad].tolist()} at samples {bad.tolist()}")
        if not isinstance(input_lengths, Tracer):
            bad = np.flatnonzero(target_lengths > input_lengths)
            if bad.size:
                raise ValueError(f"funcad.ops.ctc_loss: a target longer than its input cannot be aligned: target_lengths "
                                 f"{target_lengths[bad].tolist()} > input_lengths {input_lengths[bad].tolist()} at samples {bad.tolist()}")
    if not isinstance(targets, Tracer) and not isinstance(target_lengths, Tracer) and targets.size:
        used = targets[np.arange(targets.shape[1]) < target_lengths[:, None]]
        bad = used[(used < 0) | (used >= classes)]
        if bad.size:
            raise ValueError(f"funcad.ops.ctc_loss: target labels must lie in [0, {classes}) (C of log_probs {shape}), got "
                             f"{bad[:5].tolist()}")


def _log_sum_exp3(a, b, c):
    """log(e^a + e^b + e^c), shifted by the (constant) largest: its derivatives are the softmax weights, 0 for an
    impossible state next to a reachable one."""
    top = stop_gradient(maximum(maximum(a, b), c))
    return top + log(exp(a - top) + exp(b - top) + exp(c - top))


def _shifted(alpha, by: int, fill):
    """alpha moved ``by`` label positions to the right, ``fill`` coming in on the left."""
    batch = _shape_of(alpha)[0]
    return concat([broadcast_to(fill, (batch, by)), getitem(alpha, (slice(None), slice(None, -by)))], axis=1)


def _batched_ctc(log_probs, targets, input_lengths, target_lengths, blank: int, zero_infinity: bool):
    """Per-sample losses (N,) and log-alphas (N, T, 2S + 1) of log_probs (T, N, C)."""
    length, batch, _ = _shape_of(log_probs)
    width = 2 * targets.shape[1] + 1
    dtype = log_probs.dtype
    impossible = cast(np.asarray(_IMPOSSIBLE), dtype)
    labels_in = less(expand_dims(arange(targets.shape[1]), 0), expand_dims(target_lengths, 1))  # (N, S): the labels in use
    labels = where(labels_in, targets, blank)
    # the extended sequence: blank, l1, blank, l2, ..., blank
    extended = reshape(stack([broadcast_to(cast(np.asarray(blank), labels.dtype), _shape_of(labels)), labels], axis=2), (batch, -1))
    extended = concat([extended, broadcast_to(cast(np.asarray(blank), labels.dtype), (batch, 1))], axis=1)
    positions = expand_dims(arange(width), 0)
    # a label may follow the previous label directly (skipping the blank between) unless it repeats it
    skips = logical_and(equal(positions % 2, 1), not_equal(extended, concat([broadcast_to(cast(np.asarray(-1), extended.dtype), (batch, 2)),
                                                                              getitem(extended, (slice(None), slice(None, -2)))], axis=1)))
    emissions = take_along_axis(log_probs, broadcast_to(expand_dims(extended, 0), (length, batch, width)), axis=2)  # (T, N, 2S + 1)
    alpha = where(less_equal(positions, 1), getitem(emissions, 0), impossible)
    alphas = [alpha]
    for t in range(1, length):
        step = _log_sum_exp3(alpha, _shifted(alpha, 1, impossible), where(skips, _shifted(alpha, 2, impossible), impossible))
        alpha = where(expand_dims(greater(input_lengths, t), 1), step + getitem(emissions, t), alpha)
        alphas.append(alpha)
    ends = stack([2 * target_lengths, maximum(2 * target_lengths - 1, 0)], axis=1)
    last = take_along_axis(alpha, ends, axis=1)
    last_label = where(greater(target_lengths, 0), getitem(last, (slice(None), 1)), impossible)
    first, second = getitem(last, (slice(None), 0)), last_label
    top = stop_gradient(maximum(first, second))
    likelihood = top + log(exp(first - top) + exp(second - top))
    aligned = greater(likelihood, _IMPOSSIBLE / 2)
    losses = where(aligned, negative(likelihood), 0.0 if zero_infinity else np.inf)
    history = stack(alphas, axis=1)  # (N, T, 2S + 1)
    reached = logical_and(greater(history, _IMPOSSIBLE / 2), expand_dims(less(expand_dims(arange(length), 0), expand_dims(input_lengths, 1)), 2))
    reached = logical_and(reached, expand_dims(less_equal(positions, expand_dims(2 * target_lengths, 1)), 1))
    return losses, where(reached, history, -np.inf)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False):
    """The CTC loss of log-probabilities ``log_probs`` (T, N, C) (or one unbatched sample (T, C)) against ``targets``
    (N, S) (or every sample's labels concatenated, 1-D), as MindSpore's ``ops.ctc_loss``: returns
    ``(neg_log_likelihood, log_alpha)``, log_alpha (N, T, 2S + 1) with -inf where no path reaches.

    'mean' divides each loss by its target length (at least 1) before averaging over the batch, as torch and
    MindSpore do. A target longer than its input is an error (MindSpore's); targets that cannot be aligned for
    another reason (repeated labels needing a blank between) give an infinite loss, or 0 and no gradient with
    ``zero_infinity``.
    """
    shape = _shape_of(log_probs)
    unbatched = len(shape) == 2
    if unbatched:  # torch's (T, C) with targets (S,) and lengths given as numbers
        log_probs = expand_dims(log_probs, 1)
        targets = expand_dims(targets, 0)
        input_lengths, target_lengths = (reshape(v, (1,)) if isinstance(v, Tracer) else np.reshape(np.asarray(v), (1,))
                                         for v in (input_lengths, target_lengths))
        shape = _shape_of(log_probs)
    if len(shape) != 3:
        raise ValueError(f"funcad.ops.ctc_loss: log_probs must be (T, N, C) or (T, C), got shape {shape}")
    if np.dtype(log_probs.dtype).kind != "f":
        raise TypeError(f"funcad.ops.ctc_loss: log_probs must be floating point, got {log_probs.dtype}")
    input_lengths, target_lengths = (_integers(v, name) for v, name in ((input_lengths, "input_lengths"), (target_lengths, "target_lengths")))
    if not isinstance(input_lengths, Tracer):
        input_lengths = np.reshape(input_lengths, (-1,))
    if not isinstance(target_lengths, Tracer):
        target_lengths = np.reshape(target_lengths, (-1,))
    targets = _padded(_integers(targets, "targets"), target_lengths, shape[1])
    _check(shape, targets, input_lengths, target_lengths, blank, reduction)
    losses, log_alpha = _batched_ctc(log_probs, targets, input_lengths, target_lengths, blank, zero_infinity)
    if unbatched and reduction == "none":
        return reshape(losses, ()), log_alpha
    if reduction == "sum":
        return sum(losses), log_alpha
    if reduction == "mean":
        return mean(losses / cast(maximum(target_lengths, 1), losses.dtype)), log_alpha
    return losses, log_alpha


def _sparse_targets(labels_indices: np.ndarray, labels_values: np.ndarray, batch: int, collapse: bool) -> tuple[np.ndarray, np.ndarray]:
    """The (N, S) padded targets and their lengths from a sparse (indices (L, 2) of [sample, position], values (L,))
    label matrix, each sample's labels in position order; ``collapse`` merges runs of a repeated label first."""
    if labels_indices.ndim != 2 or labels_indices.shape[1] != 2 or labels_values.shape != (labels_indices.shape[0],):
        raise ValueError(f"funcad.ops.CTCLoss: labels_indices must be (L, 2) and labels_values (L,), got shapes "
                         f"{labels_indices.shape} and {labels_values.shape}")
    samples = labels_indices[:, 0]
    bad = samples[(samples < 0) | (samples >= batch)]
    if bad.size:
        raise ValueError(f"funcad.ops.CTCLoss: labels_indices name samples {bad[:5].tolist()} outside [0, {batch}) (batch size of x)")
    rows = []
    for n in range(batch):
        mine = samples == n
        labels = labels_values[mine][np.argsort(labels_indices[mine, 1], kind="stable")]
        if collapse and labels.size:
            labels = labels[np.concatenate([[True], labels[1:] != labels[:-1]])]
        rows.append(labels)
    lengths = np.array([row.size for row in rows], np.int64)
    targets = np.zeros((batch, max(int(lengths.max(initial=0)), 1)), np.int64)
    for n, row in enumerate(rows):
        targets[n, :row.size] = row
    return targets, lengths


class CTCLoss(PrimitiveClass):
    """``ops.CTCLoss(preprocess_collapse_repeated=False, ctc_merge_repeated=True, ignore_longer_outputs_than_inputs=
    False)(x, labels_indices, labels_values, sequence_length)``: MindSpore's (and TensorFlow's) CTC primitive, as
    MindSpore's CRNN trains with it. ``x`` (T, N, C) holds unnormalised logits (the softmax is applied here), the
    blank is the last class C - 1, the labels come as a sparse matrix. Returns (loss (N,), gradient (T, N, C)), the
    gradient being d(sum of losses)/dx, a constant as in MindSpore (its derivative is not taken).

    The labels must be known (not traced by jit): they fix the alignment lattice. With
    ``ignore_longer_outputs_than_inputs`` a sample whose labels outnumber its frames gets loss 0 and gradient 0;
    otherwise it is an error. ``ctc_merge_repeated=False`` (paths may emit a label on consecutive frames as two
    labels) is a different lattice, not implemented."""

    def __init__(self, preprocess_collapse_repeated: bool = False, ctc_merge_repeated: bool = True,
                 ignore_longer_outputs_than_inputs: bool = False):
        if not ctc_merge_repeated:
            raise NotImplementedError("funcad.ops.CTCLoss: ctc_merge_repeated=False is not implemented (only the standard CTC, True)")
        self.preprocess_collapse_repeated = bool(preprocess_collapse_repeated)
        self.ctc_merge_repeated = True
        self.ignore_longer_outputs_than_inputs = bool(ignore_longer_outputs_than_inputs)

    def __call__(self, x, labels_indices, labels_values, sequence_length):
        from funcad.core.transforms import vjp
        from funcad.ops.nn import log_softmax

        shape = _shape_of(x)
        if len(shape) != 3:
            raise ValueError(f"funcad.ops.CTCLoss: x must be (max_time, batch_size, num_classes), got shape {shape}")
        if any(isinstance(v, Tracer) for v in (labels_indices, labels_values, sequence_length)):
            raise ValueError("funcad.ops.CTCLoss: labels_indices, labels_values and sequence_length must be known values, not traced")
        indices, values = _integers(labels_indices, "labels_indices"), _integers(labels_values, "labels_values")
        lengths = np.reshape(_integers(sequence_length, "sequence_length"), (-1,))
        targets, target_lengths = _sparse_targets(indices, np.reshape(values, (-1,)), shape[1], self.preprocess_collapse_repeated)
        kept = np.ones(shape[1], bool)
        if self.ignore_longer_outputs_than_inputs and lengths.shape == target_lengths.shape:
            kept = target_lengths <= lengths
            target_lengths = np.where(kept, target_lengths, 0)

        def losses_of(logits):
            losses, _ = ctc_loss(log_softmax(logits, -1), targets, lengths, target_lengths, blank=shape[2] - 1, reduction="none")
            return where(kept, losses, 0.0)

        losses, pull_back = vjp(losses_of, x)
        (gradient,) = pull_back(broadcast_to(cast(np.asarray(1.0), losses.dtype), (shape[1],)))
        return losses, stop_gradient(gradient)
