"""RNN, GRU, LSTM and their cells against torch in float64: outputs, final states, and the gradients of the inputs,
the initial states and every weight; padded batches through seq_length against torch's packed sequences."""

import numpy as np
import pytest
import torch

import funcad
from funcad import nn, ops

F64 = np.float64
LAYERS = {"rnn_tanh": (nn.RNN, torch.nn.RNN, {}), "rnn_relu": (nn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
          "gru": (nn.GRU, torch.nn.GRU, {}), "lstm": (nn.LSTM, torch.nn.LSTM, {})}


def _normal(*shape, seed=1):
    return np.random.default_rng(seed).normal(size=shape)


def _pair(kind, input_size=3, hidden_size=4, **options):
    cls, torch_cls, extra = LAYERS[kind]
    torch_options = {("bias" if k == "has_bias" else k): v for k, v in options.items()}
    return (cls(input_size, hidden_size, **extra, **options, dtype=F64),
            torch_cls(input_size, hidden_size, **extra, **torch_options, dtype=torch.float64))


def _initial_state(kind, layers, batch, hidden=4, seed=7):
    h = _normal(layers, batch, hidden, seed=seed)
    return (h, _normal(layers, batch, hidden, seed=seed + 1)) if kind == "lstm" else h


OPTIONS = [
    {},
    {"num_layers": 2},
    {"bidirectional": True},
    {"num_layers": 2, "bidirectional": True, "batch_first": True},
    {"has_bias": False, "batch_first": True},
]


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "default")
@pytest.mark.parametrize("steps", [1, 5])
def test_stacked_layer_matches_torch(kind, options, steps, assert_layer_matches):
    cell, module = _pair(kind, **options)
    batch = 2
    x = _normal(batch, steps, 3) if options.get("batch_first") else _normal(steps, batch, 3)
    layers = options.get("num_layers", 1) * (2 if options.get("bidirectional") else 1)
    assert_layer_matches(cell, module, (x,))
    assert_layer_matches(cell, module, (x, _initial_state(kind, layers, batch)))


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("options", [{}, {"bidirectional": True, "num_layers": 2}, {"bidirectional": True, "batch_first": True}],
                         ids=lambda o: ",".join(o) or "default")
def test_padded_batch_matches_torch_packed_sequence(kind, options, assert_layer_matches):
    """Lengths 5, 2 and 1 in a batch padded to 5: zeros past each length, states from each sequence's last step."""
    cell, module = _pair(kind, **options)
    steps, lengths = 5, np.array([5, 2, 1])
    batch_first = options.get("batch_first", False)
    x = _normal(3, steps, 3) if batch_first else _normal(steps, 3, 3)
    layers = options.get("num_layers", 1) * (2 if options.get("bidirectional") else 1)
    hx = _initial_state(kind, layers, 3)

    def packed(m, tx, thx):
        seq = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
        out, state = m(seq, thx)
        return torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first, total_length=steps)[0], state

    assert_layer_matches(cell, module, (x, hx), {"seq_length": lengths}, torch_call=packed)
    out = np.asarray(cell(x, hx, seq_length=lengths)[0])
    padded = out[2, 1:] if batch_first else out[1:, 2]
    np.testing.assert_array_equal(padded, 0.0)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_zero_length_sequence_keeps_its_initial_state(kind):
    cell = LAYERS[kind][0](3, 4, bidirectional=True, dtype=F64)
    hx = _initial_state(kind, 2, 2)
    out, state = cell(_normal(4, 2, 3), hx, seq_length=np.array([4, 0]))
    np.testing.assert_array_equal(np.asarray(out)[:, 1], 0.0)
    for final, initial in zip(state if kind == "lstm" else (state,), hx if kind == "lstm" else (hx,)):
        np.testing.assert_array_equal(np.asarray(final)[:, 1], initial[:, 1])


