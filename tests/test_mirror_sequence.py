"""torch_ref.mirror and to_funcad on the sequence layers: recurrent layers (with initial states and MindSpore's
seq_length), their cells, MultiheadAttention with masks, Transformer layers and stacks; both directions in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import funcad
from funcad import nn
from tests.twin_check import assert_same_model
from torch_ref import layers_sequence
from torch_ref.mirror import mirror_twin
from torch_ref.to_funcad import funcad_twin

RNG = np.random.default_rng(1)


def normal(*shape):
    return RNG.standard_normal(shape)


PAD_MASK = np.array([[False, False, False, True, True], [False, False, False, False, False]])

# (id, funcad layer factory, call arguments, keyword arguments, torch class of the mirror)
SEQUENCE_LAYERS = [
    ("lstm_bidirectional_stacked", lambda: nn.LSTM(4, 5, num_layers=2, bidirectional=True, batch_first=True), (normal(3, 6, 4),), {},
     layers_sequence.LSTM),
    ("lstm_seq_length", lambda: nn.LSTM(4, 5, bidirectional=True), (normal(6, 3, 4), None, np.array([6, 2, 4])), {}, layers_sequence.LSTM),
    ("lstm_initial_state", lambda: nn.LSTM(4, 5), (normal(1, 2, 4), (normal(1, 2, 5), normal(1, 2, 5))), {}, layers_sequence.LSTM),
    ("lstm_zero_length", lambda: nn.LSTM(4, 5, bidirectional=True), (normal(4, 3, 4), (normal(2, 3, 5), normal(2, 3, 5)), np.array([4, 0, 2])),
     {}, layers_sequence.LSTM),
    ("gru_initial_state", lambda: nn.GRU(4, 5, num_layers=2), (normal(5, 2, 4), normal(2, 2, 5)), {}, layers_sequence.GRU),
    ("gru_seq_length_batch_first", lambda: nn.GRU(4, 3, batch_first=True, bidirectional=True), (normal(3, 5, 4), None, np.array([1, 5, 3])), {},
     layers_sequence.GRU),
    ("rnn_relu_no_bias", lambda: nn.RNN(4, 5, nonlinearity="relu", has_bias=False), (normal(5, 2, 4),), {}, layers_sequence.RNN),
    ("rnn_cell", lambda: nn.RNNCell(4, 5), (normal(3, 4), normal(3, 5)), {}, torch.nn.RNNCell),
    ("gru_cell", lambda: nn.GRUCell(4, 5), (normal(3, 4), normal(3, 5)), {}, torch.nn.GRUCell),
    ("lstm_cell", lambda: nn.LSTMCell(4, 5, has_bias=False), (normal(3, 4), (normal(3, 5), normal(3, 5))), {}, torch.nn.LSTMCell),
    ("attention_padding_mask", lambda: nn.MultiheadAttention(8, 2, batch_first=True), (normal(2, 5, 8), normal(2, 5, 8), normal(2, 5, 8)),
     {"key_padding_mask": PAD_MASK}, torch.nn.MultiheadAttention),
    ("attention_kdim_vdim_bias_kv", lambda: nn.MultiheadAttention(6, 3, add_bias_kv=True, kdim=4, vdim=5),
     (normal(3, 2, 6), normal(4, 2, 4), normal(4, 2, 5)), {"average_attn_weights": False}, torch.nn.MultiheadAttention),
    ("encoder_layer", lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True), (normal(2, 5, 8),),
     {"src_key_padding_mask": PAD_MASK}, torch.nn.TransformerEncoderLayer),
    ("encoder_layer_norm_first_gelu", lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu", norm_first=True),
     (normal(5, 2, 8),), {}, torch.nn.TransformerEncoderLayer),
    ("decoder_layer", lambda: nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True), (normal(2, 4, 8), normal(2, 5, 8)),
     {"memory_key_padding_mask": PAD_MASK}, torch.nn.TransformerDecoderLayer),
    ("encoder_stack_with_norm", lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), 2, norm=nn.LayerNorm((8,))),
     (normal(5, 2, 8),), {}, torch.nn.TransformerEncoder),
    ("decoder_stack", lambda: nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, norm_first=True), 2),
     (normal(4, 2, 8), normal(5, 2, 8)), {}, torch.nn.TransformerDecoder),
    ("transformer", lambda: nn.Transformer(8, 2, 2, 1, 16, dropout=0.0, batch_first=True), (normal(2, 5, 8), normal(2, 4, 8)),
     {"src_key_padding_mask": PAD_MASK, "tgt_mask": np.triu(np.ones((4, 4), bool), 1)}, torch.nn.Transformer),
]


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name, factory, args, kwargs, torch_type", SEQUENCE_LAYERS, ids=[layer[0] for layer in SEQUENCE_LAYERS])
def test_every_sequence_layer_mirrors_and_comes_back_with_the_same_values_and_gradients(name, factory, args, kwargs, torch_type, train):
    funcad.set_seed(2)
    cell = factory().set_dtype(funcad.float64)
    twin = mirror_twin(cell)
    assert type(twin.module) is torch_type
    assert_same_model(cell, twin.module, twin.parameter_names, args, train, kwargs)
    back = funcad_twin(twin.module)
    assert type(back.cell) is type(cell)
    assert_same_model(back.cell, twin.module, back.parameter_names, args, train, kwargs)


def test_the_transformer_names_map_dense_to_linear_and_gamma_to_weight():
    stack = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 2)
    names = mirror_twin(stack).parameter_names
    assert names["layers.1.dense1.weight"] == "layers.1.linear1.weight"
    assert names["layers.0.norm2.gamma"] == "layers.0.norm2.weight"
    assert names["layers.0.self_attn.in_proj_weight"] == "layers.0.self_attn.in_proj_weight"


def test_torch_s_own_recurrent_classes_come_to_funcad():
    torch.manual_seed(0)
    module = torch.nn.LSTM(3, 4, num_layers=2, batch_first=True).double()
    twin = funcad_twin(module)
    assert type(twin.cell) is nn.LSTM and twin.cell.num_layers == 2
    assert_same_model(twin.cell, module, twin.parameter_names, normal(2, 5, 3), train=True)
