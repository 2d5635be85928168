"""lstm_cell and lstm_sequence: one LSTM step, and one LSTM layer over a whole sequence, each as one primitive, so a
step costs a few dispatches or none, not twenty.

The forwards and first-order VJPs are fused numpy code; every other rule (forward mode, gradients of gradients)
differentiates the same computation written in funcad ops (``_lstm_cell_ops``, ``_sequence_ops``).
"""

from __future__ import annotations

import math

import numpy as np

from funcad.core.batching import batch_size, move_axis
from funcad.core.primitive import compiled_as_call, primitive
from funcad.core.transforms import jvp, vjp
from funcad.ops.batching import loop_rule, to_front
from funcad.ops.creation import zeros
from funcad.ops.linalg import matmul
from funcad.ops.math import sigmoid, tanh, where
from funcad.ops.shape import _shape_of, broadcast_to, concat, expand_dims, reshape, split_numpy, stack, transpose

xp = np  # the kernels' name for numpy


def _activations(gates):
    """sigmoid(i), sigmoid(f), tanh(g), sigmoid(o) of gates (..., 4H) in numpy; sigmoid as 0.5 tanh(x/2) + 0.5 (no overflow)."""
    i, f, g, o = xp.split(gates, 4, axis=-1)
    return 0.5 * xp.tanh(0.5 * i) + 0.5, 0.5 * xp.tanh(0.5 * f) + 0.5, xp.tanh(g), 0.5 * xp.tanh(0.5 * o) + 0.5


@primitive(**compiled_as_call())
def _lstm_cell(gates, c):
    i, f, g, o = _activations(gates)
    c_new = f * c + i * g
    return xp.stack((o * xp.tanh(c_new), c_new))


@primitive(**compiled_as_call())
def _lstm_cell_backward(cot, gates, c):
    """The cotangents of ``gates`` and ``c`` side by side (..., 5H), for the cotangent ``cot`` = (dh', dc')."""
    i, f, g, o = _activations(gates)
    tc = xp.tanh(f * c + i * g)
    dc = cot[1] + cot[0] * o * (1.0 - tc * tc)
    return xp.concatenate((dc * g * i * (1.0 - i), dc * c * f * (1.0 - f), dc * i * (1.0 - g * g), cot[0] * tc * o * (1.0 - o), dc * f), axis=-1)


def _lstm_cell_ops(gates, c):
    """The same step in funcad ops: what the higher-order rules differentiate."""
    i, f, g, o = split_numpy(gates, 4, axis=-1)
    c_new = sigmoid(f) * c + sigmoid(i) * tanh(g)
    return stack([sigmoid(o) * tanh(c_new), c_new])


def _backward_ops(cot, gates, c):
    return concat(list(vjp(_lstm_cell_ops, gates, c)[1](cot)), axis=-1)


def _tangent(fn, args: tuple, k: int, t):
    """fn's output tangent when only argument ``k`` moves, along ``t``."""
    return jvp(lambda a: fn(*args[:k], a, *args[k + 1:]), (args[k],), (t,))[1]


def _cotangent(fn, args: tuple, k: int, g):
    """The cotangent of argument ``k`` of fn for the output cotangent ``g``."""
    return vjp(fn, *args)[1](g)[k]


def _part(g, c, k: int):
    """Slot k (0: gates, 1: c) of _lstm_cell_backward's side-by-side result; both rules make the same call, which a
    compiled program computes once."""
    h = _shape_of(c)[-1]
    return g[..., : 4 * h] if k == 0 else g[..., 4 * h:]


_lstm_cell.defvjp(*(lambda g, ans, gates, c, k=k: _part(_lstm_cell_backward(g, gates, c), c, k) for k in range(2)))
_lstm_cell.defjvp(*(lambda t, ans, gates, c, k=k: _tangent(_lstm_cell_ops, (gates, c), k, t) for k in range(2)))
_lstm_cell_backward.defvjp(*(lambda g, ans, cot, gates, c, k=k: _cotangent(_backward_ops, (cot, gates, c), k, g) for k in range(3)))
_lstm_cell_backward.defjvp(*(lambda t, ans, cot, gates, c, k=k: _tangent(_backward_ops, (cot, gates, c), k, t) for k in range(3)))


def _lstm_cell_batch(args, dims, /, **kwargs):
    """The cell works on any leading axes of (..., 4H) gates and (..., H) states: the batch leads both, and the
    stacked (h, c) output has it after the stack axis."""
    size = batch_size(args, dims)
    gates, c = (to_front(a, d, size) for a, d in zip(args, dims))
    return _lstm_cell(gates, c), 1


