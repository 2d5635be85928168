"""Transformer encoder and decoder layers and stacks against torch in float64: outputs and every gradient, with
MindSpore's sub-Cell names (dense1/dense2, gamma/beta) mapped onto torch's."""

import numpy as np
import pytest
import torch

import funcad
from funcad import nn, ops

F64 = np.float64
D, HEADS, FF = 6, 2, 10


def _normal(*shape, seed=1):
    return np.random.default_rng(seed).normal(size=shape)


def _randomise(cell, seed=5):
    rng = np.random.default_rng(seed)
    for _, p in cell.parameters_and_names():
        p.set_data(np.asarray(p) + rng.normal(size=p.shape) * 0.3)


def _activation_pair(name):
    if name == "gelu_cell":
        return nn.GELU(approximate=False), torch.nn.GELU()
    return name, name


def _encoder_pair(norm_first=False, batch_first=False, activation="relu", dropout=0.0):
    ours, theirs = _activation_pair(activation)
    cell = nn.TransformerEncoderLayer(D, HEADS, FF, dropout, ours, batch_first=batch_first, norm_first=norm_first, dtype=F64)
    module = torch.nn.TransformerEncoderLayer(D, HEADS, FF, dropout, theirs, batch_first=batch_first, norm_first=norm_first,
                                              dtype=torch.float64)
    _randomise(cell)
    return cell, module


def _padding(batch=3, source=5, fully_blocked=False):
    mask = np.zeros((batch, source), bool)
    mask[0, 3:] = True
    mask[2, 1:] = True
    if fully_blocked:
        mask[1] = True
    return mask


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", "gelu_cell"])
def test_encoder_layer_matches_torch(norm_first, batch_first, activation, assert_layer_matches):
    cell, module = _encoder_pair(norm_first, batch_first, activation)
    x = _normal(3, 5, D) if batch_first else _normal(5, 3, D)
    assert_layer_matches(cell, module, (x,))
    causal = np.triu(np.ones((5, 5), bool), 1)
    assert_layer_matches(cell, module, (x,), {"src_mask": causal, "src_key_padding_mask": _padding()})


def test_encoder_layer_with_dropout_in_eval_mode_and_a_fully_padded_sequence(assert_layer_matches):
    cell, module = _encoder_pair(dropout=0.3)
    module.eval()
    x = _normal(5, 3, D)
    assert_layer_matches(cell, module, (x,), {"src_key_padding_mask": _padding(fully_blocked=True)})


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch(norm_first, assert_layer_matches):
    cell = nn.TransformerDecoderLayer(D, HEADS, FF, 0.0, norm_first=norm_first, dtype=F64)
    module = torch.nn.TransformerDecoderLayer(D, HEADS, FF, 0.0, norm_first=norm_first, dtype=torch.float64)
    _randomise(cell)
    tgt, memory = _normal(4, 3, D), _normal(5, 3, D, seed=2)
    causal = np.triu(np.ones((4, 4), bool), 1)
    assert_layer_matches(cell, module, (tgt, memory))
    assert_layer_matches(cell, module, (tgt, memory), {"tgt_mask": causal, "memory_key_padding_mask": _padding(),
                                                       "tgt_key_padding_mask": _padding(3, 4)})


def test_encoder_stack_with_final_norm_matches_torch(assert_layer_matches):
    layer, torch_layer = _encoder_pair(norm_first=True, batch_first=True)
    cell = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm((D,), epsilon=1e-5, dtype=F64))
    module = torch.nn.TransformerEncoder(torch_layer, 2, norm=torch.nn.LayerNorm(D, dtype=torch.float64), enable_nested_tensor=False)
    _randomise(cell, seed=8)
    assert not np.allclose(np.asarray(cell.layers[0].dense1.weight), np.asarray(cell.layers[1].dense1.weight))
    x = _normal(3, 5, D)
    assert_layer_matches(cell, module, (x,), {"src_key_padding_mask": _padding()})


