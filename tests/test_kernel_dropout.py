"""Dropout torch draws inside its kernels (attention, stacked recurrent layers), aligned with funcad's masks by running
those kernels as their parts (torch_ref.kernel_dropout): the twins agree in training, gradients included, in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import funcad
from torch_ref import kernel_dropout, to_funcad
from torch_ref.dropout import aligned_masks, set_mask_key


def _both(module: torch.nn.Module, x: np.ndarray, seed: int = 5):
    """(funcad twin's outputs, torch's outputs, funcad's input gradient of sum(out[0]), torch's) with aligned masks."""
    twin = to_funcad(module).set_train(True)
    set_mask_key(seed, 0, "funcad")
    set_mask_key(seed, 0, "torch")
    out_f = twin(funcad.Tensor(x))
    grad_f = funcad.grad(lambda a: _first(twin(a)).sum())
    tx = torch.from_numpy(x).requires_grad_(True)
    with aligned_masks():
        out_t = module(tx)
        first = out_t[0] if isinstance(out_t, tuple) else out_t
        first.sum().backward()
    set_mask_key(seed, 0, "funcad")
    g_f = grad_f(funcad.Tensor(x))
    return out_f, out_t, np.asarray(g_f), tx.grad.numpy()


def _first(out):
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("cls", [torch.nn.LSTM, torch.nn.GRU, torch.nn.RNN])
@pytest.mark.parametrize("batch_first", [False, True])
def test_stacked_recurrent_layers_draw_funcads_masks_between_layers(cls, batch_first):
    torch.manual_seed(0)
    layer = cls(4, 5, num_layers=3, dropout=0.4, bidirectional=True, batch_first=batch_first).double().train()
    x = np.random.default_rng(0).standard_normal((6, 3, 4))
    out_f, out_t, g_f, g_t = _both(layer, x)
    np.testing.assert_allclose(np.asarray(out_f[0]), out_t[0].detach().numpy(), rtol=1e-10, atol=1e-12)
    states_f = out_f[1] if cls is not torch.nn.LSTM else out_f[1][1]
    states_t = out_t[1] if cls is not torch.nn.LSTM else out_t[1][1]
    np.testing.assert_allclose(np.asarray(states_f), states_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g_f, g_t, rtol=1e-9, atol=1e-12)
    with torch.no_grad():  # the masks did act: without them torch's output is another one
        assert (layer.eval()(torch.from_numpy(x))[0] - out_t[0]).abs().max() > 1e-3


def test_a_stack_run_layer_by_layer_is_the_kernel_itself_when_nothing_is_dropped():
    """The split costs no rounding: with dropout 0 between layers the per-layer calls give the kernel's bits."""
    torch.manual_seed(1)
    layer = torch.nn.LSTM(3, 4, num_layers=2, dropout=0.5, proj_size=2, batch_first=True).double().train()
    x = torch.from_numpy(np.random.default_rng(2).standard_normal((2, 5, 3)))
    with torch.no_grad():
        split = kernel_dropout.KERNEL_DRAWS["lstm"]
        weights = layer._flat_weights
        h0, c0 = torch.zeros(2, 2, 2, dtype=torch.float64), torch.zeros(2, 2, 4, dtype=torch.float64)
        mine = split(x, (h0, c0), weights, True, 2, 1e-300, True, False, True)  # dropout that keeps every value
        theirs = torch._VF.lstm(x, (h0, c0), weights, True, 2, 0.0, True, False, True)
    for a, b in zip(mine, theirs):
        assert torch.equal(a, b)


class _CausalAttention(torch.nn.Module):
    """Attention as nanoGPT writes it: F.scaled_dot_product_attention with the module's dropout while training."""

    def __init__(self, width: int = 8, heads: int = 2, dropout: float = 0.3):
        super().__init__()
        self.qkv, self.proj, self.heads, self.dropout = torch.nn.Linear(width, 3 * width), torch.nn.Linear(width, width), heads, dropout

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in self.qkv(x).split(c, dim=2))
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


