"""TransformerEncoderLayer, TransformerDecoderLayer, their stacks and the whole Transformer, with MindSpore's arguments
and sub-Cell names.

The feed-forward sub-Cells are ``dense1``/``dense2`` (torch: ``linear1``/``linear2``) and the norms are LayerNorms
with ``gamma``/``beta``; each class's ``torch_names`` gives torch's names, so ``torch_parameter_names`` maps a whole
stack onto torch's state_dict keys.
"""

from __future__ import annotations

import copy
import math

from funcad import ops
from funcad.core.dtypes import float32
from funcad.nn.cell import Cell, CellList
from funcad.nn.initializer import HeUniform, Uniform, XavierUniform, initializer
from funcad.nn.layer.attention import MultiheadAttention
from funcad.nn.layer.basic import Dense, Dropout, positive_int
from funcad.nn.layer.normalization import LayerNorm

_ACTIVATIONS = {"relu": ops.relu, "gelu": ops.gelu}


def _activation(owner: str, activation):
    """'relu' or 'gelu' (exact, erf form, as MindSpore's and torch's strings mean), a Cell or a callable."""
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"{owner}: activation must be 'relu', 'gelu', a Cell or a callable, got {activation!r}")
        return _ACTIVATIONS[activation]
    if not callable(activation):
        raise ValueError(f"{owner}: activation must be 'relu', 'gelu', a Cell or a callable, got {type(activation).__name__}")
    return activation


class _TransformerLayer(Cell):
    """The parts encoder and decoder layers share: the feed-forward block, norms, dropouts and the residual order.

    ``norm_first`` puts each LayerNorm before its block (pre-norm) instead of after the residual sum (post-norm).
    LayerNorm epsilon here is ``layer_norm_eps`` (1e-5, as torch), not LayerNorm's own default of 1e-7.
    """

    torch_names = {"dense1": "linear1", "dense2": "linear2"}

    def __init__(self, blocks: int, d_model: int, nhead: int, dim_feedforward: int, dropout: float, activation,
                 layer_norm_eps: float, batch_first: bool, norm_first: bool, dtype):
        super().__init__()
        owner = type(self).__name__
        self.d_model, self.nhead = positive_int(d_model, owner, "d_model"), positive_int(nhead, owner, "nhead")
        self.dim_feedforward = positive_int(dim_feedforward, owner, "dim_feedforward")
        self.dropout_num, self.layernorm_eps = float(dropout), float(layer_norm_eps)
        self.batch_first, self.norm_first, self.dtype = bool(batch_first), bool(norm_first), dtype
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=batch_first, dtype=dtype)
        if blocks == 3:
            self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=batch_first, dtype=dtype)
        self.dense1 = Dense(d_model, dim_feedforward, weight_init=HeUniform(math.sqrt(5)), bias_init=Uniform(1 / math.sqrt(d_model)), dtype=dtype)
        self.dropout = Dropout(p=dropout)
        self.dense2 = Dense(dim_feedforward, d_model, weight_init=HeUniform(math.sqrt(5)),
                            bias_init=Uniform(1 / math.sqrt(dim_feedforward)), dtype=dtype)
        for i in range(1, blocks + 1):
            setattr(self, f"norm{i}", LayerNorm((d_model,), epsilon=layer_norm_eps, dtype=dtype))
        for i in range(1, blocks + 1):
            setattr(self, f"dropout{i}", Dropout(p=dropout))
        self.activation = _activation(owner, activation)

    def _attend(self, attention: MultiheadAttention, x, memory, attn_mask, key_padding_mask):
        return attention(x, memory, memory, key_padding_mask=key_padding_mask, need_weights=False, attn_mask=attn_mask)[0]

    def _feed_forward(self, x):
        return self.dense2(self.dropout(self.activation(self.dense1(x))))

    def _residual(self, x, norm: LayerNorm, dropout: Dropout, block):
        """x + dropout(block(norm(x))) with norm_first, else norm(x + dropout(block(x)))."""
        if self.norm_first:
            return x + dropout(block(norm(x)))
        return norm(x + dropout(block(x)))

    def _check(self, name: str, x) -> None:
        if len(x.shape) not in (2, 3) or x.shape[-1] != self.d_model:
            layout = "(N, S, {})" if self.batch_first else "(S, N, {})"
            raise ValueError(f"{self._where()}: expected {name} of shape {layout.format(self.d_model)} or (S, {self.d_model}), "
                             f"got {tuple(x.shape)}")

    def extend_repr(self) -> str:
        return (f"d_model={self.d_model}, nhead={self.nhead}, dim_feedforward={self.dim_feedforward}, dropout={self.dropout_num}, "
                f"batch_first={self.batch_first}, norm_first={self.norm_first}")


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention then feed-forward, each with a residual connection, dropout and LayerNorm.

    ``construct(src, src_mask=None, src_key_padding_mask=None)``; ``activation`` is 'relu', 'gelu' (exact), a Cell or
    a callable. Sub-Cells as MindSpore: self_attn, dense1, dropout, dense2, norm1, norm2, dropout1, dropout2."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1, activation="relu",
                 layer_norm_eps: float = 1e-5, batch_first: bool = False, norm_first: bool = False, dtype=float32):
        super().__init__(2, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first, dtype)

    def construct(self, src, src_mask=None, src_key_padding_mask=None):
        self._check("src", src)
        x = self._residual(src, self.norm1, self.dropout1, lambda h: self._attend(self.self_attn, h, h, src_mask, src_key_padding_mask))
        return self._residual(x, self.norm2, self.dropout2, self._feed_forward)


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention, attention over the encoder's ``memory``, then feed-forward, each with a residual connection.

    ``construct(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None)``.
    Sub-Cells as MindSpore: self_attn, multihead_attn, dense1, dropout, dense2, norm1..3, dropout1..3."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1, activation="relu",
                 layer_norm_eps: float = 1e-5, batch_first: bool = False, norm_first: bool = False, dtype=float32):
        super().__init__(3, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first, dtype)

    def construct(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None):
        self._check("tgt", tgt)
        self._check("memory", memory)
        x = self._residual(tgt, self.norm1, self.dropout1, lambda h: self._attend(self.self_attn, h, h, tgt_mask, tgt_key_padding_mask))
        x = self._residual(x, self.norm2, self.dropout2,
                           lambda h: self._attend(self.multihead_attn, h, memory, memory_mask, memory_key_padding_mask))
        return self._residual(x, self.norm3, self.dropout3, self._feed_forward)


