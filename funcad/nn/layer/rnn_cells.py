"""RNNCell, GRUCell and LSTMCell: one time step, and the step functions the stacked layers in rnns.py share.

Gate order is MindSpore's and torch's: (i, f, g, o) for LSTM, (r, z, n) for GRU. Each step takes the input
already projected (``x @ w_ih.T + b_ih``), so a stacked layer projects a whole sequence with one product.
"""

from __future__ import annotations

import math

from funcad import ops
from funcad.core.dtypes import float32
from funcad.core.tensor import Parameter
from funcad.nn.cell import Cell
from funcad.nn.initializer import Uniform, initializer
from funcad.nn.layer.basic import positive_int

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}


def rnn_tanh_step(gi, h, w_hh, b_hh):
    return ops.tanh(gi + ops.dense(h, w_hh, b_hh))


def rnn_relu_step(gi, h, w_hh, b_hh):
    return ops.relu(gi + ops.dense(h, w_hh, b_hh))


def gru_step(gi, h, w_hh, b_hh):
    """n = tanh(gi_n + r * (W_hn h + b_hn)); h' = (1 - z) n + z h, written as n + z (h - n)."""
    gh = ops.dense(h, w_hh, b_hh)
    i_r, i_z, i_n = ops.chunk(gi, 3, axis=-1)
    h_r, h_z, h_n = ops.chunk(gh, 3, axis=-1)
    r = ops.sigmoid(i_r + h_r)
    z = ops.sigmoid(i_z + h_z)
    n = ops.tanh(i_n + r * h_n)
    return n + z * (h - n)


def lstm_step(gi, state, w_hh, b_hh):
    """state = (h, c); c' = sigmoid(f) c + sigmoid(i) tanh(g), h' = sigmoid(o) tanh(c')."""
    h, c = state
    pair = ops.lstm_cell(gi + ops.dense(h, w_hh, b_hh), c)
    return pair[0], pair[1]


STEPS = {"RNN_TANH": rnn_tanh_step, "RNN_RELU": rnn_relu_step, "GRU": gru_step, "LSTM": lstm_step}


def nonlinearity_mode(owner: str, nonlinearity: str) -> str:
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{owner}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"


def recurrent_parameter(shape: tuple, hidden_size: int, dtype) -> Parameter:
    """U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), MindSpore's and torch's initialisation of every recurrent weight."""
    return Parameter(initializer(Uniform(1.0 / math.sqrt(hidden_size)), shape, dtype))


class _RNNCellBase(Cell):
    """One step of a recurrent layer over a (batch, input_size) or unbatched (input_size,) input.

    Parameters ``weight_ih`` (gates * hidden, input), ``weight_hh`` (gates * hidden, hidden), ``bias_ih`` and
    ``bias_hh`` as in MindSpore and torch. ``hx`` may be omitted (zeros), as in torch; MindSpore requires it.
    """

    mode = ""

    def __init__(self, input_size: int, hidden_size: int, has_bias: bool = True, dtype=float32, *, mode: str = ""):
        super().__init__()
        owner = type(self).__name__
        self.mode = mode or type(self).mode
        self.input_size = positive_int(input_size, owner, "input_size")
        self.hidden_size = positive_int(hidden_size, owner, "hidden_size")
        self.has_bias = bool(has_bias)
        gate_size = GATES[self.mode] * self.hidden_size
        self.weight_ih = recurrent_parameter((gate_size, self.input_size), self.hidden_size, dtype)
        self.weight_hh = recurrent_parameter((gate_size, self.hidden_size), self.hidden_size, dtype)
        self.bias_ih = recurrent_parameter((gate_size,), self.hidden_size, dtype) if has_bias else None
        self.bias_hh = recurrent_parameter((gate_size,), self.hidden_size, dtype) if has_bias else None

    def _check(self, x, states) -> bool:
        """Validate shapes; True when the input is batched."""
        shape = tuple(x.shape)
        if len(shape) not in (1, 2) or shape[-1] != self.input_size:
            raise ValueError(f"{self._where()}: expected input of shape (batch, {self.input_size}) or ({self.input_size},), got {shape}")
        expected = shape[:-1] + (self.hidden_size,)
        for name, s in states:
            if s is not None and tuple(s.shape) != expected:
                raise ValueError(f"{self._where()}: {name} must have shape {expected} for an input of shape {shape}, got {tuple(s.shape)}")
        return len(shape) == 2

    def _zeros(self, x):
        return ops.zeros(tuple(x.shape[:-1]) + (self.hidden_size,), x.dtype)

    def _step(self, x, state):
        return STEPS[self.mode](ops.dense(x, self.weight_ih, self.bias_ih), state, self.weight_hh, self.bias_hh)

    def extend_repr(self) -> str:
        return f"input_size={self.input_size}, hidden_size={self.hidden_size}, has_bias={self.has_bias}"


class RNNCell(_RNNCellBase):
    """h' = nonlinearity(W_ih x + b_ih + W_hh h + b_hh), ``nonlinearity`` 'tanh' (default) or 'relu'."""

    def __init__(self, input_size: int, hidden_size: int, has_bias: bool = True, nonlinearity: str = "tanh", dtype=float32):
        super().__init__(input_size, hidden_size, has_bias, dtype, mode=nonlinearity_mode("RNNCell", nonlinearity))
        self.nonlinearity = nonlinearity

    def construct(self, x, hx=None):
        self._check(x, [("hx", hx)])
        return self._step(x, self._zeros(x) if hx is None else hx)


class GRUCell(_RNNCellBase):
    """One GRU step, gates (r, z, n); the reset gate multiplies W_hn h + b_hn, as in MindSpore and torch."""

    mode = "GRU"

    def construct(self, x, hx=None):
        self._check(x, [("hx", hx)])
        return self._step(x, self._zeros(x) if hx is None else hx)


class LSTMCell(_RNNCellBase):
    """One LSTM step, gates (i, f, g, o); ``hx`` is the pair (h, c) and the result is the pair (h', c').

    Both biases are kept, as in torch; MindSpore's CPU kernel adds them before the step, which is the same
    function, so their gradients are equal."""

    mode = "LSTM"

    def construct(self, x, hx=None):
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ValueError(f"{self._where()}: hx must be a pair (h, c), got {type(hx).__name__}")
        h, c = (None, None) if hx is None else hx
        self._check(x, [("hx[0]", h), ("hx[1]", c)])
        h = self._zeros(x) if h is None else h
        c = self._zeros(x) if c is None else c
        return self._step(x, (h, c))