def test_decoder_stack_matches_torch(assert_layer_matches):
    layer = nn.TransformerDecoderLayer(D, HEADS, FF, 0.0, activation="gelu", dtype=F64)
    cell = nn.TransformerDecoder(layer, 2)
    module = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(D, HEADS, FF, 0.0, "gelu", dtype=torch.float64), 2)
    _randomise(cell, seed=9)
    assert_layer_matches(cell, module, (_normal(4, 3, D), _normal(5, 3, D, seed=2)), {"memory_mask": _normal(4, 5, seed=3)})


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")  # torch's Transformer notes it cannot use nested tensors here
@pytest.mark.parametrize("batch_first, norm_first", [(False, False), (True, True)])
def test_whole_transformer_matches_torch(batch_first, norm_first, assert_layer_matches):
    cell = nn.Transformer(D, HEADS, 2, 2, FF, 0.0, "gelu", batch_first=batch_first, norm_first=norm_first, dtype=F64)
    module = torch.nn.Transformer(D, HEADS, 2, 2, FF, 0.0, "gelu", batch_first=batch_first, norm_first=norm_first, dtype=torch.float64)
    _randomise(cell, seed=11)
    src, tgt = (_normal(3, 5, D), _normal(3, 4, D, seed=2)) if batch_first else (_normal(5, 3, D), _normal(4, 3, D, seed=2))
    causal = np.triu(np.ones((4, 4), bool), 1)
    assert_layer_matches(cell, module, (src, tgt), {"tgt_mask": causal, "src_key_padding_mask": _padding(),
                                                    "memory_key_padding_mask": _padding()})
    assert cell.torch_parameter_names()["encoder.norm.gamma"] == "encoder.norm.weight"


def test_whole_transformer_starts_xavier_uniform():
    cell = nn.Transformer(16, 4, 1, 1, 32)
    weight = np.asarray(cell.encoder.layers[0].dense1.weight)  # (32, 16): Xavier's bound sqrt(6 / (16 + 32))
    bound = np.sqrt(6.0 / 48)
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.9 * bound
    np.testing.assert_array_equal(np.asarray(cell.decoder.norm.gamma), np.ones(16))


def test_stack_layers_start_as_copies_of_the_given_layer():
    layer = nn.TransformerEncoderLayer(D, HEADS, FF)
    stack = nn.TransformerEncoder(layer, 3)
    for copy in stack.layers:
        for (name, a), (_, b) in zip(copy.parameters_and_names(), layer.parameters_and_names()):
            assert a is not b
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=name)
    assert stack.layers[2].activation is ops.relu


def test_parameter_names_map_onto_torchs_state_dict():
    layer = nn.TransformerDecoderLayer(D, HEADS, FF)
    cell = nn.TransformerDecoder(layer, 2, norm=nn.LayerNorm((D,)))
    module = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(D, HEADS, FF), 2, norm=torch.nn.LayerNorm(D))
    names = cell.torch_parameter_names()
    assert sorted(names.values()) == sorted(module.state_dict())
    assert names["layers.1.dense1.weight"] == "layers.1.linear1.weight"
    assert names["layers.0.norm3.gamma"] == "layers.0.norm3.weight"
    assert names["norm.beta"] == "norm.bias"


def test_jitted_training_step_with_dropout_equals_eager():
    """Dropout on: the compiled step draws the same masks from funcad's random key as eager code."""
    layer = nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.2, batch_first=True, dtype=F64)
    net = nn.TransformerEncoder(layer, 2).set_train()
    x, padding, weights = _normal(3, 5, D), _padding(), _normal(3, 5, D, seed=6)

    def loss(x):
        return ops.sum(net(x, src_key_padding_mask=padding) * weights)

    step = funcad.value_and_grad(loss, None, net.trainable_params())
    funcad.set_seed(4)
    eager = [step(x) for _ in range(2)]
    funcad.set_seed(4)
    compiled = funcad.jit(step)
    jitted = [compiled(x) for _ in range(2)]
    assert not np.allclose(np.asarray(eager[0][0]), np.asarray(eager[1][0]))  # fresh masks each step
    for (e_loss, e_grads), (j_loss, j_grads) in zip(eager, jitted):
        np.testing.assert_allclose(np.asarray(j_loss), np.asarray(e_loss), rtol=1e-12)
        for a, b in zip(j_grads, e_grads):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-12)


def test_bad_arguments_name_the_layer():
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer: activation must be 'relu', 'gelu', a Cell or a callable, got 'tanhh'"):
        nn.TransformerEncoderLayer(D, HEADS, FF, activation="tanhh")
    with pytest.raises(TypeError, match=r"TransformerDecoder: expected a TransformerDecoderLayer, got TransformerEncoderLayer"):
        nn.TransformerDecoder(nn.TransformerEncoderLayer(D, HEADS, FF), 2)
    stack = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, HEADS, FF), 2)
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer 'layers.0': expected src of shape \(S, N, 6\) or \(S, 6\), got \(5, 3, 4\)"):
        stack(np.zeros((5, 3, 4), np.float32))