class _TransformerStack(Cell):
    """``num_layers`` copies of a layer under ``layers`` (``layers.0``, ``layers.1``, ...), then ``norm`` if given.

    Each copy is an independent deep copy of the given layer, so all start from its weights, as in torch
    (some MindSpore 2.x releases build one new layer and repeat it, sharing its parameters across the stack)."""

    layer_class: type = Cell

    def __init__(self, layer: Cell, num_layers: int, norm: Cell | None = None):
        super().__init__()
        owner = type(self).__name__
        if not isinstance(layer, self.layer_class):
            raise TypeError(f"{owner}: expected a {self.layer_class.__name__}, got {type(layer).__name__}")
        self.num_layers = positive_int(num_layers, owner, "num_layers")
        # A function activation (a funcad primitive such as ops.relu) is shared, not copied: it is code, not state.
        shared = {} if isinstance(layer.activation, Cell) else {id(layer.activation): layer.activation}
        self.layers = CellList([copy.deepcopy(layer, dict(shared)) for _ in range(self.num_layers)])
        self.norm = norm

    def _finish(self, x):
        return x if self.norm is None else self.norm(x)


class TransformerEncoder(_TransformerStack):
    """A stack of TransformerEncoderLayers; ``construct(src, src_mask=None, src_key_padding_mask=None)``."""

    layer_class = TransformerEncoderLayer

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Cell | None = None):
        super().__init__(encoder_layer, num_layers, norm)

    def construct(self, src, src_mask=None, src_key_padding_mask=None):
        for layer in self.layers:
            src = layer(src, src_mask=src_mask, src_key_padding_mask=src_key_padding_mask)
        return self._finish(src)


class TransformerDecoder(_TransformerStack):
    """A stack of TransformerDecoderLayers over one ``memory``; the masks are those of TransformerDecoderLayer."""

    layer_class = TransformerDecoderLayer

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Cell | None = None):
        super().__init__(decoder_layer, num_layers, norm)

    def construct(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None):
        for layer in self.layers:
            tgt = layer(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask, tgt_key_padding_mask=tgt_key_padding_mask,
                        memory_key_padding_mask=memory_key_padding_mask)
        return self._finish(tgt)


class Transformer(Cell):
    """The encoder-decoder Transformer: ``encoder``, a TransformerEncoder of ``num_encoder_layers`` layers and a final
    LayerNorm, and ``decoder``, a TransformerDecoder likewise (or ``custom_encoder``/``custom_decoder``). Weight
    matrices start Xavier-uniform, as MindSpore's and torch's do.

    ``construct(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
    tgt_key_padding_mask=None, memory_key_padding_mask=None)``: the decoder's output over the encoded ``src``."""

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6, num_decoder_layers: int = 6,
                 dim_feedforward: int = 2048, dropout: float = 0.1, activation="relu", custom_encoder: Cell | None = None,
                 custom_decoder: Cell | None = None, layer_norm_eps: float = 1e-5, batch_first: bool = False, norm_first: bool = False,
                 dtype=float32):
        super().__init__()
        self.d_model, self.nhead, self.batch_first = positive_int(d_model, "Transformer", "d_model"), nhead, bool(batch_first)
        options = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first, dtype)
        self.encoder = custom_encoder or TransformerEncoder(TransformerEncoderLayer(*options), num_encoder_layers,
                                                            LayerNorm((d_model,), epsilon=layer_norm_eps, dtype=dtype))
        self.decoder = custom_decoder or TransformerDecoder(TransformerDecoderLayer(*options), num_decoder_layers,
                                                            LayerNorm((d_model,), epsilon=layer_norm_eps, dtype=dtype))
        for p in self.get_parameters():
            if p.ndim > 1:
                p.set_data(initializer(XavierUniform(), p.shape, p.dtype))

    def construct(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None, tgt_key_padding_mask=None,
                  memory_key_padding_mask=None):
        batch_axis = 0 if self.batch_first else 1
        if len(src.shape) == 3 and src.shape[batch_axis] != tgt.shape[batch_axis]:
            raise ValueError(f"{self._where()}: src {tuple(src.shape)} and tgt {tuple(tgt.shape)} differ in batch size (axis {batch_axis})")
        memory = self.encoder(src, src_mask=src_mask, src_key_padding_mask=src_key_padding_mask)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask, tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask)
