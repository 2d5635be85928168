"""LSTM with torch's ``proj_size`` (h_t = W_hr (o_t * tanh(c_t))) against torch.nn.LSTM in float64: outputs, (h_n, c_n)
shapes and values, the gradients of the inputs, of both initial states and of every weight (``weight_hr_l{k}`` included),
stacked, bidirectional, batch_first, padded batches against packed sequences, under funcad.jit, and through
``to_funcad`` and ``mirror`` both ways."""

import numpy as np
import pytest
import torch

from funcad import nn
from tests.twin_check import assert_same_model
from torch_ref.mirror import mirror_twin
from torch_ref.to_funcad import funcad_twin

F64 = np.float64
OPTIONS = [{}, {"num_layers": 2}, {"bidirectional": True}, {"num_layers": 2, "bidirectional": True, "batch_first": True},
           {"has_bias": False, "batch_first": True}]


def _normal(*shape, seed=1):
    return np.random.default_rng(seed).normal(size=shape)


def _pair(proj_size=2, **options):
    torch_options = {("bias" if k == "has_bias" else k): v for k, v in options.items()}
    return (nn.LSTM(3, 5, proj_size=proj_size, **options, dtype=F64),
            torch.nn.LSTM(3, 5, proj_size=proj_size, **torch_options, dtype=torch.float64))


def _input(options, batch=3, steps=4):
    return _normal(batch, steps, 3) if options.get("batch_first") else _normal(steps, batch, 3)


def _initial_state(options, batch=3):
    layers = options.get("num_layers", 1) * (2 if options.get("bidirectional") else 1)
    return _normal(layers, batch, 2, seed=7), _normal(layers, batch, 5, seed=8)


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "default")
def test_projected_lstm_matches_torch(options, assert_layer_matches):
    cell, module = _pair(**options)
    names = [n for n, _ in module.named_parameters()]
    assert [n for n, _ in cell.parameters_and_names()] == names and "weight_hr_l0" in names
    x, hx = _input(options), _initial_state(options)
    assert_layer_matches(cell, module, (x,))
    assert_layer_matches(cell, module, (x, hx))
    out, (h, c) = cell(x, hx)
    directions = 2 if options.get("bidirectional") else 1
    assert out.shape[-1] == 2 * directions and h.shape == hx[0].shape and c.shape == hx[1].shape


@pytest.mark.parametrize("options", [{}, {"num_layers": 2, "bidirectional": True, "batch_first": True}], ids=["default", "stacked"])
def test_padded_batch_matches_torch_packed_sequence(options, assert_layer_matches):
    cell, module = _pair(**options)
    lengths, batch_first = np.array([4, 2, 1]), options.get("batch_first", False)

    def packed(m, tx, thx):
        seq = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
        out, state = m(seq, thx)
        return torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first, total_length=4)[0], state

    assert_layer_matches(cell, module, (_input(options), _initial_state(options)), {"seq_length": lengths}, torch_call=packed)


class _Tagger(torch.nn.Module):
    """A projected bidirectional LSTM tagger as people write it."""

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 6, num_layers=2, bidirectional=True, batch_first=True, proj_size=2)
        self.head = torch.nn.Linear(4, 3)

    def forward(self, x):
        out, (h, c) = self.lstm(x)
        return self.head(out) + h[-1].sum() + c.mean()


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_to_funcad_and_mirror_round_trip(train):
    torch.manual_seed(0)
    module = _Tagger().double()
    twin = funcad_twin(module)
    assert twin.cell.lstm.proj_size == 2 and twin.parameter_names["lstm.weight_hr_l1_reverse"] == "lstm.weight_hr_l1_reverse"
    x = _normal(2, 4, 3)
    assert_same_model(twin.cell, module, twin.parameter_names, x, train)
    back = mirror_twin(nn.SequentialCell(nn.LSTM(3, 5, proj_size=2, batch_first=True, dtype=F64)))
    assert back.module[0].proj_size == 2
    assert_same_model(back.cell, back.module, back.parameter_names, x, train)


@pytest.mark.parametrize("make, message", [
    (lambda: nn.LSTM(3, 4, proj_size=4), r"LSTM: proj_size must be an int in \[0, hidden_size\) = \[0, 4\), got 4"),
    (lambda: nn.LSTM(3, 4, proj_size=-1), r"LSTM: proj_size must be an int in \[0, hidden_size\) = \[0, 4\), got -1"),
    (lambda: nn.GRU(3, 4, proj_size=2), r"GRU: proj_size=2 is taken by LSTM only"),
    (lambda: nn.LSTM(3, 4, proj_size=2)(np.zeros((5, 2, 3), np.float32), (np.zeros((1, 2, 4), np.float32), np.zeros((1, 2, 4), np.float32))),
     r"LSTM \(root\): hx\[0\] must have shape \(num_layers \* num_directions, batch, proj_size\) = \(1, 2, 2\), got \(1, 2, 4\)"),
])
def test_bad_projections_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()
