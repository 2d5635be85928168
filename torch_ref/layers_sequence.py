"""Translation rules of the sequence layers: RNN, GRU, LSTM and their cells, MultiheadAttention, the Transformer layers
and the whole Transformer.

Parameter names agree between MindSpore and torch here (``weight_ih_l0``, ``in_proj_weight``) except the Transformer
layers' feed-forward Cells (``dense1``/``dense2``, torch ``linear1``/``linear2``) and LayerNorms (gamma/beta), which the
Cells' ``torch_names`` declare. Two call conventions differ and are bridged: MindSpore's recurrent layers take
``seq_length`` (one length per sequence), which the torch twins here (subclasses of torch's classes) turn into a
``pack_padded_sequence``; MindSpore's attention returns ``(output,)`` without weights where torch returns
``(output, None)``, so code indexing ``[0]`` runs on both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from funcad import nn, ops
from funcad.nn.cell import Cell, CellList
from torch_ref.kernel_dropout import padded_batch
from torch_ref.layer_rule import LayerRule, Translate, Untranslatable


class _SeqLength:
    """``forward(x, hx=None, seq_length=None)`` as MindSpore's: each sequence runs over its first ``seq_length[b]`` steps;
    one of length 0 has zero outputs and keeps its initial state (packing needs length 1, so it runs one step, dropped)."""

    def forward(self, x, hx=None, seq_length=None):
        if seq_length is None:
            return super().forward(x, hx)
        lengths = torch.as_tensor(seq_length).cpu()
        batch_axis = 0 if self.batch_first else 1
        packed = pack_padded_sequence(x, lengths.clamp(min=1), batch_first=self.batch_first, enforce_sorted=False)
        with padded_batch(packed.sorted_indices, x.shape[1 - batch_axis]):  # aligned dropout between layers draws as funcad
            out, state = super().forward(packed, hx)
        out = pad_packed_sequence(out, batch_first=self.batch_first, total_length=x.shape[1 - batch_axis])[0]
        empty = (lengths == 0).to(x.device)
        if not bool(empty.any()):
            return out, state
        out = torch.where(empty.view([-1 if axis == batch_axis else 1 for axis in range(3)]), torch.zeros_like(out), out)
        states, initial = (state, hx) if isinstance(state, tuple) else ((state,), None if hx is None else (hx,))
        initial = initial or tuple(torch.zeros_like(s) for s in states)
        kept = tuple(torch.where(empty.view(1, -1, 1), h0, h) for h, h0 in zip(states, initial))
        return out, kept if isinstance(state, tuple) else kept[0]


class RNN(_SeqLength, torch.nn.RNN):
    """torch.nn.RNN taking MindSpore's ``seq_length``."""


class GRU(_SeqLength, torch.nn.GRU):
    """torch.nn.GRU taking MindSpore's ``seq_length``."""


class LSTM(_SeqLength, torch.nn.LSTM):
    """torch.nn.LSTM taking MindSpore's ``seq_length``."""


def _recurrent(funcad_type: type, torch_type: type, base: type) -> LayerRule:
    def to_torch(cell, translate: Translate) -> torch.nn.Module:
        extra = {"nonlinearity": "tanh" if cell.mode == "RNN_TANH" else "relu"} if funcad_type is nn.RNN else {}
        if cell.proj_size:
            extra["proj_size"] = cell.proj_size
        return torch_type(cell.input_size, cell.hidden_size, cell.num_layers, bias=cell.has_bias, batch_first=cell.batch_first,
                          dropout=cell.dropout, bidirectional=cell.bidirectional, **extra)

    def to_funcad(module, translate: Translate) -> Cell:
        extra = {"nonlinearity": module.nonlinearity} if funcad_type is nn.RNN else {}
        if module.proj_size:  # torch's RNN and GRU refuse it: an LSTM's
            extra["proj_size"] = module.proj_size
        return funcad_type(module.input_size, module.hidden_size, module.num_layers, has_bias=module.bias, batch_first=module.batch_first,
                           dropout=float(module.dropout), bidirectional=module.bidirectional, **extra)

    return LayerRule(funcad_type, torch_type, to_torch, to_funcad, torch_aliases=(base,))


def _recurrent_cell(funcad_type: type, torch_type: type) -> LayerRule:
    is_rnn = funcad_type is nn.RNNCell

    def to_torch(cell, translate: Translate) -> torch.nn.Module:
        extra = {"nonlinearity": cell.nonlinearity} if is_rnn else {}
        return torch_type(cell.input_size, cell.hidden_size, bias=cell.has_bias, **extra)

    def to_funcad(module, translate: Translate) -> Cell:
        extra = {"nonlinearity": module.nonlinearity} if is_rnn else {}
        return funcad_type(module.input_size, module.hidden_size, has_bias=module.bias, **extra)

    return LayerRule(funcad_type, torch_type, to_torch, to_funcad)


def _attention_to_torch(cell: nn.MultiheadAttention, translate: Translate) -> torch.nn.Module:
    return torch.nn.MultiheadAttention(cell.embed_dim, cell.num_heads, dropout=cell.dropout, bias=cell.in_proj_bias is not None,
                                       add_bias_kv=cell.bias_k is not None, add_zero_attn=cell.add_zero_attn, kdim=cell.kdim,
                                       vdim=cell.vdim, batch_first=cell.batch_first)


