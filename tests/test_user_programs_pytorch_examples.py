"""to_funcad on programs from pytorch/examples and karpathy/nanoGPT, their model code copied as written (sizes made
small; ruff's spelling: ``super()``, ``_`` for an unused loop variable): MNIST's Net, word_language_model's RNNModel
(LSTM, GRU with tied weights, RNN_RELU) and TransformerModel (an ``nn.Transformer`` subclass whose forward branches on
``has_mask`` and caches its mask), the VAE (``randn_like``), time_sequence_prediction's Sequence (an ``LSTMCell`` loop
over ``input.split(1, dim=1)``, ``future`` steps), DCGAN's Generator and Discriminator, fast_neural_style's
TransformerNet (InstanceNorm, ReflectionPad2d, nearest Upsample) and nanoGPT's GPT (both attention paths, tied
embedding, LayerNorm with a bias flag, ``forward(idx, targets=None)``). Outputs and every gradient equal torch's in
float64, training (dropout and draws aligned) and evaluation; some train alike through ``harness.compare``. Each class
names its source file above it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import funcad
import harness
from funcad import ops
from harness import cli
from harness.cases import BatchError
from harness.usermodel import UserModelError
from torch_ref import TranslationError
from torch_ref.dropout import aligned_masks, set_mask_key
from torch_ref.to_funcad import funcad_twin

RNG = np.random.default_rng(2026)


# --- pytorch/examples mnist/main.py ---
class MnistNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, 1)
        self.conv2 = nn.Conv2d(4, 8, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(8 * 4 * 4, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output

# --- pytorch/examples word_language_model/model.py ---
class RNNModel(nn.Module):
    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        if rnn_type in ['LSTM', 'GRU']:
            self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        else:
            nonlinearity = {'RNN_TANH': 'tanh', 'RNN_RELU': 'relu'}[rnn_type]
            self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            self.decoder.weight = self.encoder.weight
        self.init_weights()
        self.rnn_type = rnn_type
        self.nhid = nhid
        self.nlayers = nlayers

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output)
        decoded = decoded.view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

class PositionalEncoding(nn.Module):
    def __init__(self, d_model, dropout=0.1, max_len=5000):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        pe = pe.unsqueeze(0).transpose(0, 1)
        self.register_buffer('pe', pe)

    def forward(self, x):
        x = x + self.pe[:x.size(0), :]
        return self.dropout(x)

class TransformerModel(nn.Transformer):
    def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.5):
        super().__init__(d_model=ninp, nhead=nhead, dim_feedforward=nhid, num_encoder_layers=nlayers)
        self.model_type = 'Transformer'
        self.src_mask = None
        self.pos_encoder = PositionalEncoding(ninp, dropout)
        self.input_emb = nn.Embedding(ntoken, ninp)
        self.ninp = ninp
        self.decoder = nn.Linear(ninp, ntoken)
        self.init_weights()

    def _generate_square_subsequent_mask(self, sz):
        mask = (torch.triu(torch.ones(sz, sz)) == 1).transpose(0, 1)
        mask = mask.float().masked_fill(mask == 0, float('-inf')).masked_fill(mask == 1, 0.0)
        return mask

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.input_emb.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, src, has_mask=True):
        if has_mask:
            device = src.device
            if self.src_mask is None or self.src_mask.size(0) != len(src):
                mask = self._generate_square_subsequent_mask(len(src)).to(device)
                self.src_mask = mask
        else:
            self.src_mask = None
        src = self.input_emb(src) * math.sqrt(self.ninp)
        src = self.pos_encoder(src)
        output = self.encoder(src, mask=self.src_mask)
        output = self.decoder(output)
        return F.log_softmax(output, dim=-1)

# --- pytorch/examples vae/main.py (784 -> 40 -> 6 instead of 784 -> 400 -> 20) ---
class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 40)
        self.fc21 = nn.Linear(40, 6)
        self.fc22 = nn.Linear(40, 6)
        self.fc3 = nn.Linear(6, 40)
        self.fc4 = nn.Linear(40, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5*logvar)
        eps = torch.randn_like(std)
        return mu + eps*std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.clamp(torch.sigmoid(self.fc4(h3)), min=1e-4, max=1.0 - 1e-4)

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar

# --- pytorch/examples time_sequence_prediction/train.py ---
class Sequence(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm1 = nn.LSTMCell(1, 51)
        self.lstm2 = nn.LSTMCell(51, 51)
        self.linear = nn.Linear(51, 1)
        self.dummy_param = nn.Parameter(torch.empty(0))

    def forward(self, input, future = 0):
        outputs = []
        device = self.dummy_param.device
        h_t = torch.zeros(input.size(0), 51, dtype=torch.double).to(device)
        c_t = torch.zeros(input.size(0), 51, dtype=torch.double).to(device)
        h_t2 = torch.zeros(input.size(0), 51, dtype=torch.double).to(device)
        c_t2 = torch.zeros(input.size(0), 51, dtype=torch.double).to(device)
        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for _ in range(future):
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        outputs = torch.cat(outputs, dim=1)
        return outputs

# --- pytorch/examples dcgan/main.py (nz=ngf=ndf small, nc=3, 16x16 images: one fewer up/down stage)
class Generator(nn.Module):
    def __init__(self, nz=4, ngf=4, nc=3):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, nc, 4, 2, 1, bias=False),
            nn.Tanh()
        )

    def forward(self, input):
        output = self.main(input)
        return output

class Discriminator(nn.Module):
    def __init__(self, nc=3, ndf=4):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),
            nn.Sigmoid()
        )

    def forward(self, input):
        output = self.main(input)
        return output.view(-1, 1).squeeze(1)

# --- pytorch/examples fast_neural_style/neural_style/transformer_net.py (channel widths 32/64/128 scaled down by `w`, three residual blocks)
class TransformerNet(torch.nn.Module):
    def __init__(self, w=4):
        super().__init__()
        self.conv1 = ConvLayer(3, w, kernel_size=9, stride=1)
        self.in1 = torch.nn.InstanceNorm2d(w, affine=True)
        self.conv2 = ConvLayer(w, 2 * w, kernel_size=3, stride=2)
        self.in2 = torch.nn.InstanceNorm2d(2 * w, affine=True)
        self.conv3 = ConvLayer(2 * w, 4 * w, kernel_size=3, stride=2)
        self.in3 = torch.nn.InstanceNorm2d(4 * w, affine=True)
        self.res1 = ResidualBlock(4 * w)
        self.res2 = ResidualBlock(4 * w)
        self.res3 = ResidualBlock(4 * w)
        self.deconv1 = UpsampleConvLayer(4 * w, 2 * w, kernel_size=3, stride=1, upsample=2)
        self.in4 = torch.nn.InstanceNorm2d(2 * w, affine=True)
        self.deconv2 = UpsampleConvLayer(2 * w, w, kernel_size=3, stride=1, upsample=2)
        self.in5 = torch.nn.InstanceNorm2d(w, affine=True)
        self.deconv3 = ConvLayer(w, 3, kernel_size=9, stride=1)
        self.relu = torch.nn.ReLU()

    def forward(self, X):
        y = self.relu(self.in1(self.conv1(X)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        y = self.res1(y)
        y = self.res2(y)
        y = self.res3(y)
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        y = self.deconv3(y)
        return y

class ConvLayer(torch.nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride):
        super().__init__()
        reflection_padding = kernel_size // 2
        self.reflection_pad = torch.nn.ReflectionPad2d(reflection_padding)
        self.conv2d = torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x):
        out = self.reflection_pad(x)
        out = self.conv2d(out)
        return out

class ResidualBlock(torch.nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, kernel_size=3, stride=1)
        self.in1 = torch.nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, kernel_size=3, stride=1)
        self.in2 = torch.nn.InstanceNorm2d(channels, affine=True)
        self.relu = torch.nn.ReLU()

    def forward(self, x):
        residual = x
        out = self.relu(self.in1(self.conv1(x)))
        out = self.in2(self.conv2(out))
        out = out + residual
        return out

class UpsampleConvLayer(torch.nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride, upsample=None):
        super().__init__()
        self.upsample = upsample
        if upsample:
            self.upsample_layer = torch.nn.Upsample(mode='nearest', scale_factor=upsample)
        reflection_padding = kernel_size // 2
        self.reflection_pad = torch.nn.ReflectionPad2d(reflection_padding)
        self.conv2d = torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x):
        x_in = x
        if self.upsample:
            x_in = self.upsample_layer(x_in)
        out = self.reflection_pad(x_in)
        out = self.conv2d(out)
        return out

# --- karpathy/nanoGPT model.py (small GPTConfig; `flash` chooses the attention path, as hasattr(F, ...) does there) ---
class LayerNorm(nn.Module):
    def __init__(self, ndim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, input):
        return F.layer_norm(input, self.weight.shape, self.weight, self.bias, 1e-5)

class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.dropout = config.dropout
        self.flash = hasattr(torch.nn.functional, 'scaled_dot_product_attention') and config.flash
        if not self.flash:
            self.register_buffer("bias", torch.tril(torch.ones(config.block_size, config.block_size))
                                        .view(1, 1, config.block_size, config.block_size))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v  = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        if self.flash:
            y = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=self.dropout if self.training else 0,
                                                                 is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:,:,:T,:T] == 0, float('-inf'))
            att = F.softmax(att, dim=-1)
            att = self.attn_dropout(att)
            y = att @ v
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        y = self.resid_dropout(self.c_proj(y))
        return y

class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc    = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu    = nn.GELU()
        self.c_proj  = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        x = self.c_fc(x)
        x = self.gelu(x)
        x = self.c_proj(x)
        x = self.dropout(x)
        return x

class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x

@dataclass
class GPTConfig:
    block_size: int = 8
    vocab_size: int = 11
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 8
    dropout: float = 0.0
    bias: bool = True
    flash: bool = True

class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte = nn.Embedding(config.vocab_size, config.n_embd),
            wpe = nn.Embedding(config.block_size, config.n_embd),
            drop = nn.Dropout(config.dropout),
            h = nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f = LayerNorm(config.n_embd, bias=config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight
        self.apply(self._init_weights)
        for pn, p in self.named_parameters():
            if pn.endswith('c_proj.weight'):
                torch.nn.init.normal_(p, mean=0.0, std=0.02/math.sqrt(2 * config.n_layer))

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        device = idx.device
        b, t = idx.size()
        assert t <= self.config.block_size, f"Cannot forward sequence of length {t}, block size is only {self.config.block_size}"
        pos = torch.arange(0, t, dtype=torch.long, device=device)
        tok_emb = self.transformer.wte(idx)
        pos_emb = self.transformer.wpe(pos)
        x = self.transformer.drop(tok_emb + pos_emb)
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        if targets is not None:
            logits = self.lm_head(x)
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        else:
            logits = self.lm_head(x[:, [-1], :])
            loss = None
        return logits, loss


# --- the check: one forward and backward on each side, dropout masks and random draws from the same key --------------

def _leaves(value) -> list:
    if isinstance(value, (tuple, list)):
        return [leaf for v in value for leaf in _leaves(v)]
    return [] if value is None else [value]


def _funcad(value):
    if isinstance(value, tuple):
        return tuple(_funcad(v) for v in value)
    return funcad.Tensor(value) if isinstance(value, np.ndarray) else value


def _torch(value):
    if isinstance(value, tuple):  # a recurrent state: passed, not differentiated
        return tuple(torch.from_numpy(v) for v in value)
    return torch.tensor(value, requires_grad=value.dtype.kind == "f") if isinstance(value, np.ndarray) else value


def _funcad_pass(cell, args, cotangents):
    params = cell.trainable_params()
    positions = tuple(i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind == "f")
    set_mask_key(3, 0, "funcad")

    def loss(*xs):
        outs = _leaves(cell(*xs))
        return (sum(ops.sum(o * funcad.Tensor(c)) for o, c in zip(outs, cotangents, strict=True)), *outs)

    (_, *outs), grads = funcad.value_and_grad(loss, positions or None, params, has_aux=True)(*[_funcad(a) for a in args])
    input_grads, param_grads = grads if positions else ((), grads)
    input_grads = (input_grads,) if len(positions) == 1 else input_grads
    return ([np.asarray(o) for o in outs], [np.asarray(g) for g in input_grads],
            {p.name: np.asarray(g) for p, g in zip(params, param_grads, strict=True)})


def _torch_pass(module, args, cotangents):
    inputs = [_torch(a) for a in args]
    for p in module.parameters():
        p.grad = None
    set_mask_key(3, 0, "torch")
    with aligned_masks():
        outs = [o for o in _leaves(module(*inputs)) if isinstance(o, torch.Tensor)]
    sum((o * torch.from_numpy(c)).sum() for o, c in zip(outs, cotangents, strict=True)).backward()
    grads = {n: p.grad.numpy() if p.grad is not None else np.zeros(tuple(p.shape)) for n, p in module.named_parameters()}
    return [o.detach().numpy() for o in outs], [x.grad.numpy() for x in inputs if isinstance(x, torch.Tensor) and x.requires_grad], grads


def assert_same(module, args, train: bool) -> None:
    """The twin's outputs, input gradients and every parameter's gradient equal torch's (float64)."""
    twin = funcad_twin(module)
    module.train(train)
    twin.cell.set_train(train)
    set_mask_key(3, 0, "torch")
    with aligned_masks(), torch.no_grad():
        shapes = [tuple(o.shape) for o in _leaves(module(*[_torch(a) for a in args])) if isinstance(o, torch.Tensor)]
    rng = np.random.default_rng(7)
    cotangents = [rng.standard_normal(s) for s in shapes]
    f_outs, f_gx, f_grads = _funcad_pass(twin.cell, args, cotangents)
    t_outs, t_gx, t_grads = _torch_pass(module, args, cotangents)
    assert len(f_outs) == len(t_outs)
    for f, t in zip(f_outs + f_gx, t_outs + t_gx, strict=True):
        np.testing.assert_allclose(f, t, rtol=1e-10, atol=1e-12)
    assert sorted(twin.parameter_names[n] for n in f_grads) == sorted(t_grads)
    for name, grad in f_grads.items():
        np.testing.assert_allclose(grad, t_grads[twin.parameter_names[name]], rtol=1e-10, atol=1e-12, err_msg=name)


