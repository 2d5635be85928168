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
from torch_ref.to_funcad import funcad_twin, to_funcad

RNG = np.random.default_rng(5)


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


def test_random_draw_is_refused_with_the_way_out():
    """A draw ``torch_ref.dropout`` does not align (Gumbel noise by ``exponential_``, as F.gumbel_softmax draws it)."""
    class GumbelHead(tnn.Module):
        def __init__(self):
            super().__init__()
            self.logits = tnn.Linear(4, 2)

        def forward(self, x):
            logits = self.logits(x)
            gumbels = -torch.empty_like(logits).exponential_().log()
            return (logits + gumbels).softmax(-1)

    with pytest.raises(TranslationError, match=r"node .exponential_. .* draws random numbers, .* pass the noise to forward as an input"):
        funcad_twin(GumbelHead())


class TNetPointNet(tnn.Module):
    """PointNet's input transform: a 3x3 matrix regressed per cloud, added to ``torch.eye`` in the input's dtype, applied by bmm."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn, self.fc = tnn.Conv1d(3, 8, 1), tnn.BatchNorm1d(8), tnn.Linear(8, 9)
        self.features, self.head = tnn.Conv1d(3, 8, 1), tnn.Linear(8, 4)

    def forward(self, x):
        h = torch.max(F.relu(self.bn(self.conv(x))), 2, keepdim=True)[0].view(-1, 8)
        trans = (self.fc(h) + torch.eye(3, dtype=x.dtype).view(1, 9).repeat(x.size(0), 1)).view(-1, 3, 3)
        x = torch.bmm(x.transpose(2, 1), trans).transpose(2, 1)
        return self.head(torch.max(F.relu(self.features(x)), 2)[0])


class MessagePassing(tnn.Module):
    """A graph layer over a fixed ``edge_index`` buffer: messages summed into their targets by ``index_add_``, the
    in-degrees counted by ``scatter_add_``."""

    def __init__(self):
        super().__init__()
        self.register_buffer("edge_index", torch.tensor([[0, 1, 2, 3, 4, 0, 2], [1, 2, 3, 4, 0, 3, 0]]))
        self.lin, self.msg, self.out = tnn.Linear(4, 6), tnn.Linear(6, 6), tnn.Linear(6, 3)

    def forward(self, x):
        h = self.lin(x)
        src, dst = self.edge_index
        summed = torch.zeros_like(h).index_add_(0, dst, self.msg(h[src]))
        degree = torch.zeros(h.size(0), dtype=h.dtype).scatter_add_(0, dst, torch.ones_like(dst, dtype=h.dtype))
        return self.out(F.relu(h + summed / degree.clamp(min=1).unsqueeze(-1)))


class SpatialTransformer(tnn.Module):
    """The spatial transformer tutorial's sampling: ``F.affine_grid`` from a regressed theta, then ``F.grid_sample``."""

    def __init__(self):
        super().__init__()
        self.loc, self.fc = tnn.Linear(36, 6), tnn.Linear(36, 3)

    def forward(self, x):
        theta = self.loc(x.flatten(1)).view(-1, 2, 3)
        grid = F.affine_grid(theta, x.size(), align_corners=False)
        return self.fc(F.grid_sample(x, grid, align_corners=False).flatten(1))


class PaddedSequences(tnn.Module):
    """Variable-length pieces padded by ``nn.utils.rnn.pad_sequence`` and flattened with torch's ``flatten()``."""

    def __init__(self):
        super().__init__()
        self.fc, self.out = tnn.Linear(3, 4), tnn.Linear(4, 3)

    def forward(self, x):
        padded = tnn.utils.rnn.pad_sequence([x[0, :2], x[1, :4], x[2, :3]], batch_first=True)
        return self.out(self.fc(padded).sum(1)) + torch.flatten(padded).sum()


CASES.update({  # (a second round of models)
    "pointnet_tnet_eye": (TNetPointNet, (RNG.standard_normal((2, 3, 7)),)),
    "message_passing_index_add": (MessagePassing, (RNG.standard_normal((5, 4)),)),
    "spatial_transformer_grid_sample": (SpatialTransformer, (RNG.standard_normal((2, 1, 6, 6)),)),
    "pad_sequence": (PaddedSequences, (RNG.standard_normal((3, 4, 3)),)),
})


@pytest.mark.usefixtures("float64_default")
@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("train", [True, False])
def test_user_model_matches_torch(name, train):
    factory, args = CASES[name]
    torch.manual_seed(0)
    module = factory().double()
    twin = funcad_twin(module)
    assert_same_model(twin.cell, module, twin.parameter_names, args, train)


@pytest.mark.parametrize("name", ["item_assignment", "decoder_loop", "embedding_bag_max", "pointnet_tnet_eye", "message_passing_index_add",
                                  "spatial_transformer_grid_sample"])
def test_user_model_trains_alike(name):
    factory, (x,) = CASES[name]
    torch.manual_seed(0)
    module = factory()
    x = x.astype(np.float32) if x.dtype.kind == "f" else x
    width = module(torch.from_numpy(x)).shape[1]
    data = [(x, RNG.integers(0, width, x.shape[0])) for _ in range(2)]
    assert harness.compare(module, data=data, steps=2, timing=False, dtype="float32").passed


def test_an_argument_the_translation_does_not_take_names_the_module_and_node():
    class Unsupported(tnn.Module):
        def __init__(self):
            super().__init__()
            self.fc = tnn.Linear(4, 4)

        def forward(self, x):
            return self.fc(x) * self.fc(x).names  # an attribute the twin's arrays do not have

    with pytest.raises(TranslationError, match=r"Unsupported at the root: node 'getattr_\d' .*: the funcad translation of builtins.getattr "
                                               r"does not take these arguments \(AttributeError"):
        to_funcad(Unsupported())(RNG.standard_normal((2, 4)))


def test_channel_dropout_by_function_draws_the_aligned_masks():
    class ChannelDropout(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.fc = tnn.Conv2d(1, 4, 3, padding=1), tnn.Linear(4 * 36, 3)

        def forward(self, x):
            return self.fc(F.dropout2d(F.relu(self.conv(x)), 0.4, self.training).flatten(1))

    torch.manual_seed(0)
    x = RNG.standard_normal((2, 1, 6, 6)).astype(np.float32)
    data = [(x, RNG.integers(0, 3, 2)) for _ in range(2)]
    assert harness.compare(ChannelDropout(), data=data, steps=2, timing=False, dtype="float32").passed
