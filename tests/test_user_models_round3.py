"""to_funcad on a third round of models written as PyTorch users write them: a torchvision-style ResNet with Bottleneck
blocks (downsample Sequential, zero-initialised residual BatchNorm), a MobileNetV3 block (Hardswish, Hardsigmoid
squeeze-excitation), the word language model (tied embedding/decoder, ``tuple(h.detach() for h in hidden)``), a causal
decoder (``nn.Transformer.generate_square_subsequent_mask`` with ``is_causal``), BERT's embeddings (token, position and
token type, LayerNorm, tanh GELU), a GRU over packed sequences, a CNN with bilinear ``F.interpolate`` and
``AdaptiveAvgPool2d((1, 1))``, einsum attention with a ``-inf`` padding mask, a cosine classifier (``nn.Identity``,
``nn.Unflatten``, ``torch.chunk``, ``torch.where``, ``F.normalize``, label smoothing), a diffusion block's sinusoidal
time embedding, attention pooling with a key padding mask, ``nn.Transformer`` with ``tgt_is_causal`` and an
``init_hidden`` made by ``weight.new_zeros``. Outputs and every gradient equal torch's in float64 in
both training modes; the single-input ones train alike through ``harness.compare``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from twin_check import assert_same_model

import funcad
import harness
from funcad import ops
from torch_ref.to_funcad import funcad_twin

RNG = np.random.default_rng(11)


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    return tnn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation, groups=groups, bias=False, dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    return tnn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class Bottleneck(tnn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, norm_layer=None):
        super().__init__()
        norm_layer = norm_layer or tnn.BatchNorm2d
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = norm_layer(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = norm_layer(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = tnn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class TinyResNet(tnn.Module):
    """torchvision's ResNet pattern: _make_layer with a downsample Sequential, zero-init residual BN."""

    def __init__(self, num_classes=5, zero_init_residual=True):
        super().__init__()
        self.inplanes = 8
        self.conv1 = tnn.Conv2d(3, 8, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = tnn.BatchNorm2d(8)
        self.relu = tnn.ReLU(inplace=True)
        self.maxpool = tnn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(4, 1)
        self.layer2 = self._make_layer(8, 2, stride=2)
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(8 * Bottleneck.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, tnn.Conv2d):
                tnn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, tnn.BatchNorm2d):
                tnn.init.constant_(m.weight, 1)
                tnn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    tnn.init.constant_(m.bn3.weight, 0)

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * Bottleneck.expansion:
            downsample = tnn.Sequential(conv1x1(self.inplanes, planes * Bottleneck.expansion, stride), tnn.BatchNorm2d(planes * Bottleneck.expansion))
        layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * Bottleneck.expansion
        for _ in range(1, blocks):
            layers.append(Bottleneck(self.inplanes, planes))
        return tnn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