def _transformer_model():
    """TransformerModel as the example builds it: dropout 0.2, its encoder layers' attention weights included."""
    return TransformerModel(13, 8, 2, 16, 2, dropout=0.2)


TOKENS = RNG.integers(0, 13, (5, 2))
IDX, TARGETS = RNG.integers(0, 11, (2, 6)), RNG.integers(0, 11, (2, 6))
CASES = {
    "mnist_net": (MnistNet, (RNG.standard_normal((2, 1, 12, 12)),)),
    "lstm": (lambda: RNNModel("LSTM", 13, 6, 6, 1, dropout=0.0), (TOKENS, (RNG.standard_normal((1, 2, 6)),) * 2)),
    "gru_tied": (lambda: RNNModel("GRU", 13, 6, 6, 1, dropout=0.0, tie_weights=True), (TOKENS, RNG.standard_normal((1, 2, 6)))),
    "rnn_relu": (lambda: RNNModel("RNN_RELU", 13, 6, 6, 1, dropout=0.0), (TOKENS, RNG.standard_normal((1, 2, 6)))),
    "transformer_model": (_transformer_model, (TOKENS,)),
    "transformer_model_no_mask": (_transformer_model, (TOKENS, False)),
    "vae": (VAE, (RNG.random((3, 1, 28, 28)),)),
    "time_sequence": (Sequence, (RNG.standard_normal((2, 6)),)),
    "time_sequence_future": (Sequence, (RNG.standard_normal((2, 6)), 3)),
    "dcgan_generator": (Generator, (RNG.standard_normal((2, 4, 1, 1)),)),
    "dcgan_discriminator": (Discriminator, (RNG.standard_normal((2, 3, 16, 16)),)),
    "fast_neural_style": (TransformerNet, (RNG.standard_normal((1, 3, 16, 16)),)),
    "nano_gpt_flash_generate": (lambda: GPT(GPTConfig()), (IDX,)),
    "nano_gpt_flash_loss": (lambda: GPT(GPTConfig()), (IDX, TARGETS)),
    "nano_gpt_manual_generate": (lambda: GPT(GPTConfig(dropout=0.1, flash=False)), (IDX,)),
    "nano_gpt_manual_loss": (lambda: GPT(GPTConfig(dropout=0.1, flash=False, bias=False)), (IDX, TARGETS)),
    "nano_gpt_flash_dropout": (lambda: GPT(GPTConfig(dropout=0.1)), (IDX, TARGETS)),
    # two recurrent layers with dropout between them, as the example trains them
    "lstm_2_layers": (lambda: RNNModel("LSTM", 13, 6, 6, 2, dropout=0.3), (TOKENS, (RNG.standard_normal((2, 2, 6)),) * 2)),
    "gru_tied_2_layers": (lambda: RNNModel("GRU", 13, 6, 6, 2, dropout=0.3, tie_weights=True), (TOKENS, RNG.standard_normal((2, 2, 6)))),
}