def _lstm_cell_backward_batch(args, dims, /, **kwargs):
    size = batch_size(args, dims)
    cot = args[0]
    if dims[0] is None:  # (2, ..., H): the batch goes after the (h, c) axis
        cot = broadcast_to(expand_dims(cot, 1), (cot.shape[0], size) + tuple(cot.shape[1:]))
    else:
        cot = move_axis(cot, dims[0], 1)
    gates, c = (to_front(a, d, size) for a, d in zip(args[1:], dims[1:]))
    return _lstm_cell_backward(cot, gates, c), 0


_lstm_cell.declare(batch=_lstm_cell_batch)
_lstm_cell_backward.declare(batch=_lstm_cell_backward_batch)


def lstm_cell(gates, c):
    """One LSTM step from its pre-activation ``gates`` (..., 4H), ordered i, f, g, o as in torch and MindSpore, and the
    cell state ``c`` (..., H): the stacked pair (h', c') of shape (2, ..., H), with c' = sigmoid(f) c + sigmoid(i) tanh(g)
    and h' = sigmoid(o) tanh(c')."""
    gates_shape, c_shape = _shape_of(gates), _shape_of(c)
    if gates_shape[:-1] != c_shape[:-1] or gates_shape[-1] != 4 * c_shape[-1]:
        raise ValueError(f"funcad.ops.lstm_cell: gates of shape {gates_shape} must be c's shape {c_shape} with 4 times its last axis")
    return _lstm_cell(gates, c)



# -- a whole sequence ------------------------------------------------------------------------------------------
# One primitive runs the recurrence of one LSTM layer in one direction over all steps, and its VJP is one
# backpropagation through time. Its differentiable inputs (step inputs, h0, c0, w_hh) travel packed in one flat
# array, so the backward pass is a single call whose result the packing's own VJP splits. The forward's output
# carries, below the outputs and final states, what the backward pass reads (each step's starting state, its
# activations and tanh of its new cell state), so the backward pass never runs the recurrence again.

def _layout(dims: tuple) -> list[tuple[int, int, tuple]]:
    """(start, end, shape) in the packed array of the step inputs, h0, c0 and w_hh."""
    steps, batch, hidden = dims
    shapes = ((steps, batch, 4 * hidden), (batch, hidden), (batch, hidden), (4 * hidden, hidden))
    slots, start = [], 0
    for shape in shapes:
        size = math.prod(shape)
        slots.append((start, start + size, shape))
        start += size
    return slots


def _unpack(packed, dims: tuple):
    return [packed[start:end].reshape(shape) for start, end, shape in _layout(dims)]


def _saved(out, dims: tuple):
    """The rows of the forward's output after outputs, h_n and c_n: per step the state it started from (h, c), tanh of
    its new cell state before masking, and its activations (i, f, g, o side by side, (T, B, 4H))."""
    steps, batch, hidden = dims
    rows = steps + 2
    h_before, c_before, tanh_c = (out[rows + k * steps: rows + (k + 1) * steps] for k in range(3))
    return h_before, c_before, tanh_c, out[rows + 3 * steps:].reshape(steps, batch, 4 * hidden)


def _order(steps: int, reverse: bool):
    return range(steps - 1, -1, -1) if reverse else range(steps)


def _gate_scales(hidden: int, dtype):
    """0.5 for the sigmoid gates' columns (i, f, o), 1 for g's: pre-activations scaled so, one tanh gives tanh(g) and the
    tanh(x/2) of sigmoid(x) = 0.5 tanh(x/2) + 0.5 (halving is exact)."""
    scale = xp.full(4 * hidden, 0.5, dtype)
    scale[2 * hidden:3 * hidden] = 1.0
    return scale


def _sigmoid_from_half_tanh(a):
    """0.5 a + 0.5, in ``a``."""
    xp.multiply(a, 0.5, out=a)
    a += 0.5