def _make_divisible(v, divisor=4, min_value=None):
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class SqueezeExcitation(tnn.Module):
    def __init__(self, input_channels, squeeze_factor=4):
        super().__init__()
        squeeze_channels = _make_divisible(input_channels // squeeze_factor)
        self.avgpool = tnn.AdaptiveAvgPool2d(1)
        self.fc1 = tnn.Conv2d(input_channels, squeeze_channels, 1)
        self.relu = tnn.ReLU()
        self.fc2 = tnn.Conv2d(squeeze_channels, input_channels, 1)
        self.scale_activation = tnn.Hardsigmoid()

    def forward(self, x):
        scale = self.scale_activation(self.fc2(self.relu(self.fc1(self.avgpool(x)))))
        return scale * x


class InvertedResidual(tnn.Module):
    def __init__(self, cin, expanded, cout, kernel, stride, use_se, use_hs):
        super().__init__()
        self.use_res_connect = stride == 1 and cin == cout
        act = tnn.Hardswish if use_hs else tnn.ReLU
        layers = []
        if expanded != cin:
            layers += [tnn.Conv2d(cin, expanded, 1, bias=False), tnn.BatchNorm2d(expanded, eps=0.001, momentum=0.01), act(inplace=True)]
        layers += [tnn.Conv2d(expanded, expanded, kernel, stride, (kernel - 1) // 2, groups=expanded, bias=False),
                   tnn.BatchNorm2d(expanded, eps=0.001, momentum=0.01), act(inplace=True)]
        if use_se:
            layers.append(SqueezeExcitation(expanded))
        layers += [tnn.Conv2d(expanded, cout, 1, bias=False), tnn.BatchNorm2d(cout, eps=0.001, momentum=0.01)]
        self.block = tnn.Sequential(*layers)

    def forward(self, x):
        result = self.block(x)
        if self.use_res_connect:
            result += x
        return result


class MobileNetV3Tiny(tnn.Module):
    def __init__(self, num_classes=4):
        super().__init__()
        self.features = tnn.Sequential(
            tnn.Sequential(tnn.Conv2d(3, 8, 3, 2, 1, bias=False), tnn.BatchNorm2d(8, eps=0.001, momentum=0.01), tnn.Hardswish(inplace=True)),
            InvertedResidual(8, 8, 8, 3, 1, True, False),
            InvertedResidual(8, 24, 12, 5, 2, True, True),
            InvertedResidual(12, 36, 12, 3, 1, False, True),
        )
        self.avgpool = tnn.AdaptiveAvgPool2d(1)
        self.classifier = tnn.Sequential(tnn.Linear(12, 16), tnn.Hardswish(inplace=True), tnn.Dropout(p=0.0, inplace=True),
                                        tnn.Linear(16, num_classes))

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


class RNNModel(tnn.Module):
    """PyTorch's word_language_model: tied encoder/decoder weights, hidden state detached between batches."""

    def __init__(self, ntoken=11, ninp=6, nhid=6, nlayers=2, dropout=0.0, tie_weights=True):
        super().__init__()
        self.ntoken = ntoken
        self.drop = tnn.Dropout(dropout)
        self.encoder = tnn.Embedding(ntoken, ninp)
        self.rnn = tnn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = tnn.Linear(nhid, ntoken)
        if tie_weights:
            self.decoder.weight = self.encoder.weight
        self.nhid, self.nlayers = nhid, nlayers
        initrange = 0.1
        tnn.init.uniform_(self.encoder.weight, -initrange, initrange)
        tnn.init.zeros_(self.decoder.bias)

    def forward(self, input, h0, c0):
        hidden = (h0, c0)
        hidden = tuple(h.detach() for h in hidden)  # repackage_hidden
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden[0], hidden[1]


class CausalLM(tnn.Module):
    """A GPT-like decoder-only model on nn.TransformerEncoder with the square subsequent mask and is_causal=True."""

    def __init__(self, vocab=13, d_model=8, nhead=2, layers=2, max_len=16):
        super().__init__()
        self.tok = tnn.Embedding(vocab, d_model)
        self.pos = tnn.Parameter(torch.zeros(1, max_len, d_model))
        tnn.init.normal_(self.pos, std=0.02)
        layer = tnn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=16, dropout=0.0, batch_first=True, norm_first=True, activation="gelu")
        self.blocks = tnn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.ln_f = tnn.LayerNorm(d_model)
        self.head = tnn.Linear(d_model, vocab, bias=False)

    def forward(self, idx):
        t = idx.size(1)
        x = self.tok(idx) + self.pos[:, :t]
        mask = tnn.Transformer.generate_square_subsequent_mask(t, dtype=x.dtype)
        x = self.blocks(x, mask=mask, is_causal=True)
        return self.head(self.ln_f(x))[:, -1]


class BertEmbeddings(tnn.Module):
    def __init__(self, vocab_size=20, hidden_size=8, max_position_embeddings=16, type_vocab_size=2, layer_norm_eps=1e-12, dropout=0.0):
        super().__init__()
        self.word_embeddings = tnn.Embedding(vocab_size, hidden_size, padding_idx=0)
        self.position_embeddings = tnn.Embedding(max_position_embeddings, hidden_size)
        self.token_type_embeddings = tnn.Embedding(type_vocab_size, hidden_size)
        self.LayerNorm = tnn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.dropout = tnn.Dropout(dropout)
        self.register_buffer("position_ids", torch.arange(max_position_embeddings).expand((1, -1)), persistent=False)
        self.register_buffer("token_type_ids", torch.zeros(self.position_ids.size(), dtype=torch.long), persistent=False)

    def forward(self, input_ids):
        seq_length = input_ids.size()[1]
        position_ids = self.position_ids[:, :seq_length]
        buffered = self.token_type_ids[:, :seq_length]
        token_type_ids = buffered.expand(input_ids.size(0), seq_length)
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class TinyBert(tnn.Module):
    def __init__(self, num_labels=3):
        super().__init__()
        self.embeddings = BertEmbeddings()
        self.intermediate = tnn.Linear(8, 16)
        self.output = tnn.Linear(16, 8)
        self.norm = tnn.LayerNorm(8, eps=1e-12)
        self.pooler = tnn.Linear(8, 8)
        self.classifier = tnn.Linear(8, num_labels)

    def forward(self, input_ids):
        h = self.embeddings(input_ids)
        h = self.norm(h + self.output(F.gelu(self.intermediate(h), approximate="tanh")))
        pooled = torch.tanh(self.pooler(h[:, 0]))
        return self.classifier(pooled)


class PackedGRU(tnn.Module):
    def __init__(self):
        super().__init__()
        self.gru = tnn.GRU(4, 5, batch_first=True, bidirectional=True)
        self.fc = tnn.Linear(10, 3)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, h_n = self.gru(packed)
        out, out_lengths = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
        mean = out.sum(1) / out_lengths.unsqueeze(1).to(out.dtype)
        return self.fc(torch.cat([h_n[-2], h_n[-1]], dim=1)) + self.fc(mean)


class UpsampleNet(tnn.Module):
    def __init__(self):
        super().__init__()
        self.down = tnn.Conv2d(2, 4, 3, stride=2, padding=1)
        self.mid = tnn.Conv2d(4, 4, 3, padding=1)
        self.fuse = tnn.Conv2d(6, 4, 3, padding=1)
        self.pool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(4, 3)

    def forward(self, x):
        h = F.relu(self.mid(F.relu(self.down(x))))
        up = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
        h = F.relu(self.fuse(torch.cat([up, x], dim=1)))
        return self.fc(self.pool(h).view(h.size(0), -1))


class EinsumAttention(tnn.Module):
    def __init__(self, dim=8, heads=2):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.to_qkv = tnn.Linear(dim, dim * 3, bias=False)
        self.to_out = tnn.Sequential(tnn.Linear(dim, dim), tnn.Identity())
        self.norm = tnn.LayerNorm(dim)

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = self.to_qkv(x).chunk(3, dim=-1)
        q, k, v = (t.reshape(b, n, self.heads, -1).transpose(1, 2) for t in (q, k, v))
        dots = torch.einsum("bhid,bhjd->bhij", q, k) * self.scale
        pad = (x.abs().sum(-1) < 0.5)  # tokens with tiny norm count as padding
        dots = dots.masked_fill(pad[:, None, None, :], float("-inf"))
        attn = dots.softmax(dim=-1)
        out = torch.einsum("bhij,bhjd->bhid", attn, v)
        out = out.transpose(1, 2).reshape(b, n, -1)
        return self.norm(x + self.to_out(out)).mean(1)


class CosineHead(tnn.Module):
    """nn.Identity, nn.Unflatten, torch.chunk, masked_fill with -inf, torch.where, F.normalize and a label-smoothed loss."""

    def __init__(self, classes=4):
        super().__init__()
        self.backbone = tnn.Sequential(tnn.Linear(6, 12), tnn.Unflatten(1, (3, 4)), tnn.Identity())
        self.weight = tnn.Parameter(torch.randn(classes, 2))
        self.temperature = 10.0

    def forward(self, x, target):
        h = self.backbone(x)  # (N, 3, 4)
        a, b = torch.chunk(h, 2, dim=-1)
        gated = torch.where(a > 0, a * torch.sigmoid(b), 0.1 * a)  # (N, 3, 2)
        feats = F.normalize(gated.sum(1), dim=-1)
        logits = self.temperature * feats @ F.normalize(self.weight, dim=1).t()
        blocked = torch.zeros_like(logits, dtype=torch.bool)
        blocked[:, -1] = x[:, 0] > 1.5  # the last class is ruled out for these rows
        logits = logits.masked_fill(blocked, float("-inf"))
        return F.cross_entropy(logits, target, label_smoothing=0.1)


class SinusoidalPositionEmbeddings(tnn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, time):
        half_dim = self.dim // 2
        embeddings = math.log(10000) / (half_dim - 1)
        embeddings = torch.exp(torch.arange(half_dim, device=time.device) * -embeddings)
        embeddings = time[:, None] * embeddings[None, :]
        return torch.cat((embeddings.sin(), embeddings.cos()), dim=-1)


class TimeConditionedBlock(tnn.Module):
    """A diffusion U-Net's residual block: sinusoidal time embedding, GroupNorm, SiLU, scale-shift from the time."""

    def __init__(self, channels=4, time_dim=8):
        super().__init__()
        self.time_mlp = tnn.Sequential(SinusoidalPositionEmbeddings(time_dim), tnn.Linear(time_dim, time_dim), tnn.GELU(),
                                       tnn.Linear(time_dim, 2 * channels))
        self.norm1, self.conv1 = tnn.GroupNorm(2, channels), tnn.Conv2d(channels, channels, 3, padding=1)
        self.norm2, self.conv2 = tnn.GroupNorm(2, channels), tnn.Conv2d(channels, channels, 3, padding=1)
        self.act = tnn.SiLU()

    def forward(self, x, time):
        scale, shift = self.time_mlp(time)[:, :, None, None].chunk(2, dim=1)
        h = self.conv1(self.act(self.norm1(x)))
        h = self.norm2(h) * (scale + 1) + shift
        return x + self.conv2(self.act(h))


class MaskedAttentionPool(tnn.Module):
    """nn.MultiheadAttention with a key_padding_mask built from the lengths, a learned query, need_weights=False."""

    def __init__(self, dim=6):
        super().__init__()
        self.query = tnn.Parameter(torch.randn(1, 1, dim))
        self.attn = tnn.MultiheadAttention(dim, 2, batch_first=True)
        self.out = tnn.Linear(dim, 3)

    def forward(self, x, lengths):
        positions = torch.arange(x.size(1), device=x.device)[None, :]
        key_padding_mask = positions >= lengths[:, None]
        pooled, _ = self.attn(self.query.expand(x.size(0), -1, -1), x, x, key_padding_mask=key_padding_mask, need_weights=False)
        return self.out(pooled.squeeze(1))


class TranslationModel(tnn.Module):
    """nn.Transformer as translation tutorials call it: the target's square subsequent mask with ``tgt_is_causal``."""

    def __init__(self):
        super().__init__()
        self.transformer = tnn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16, dropout=0.0,
                                           batch_first=True)
        self.generator = tnn.Linear(8, 5)

    def forward(self, src, tgt):
        tgt_mask = self.transformer.generate_square_subsequent_mask(tgt.size(1))
        return self.generator(self.transformer(src, tgt, tgt_mask=tgt_mask, tgt_is_causal=True))