@pytest.mark.parametrize("make", [
    lambda: torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.3, batch_first=True),
    lambda: torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.3, batch_first=True, norm_first=True),
    _CausalAttention,
], ids=["encoder", "decoder", "sdpa"])
def test_attention_weights_dropout_drawn_in_torchs_attention_kernel_is_aligned(make):
    torch.manual_seed(3)
    module = make().double().train()
    x = np.random.default_rng(4).standard_normal((3, 5, 8))
    if isinstance(module, torch.nn.TransformerDecoderLayer):
        module = _WithMemory(module, torch.from_numpy(np.random.default_rng(5).standard_normal((3, 4, 8))))
    out_f, out_t, g_f, g_t = _both(module, x)
    np.testing.assert_allclose(np.asarray(_first(out_f)), _first(out_t).detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g_f, g_t, rtol=1e-9, atol=1e-12)


class _WithMemory(torch.nn.Module):
    def __init__(self, layer, memory):
        super().__init__()
        self.layer = layer
        self.register_buffer("memory", memory)

    def forward(self, x):
        return self.layer(x, self.memory)


def test_attention_with_dropout_by_the_reference_formula_matches_torchs_kernel_where_it_keeps_everything():
    """Masks of keep-all (p tiny): the reference formula is torch's attention, with a float mask and grouped heads."""
    rng = np.random.default_rng(6)
    q, k, v = (torch.from_numpy(rng.standard_normal(shape)) for shape in [(2, 4, 3, 5), (2, 2, 6, 5), (2, 2, 6, 5)])
    mask = torch.from_numpy(rng.standard_normal((3, 6)))
    with aligned_masks():
        ours = F.scaled_dot_product_attention(q, k, v, mask, dropout_p=1e-300, enable_gqa=True)
    theirs = F.scaled_dot_product_attention(q, k, v, mask, enable_gqa=True)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)


def test_a_packed_sequence_keeps_torchs_own_masks_and_is_recorded():
    kernel_dropout.PACKED_UNALIGNED.clear()
    layer = torch.nn.GRU(3, 4, num_layers=2, dropout=0.5).train()
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.ones(5, 2, 3), [5, 3])
    with aligned_masks():
        layer(packed)
        torch.nn.GRU(3, 4, num_layers=1).train()(packed)  # nothing between layers to drop
    assert kernel_dropout.PACKED_UNALIGNED == {"gru"}
    assert torch._VF.gru is kernel_dropout._KERNELS["gru"]  # put back on the way out


@pytest.mark.parametrize("batch_first", [False, True])
def test_the_mirror_of_a_stack_fed_seq_length_drops_between_layers_as_funcad_over_the_padded_batch(batch_first):
    """MindSpore's seq_length runs packed on the torch side; its dropout is drawn over funcad's padded batch (longest
    sequence shorter than the padding, lengths unsorted, one of length 0)."""
    from funcad import nn
    from torch_ref import mirror

    funcad.set_seed(0)
    cell = nn.LSTM(4, 5, num_layers=3, dropout=0.5, bidirectional=True, batch_first=batch_first, dtype=funcad.float64).set_train(True)
    twin = mirror(cell).train()
    x = np.random.default_rng(7).standard_normal((4, 7, 4) if batch_first else (7, 4, 4))
    lengths = np.array([3, 6, 0, 5])
    set_mask_key(9, 0, "funcad")
    set_mask_key(9, 0, "torch")
    out_f, (h_f, _) = cell(funcad.Tensor(x), seq_length=funcad.Tensor(lengths))
    kernel_dropout.PACKED_UNALIGNED.clear()
    with aligned_masks():
        out_t, (h_t, _) = twin(torch.from_numpy(x), seq_length=torch.from_numpy(lengths))
    np.testing.assert_allclose(np.asarray(out_f), out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(h_f), h_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert not kernel_dropout.PACKED_UNALIGNED