@primitive(**compiled_as_call())
def _lstm_sequence(packed, w_hh, masks, dims: tuple, reverse: bool):
    """(outputs (T, B, H), then h_n and c_n, then what the backward pass reads: ``_saved``) stacked as (8T + 2, B, H).
    ``w_hh`` is also packed (its cotangent comes back there); given on its own too, vmap sees whether it is batched."""
    projected, h, c, _ = _unpack(packed, dims)
    steps, _, hidden = dims
    out = xp.empty((8 * steps + 2,) + h.shape, dtype=h.dtype)
    h_before, c_before, tanh_c, acts = _saved(out, dims)
    scale = _gate_scales(hidden, out.dtype)
    w_t, product = xp.multiply(w_hh.T, scale, out=xp.empty((hidden, 4 * hidden), out.dtype)), xp.empty(projected.shape[1:], out.dtype)
    for t in _order(steps, reverse):
        h_before[t], c_before[t] = h, c
        a = xp.multiply(projected[t], scale, out=acts[t])
        a += xp.matmul(h, w_t, out=product)
        xp.tanh(a, out=a)
        i, f, g, o = a[:, :hidden], a[:, hidden:2 * hidden], a[:, 2 * hidden:3 * hidden], a[:, 3 * hidden:]
        _sigmoid_from_half_tanh(a[:, :2 * hidden])
        _sigmoid_from_half_tanh(o)
        c_new = f * c
        c_new += i * g
        h_new = xp.multiply(o, xp.tanh(c_new, out=tanh_c[t]))
        if masks is None:
            h, c, out[t] = h_new, c_new, h_new
        else:
            inside = masks[t]
            h, c, out[t] = xp.where(inside, h_new, h), xp.where(inside, c_new, c), xp.where(inside, h_new, 0.0)
    out[steps], out[steps + 1] = h, c
    return out