class GRULanguageModel(tnn.Module):
    """The word language model's ``init_hidden``: zeros made by ``next(self.parameters()).new_zeros``."""

    def __init__(self):
        super().__init__()
        self.encoder, self.rnn, self.decoder = tnn.Embedding(9, 4), tnn.GRU(4, 5, 2), tnn.Linear(5, 9)

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return weight.new_zeros(2, bsz, 5)

    def forward(self, tokens):
        output, _ = self.rnn(self.encoder(tokens), self.init_hidden(tokens.size(1)))
        return self.decoder(output).view(-1, 9)


class ExplicitFloat32(tnn.Module):
    """Positions made float32 on purpose (``.float()``) stay float32 in the twin, as in torch, before meeting float64."""

    def __init__(self):
        super().__init__()
        self.fc = tnn.Linear(5, 3)

    def forward(self, x):
        return self.fc(x + torch.arange(x.size(1)).float() / 3.0)


class ExactHardsigmoid(tnn.Module):
    """relu6(x + 3) / 6: torch's Hardsigmoid scales its float64 gradient by 1/6 rounded to float32 (README's table)."""

    def forward(self, x):
        return F.relu6(x + 3) / 6


LENGTHS = np.array([4, 2, 3])
PADDED = RNG.standard_normal((3, 4, 4))
NEAR_ZERO_TOKEN = np.concatenate([RNG.standard_normal((2, 4, 8)), np.full((2, 1, 8), 0.01)], 1)  # a padding token per row
CASES = {
    "resnet_bottleneck": (TinyResNet, (RNG.standard_normal((2, 3, 8, 8)),)),
    "mobilenet_v3_block": (MobileNetV3Tiny, (RNG.standard_normal((2, 3, 12, 12)),)),
    "tied_lstm_language_model": (RNNModel, (RNG.integers(0, 11, (5, 2)), RNG.standard_normal((2, 2, 6)), RNG.standard_normal((2, 2, 6)))),
    "causal_decoder": (CausalLM, (RNG.integers(0, 13, (2, 5)),)),
    "bert_embeddings": (TinyBert, (RNG.integers(0, 20, (2, 6)),)),
    "packed_gru": (PackedGRU, (PADDED, LENGTHS)),
    "bilinear_interpolate": (UpsampleNet, (RNG.standard_normal((2, 2, 6, 6)),)),
    "einsum_attention": (EinsumAttention, (NEAR_ZERO_TOKEN,)),
    "cosine_head_label_smoothing": (CosineHead, (RNG.standard_normal((5, 6)) + np.outer([2.0, 0, 0, 2.0, 0], np.eye(6)[0]),
                                                 np.array([0, 3, 1, 2, 0]))),
    "sinusoidal_time_embedding": (TimeConditionedBlock, (RNG.standard_normal((2, 4, 5, 5)), np.array([3.0, 250.0]))),
    "attention_pool_padding_mask": (MaskedAttentionPool, (RNG.standard_normal((3, 5, 6)), np.array([5, 2, 3]))),
    "explicit_float32": (ExplicitFloat32, (RNG.standard_normal((2, 5)),)),
    "transformer_tgt_is_causal": (TranslationModel, (RNG.standard_normal((2, 4, 8)), RNG.standard_normal((2, 3, 8)))),
    "init_hidden_new_zeros": (GRULanguageModel, (RNG.integers(0, 9, (4, 2)),)),
}