RUNS = [(name, train) for name in CASES for train in (True, False)]


@pytest.mark.usefixtures("float64_default")
@pytest.mark.parametrize("name, train", RUNS, ids=[f"{n}-{'train' if t else 'eval'}" for n, t in RUNS])
def test_program_matches_torch_in_float64(name, train):
    factory, args = CASES[name]
    torch.manual_seed(0)
    assert_same(factory().double(), args, train)


@pytest.mark.usefixtures("float64_default")
def test_one_twin_traces_each_set_of_python_arguments_apart():
    """TransformerModel's ``has_mask`` and nanoGPT's ``targets=None`` choose branches: the twin traces forward once per
    set of such values (given or left to their defaults) and runs the trace of the call's, so one twin serves both."""
    torch.manual_seed(0)
    model = _transformer_model().double().eval()
    twin = funcad_twin(model)
    src = torch.from_numpy(TOKENS)
    masked, unmasked = np.asarray(twin.cell(TOKENS)), np.asarray(twin.cell(TOKENS, False))
    np.testing.assert_allclose(masked, model(src).detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(unmasked, model(src, False).detach().numpy(), rtol=1e-10, atol=1e-12)
    assert not np.allclose(masked, unmasked)
    gpt = GPT(GPTConfig()).double().eval()
    cell = funcad_twin(gpt).cell
    logits, loss = cell(IDX)
    assert loss is None and logits.shape == (2, 1, 11)
    logits, loss = cell(IDX, TARGETS)
    np.testing.assert_allclose(float(loss), gpt(torch.from_numpy(IDX), torch.from_numpy(TARGETS))[1].item(), rtol=1e-10)
    sequence = Sequence().double()
    cell, x = funcad_twin(sequence).cell, RNG.standard_normal((2, 6))
    for future in (0, 3, 1):  # ``range(future)``: one trace per number of steps
        np.testing.assert_allclose(np.asarray(cell(x, future)), sequence(torch.from_numpy(x), future).detach().numpy(), rtol=1e-10, atol=1e-12)
    assert np.asarray(cell(x, 3)).shape == (2, 9)


def test_a_user_s_own_torch_assert_is_not_taken_for_torch_fx_s_guard():
    """torch.fx guards a concrete argument with ``_assert``; a forward's own ``torch._assert`` on a tensor is no guard and
    is refused as untranslated, naming it."""
    class Checked(nn.Module):
        def forward(self, x, scale=None):
            torch._assert(x.sum() > -1e9, "finite")
            return x if scale is None else x * scale

    with pytest.raises(TranslationError, match=r"Checked at the root: node '_assert'"):
        funcad_twin(Checked()).cell(RNG.standard_normal((2, 3)))


def test_a_forward_given_another_python_object_is_refused_naming_the_argument_kinds():
    class Scaled(nn.Module):
        def forward(self, x, scales):
            for s in scales:
                x = x * s
            return x

    with pytest.raises(TranslationError, match=r"Scaled at the root: torch.fx cannot trace forward .*needs every input to be a tensor or a "
                                               r"Python number, string, bool or None"):
        funcad_twin(Scaled()).cell(RNG.standard_normal((2, 3)).astype(np.float32), [1.0, 2.0])


def test_the_mnist_net_trains_alike_through_the_harness():
    torch.manual_seed(0)
    data = [(RNG.standard_normal((4, 1, 12, 12)).astype(np.float32), RNG.integers(0, 10, 4)) for _ in range(2)]
    assert harness.compare(MnistNet(), data=data, steps=3, timing=False).passed


def test_the_time_sequence_model_trains_alike_through_the_harness():
    """Sequence makes its states in float64 (``dtype=torch.double``): it runs in float64, ``.double()``, as the example trains it."""
    torch.manual_seed(0)
    data = [(RNG.standard_normal((3, 6)), RNG.standard_normal((3, 6))) for _ in range(2)]
    assert harness.compare(Sequence().double(), data=data, loss="mse", optimizer="adam", dtype="float64", steps=3, timing=False).passed


def test_the_fast_neural_style_net_trains_alike_through_the_harness():
    torch.manual_seed(0)
    data = [(RNG.standard_normal((2, 3, 16, 16)).astype(np.float32), RNG.standard_normal((2, 3, 16, 16)).astype(np.float32))]
    assert harness.compare(TransformerNet(), data=data, loss="mse", optimizer="adam", steps=2, timing=False).passed


def test_nano_gpt_s_logits_and_loss_are_named_as_outputs_to_wrap():
    """GPT returns ``(logits, loss)``, the loss None without targets: the harness asks for one output, listing None as
    None (not as a shape)."""
    data = [(IDX, RNG.integers(0, 11, 2))]
    with pytest.raises(UserModelError, match=r"the model returns 2 outputs \(\(2, 1, 11\), None\); a comparison trains on one"):
        harness.compare(GPT(GPTConfig()), data=data, steps=1, timing=False)


def test_the_word_language_model_s_state_pair_as_one_input_is_refused_naming_it():
    """RNNModel's forward takes ``hidden`` as an LSTM's ``(h, c)`` pair; the harness's inputs are arrays, so a batch
    nesting the pair is refused, naming the batch and the input, with the way out."""
    state = (np.zeros((2, 2, 6), np.float32),) * 2
    data = [((TOKENS, state), RNG.integers(0, 13, 10))]
    with pytest.raises(BatchError, match=r"data: batch 0's input 1 is a tuple of 2, not one array; .*forward\(x, h, c\)"):
        harness.compare(RNNModel("LSTM", 13, 6, 6, 2), data=data, steps=1, timing=False)


def test_the_dcgan_discriminator_runs_end_to_end_from_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = cli.main(["run", "--model", "test_user_programs_pytorch_examples:Discriminator", "--from", "torch", "--input-shape", "4,3,16,16",
                     "--loss", "mse", "--steps", "2", "--no-timing", "--out", "reports/dcgan"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "all verdicts pass" in out and (tmp_path / "reports/dcgan/report.md").exists()