def _attention_to_funcad(module: torch.nn.MultiheadAttention, translate: Translate) -> Cell:
    return nn.MultiheadAttention(module.embed_dim, module.num_heads, dropout=module.dropout, has_bias=module.in_proj_bias is not None,
                                 add_bias_kv=module.bias_k is not None, add_zero_attn=module.add_zero_attn, kdim=module.kdim,
                                 vdim=module.vdim, batch_first=module.batch_first)


_ACTIVATIONS = ((ops.relu, F.relu, "relu"), (ops.gelu, F.gelu, "gelu"))


def _activation(activation, translate: Translate, funcad_side: bool):
    """A Transformer layer's activation in the other engine: 'relu'/'gelu' for the functions, a translated Cell or module."""
    for funcad_fn, torch_fn, name in _ACTIVATIONS:
        if activation is (funcad_fn if funcad_side else torch_fn):
            return name
    if isinstance(activation, Cell if funcad_side else torch.nn.Module):
        return translate(activation, "activation")
    raise Untranslatable(f"activation {activation!r} is neither relu, gelu nor a layer")


def _keep_attention_dropout(source, target) -> None:
    """An attention whose dropout was set apart from its layer's (``layer.self_attn.dropout = 0``) keeps it."""
    for name in ("self_attn", "multihead_attn"):
        if hasattr(source, name):
            getattr(target, name).dropout = getattr(source, name).dropout


def _transformer_layer(funcad_type: type, torch_type: type) -> LayerRule:
    def to_torch(cell, translate: Translate) -> torch.nn.Module:
        layer = torch_type(cell.d_model, cell.nhead, cell.dim_feedforward, cell.dropout_num, _activation(cell.activation, translate, True),
                           cell.layernorm_eps, cell.batch_first, cell.norm_first)
        _keep_attention_dropout(cell, layer)
        return layer

    def to_funcad(module, translate: Translate) -> Cell:
        if module.linear1.bias is None:
            raise Untranslatable("bias=False has no funcad counterpart")
        attention = module.self_attn
        cell = funcad_type(attention.embed_dim, attention.num_heads, module.linear1.out_features, module.dropout.p,
                           _activation(module.activation, translate, False), module.norm1.eps, attention.batch_first, module.norm_first)
        _keep_attention_dropout(module, cell)
        return cell

    return LayerRule(funcad_type, torch_type, to_torch, to_funcad)


def _transformer_stack(funcad_type: type, torch_type: type) -> LayerRule:
    """The stack is built around its first layer, then holds each layer translated (the weights follow by name)."""
    extra: dict = {"enable_nested_tensor": False} if torch_type is torch.nn.TransformerEncoder else {}

    def to_torch(cell, translate: Translate) -> torch.nn.Module:
        layers = [translate(layer, f"layers.{i}") for i, layer in enumerate(cell.layers)]
        norm = None if cell.norm is None else translate(cell.norm, "norm")
        stack = torch_type(layers[0], cell.num_layers, norm=norm, **extra)
        stack.layers = torch.nn.ModuleList(layers)
        return stack

    def to_funcad(module, translate: Translate) -> Cell:
        layers = [translate(layer, f"layers.{i}") for i, layer in enumerate(module.layers)]
        stack = funcad_type(layers[0], len(layers), norm=None if module.norm is None else translate(module.norm, "norm"))
        stack.layers = CellList(layers)
        return stack

    return LayerRule(funcad_type, torch_type, to_torch, to_funcad)


def _transformer_to_torch(cell, translate: Translate) -> torch.nn.Module:
    return torch.nn.Transformer(cell.d_model, cell.nhead, custom_encoder=translate(cell.encoder, "encoder"),
                                custom_decoder=translate(cell.decoder, "decoder"), batch_first=cell.batch_first)


def _transformer_to_funcad(module, translate: Translate) -> Cell:
    return nn.Transformer(module.d_model, module.nhead, custom_encoder=translate(module.encoder, "encoder"),
                          custom_decoder=translate(module.decoder, "decoder"), batch_first=module.batch_first)


SEQUENCE_RULES: list[LayerRule] = [
    _recurrent(nn.RNN, RNN, torch.nn.RNN), _recurrent(nn.GRU, GRU, torch.nn.GRU), _recurrent(nn.LSTM, LSTM, torch.nn.LSTM),
    _recurrent_cell(nn.RNNCell, torch.nn.RNNCell), _recurrent_cell(nn.GRUCell, torch.nn.GRUCell), _recurrent_cell(nn.LSTMCell, torch.nn.LSTMCell),
    LayerRule(nn.MultiheadAttention, torch.nn.MultiheadAttention, _attention_to_torch, _attention_to_funcad),
    _transformer_layer(nn.TransformerEncoderLayer, torch.nn.TransformerEncoderLayer),
    _transformer_layer(nn.TransformerDecoderLayer, torch.nn.TransformerDecoderLayer),
    _transformer_stack(nn.TransformerEncoder, torch.nn.TransformerEncoder),
    _transformer_stack(nn.TransformerDecoder, torch.nn.TransformerDecoder),
    LayerRule(nn.Transformer, torch.nn.Transformer, _transformer_to_torch, _transformer_to_funcad),
]

__all__ = ["RNN", "GRU", "LSTM", "SEQUENCE_RULES"]