@pytest.mark.usefixtures("float64_default")
@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("train", [True, False])
def test_user_model_matches_torch(name, train):
    factory, args = CASES[name]
    torch.manual_seed(0)
    module = factory().double()
    twin = funcad_twin(module)
    for m in module.modules():  # the reference: torch with an exact Hardsigmoid, after the twin is made
        if isinstance(m, SqueezeExcitation):
            m.scale_activation = ExactHardsigmoid()
    assert_same_model(twin.cell, module, twin.parameter_names, args, train)


def test_the_language_models_tied_weight_and_detached_state():
    torch.manual_seed(0)
    twin = funcad_twin(RNNModel().double())
    assert twin.cell.decoder.weight is twin.cell.encoder.embedding_table
    tokens, h0, c0 = CASES["tied_lstm_language_model"][1]
    grads = funcad.grad(lambda h, c: ops.sum(twin.cell(tokens, h, c)[0]), (0, 1))(h0, c0)
    assert all(np.array_equal(np.asarray(g), np.zeros_like(h0)) for g in grads)  # repackaged: no gradient reaches the state


@pytest.mark.parametrize("name, classes", [("resnet_bottleneck", 5), ("mobilenet_v3_block", 4), ("causal_decoder", 13), ("bert_embeddings", 3),
                                           ("bilinear_interpolate", 3), ("einsum_attention", 8)])
def test_user_model_trains_alike(name, classes):
    factory, (x,) = CASES[name]
    torch.manual_seed(0)
    x = x.astype(np.float32) if x.dtype.kind == "f" else x
    data = [(x, RNG.integers(0, classes, x.shape[0])) for _ in range(2)]
    assert harness.compare(factory(), data=data, steps=2, timing=False).passed
