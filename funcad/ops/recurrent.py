"""lstm_cell: the elementwise part of one LSTM step as one primitive, so a step costs a few dispatches, not twenty.

The forward and the first-order VJP are fused numpy code; every higher-order rule differentiates the same step
written in funcad ops (``_lstm_cell_ops``), so gradients of gradients and forward mode need nothing else.
"""

from __future__ import annotations

from funcad.core.backend import xp
from funcad.core.primitive import primitive
from funcad.core.transforms import jvp, vjp
from funcad.ops.math import sigmoid, tanh
from funcad.ops.shape import _shape_of, concat, split, stack


def _activations(gates):
    """sigmoid(i), sigmoid(f), tanh(g), sigmoid(o) of gates (..., 4H) in numpy; sigmoid as 0.5 tanh(x/2) + 0.5 (no overflow)."""
    i, f, g, o = xp.split(gates, 4, axis=-1)
    return 0.5 * xp.tanh(0.5 * i) + 0.5, 0.5 * xp.tanh(0.5 * f) + 0.5, xp.tanh(g), 0.5 * xp.tanh(0.5 * o) + 0.5


@primitive
def _lstm_cell(gates, c):
    i, f, g, o = _activations(gates)
    c_new = f * c + i * g
    return xp.stack((o * xp.tanh(c_new), c_new))


@primitive
def _lstm_cell_backward(cot, gates, c):
    """The cotangents of ``gates`` and ``c`` side by side (..., 5H), for the cotangent ``cot`` = (dh', dc')."""
    i, f, g, o = _activations(gates)
    tc = xp.tanh(f * c + i * g)
    dc = cot[1] + cot[0] * o * (1.0 - tc * tc)
    return xp.concatenate((dc * g * i * (1.0 - i), dc * c * f * (1.0 - f), dc * i * (1.0 - g * g), cot[0] * tc * o * (1.0 - o), dc * f), axis=-1)


def _lstm_cell_ops(gates, c):
    """The same step in funcad ops: what the higher-order rules differentiate."""
    i, f, g, o = split(gates, 4, axis=-1)
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


def lstm_cell(gates, c):
    """One LSTM step from its pre-activation ``gates`` (..., 4H), ordered i, f, g, o as in torch and MindSpore, and the
    cell state ``c`` (..., H): the stacked pair (h', c') of shape (2, ..., H), with c' = sigmoid(f) c + sigmoid(i) tanh(g)
    and h' = sigmoid(o) tanh(c')."""
    gates_shape, c_shape = _shape_of(gates), _shape_of(c)
    if gates_shape[:-1] != c_shape[:-1] or gates_shape[-1] != 4 * c_shape[-1]:
        raise ValueError(f"funcad.ops.lstm_cell: gates of shape {gates_shape} must be c's shape {c_shape} with 4 times its last axis")
    return _lstm_cell(gates, c)