def _slopes(acts, c_before, tanh_c):
    """d gates / d pre-activations times what multiplies each gate in c' = f c + i g and h' = o tanh(c'), for all steps
    at once, side by side as the gates (i: g i (1 - i), f: c f (1 - f), g: i (1 - g^2), o: tanh(c') o (1 - o))."""
    steps, batch, width = acts.shape
    gates = acts.reshape(steps, batch, 4, width // 4)
    i, f, g, o = (gates[:, :, k] for k in range(4))
    slopes = xp.empty_like(gates)
    for k, (gate, factor) in enumerate(((i, g), (f, c_before), (None, i), (o, tanh_c))):
        s = slopes[:, :, k]
        if gate is None:  # tanh: 1 - g^2
            xp.multiply(g, g, out=s)
            xp.subtract(1.0, s, out=s)
        else:  # sigmoid: gate (1 - gate)
            xp.subtract(1.0, gate, out=s)
            s *= gate
        s *= factor
    return slopes


@primitive(**compiled_as_call())
def _lstm_sequence_backward(cot, ans, packed, w_hh, masks, dims: tuple, reverse: bool):
    """Backpropagation through time: the cotangent of ``packed`` for the output cotangent ``cot``, from what the forward
    saved in its output ``ans``; every factor that does not depend on the backward recurrence is computed for all steps
    at once, the rest in place step by step. ``w_hh`` is also in ``packed``, as for the forward."""
    h_before, c_before, tanh_c, acts = _saved(ans, dims)
    steps, batch, hidden = dims
    through_h = xp.multiply(tanh_c, tanh_c)  # dc' / dh' along h' = o tanh(c'): o (1 - tanh(c')^2)
    xp.subtract(1.0, through_h, out=through_h)
    through_h *= acts[:, :, 3 * hidden:]
    slopes = _slopes(acts, c_before, tanh_c)
    f = acts[:, :, hidden:2 * hidden]
    result = xp.empty(packed.shape, packed.dtype)
    (_, p_end, _), (_, h_end, _), (_, c_end, _), _ = _layout(dims)
    d_projected = result[:p_end].reshape(steps, batch, 4, hidden)
    dh, dc = cot[steps].copy(), cot[steps + 1].copy()
    for t in reversed(_order(steps, reverse)):
        if masks is None:
            dh_new, dc_new = xp.add(dh, cot[t], out=dh), dc
        else:
            inside = masks[t]
            dh_new, dc_new = xp.where(inside, dh + cot[t], 0.0), xp.where(inside, dc, 0.0)
            dh, dc = xp.where(inside, 0.0, dh), xp.where(inside, 0.0, dc)
        dc_total = dh_new * through_h[t]
        dc_total += dc_new
        d_gates = d_projected[t]
        xp.multiply(slopes[t, :, :3], dc_total[:, None, :], out=d_gates[:, :3])
        xp.multiply(slopes[t, :, 3], dh_new, out=d_gates[:, 3])
        step_dh = d_gates.reshape(batch, 4 * hidden) @ w_hh
        step_dc = xp.multiply(dc_total, f[t], out=dc_total)
        if masks is None:
            dh, dc = step_dh, step_dc
        else:
            dh += step_dh
            dc += step_dc
    result[p_end:h_end], result[h_end:c_end] = dh.ravel(), dc.ravel()
    xp.matmul(d_projected.reshape(-1, 4 * hidden).T, h_before.reshape(-1, hidden), out=result[c_end:].reshape(4 * hidden, hidden))
    return result


def _sequence_ops(packed, masks, dims: tuple, reverse: bool):
    """The outputs and final states of the same recurrence in funcad ops, unrolled: what the higher-order rules
    differentiate."""
    steps = dims[0]
    projected, h, c, w_hh = (reshape(packed[start:end], shape) for start, end, shape in _layout(dims))
    outputs = [None] * steps
    for t in _order(steps, reverse):
        pair = lstm_cell(projected[t] + matmul(h, transpose(w_hh)), c)
        if masks is None:
            h, c, outputs[t] = pair[0], pair[1], pair[0]
        else:
            inside = masks[t]
            h, c, outputs[t] = where(inside, pair[0], h), where(inside, pair[1], c), where(inside, pair[0], 0.0)
    return stack(outputs + [h, c])


def _sequence_backward_ops(cot, packed, masks, dims: tuple, reverse: bool):
    return vjp(lambda p: _sequence_ops(p, masks, dims, reverse), packed)[1](cot[:dims[0] + 2])[0]  # the pullback returns a tuple


def _sequence_tangent(t, ans, packed, masks, dims: tuple, reverse: bool):
    """The forward's tangent: the outputs' and final states', then zeros for the saved rows (as many as ``ans`` holds),
    which only ``_lstm_sequence_backward`` reads, and whose rules recompute them from ``packed`` (they take no derivative)."""
    head = _tangent(_sequence_ops, (packed, masks, dims, reverse), 0, t)
    saved = _shape_of(ans)[0] - _shape_of(head)[0]
    return concat([head, zeros((saved,) + _shape_of(head)[1:], head.dtype)])


# w_hh's own argument takes no derivative: its cotangent and tangent travel in ``packed``.
_lstm_sequence.defvjp(lambda g, ans, packed, w_hh, masks, dims, reverse:
                      _lstm_sequence_backward(g, ans, packed, w_hh, masks, dims=dims, reverse=reverse), None)
_lstm_sequence.defjvp(lambda t, ans, packed, w_hh, masks, dims, reverse: _sequence_tangent(t, ans, packed, masks, dims, reverse), None)
_lstm_sequence_backward.defvjp(*(None if k is None else
                                 (lambda g, ans, cot, saved, packed, w_hh, masks, dims, reverse, k=k:
                                  _cotangent(lambda a, b: _sequence_backward_ops(a, b, masks, dims, reverse), (cot, packed), k, g))
                                 for k in (0, None, 1, None)))
_lstm_sequence_backward.defjvp(*(None if k is None else
                                 (lambda t, ans, cot, saved, packed, w_hh, masks, dims, reverse, k=k:
                                  _tangent(lambda a, b: _sequence_backward_ops(a, b, masks, dims, reverse), (cot, packed), k, t))
                                 for k in (0, None, 1, None)))


# vmap: members sharing w_hh fold into the LSTM's batch (B becomes N B, member-major) and unfold after. The saved rows
# go back to each member's own layout (its activations are (T, B, 4H) in its last 4T rows), so that what the backward
# pass reads is what a lone member's forward saves, whether the forward ran folded, alone or in the loop. Members with
# their own w_hh (its argument batched) run one by one: the loop fallback.
def _fold_inputs(packed, w_hh, masks, batch_dims, size: int, dims: tuple):
    """The members' packed inputs and masks as one LSTM batch of N B rows."""
    steps, batch, hidden = dims
    packed = to_front(packed, batch_dims[0], size)
    (_, p_end, _), (_, h_end, _), (_, c_end, _), _ = _layout(dims)
    projected = transpose(reshape(packed[:, :p_end], (size, steps, batch, 4 * hidden)), (1, 0, 2, 3))
    folded = concat([reshape(v, (-1,)) for v in (projected, packed[:, p_end:h_end], packed[:, h_end:c_end], w_hh)])
    if masks is not None:
        masks = reshape(move_axis(to_front(masks, batch_dims[2], size), 0, 1), (steps, size * batch, 1))
    return folded, masks, (steps, size * batch, hidden)


def _unfold_output(out, size: int, dims: tuple):
    """A folded forward's output (8T + 2, N B, H) as the members' outputs (8T + 2, N, B, H), each in its own layout."""
    steps, batch, hidden = dims
    rows = 4 * steps + 2  # outputs, h_n, c_n and three saved states per step: these split into members as they are
    acts = transpose(reshape(out[rows:], (steps, size, batch, 4 * hidden)), (1, 0, 2, 3))  # (N, T, B, 4H)
    acts = transpose(reshape(acts, (size, 4 * steps, batch, hidden)), (1, 0, 2, 3))
    return concat([reshape(out[:rows], (rows, size, batch, hidden)), acts])


def _fold_output(ans, size: int, dims: tuple):
    """The inverse of ``_unfold_output``, for (N, 8T + 2, B, H) members."""
    steps, batch, hidden = dims
    rows = 4 * steps + 2
    acts = transpose(reshape(ans[:, rows:], (size, steps, batch, 4 * hidden)), (1, 0, 2, 3))  # (T, N, B, 4H)
    return concat([reshape(transpose(ans[:, :rows], (1, 0, 2, 3)), (rows, size * batch, hidden)), reshape(acts, (4 * steps, size * batch, hidden))])


def _lstm_sequence_batch(args, batch_dims, /, dims: tuple, reverse: bool):
    if batch_dims[1] is not None:
        return _LOOPS[0](args, batch_dims, dims=dims, reverse=reverse)
    size = batch_size(args, batch_dims)
    folded, masks, folded_dims = _fold_inputs(*args, batch_dims, size, dims)
    return _unfold_output(_lstm_sequence(folded, args[1], masks, dims=folded_dims, reverse=reverse), size, dims), 1


def _lstm_sequence_backward_batch(args, batch_dims, /, dims: tuple, reverse: bool):
    """As the forward's rule; w_hh's cotangent, summed over all N B rows by the folded pass, is recomputed per member."""
    if batch_dims[3] is not None:
        return _LOOPS[1](args, batch_dims, dims=dims, reverse=reverse)
    size = batch_size(args, batch_dims)
    steps, batch, hidden = dims
    cot, ans = (_fold_output(to_front(a, d, size), size, dims) for a, d in zip(args[:2], batch_dims[:2]))
    folded, masks, folded_dims = _fold_inputs(*args[2:], batch_dims[2:], size, dims)
    result = _lstm_sequence_backward(cot, ans, folded, args[3], masks, dims=folded_dims, reverse=reverse)
    (_, p_end, _), (_, h_end, _), (_, c_end, _), _ = _layout(folded_dims)
    d_projected = transpose(reshape(result[:p_end], (steps, size, batch, 4 * hidden)), (1, 0, 2, 3))
    h_before = transpose(reshape(ans[steps + 2: 2 * steps + 2], (steps, size, batch, hidden)), (1, 0, 2, 3))
    d_w_hh = matmul(transpose(reshape(d_projected, (size, -1, 4 * hidden)), (0, 2, 1)), reshape(h_before, (size, -1, hidden)))
    parts = (d_projected, result[p_end:h_end], result[h_end:c_end], d_w_hh)
    return concat([reshape(v, (size, -1)) for v in parts], axis=1), 0


_LOOPS = [loop_rule(prim, "has a batching rule only for members sharing w_hh")
          for prim in (_lstm_sequence, _lstm_sequence_backward)]
_lstm_sequence.declare(batch=_lstm_sequence_batch)
_lstm_sequence_backward.declare(batch=_lstm_sequence_backward_batch)


def lstm_sequence(projected, h0, c0, w_hh, masks=None, reverse: bool = False):
    """One LSTM layer in one direction over a whole sequence: ``(outputs, h_n, c_n)``.

    ``projected`` (T, B, 4H) holds each step's input term x_t W_ih^T + b_ih + b_hh (gates i, f, g, o), ``h0`` and ``c0``
    are (B, H) and ``w_hh`` is (4H, H). ``masks`` (T, B, 1) booleans, when given, mark the steps inside each sequence:
    outside them the state is kept and the output is zero. ``reverse`` runs from the last step to the first.
    """
    steps, batch, gates = _shape_of(projected)
    hidden = gates // 4
    expected = {"h0": (batch, hidden), "c0": (batch, hidden), "w_hh": (4 * hidden, hidden)}
    for name, value in (("h0", h0), ("c0", c0), ("w_hh", w_hh)):
        if gates % 4 or _shape_of(value) != expected[name]:
            raise ValueError(f"funcad.ops.lstm_sequence: projected of shape {(steps, batch, gates)} needs {name} of shape "
                             f"{expected[name]}, got {_shape_of(value)}")
    packed = concat([reshape(v, (-1,)) for v in (projected, h0, c0, w_hh)])
    out = _lstm_sequence(packed, w_hh, masks, dims=(steps, batch, hidden), reverse=bool(reverse))[:steps + 2]
    return out[:steps], out[steps], out[steps + 1]
