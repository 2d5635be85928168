"""RNN, GRU and LSTM: stacked, optionally bidirectional recurrent layers with MindSpore's arguments.

Parameters are named as in MindSpore and torch (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``,
``..._reverse`` for the backward direction), so torch's state_dict keys are the same. ``seq_length`` (one length per
batch entry) runs each sequence over its first ``seq_length[b]`` steps only: its state stops there and its outputs
beyond are zeros, and the backward direction starts from its last real step; the same results as torch on a
``pack_padded_sequence``. An LSTM direction runs as one primitive (``ops.lstm_sequence``); RNN and GRU loop over time
in Python, which ``funcad.jit`` unrolls.
"""

from __future__ import annotations

import numpy as np

from funcad import ops
from funcad.core.dtypes import float32
from funcad.core.tensor import Tensor
from funcad.core.trace import Tracer
from funcad.nn.cell import Cell
from funcad.nn.layer.basic import positive_int
from funcad.nn.layer.rnn_cells import GATES, STEPS, nonlinearity_mode, recurrent_parameter


class _RNNBase(Cell):
    """Stacked recurrent layers over (seq_len, batch, input_size) inputs, or (batch, seq_len, input_size) with
    ``batch_first``; returns ``(output, h_n)`` ((output, (h_n, c_n)) for LSTM), h_n of shape
    (num_layers * num_directions, batch, hidden_size), ordered layer by layer, forward before backward.

    ``dropout`` applies to the output of every layer but the last while training; its masks come from funcad's
    random key, as ``nn.Dropout``'s do. Only batched 3-D inputs are taken, as in MindSpore (torch also takes 2-D).
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, has_bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, dtype=float32, proj_size: int = 0):
        super().__init__()
        owner = type(self).__name__
        self.mode = mode
        self.input_size = positive_int(input_size, owner, "input_size")
        self.hidden_size = positive_int(hidden_size, owner, "hidden_size")
        self.num_layers = positive_int(num_layers, owner, "num_layers")
        if proj_size and mode != "LSTM":
            raise ValueError(f"{owner}: proj_size={proj_size!r} is taken by LSTM only")
        if isinstance(proj_size, bool) or not isinstance(proj_size, int) or not 0 <= proj_size < self.hidden_size:
            raise ValueError(f"{owner}: proj_size must be an int in [0, hidden_size) = [0, {self.hidden_size}), got {proj_size!r}")
        self.proj_size = proj_size
        self.output_size = proj_size or self.hidden_size  # h's size: what each direction outputs and feeds back
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"{owner}: dropout must be a number in [0, 1), got {dropout!r}")
        self.has_bias, self.batch_first, self.bidirectional = bool(has_bias), bool(batch_first), bool(bidirectional)
        self.dropout = float(dropout)
        self.num_directions = 2 if bidirectional else 1
        gate_size = GATES[mode] * self.hidden_size
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else self.output_size * self.num_directions
            for direction in range(self.num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                setattr(self, "weight_ih" + suffix, recurrent_parameter((gate_size, layer_input), self.hidden_size, dtype))
                setattr(self, "weight_hh" + suffix, recurrent_parameter((gate_size, self.output_size), self.hidden_size, dtype))
                if self.has_bias:
                    setattr(self, "bias_ih" + suffix, recurrent_parameter((gate_size,), self.hidden_size, dtype))
                    setattr(self, "bias_hh" + suffix, recurrent_parameter((gate_size,), self.hidden_size, dtype))
                if self.proj_size:
                    setattr(self, "weight_hr" + suffix, recurrent_parameter((self.proj_size, self.hidden_size), self.hidden_size, dtype))

    # -- checks -----------------------------------------------------------------------------------
    def _check_input(self, x) -> None:
        shape = tuple(x.shape)
        if len(shape) != 3 or shape[2] != self.input_size:
            layout = "(batch, seq_len, {})" if self.batch_first else "(seq_len, batch, {})"
            raise ValueError(f"{self._where()}: expected input of shape {layout.format(self.input_size)}, got {shape}")
        if shape[0 if self.batch_first else 1] == 0 or shape[1 if self.batch_first else 0] == 0:
            raise ValueError(f"{self._where()}: input of shape {shape} has an empty batch or sequence")

    def _check_state(self, name: str, h, batch: int, size: str = "hidden_size") -> None:
        expected = (self.num_layers * self.num_directions, batch, getattr(self, size))
        if tuple(h.shape) != expected:
            raise ValueError(f"{self._where()}: {name} must have shape (num_layers * num_directions, batch, {size}) = "
                             f"{expected}, got {tuple(h.shape)}")

    def _step_masks(self, seq_length, steps: int, batch: int):
        """(seq_len, batch, 1) booleans, True where step t is inside sequence b; None without seq_length."""
        if seq_length is None:
            return None
        if not isinstance(seq_length, (Tensor, np.ndarray)):
            seq_length = np.asarray(seq_length)
        dtype, shape = np.dtype(seq_length.dtype), tuple(seq_length.shape)
        if not np.issubdtype(dtype, np.integer) or shape != (batch,):
            raise ValueError(f"{self._where()}: seq_length must be integers of shape (batch,) = ({batch},), got {dtype.name} of shape {shape}")
        if not isinstance(seq_length, Tracer):
            lengths = np.asarray(seq_length)
            if lengths.min() < 0 or lengths.max() > steps:
                raise ValueError(f"{self._where()}: seq_length {lengths.tolist()} must lie in [0, {steps}] for an input of seq_len {steps}")
        steps_col = ops.reshape(ops.arange(steps, dtype=dtype), (steps, 1))
        return ops.expand_dims(ops.less(steps_col, ops.reshape(seq_length, (1, batch))), -1)

    # -- the recurrence -----------------------------------------------------------------------------
    def _weights(self, layer: int, direction: int):
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        w_ih, w_hh = getattr(self, "weight_ih" + suffix), getattr(self, "weight_hh" + suffix)
        b_ih, b_hh = (getattr(self, "bias_ih" + suffix), getattr(self, "bias_hh" + suffix)) if self.has_bias else (None, None)
        return w_ih, w_hh, b_ih, b_hh

    def _run_direction(self, x, state, masks, layer: int, direction: int):
        """One layer, one direction over the whole sequence: (outputs (seq_len, batch, hidden), final state)."""
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, direction)
        projected = ops.dense(x, w_ih, b_ih)  # every step's input projection in one product
        if self.mode == "LSTM":  # the whole recurrence is one primitive
            projected = projected if b_hh is None else projected + b_hh
            if self.proj_size:
                return self._projected_lstm(projected, state, masks, w_hh, layer, direction)
            outputs, h, c = ops.lstm_sequence(projected, state[0], state[1], w_hh, masks, reverse=bool(direction))
            return outputs, (h, c)
        step = STEPS[self.mode]
        steps = x.shape[0]
        outputs = [None] * steps
        for t in (reversed(range(steps)) if direction else range(steps)):
            new = h = step(projected[t], state, w_hh, b_hh)
            if masks is not None:
                inside = masks[t]
                new, h = ops.where(inside, new, state), ops.where(inside, new, 0.0)
            state = new
            outputs[t] = h
        return ops.stack(outputs), state

    def _projected_lstm(self, projected, state, masks, w_hh, layer: int, direction: int):
        """An LSTM direction with torch's projection h_t = W_hr (o_t * tanh(c_t)): step by step (``ops.lstm_cell``), since
        ``ops.lstm_sequence`` feeds back the unprojected state."""
        w_hr = getattr(self, f"weight_hr_l{layer}" + ("_reverse" if direction else ""))
        h, c = state
        steps = projected.shape[0]
        outputs = [None] * steps
        for t in (reversed(range(steps)) if direction else range(steps)):
            pair = ops.lstm_cell(projected[t] + ops.dense(h, w_hh), c)
            new_h, new_c = ops.dense(pair[0], w_hr), pair[1]
            if masks is None:
                h, c, outputs[t] = new_h, new_c, new_h
            else:
                inside = masks[t]
                h, c, outputs[t] = ops.where(inside, new_h, h), ops.where(inside, new_c, c), ops.where(inside, new_h, 0.0)
        return ops.stack(outputs), (h, c)

    def construct(self, x, hx=None, seq_length=None):
        self._check_input(x)
        if self.batch_first:
            x = ops.swapaxes(x, 0, 1)
        steps, batch = x.shape[0], x.shape[1]
        lstm = self.mode == "LSTM"
        if hx is None:
            zeros = ops.zeros((self.num_layers * self.num_directions, batch, self.hidden_size), x.dtype)
            h_zeros = ops.zeros((self.num_layers * self.num_directions, batch, self.output_size), x.dtype) if self.proj_size else zeros
            hx = (h_zeros, zeros) if lstm else zeros
        elif lstm:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise ValueError(f"{self._where()}: hx must be a pair (h_0, c_0), got {type(hx).__name__}")
            self._check_state("hx[0]", hx[0], batch, "proj_size" if self.proj_size else "hidden_size")
            self._check_state("hx[1]", hx[1], batch)
        else:
            self._check_state("hx", hx, batch)
        masks = self._step_masks(seq_length, steps, batch)
        finals = []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                state = (hx[0][k], hx[1][k]) if lstm else hx[k]
                out, state = self._run_direction(layer_input, state, masks, layer, direction)
                outputs.append(out)
                finals.append(state)
            layer_input = outputs[0] if len(outputs) == 1 else ops.concat(outputs, axis=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = ops.dropout(layer_input, p=self.dropout)
        output = ops.swapaxes(layer_input, 0, 1) if self.batch_first else layer_input
        if lstm:
            return output, (ops.stack([s[0] for s in finals]), ops.stack([s[1] for s in finals]))
        return output, ops.stack(finals)

    def extend_repr(self) -> str:
        return (f"input_size={self.input_size}, hidden_size={self.hidden_size}, num_layers={self.num_layers}, has_bias={self.has_bias}, "
                f"batch_first={self.batch_first}, dropout={self.dropout}, bidirectional={self.bidirectional}"
                + (f", proj_size={self.proj_size}" if self.proj_size else ""))


class RNN(_RNNBase):
    """Stacked Elman RNN: h_t = nonlinearity(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh), ``nonlinearity`` 'tanh' or 'relu'
    (keyword only, as in MindSpore). """

    def __init__(self, *args, nonlinearity: str = "tanh", **kwargs):
        super().__init__(nonlinearity_mode("RNN", nonlinearity), *args, **kwargs)


class GRU(_RNNBase):
    """Stacked GRU, gates (r, z, n) as in MindSpore and torch."""

    def __init__(self, *args, **kwargs):
        super().__init__("GRU", *args, **kwargs)


class LSTM(_RNNBase):
    """Stacked LSTM, gates (i, f, g, o); ``hx`` is the pair (h_0, c_0) and the result (output, (h_n, c_n)).

    Both biases are kept, as in torch; MindSpore's CPU kernel adds b_ih and b_hh before the recurrence, which is
    the same function, so the two get equal gradients.

    ``proj_size`` (keyword only, 0 for none) is torch's LSTM with projections: h_t = W_hr (o_t * tanh(c_t)) with
    ``weight_hr_l{k}`` (``_reverse``) of shape (proj_size, hidden_size), so h, the outputs (D * proj_size features) and
    ``weight_hh`` (4 * hidden_size, proj_size) are proj_size wide while c stays hidden_size wide. MindSpore 2.x's
    ``nn.LSTM`` has no such argument (its parameters end at ``bidirectional`` and ``dtype``); it is here for torch's models."""

    def __init__(self, *args, proj_size: int = 0, **kwargs):
        super().__init__("LSTM", *args, proj_size=proj_size, **kwargs)