CELLS = {"rnn_tanh": (nn.RNNCell, torch.nn.RNNCell, {}), "rnn_relu": (nn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
         "gru": (nn.GRUCell, torch.nn.GRUCell, {}), "lstm": (nn.LSTMCell, torch.nn.LSTMCell, {})}


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("has_bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_cell_matches_torch(kind, has_bias, batched, assert_layer_matches):
    cls, torch_cls, extra = CELLS[kind]
    cell = cls(3, 4, has_bias=has_bias, **extra, dtype=F64)
    module = torch_cls(3, 4, bias=has_bias, **extra, dtype=torch.float64)
    lead = (2,) if batched else ()
    x = _normal(*lead, 3)
    h = _normal(*lead, 4, seed=2)
    hx = (h, _normal(*lead, 4, seed=3)) if kind == "lstm" else h
    assert_layer_matches(cell, module, (x,))
    assert_layer_matches(cell, module, (x, hx))


def test_parameter_names_are_torchs_state_dict_keys():
    cell, module = _pair("lstm", num_layers=2, bidirectional=True)
    assert [n for n, _ in cell.parameters_and_names()] == list(module.state_dict())
    cell, module = _pair("gru", has_bias=False)
    assert [n for n, _ in cell.parameters_and_names()] == ["weight_ih_l0", "weight_hh_l0"] == list(module.state_dict())
    assert [n for n, _ in nn.LSTMCell(2, 3).parameters_and_names()] == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]


def test_default_initialisation_is_uniform_in_one_over_sqrt_hidden():
    funcad.set_seed(0)
    weights = np.concatenate([np.asarray(p).ravel() for p in nn.LSTM(30, 25).trainable_params()])
    assert weights.dtype == np.float32
    assert 0.19 < np.abs(weights).max() <= 0.2 and abs(weights.mean()) < 0.01


def test_dropout_between_layers_matches_two_single_layers_with_the_same_masks():
    """A 2-layer LSTM in training mode equals layer 0, funcad's dropout from the same key, then layer 1."""
    stacked = nn.LSTM(3, 4, num_layers=2, dropout=0.4, dtype=F64).set_train()
    first, second = nn.LSTM(3, 4, dtype=F64), nn.LSTM(4, 4, dtype=F64)
    for name, p in stacked.parameters_and_names():
        target = first if name.endswith("l0") else second
        getattr(target, name[:-1] + "0").set_data(np.asarray(p))
    x = _normal(6, 2, 3)
    funcad.set_seed(11)
    out, (h, _) = stacked(x)
    funcad.set_seed(11)
    mid, (h0, _) = first(x)
    expected, (h1, _) = second(ops.dropout(mid, p=0.4))
    np.testing.assert_allclose(np.asarray(out), np.asarray(expected), rtol=1e-14)
    np.testing.assert_allclose(np.asarray(h), np.concatenate([np.asarray(h0), np.asarray(h1)]), rtol=1e-14)
    assert not np.allclose(np.asarray(out), np.asarray(second(mid)[0]))  # the mask did drop something
    eval_out = np.asarray(stacked.set_train(False)(x)[0])
    np.testing.assert_allclose(eval_out, np.asarray(second(first(x)[0])[0]), rtol=1e-14)


@pytest.mark.parametrize("options", [{}, {"proj_size": 2}])
def test_jitted_forward_and_grad_equal_eager(options):
    net = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True, dtype=F64, **options)
    weights = net.trainable_params()
    x, lengths = _normal(3, 5, 3), np.array([5, 3, 1])

    def loss(x, lengths):
        out, (h, c) = net(x, seq_length=lengths)
        return ops.sum(out * out) + ops.sum(h) + ops.sum(c * c)

    step = funcad.value_and_grad(loss, 0, weights)
    (eager_loss, (eager_gx, eager_gw)), (jit_loss, (jit_gx, jit_gw)) = step(x, lengths), funcad.jit(step)(x, lengths)
    np.testing.assert_allclose(np.asarray(jit_loss), np.asarray(eager_loss), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(jit_gx), np.asarray(eager_gx), rtol=1e-12, atol=1e-14)
    for a, b in zip(jit_gw, eager_gw):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-14)


def test_bad_inputs_name_the_layer_and_shapes():
    net = nn.SequentialCell(nn.LSTM(3, 4, num_layers=2))
    with pytest.raises(ValueError, match=r"LSTM '0': expected input of shape \(seq_len, batch, 3\), got \(5, 2, 6\)"):
        net(np.zeros((5, 2, 6)))
    with pytest.raises(ValueError, match=r"LSTM '0': hx\[1\] must have shape .* = \(2, 2, 4\), got \(2, 2, 5\)"):
        net[0](np.zeros((5, 2, 3), np.float32), (np.zeros((2, 2, 4), np.float32), np.zeros((2, 2, 5), np.float32)))
    with pytest.raises(ValueError, match=r"LSTM '0': seq_length \[6, 2\] must lie in \[0, 5\]"):
        net[0](np.zeros((5, 2, 3), np.float32), seq_length=np.array([6, 2]))
    with pytest.raises(ValueError, match=r"GRU \(root\): seq_length must be integers of shape \(batch,\) = \(2,\), got int64 of shape \(3,\)"):
        nn.GRU(3, 4)(np.zeros((5, 2, 3), np.float32), seq_length=np.array([1, 2, 3]))
    with pytest.raises(ValueError, match=r"GRUCell \(root\): hx must have shape \(2, 4\) for an input of shape \(2, 3\), got \(2, 3\)"):
        nn.GRUCell(3, 4)(np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"RNN: nonlinearity must be 'tanh' or 'relu', got 'gelu'"):
        nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match=r"LSTM: dropout must be a number in \[0, 1\), got 1.0"):
        nn.LSTM(3, 4, dropout=1.0)
