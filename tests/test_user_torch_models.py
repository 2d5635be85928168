"""to_funcad on small models written as PyTorch users write them, each exercising something the translation once
missed: item assignment on a computed tensor, a decoder loop writing into ``torch.zeros`` and slicing it after,
``math.sqrt`` of a size, ``nn.EmbeddingBag`` with offsets, and a refused random draw (outputs and every gradient in
float64, and two float32 training steps through ``harness.compare``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as F
from twin_check import assert_same_model

import harness
from torch_ref.layer_table import TranslationError
from torch_ref.to_funcad import funcad_twin

RNG = np.random.default_rng(5)


@pytest.fixture
def float64_default():
    """Tensors the forwards create without a dtype are float64, as in the harness's float64 run."""
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(default)


class ItemAssignment(tnn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.out = tnn.Linear(6, 6), tnn.Linear(6, 4)

    def forward(self, x):
        h = self.fc(x)
        with torch.no_grad():
            centre = h.mean(0)
        h = h - centre
        h[:, 0] = h[:, 1] * 2
        h[:, 2:4] *= 0.5
        h.add_(1.0)
        return self.out(F.relu(h))


class DecoderLoop(tnn.Module):
    """Teacher forcing as seq2seq tutorials write it: predictions written into ``torch.zeros`` step by step."""

    def __init__(self, steps=3):
        super().__init__()
        self.steps, self.cell, self.head = steps, tnn.GRUCell(3, 4), tnn.Linear(4, 3)

    def forward(self, x):
        batch = x.shape[0]
        outputs = torch.zeros(batch, self.steps, 3)
        h = torch.zeros(batch, 4)
        for t in range(1, self.steps):
            h = self.cell(x[:, t - 1], h)
            outputs[:, t] = self.head(h)
        return outputs[:, 1:].reshape(batch, -1)


class ScaledAttention(tnn.Module):
    def __init__(self, width=6):
        super().__init__()
        self.qkv, self.proj = tnn.Linear(width, 3 * width), tnn.Linear(width, 5)

    def forward(self, x):
        q, k, v = self.qkv(x).split(x.size(-1), dim=-1)
        att = F.softmax(q @ k.transpose(-2, -1) / math.sqrt(k.size(-1)), dim=-1)
        return self.proj((att @ v).mean(1))


class TextClassifier(tnn.Module):
    """PyTorch's text classification tutorial: one flat batch of tokens, ``offsets`` where each text starts."""

    def __init__(self):
        super().__init__()
        self.embedding, self.fc = tnn.EmbeddingBag(12, 5), tnn.Linear(5, 3)

    def forward(self, text, offsets):
        return self.fc(self.embedding(text, offsets))


class Pooled(tnn.Module):
    def __init__(self):
        super().__init__()
        self.bag, self.fc = tnn.EmbeddingBag(12, 5, mode="max", padding_idx=0), tnn.Linear(5, 3)

    def forward(self, tokens):
        return self.fc(self.bag(tokens))


TOKENS = np.array([3, 1, 7, 7, 0, 11, 2, 5])
CASES = {
    "item_assignment": (ItemAssignment, (RNG.standard_normal((3, 6)),)),
    "decoder_loop": (DecoderLoop, (RNG.standard_normal((2, 3, 3)),)),
    "math_sqrt_of_a_size": (ScaledAttention, (RNG.standard_normal((2, 4, 6)),)),
    "embedding_bag_offsets": (TextClassifier, (TOKENS, np.array([0, 3, 3, 6]))),
    "embedding_bag_max": (Pooled, (TOKENS.reshape(2, 4),)),
}


@pytest.mark.usefixtures("float64_default")
@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("train", [True, False])
def test_user_model_matches_torch(name, train):
    factory, args = CASES[name]
    torch.manual_seed(0)
    module = factory().double()
    twin = funcad_twin(module)
    assert_same_model(twin.cell, module, twin.parameter_names, args, train)


@pytest.mark.parametrize("name", ["item_assignment", "decoder_loop", "embedding_bag_max"])
def test_user_model_trains_alike(name):
    factory, (x,) = CASES[name]
    torch.manual_seed(0)
    module = factory()
    x = x.astype(np.float32) if x.dtype.kind == "f" else x
    width = module(torch.from_numpy(x)).shape[1]
    data = [(x, RNG.integers(0, width, x.shape[0])) for _ in range(2)]
    assert harness.compare(module, data=data, steps=2, timing=False, dtype="float32").passed


def test_random_draw_is_refused_with_the_way_out():
    class Reparameterised(tnn.Module):
        def __init__(self):
            super().__init__()
            self.mu, self.logvar = tnn.Linear(4, 2), tnn.Linear(4, 2)

        def forward(self, x):
            std = torch.exp(0.5 * self.logvar(x))
            return self.mu(x) + torch.randn_like(std) * std

    with pytest.raises(TranslationError, match=r"node .randn_like. .* draws random numbers, .* pass the noise to forward as an input"):
        funcad_twin(Reparameterised())
