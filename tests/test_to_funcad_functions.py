"""to_funcad on torch modules whose forward calls torch functions and Tensor methods (pools and convolutions by function,
losses, activations, creation, reductions with indices, split, expand, dtype conversions) and on two models written
as PyTorch users write them (a residual CNN, causal self-attention): the twin's outputs and gradients equal torch's in
float64, and the twin trains in torch's mode."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

import funcad
import harness
from funcad import ops
from torch_ref.layer_table import TranslationError
from torch_ref.to_funcad import funcad_twin, to_funcad

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's note on the even kernel case
RNG = np.random.default_rng(17)
IMAGES = RNG.standard_normal((2, 3, 6, 6))
ROWS = RNG.standard_normal((4, 6))
LABELS = torch.tensor([1, 0, 5, 2])
SORTED_ROWS = torch.tensor([[-1.0, 0.0, 1.0], [0.0, 0.5, 2.0]], dtype=torch.float64)
TIES = np.random.default_rng(5).integers(-2, 3, (5, 7)) * 0.5  # equal elements: torch's choice among them


def _relu_in_place(x):
    """A tensor changed in place and read after: its later readers see the change."""
    x.relu_()
    return x


def _written_through_views(x):
    """In-place writes through views of a tensor reach it, as in torch (and in-place-only methods and functions)."""
    h = x * 1.0
    h[:, :2].mul_(2)
    h.view(-1)[:5].add_(1)
    h.t()[1].mul_(3)
    h.narrow(1, 2, 2).zero_()
    row = h.select(0, 1).clamp_(min=0)
    row_sum = row.sum()  # read before the writes below, which would change it
    h.transpose(0, 1)[4:].fill_(0.5)
    h[0].copy_(x[1] * 2)
    F.elu_(h[3, 1:])  # (last: torch's gradient needs its output unchanged, and any write to h would change it)
    return h + row_sum + torch.relu_(x * 0.5)


def _unpooled(pool, unpool, x, **options):
    """A max pool's values put back at its indices (flattened per sample)."""
    pooled = pool(x, 2, return_indices=True)
    return unpool(pooled[0], pooled[1], 2, **options).flatten(1)


class _Calls(tnn.Module):
    """A forward that applies ``fn`` to its input (and to a weight of its own where ``fn`` takes one)."""

    def __init__(self, fn, weight_shape=None):
        super().__init__()
        self.fn = fn
        self.weight = None if weight_shape is None else tnn.Parameter(torch.randn(weight_shape, dtype=torch.float64))

    def forward(self, x):
        return self.fn(x) if self.weight is None else self.fn(x, self.weight)


FUNCTIONS = {
    "conv2d_same": (lambda x, w: F.conv2d(x, w, padding="same"), (4, 3, 3, 2), IMAGES),
    "conv2d_stride_pad": (lambda x, w: F.conv2d(x, w, None, 2, (1, 0)), (4, 3, 3, 3), IMAGES),
    "conv1d_valid": (lambda x, w: F.conv1d(x, w, padding="valid", stride=2), (5, 4, 2), ROWS[None].repeat(2, 0)),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2), None, IMAGES),
    "max_pool2d_ceil": (lambda x: torch.cat([F.max_pool2d(x, 3, 2, 1, ceil_mode=True).flatten(1),
                                             F.max_pool2d(x[..., :5], 2, ceil_mode=True).flatten(1)], 1), None, IMAGES),
    "avg_pool2d_ceil": (lambda x: torch.cat([F.avg_pool2d(x[..., :5, :5], 2, ceil_mode=True).flatten(1),
                                             F.avg_pool2d(x[..., :5], 3, 2, 1, ceil_mode=True, count_include_pad=False).flatten(1)], 1),
                        None, IMAGES),
    "avg_pool2d_pad": (lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), None, IMAGES),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (1, None)), None, IMAGES),
    "interpolate": (lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"), None, IMAGES),
    "similarity_distance": (lambda x: F.cosine_similarity(x, x * x + 1.0, dim=0) + torch.cosine_similarity(x, 2.0 * x, 1, 1e-6)[:, None]
                            + F.pairwise_distance(x, x * x, p=3.0, keepdim=True), None, ROWS),
    "unfold_fold": (lambda x: F.fold(F.unfold(x, 3, padding=1, stride=2) * 2.0, (6, 6), 3, padding=1, stride=2)
                    + F.unfold(x, (2, 3), dilation=(2, 1)).sum(), None, IMAGES),
    "normalize": (lambda x: F.normalize(x, dim=0), None, ROWS),
    "layer_norm": (lambda x, w: F.layer_norm(x, (6,), w), (6,), ROWS),
    "pad_reflect": (lambda x: F.pad(x, (1, 2, 0, 1), mode="reflect"), None, IMAGES),
    "cross_entropy": (lambda x: F.cross_entropy(x, LABELS, label_smoothing=0.1), None, ROWS),
    "nll_loss_sum": (lambda x: F.nll_loss(F.log_softmax(x, 1), LABELS, reduction="sum"), None, ROWS),
    "mse_loss": (lambda x: F.mse_loss(x, torch.ones_like(x)), None, ROWS),
    "smooth_l1_loss": (lambda x: F.smooth_l1_loss(x, torch.zeros(4, 6, dtype=torch.float64), beta=0.5), None, ROWS),
    "bce_with_logits": (lambda x: F.binary_cross_entropy_with_logits(x, torch.full((4, 6), 0.3, dtype=torch.float64)), None, ROWS),
    "activations": (lambda x: F.relu6(x) + F.hardswish(x) + F.mish(x) + F.selu(x) + F.softsign(x) + F.hardtanh(x, -0.5, 0.5), None, ROWS),
    "glu_softmin": (lambda x: F.glu(x, -1) * F.softmin(x[:, :3], dim=1), None, ROWS),
    "creation": (lambda x: x + torch.ones(4, 6, dtype=torch.float64) * torch.arange(6) + torch.zeros((4, 6), dtype=torch.float64), None, ROWS),
    "max_with_indices": (lambda x: torch.max(x, dim=1).values + x.min(1, keepdim=True)[0].squeeze(1) + torch.max(x), None, ROWS),
    "var_std": (lambda x: torch.var(x, 1) + x.std(dim=0, keepdim=True).sum() + torch.var(x, unbiased=False), None, ROWS),
    "split_chunk_stack": (lambda x: torch.stack([x.split(4, dim=1)[0].sum(1), x.split([2, 4], 1)[1].sum(1), torch.chunk(x, 3, 1)[0].unbind(1)[1]]),
                          None, ROWS),
    "expand_repeat": (lambda x: x[:, :1].expand(-1, 6) * x.repeat(1, 2)[:, 3:9] + x.t().t(), None, ROWS),
    "casts_and_masks": (lambda x: x.masked_fill(x > 0.5, 0.0).float().double() + (x > 0).to(torch.float64) * x.type_as(x), None, ROWS),
    "topk_gather": (lambda x: x.topk(2, dim=1).values.sum() + torch.gather(x, 1, torch.tensor([[0], [2], [1], [5]])).sum(), None, ROWS),
    "sdpa_causal": (lambda x: F.scaled_dot_product_attention(x[None], x[None] * 0.5, x[None], is_causal=True), None, ROWS),
    "sdpa_masks": (lambda x: F.scaled_dot_product_attention(x, x, x, attn_mask=torch.tensor(np.tril(np.ones((4, 4), bool), 1)))
                   + F.scaled_dot_product_attention(x, x, x, attn_mask=torch.full((4, 4), 0.5, dtype=torch.float64), scale=0.3), None, ROWS),
    "new_tensors_view_as": (lambda x: x + x.new_zeros(x.shape) + x.new_ones(x.size()) + x.new_full((4, 6), 2.0) + (x * 2).view_as(x.t().t()),
                            None, ROWS),
    "clamp_min_max": (lambda x: x.clamp_min(0) + torch.clamp_max(x, 0.5) + x.clamp(-0.2, 0.3), None, ROWS),
    "norms_by_p": (lambda x: x / x.norm(dim=-1, keepdim=True) + torch.linalg.norm(x, dim=0) + x.norm(p=1) + torch.norm(x), None, ROWS),
    "in_place_methods": (lambda x: x.clone().mul_(2).add_(1).clamp_(min=0) + _relu_in_place(x * 3.0), None, ROWS),
    "in_place_through_views": (_written_through_views, None, ROWS),
    "max_pools_with_indices": (lambda x: torch.cat([F.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True)[0].flatten(1),
                                                     F.max_pool2d(x, 2, return_indices=True)[1].flatten(1).double(),
                                                     F.max_pool1d(x.flatten(2), 4, return_indices=True)[1].flatten(1).double()], 1),
                               None, IMAGES),
    "weight_norm_select": (lambda x, w: x @ torch._weight_norm(w, w[:, :1].abs() + 1, 0).T + x @ torch._weight_norm(w, w.sum() * 0 + 2, -1).T
                           + torch.select(x, 1, 2)[:, None] + x.select(-1, 0)[:, None], (3, 6), ROWS),
    "sort_flip_roll": (lambda x: x.sort(dim=1)[0] + torch.sort(x, 1, descending=True).values * x.argsort(1)
                       + torch.flip(x, [1]) + x.flip(0, 1) + x.roll(1, 0) + torch.roll(x, (1, 2), (0, 1)) + x.cumprod(1), None, ROWS),
    "softmax_dtype_kl_log_target": (lambda x: F.softmax(x, -1, dtype=torch.float64) + F.log_softmax(x.float(), dim=1, dtype=torch.float64)
                                    + x.softmax(0) + torch.log_softmax(x, 1) + F.kl_div(F.log_softmax(x, 1), F.log_softmax(x.flip(0), 1),
                                                                                         reduction="batchmean", log_target=True), None, ROWS),
    "to_another_tensor_s_dtype": (lambda x: (x > 0).to(x.dtype) * x + x.float().to(x.dtype) + x.to(dtype=x.dtype)
                                  + F.one_hot((x > 0).long()[:, 0], 6).to(x.dtype), None, ROWS),
    "like_creation": (lambda x: x * torch.full_like(x, 0.5) + torch.full_like(x, 2, dtype=torch.float64)
                      + torch.zeros_like(torch.empty_like(x[:, :1])), None, ROWS),  # empty's values are undefined: only its shape
    "running_extremes": (lambda x: torch.logcumsumexp(x * 20, dim=1) + x.logcumsumexp(0) + torch.cummax(x, 1).values
                         + x.cummin(dim=0)[0] * x.cummax(0).indices, None, ROWS),
    "std_var_mean": (lambda x: x.std(-1, keepdim=True) + torch.std_mean(x, 1)[0][:, None] + torch.var_mean(x, 0, keepdim=True)[1], None, ROWS),
    "any_all_count": (lambda x: x * (x > 0).any(dim=1, keepdim=True) + x * torch.all(x > -5) + x * torch.count_nonzero(x > 0, 0), None, ROWS),
    "baddbmm_addmm_addcmul": (lambda x: torch.baddbmm(x[None, :, :4], x[None], x.T[None], beta=0.5, alpha=2.0)[0]
                              + torch.addmm(x[:, :4], x, x.T, alpha=0.5)[:, :1] + torch.addcmul(x[:, :4], x[:, :4], x[:, 2:], value=0.5)
                              + torch.addcdiv(x[:, :4], x[:, :4], x[:, 2:] ** 2 + 1) + torch.lerp(x[:, :4], x[:, 1:5], 0.3), None, ROWS),
    "scatter_by_dim": (lambda x: torch.zeros_like(x).scatter(1, torch.tensor([[0], [1], [2], [3]]), 1.0) * x
                       + x.scatter(1, torch.tensor([[5, 0], [1, 4], [2, 3], [3, 2]]), x[:, :2] * 3)
                       + torch.scatter_add(x, 0, torch.tensor([[0, 1, 0, 1, 0, 1]] * 3), x[1:] ** 2), None, ROWS),
    "transcendental": (lambda x: torch.sinh(x) + x.cosh() + torch.asinh(x) + torch.acosh(x.abs() + 1.5) + torch.tanh(x).atanh()
                       + torch.asin(torch.tanh(x)) + torch.arccos(torch.tanh(x) * 0.9) + x.atan() + torch.atan2(x, x.flip(0) + 0.1)
                       + torch.hypot(x, x ** 2) + torch.logaddexp(x, -x) + torch.fmod(x * 5, 1.5) + torch.trunc(x) + (x.abs() + 1).reciprocal()
                       + torch.log2(x.abs() + 1) + (x.abs() + 1).log10() + torch.exp2(x) + torch.deg2rad(x) + torch.rad2deg(x), None, ROWS),
    # (digamma's value only: torch's trigamma, its derivative, is 1e-10 off scipy's polygamma(1, x), which funcad uses)
    "special_and_shapes": (lambda x: torch.logit(torch.sigmoid(x), eps=1e-3) + torch.erfc(x) + torch.lgamma(x.abs() + 1)
                           + torch.digamma(x.abs() + 1).detach()
                           + torch.special.expit(x) + torch.true_divide(x, 2) + torch.rsub(x, 1.0, alpha=2)
                           + torch.nan_to_num(torch.log(x), nan=0.5, neginf=-3.0) + torch.diff(x, dim=1, prepend=x[:, :1])
                           + x.movedim(0, 1).T + torch.unflatten(x, 1, (2, 3)).flatten(1) + torch.vstack([x[:2], x[2:]])
                           + torch.hstack([x[:, :3], x[:, 3:]]) + x.narrow(1, 0, 6) * torch.isclose(x, x), None, ROWS),
    "linalg": (lambda x: torch.linalg.slogdet(x @ x.T + 0.5).logabsdet + torch.linalg.solve(x @ x.T + 0.5, x).sum() + torch.det(x @ x.T + 0.5)
               + torch.inverse(x @ x.T + 0.5) + torch.linalg.cholesky(x @ x.T + 0.5, upper=True) + torch.linalg.qr(x.T)[1], None, ROWS),
    "device_attributes": (lambda x: x + torch.zeros(x.shape, device=x.device, dtype=x.dtype).to(x.device) * float(1 + x.is_cuda), None, ROWS),
    "margin_losses": (lambda x: F.margin_ranking_loss(x[0], x[1], torch.tensor([1.0, -1, 1, -1, 1, 1]), 0.2)
                      + F.soft_margin_loss(x, torch.sign(x.detach() - 0.3)) + F.hinge_embedding_loss(x, torch.sign(x.detach()), margin=0.5)
                      + F.cosine_embedding_loss(x, x.flip(0), torch.tensor([1.0, -1, 1, -1]), margin=0.1)
                      + F.triplet_margin_loss(x, x * 0.5, x.flip(1), swap=True) + F.multilabel_soft_margin_loss(x, (x.detach() > 0).double())
                      + F.poisson_nll_loss(x, x.detach().abs() * 3, full=True) + F.gaussian_nll_loss(x, x.flip(0), x.abs() + 0.2, full=True),
                      None, ROWS),
    "pools_1d": (lambda x: torch.cat([F.max_pool1d(x, 2), F.max_pool1d(x, 3, 2, 1, ceil_mode=True), F.avg_pool1d(x, 2, 1),
                                      F.avg_pool1d(x, 3, 2, 1, count_include_pad=False), F.adaptive_avg_pool1d(x, 4),
                                      F.adaptive_max_pool1d(x, 3)], -1), None, ROWS[None].repeat(2, 0)),
    "adaptive_max_pool2d": (lambda x: F.adaptive_max_pool2d(x, (4, None)).flatten(1) + F.adaptive_max_pool2d(x, 1).sum(), None, IMAGES),
    "conv_transpose": (lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1)[:, :, :5, :5].sum(1)
                       + F.conv_transpose2d(x[:, :, :5, :5], w, stride=1, dilation=(1, 2), padding=(0, 2))[:, :, :5, :5].sum(1)
                       + F.conv_transpose1d(x[:, :, 0], w[:, :, 0], stride=2)[:, :, None, :5].sum(1), (3, 2, 3, 3), IMAGES),
    "group_instance_norm": (lambda x, w: F.group_norm(x, 3, w, w * 0.5) + F.group_norm(x, 1) + F.instance_norm(x, weight=w, eps=1e-3),
                            (3,), IMAGES),
    "huber_loss": (lambda x: F.huber_loss(x, torch.zeros_like(x), delta=0.7) + F.huber_loss(x, x.flip(0), reduction="sum"), None, ROWS),
    "tensor_unfold_patches": (lambda x: x.unfold(2, 2, 2).unfold(3, 3, 2).flatten(2) + x[:, :1].unfold(-1, 4, 1).sum(), None, IMAGES),
    "einsum_tril": (lambda x: torch.einsum("ij,kj->ik", x, torch.tril(x)) + torch.einsum("ij->i", [x])[:, None], None, ROWS[:, :4]),
    "ctc_loss": (lambda x: F.ctc_loss(x.view(4, 2, 3).log_softmax(-1), torch.tensor([[1, 2], [2, 0]]), torch.tensor([4, 3]), torch.tensor([2, 1]))
                 + F.ctc_loss(x.view(4, 2, 3).log_softmax(2), torch.tensor([1, 0, 1]), (3, 4), (2, 1), blank=2, reduction="sum")
                 + F.ctc_loss(x.view(4, 2, 3)[:, :1].log_softmax(-1), torch.tensor([[1, 1, 1]]), (4,), (3,), zero_infinity=True), None, ROWS),
    "multi_margin_losses": (lambda x: F.multi_margin_loss(x, LABELS)
                            + F.multi_margin_loss(x, LABELS, p=2, margin=0.7, weight=torch.linspace(0.5, 1.5, 6, dtype=torch.float64))
                            + F.multilabel_margin_loss(x, torch.tensor([[1, 4, -1, 0, 0, 0], [5, 0, 2, 1, 3, -1], [2, 2, 2, 2, 2, 2],
                                                                        [-1, 1, 1, 1, 1, 1]]), reduction="none")[:, None], None, ROWS),
    "rms_lrn_shuffle": (lambda x, w: F.rms_norm(x, (6,), w, eps=1e-5) + F.rms_norm(x, [6, 6]) + F.local_response_norm(x, 2, 0.3, 0.7, 1.5)
                        + F.local_response_norm(x, 3) + F.channel_shuffle(x.repeat(1, 2, 1, 1), 3)[:, 1:4], (6,), IMAGES),
    "conv3d": (lambda x, w: torch.cat([F.conv3d(x, w, stride=(1, 2, 1), padding=1).flatten(1), F.conv3d(x, w, padding="same").flatten(1),
                                       F.conv3d(x, w[:, :1], dilation=(1, 2, 1), groups=3, padding=(0, 2, 1)).flatten(1)], 1),
               (3, 3, 2, 2, 3), IMAGES.reshape(2, 3, 4, 3, 3)),
    "conv_transpose3d": (lambda x, w: torch.cat([F.conv_transpose3d(x, w, stride=2, padding=1, output_padding=1).flatten(1),
                                                 F.conv_transpose3d(x, w[:, :1], stride=(1, 2, 1), groups=3, dilation=(2, 1, 1)).flatten(1)], 1),
                         (3, 2, 2, 3, 3), IMAGES.reshape(2, 3, 4, 3, 3)),
    "pools_3d": (lambda x: torch.cat([F.max_pool3d(x, 2).flatten(1), F.max_pool3d(x, 3, 2, 1, ceil_mode=True).flatten(1),
                                      F.avg_pool3d(x, 2, 1).flatten(1), F.avg_pool3d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False).flatten(1),
                                      F.avg_pool3d(x, (2, 3, 2), divisor_override=5).flatten(1), F.adaptive_avg_pool3d(x, (3, None, 2)).flatten(1),
                                      F.adaptive_max_pool3d(x, 2).flatten(1)], 1), None, IMAGES.reshape(2, 3, 4, 3, 3)),
    "embedding_bag": (lambda x, w: torch.cat([
        F.embedding_bag(torch.tensor([1, 4, 4, 0, 2, 5, 3]), w, torch.tensor([0, 2, 2, 5]), mode="sum", per_sample_weights=x[0, :7].abs()),
        F.embedding_bag(torch.tensor([1, 4, 4, 0, 2, 5, 3]), w, torch.tensor([0, 3, 7]), include_last_offset=True, padding_idx=4).repeat(2, 1),
        F.embedding_bag(torch.tensor([[1, 4, 0], [4, 4, 4], [2, 5, 3], [0, 0, 1]]), w, mode="max", padding_idx=4)], 1)
        * x[:, :1], (6, 3), ROWS.repeat(2, 1)[:, :8]),
    "math_on_sizes": (lambda x: x / math.sqrt(x.size(-1)) + math.log(x.shape[0]) * x.mean(), None, ROWS),
    "eye_index_add": (lambda x: x @ torch.eye(x.size(1), dtype=x.dtype) + torch.zeros_like(x).index_add_(0, torch.tensor([1, 1, 3]), x[:3] * 2)
                      + x.index_add(1, torch.tensor([0, 5, 0]), x[:, :3], alpha=0.5) + torch.index_add(x, 0, torch.tensor([2]), x[:1])
                      + (x[:, :4] @ torch.eye(4, 6, dtype=x.dtype)), None, ROWS),
    "pad_sequence": (lambda x: torch.cat([tnn.utils.rnn.pad_sequence([x[:2], x[1:4], x[3:]], batch_first=True, padding_value=-1.0).flatten(),
                                          tnn.utils.rnn.pad_sequence([x[1:3], x], padding_side="left").flatten(),
                                          pad_sequence([x[0], x[1, :4]]).flatten()]), None, ROWS),
    "affine_grid_sample": (lambda x, w: torch.cat([
        F.grid_sample(x, F.affine_grid(w, x.size(), align_corners=False), align_corners=False).flatten(1),
        F.grid_sample(x, F.affine_grid(w * 0.5, (2, 3, 4, 5), align_corners=True), align_corners=True, padding_mode="border").flatten(1),
        F.grid_sample(x, F.affine_grid(w, (2, 1, 3, 3), align_corners=False), mode="nearest", align_corners=False).flatten(1)], 1),
        (2, 2, 3), IMAGES),
    "flatten_everything": (lambda x: torch.flatten(x)[None] * x.flatten()[:, None] + x.flatten(1).sum(0).sum()
                           + torch.flatten(x, 0, 1)[:, :1].sum(), None, IMAGES[0]),
    "sum_div_softplus_clip": (lambda x: x.sum(1, dtype=torch.float64)[:, None] + torch.div(x, 0.3, rounding_mode="floor")
                              + x.div(0.7, rounding_mode="trunc") + torch.div(x, 2.0) + F.softplus(x, beta=2, threshold=1) + F.softplus(x)
                              + x.clip(max=0.2) + x.prod(1, keepdim=True) * x.sign() + F.dropout2d(x[None, None], 0.5, training=False)[0, 0]
                              + F.alpha_dropout(x, 0.5) + F.feature_alpha_dropout(x, 0.2, False), None, ROWS),
    "products_and_fills": (lambda x: torch.cat([
        torch.tensordot(x, x * 2, dims=([1], [1])).flatten(), torch.tensordot(x, x, 2)[None], torch.cdist(x, x * 2).flatten(),
        torch.kron(x[:2, :2], x[2:, 4:]).flatten(), torch.rot90(x).flatten(), torch.rot90(x, 2, dims=(0, 1)).flatten(),
        torch.cross(x[:, :3], x[:, 3:], dim=1).flatten(), torch.linalg.cross(x[:, :3], x[:, 3:]).flatten(), torch.dot(x[0], x[1])[None],
        x[0].broadcast_to(3, 6).flatten(), x.index_fill(1, torch.tensor([0, 2]), -1.0).flatten(),
        (x + torch.linspace(0, 1, x.size(1), dtype=x.dtype)).flatten()]), None, ROWS),
    "order_statistics": (lambda x: torch.cat([
        torch.median(x)[None], x[:, :5].median()[None], torch.nanmedian(x)[None], torch.median(x, 1).values, x.median(0, keepdim=True)[0].flatten(),
        x.median(dim=1)[1].double(), torch.kthvalue(x, 3, 1).values, x.kthvalue(2, dim=0, keepdim=True).indices.double().flatten(),
        torch.nanmedian(x, 0).values, torch.mode(x, 1).values, x.mode(0)[1].double(), torch.kthvalue(x, 4, 0)[1].double()]), None, TIES),
    "grids_and_buckets": (lambda x: torch.cat([
        torch.stack(torch.meshgrid(x[0], x[1, :3], indexing="xy")).flatten(), (torch.meshgrid(x[0], x[1])[1] * 2).flatten(),
        torch.take(x, torch.tensor([[0, 5], [-1, 7]])).flatten(), torch.take_along_dim(x, torch.tensor([[1], [0], [5], [2]]), 1).flatten(),
        torch.bucketize(x, torch.tensor([-0.5, 0.0, 0.5]), right=True).flatten() * x.flatten(), torch.bucketize(x[0], x[1].sort().values).double(),
        torch.searchsorted(SORTED_ROWS.repeat(2, 1), x).flatten().double() * x.flatten(),
        torch.searchsorted(x[0].sort().values, x[1:], side="right").flatten().double()]), None, ROWS),
    "shapes_and_diagonals": (lambda x: torch.cat([
        torch.block_diag(x[:2, :3], x[2], x[3, 0]).flatten(), torch.atleast_1d(x[0, 0]), torch.atleast_2d(x[0]).flatten(),
        torch.atleast_3d(x, x[0])[1].flatten(), torch.atleast_3d(x).flatten(), torch.diag(x[:, :4], 1), torch.diag(x[0], -1).flatten(),
        torch.diag_embed(x[:2], 1, dim1=-2).flatten(), x.diagonal(0, 1, 0).flatten(), torch.diagonal(x[None], 1, dim1=1, dim2=2).flatten(),
        torch.trapz(x, dim=0), torch.trapezoid(x, x[0] * 0 + torch.arange(6.0, dtype=x.dtype) ** 2), torch.trapz(x, dx=0.5)[None].flatten(),
        torch.logdet(x[:, :4] @ x[:, :4].T + torch.eye(4, dtype=x.dtype))[None], x[:3, :3].T.matmul(x[:3, :3]).logdet()[None]]), None, ROWS),
    "lp_pools_unpools_rrelu_grids": (lambda x, w: torch.cat([
        F.lp_pool2d(x * x + 0.1, 2.5, 3, 2, ceil_mode=True).flatten(1), F.lp_pool1d(x[:, :, 0] ** 2 + 0.1, 3, 2).flatten(1),
        _unpooled(F.max_pool2d, F.max_unpool2d, x, output_size=(7, 7)), _unpooled(F.max_pool1d, F.max_unpool1d, x[:, :, 1]),
        _unpooled(F.max_pool2d, lambda v, i, k: F.max_unpool3d(v[:, :, None], i[:, :, None], (1, k, k)), x), F.rrelu(x, 0.1, 0.3).flatten(1),
        F.grid_sample(x, F.affine_grid(w, x.size(), align_corners=False), padding_mode="reflection", align_corners=False).flatten(1),
        F.grid_sample(x, F.affine_grid(w * 1.5, x.size(), align_corners=True), padding_mode="reflection", align_corners=True).flatten(1)], 1),
        (2, 2, 3), IMAGES),
    "quantiles_and_selections_by_value": (lambda x: torch.cat([
        torch.quantile(x, 0.3, dim=1), x.quantile(torch.tensor([0.25, 0.5, 1.0], dtype=x.dtype), dim=0, keepdim=True).flatten(),
        torch.quantile(x, 0.7)[None],
        *(torch.quantile(x, 0.45, dim=1, interpolation=mode) for mode in ("lower", "higher", "midpoint", "nearest")),
        torch.quantile(torch.where(x > 1.2, float("nan"), x), 0.5, dim=1), torch.nanquantile(torch.where(x > 0.8, float("nan"), x), 0.6, dim=0),
        x.flatten()[torch.nonzero(x.flatten() > 0).squeeze(1)], x[torch.nonzero(x < 0, as_tuple=True)], x[(x > 0.5).nonzero(as_tuple=True)],
        torch.argwhere(x > 1.0).flatten().double(), torch.unique((x * 2).round().detach()),
        torch.unique((x * 2).round().detach(), return_inverse=True, return_counts=True)[2].double(),
        (x * 0 + x.new_tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])).flatten(), (x.view(2, 2, 6).mT @ x.view(2, 2, 6)).flatten()]), None, ROWS),
    "pad_negative_widths_crop": (lambda x: torch.cat([F.pad(x, (-1, 2, 1, -2)).flatten(1), F.pad(x, [-2, -1], value=0.5).flatten(1)], 1),
                                 None, IMAGES),
    "vector_matrix_norms_where_tensor_split": (lambda x: torch.cat([
        torch.linalg.vector_norm(x, dim=-1), torch.linalg.vector_norm(x, 3, dim=(0, 1), keepdim=True).flatten(), torch.linalg.vector_norm(x)[None],
        torch.linalg.vector_norm(x, float("inf"), dim=0), torch.linalg.matrix_norm(x.view(2, 2, 6)), torch.linalg.matrix_norm(x, ord=1)[None],
        x[torch.where(x > 0.3)], torch.tensor_split(x, 4, dim=1)[3].flatten(), x.tensor_split([1, 3])[1].flatten()]), None, ROWS),
    "scatter_reduce_sum_mean": (lambda x: torch.cat([
        x[:3].scatter_reduce(1, torch.tensor([[0, 0, 2], [1, 1, 1], [5, 0, 5]]), x[1:, :3] * 2, "sum"),
        torch.scatter_reduce(x[:3], 1, torch.tensor([[0, 0, 2], [1, 1, 1], [5, 0, 5]]), x[1:, 3:] * 2, "mean"),
        torch.scatter_reduce(x[:3], 1, torch.tensor([[0, 0, 2], [1, 1, 1], [5, 0, 5]]), x[1:, 3:] * 2, "mean", include_self=False),
        torch.zeros(3, 6, dtype=x.dtype).scatter_reduce_(0, torch.tensor([[0, 2, 2, 1, 0, 0]]), x[:1], "sum", include_self=False)]), None, ROWS),
    "dilated_max_pools_with_indices": (lambda x: torch.cat([
        F.max_pool2d(x, 2, 1, 1, 2, ceil_mode=True).flatten(1), F.max_pool1d(x.flatten(2), 3, 2, 1, 3, return_indices=True)[1].flatten(1).double(),
        F.max_pool3d(x.reshape(2, 3, 4, 3, 3), 2, 1, 0, (2, 1, 1), return_indices=True)[0].flatten(1),
        F.max_pool3d(x.reshape(2, 3, 4, 3, 3), 2, 1, 1, return_indices=True)[1].flatten(1).double()], 1), None, IMAGES),
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_forward_calls_translate_with_the_same_values_and_gradients(name):
    fn, weight_shape, x = FUNCTIONS[name]
    torch.manual_seed(0)
    module = _Calls(fn, weight_shape)
    twin = funcad_twin(module)
    tx = torch.tensor(x, requires_grad=True)
    out = module(tx)
    cot = RNG.standard_normal(tuple(out.shape))
    (out * torch.from_numpy(cot)).sum().backward()
    weights = twin.cell.trainable_params()
    value, grads = funcad.value_and_grad(lambda v: ops.sum(twin.cell(v) * cot), 0, weights or None)(x)
    np.testing.assert_allclose(np.asarray(twin.cell(x)), out.detach().numpy(), rtol=1e-10, atol=1e-12)
    input_grad = grads[0] if weights else grads
    np.testing.assert_allclose(np.asarray(input_grad), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    if weights:
        np.testing.assert_allclose(np.asarray(grads[1][0]), module.weight.grad.numpy(), rtol=1e-9, atol=1e-12)


class _Block(tnn.Module):
    def __init__(self, inp, planes, stride=1):
        super().__init__()
        self.conv1, self.bn1 = tnn.Conv2d(inp, planes, 3, stride, 1, bias=False), tnn.BatchNorm2d(planes)
        self.conv2, self.bn2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False), tnn.BatchNorm2d(planes)
        self.shortcut = tnn.Sequential()
        if stride != 1 or inp != planes:
            self.shortcut = tnn.Sequential(tnn.Conv2d(inp, planes, 1, stride, bias=False), tnn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)


class _ResNet(tnn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = tnn.Conv2d(3, 4, 3, 1, 1, bias=False), tnn.BatchNorm2d(4)
        self.layers = tnn.Sequential(_Block(4, 4), _Block(4, 8, 2))
        self.linear = tnn.Linear(8, 5)

    def forward(self, x):
        out = self.layers(F.relu(self.bn1(self.conv1(x))))
        out = torch.flatten(F.adaptive_avg_pool2d(out, 1), 1)
        return F.log_softmax(self.linear(out.view(out.size(0), -1)), dim=-1)


class _CausalSelfAttention(tnn.Module):
    def __init__(self, width=8, heads=2, length=5):
        super().__init__()
        self.heads = heads
        self.qkv, self.proj, self.ln = tnn.Linear(width, 3 * width), tnn.Linear(width, width), tnn.LayerNorm(width)
        self.register_buffer("causal", torch.tril(torch.ones(length, length)).view(1, 1, length, length))

    def forward(self, x):
        batch, length, width = x.size()
        q, k, v = self.qkv(self.ln(x)).split(width, dim=2)
        q, k, v = (t.view(batch, length, self.heads, width // self.heads).transpose(1, 2) for t in (q, k, v))
        scores = (q @ k.transpose(-2, -1)) * (1.0 / (width // self.heads) ** 0.5)
        scores = scores.masked_fill(self.causal == 0, float("-inf"))
        y = (F.softmax(scores, dim=-1) @ v).transpose(1, 2).contiguous().view(batch, length, width)
        return x + self.proj(F.gelu(y))


class _BlitzNet(tnn.Module):
    """The network of PyTorch's 60-minute blitz, which counts its flat features by looping over ``x.size()``."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = tnn.Conv2d(1, 3, 3), tnn.Conv2d(3, 4, 3)
        self.fc1, self.fc2 = tnn.Linear(4 * 2 * 2, 6), tnn.Linear(6, 3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, self.num_flat_features(x))
        return self.fc2(F.relu(self.fc1(x)))

    def num_flat_features(self, x):
        features = 1
        for s in x.size()[1:]:
            features *= s
        return features


class _GRUCellLoop(tnn.Module):
    """A recurrence written as a loop over time steps, its state created from the batch size."""

    def __init__(self):
        super().__init__()
        self.cell, self.fc = tnn.GRUCell(3, 5), tnn.Linear(5, 2)

    def forward(self, x):
        h = torch.zeros(x.size(0), 5, dtype=x.dtype)
        for t in range(x.shape[1]):
            h = self.cell(x[:, t], h)
        return self.fc(h)


@pytest.mark.parametrize("model, x", [(_ResNet, RNG.standard_normal((3, 3, 8, 8))), (_CausalSelfAttention, RNG.standard_normal((2, 5, 8))),
                                      (_BlitzNet, RNG.standard_normal((3, 1, 14, 14))), (_GRUCellLoop, RNG.standard_normal((3, 4, 3))),
                                      (_GRUCellLoop, RNG.standard_normal((2, 6, 3)))],
                         ids=["resnet", "attention", "sizes_in_a_loop", "time_loop", "time_loop_other_shape"])
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_models_written_for_torch_come_to_funcad(model, x, train):
    torch.manual_seed(1)
    module = model().double().train(train)
    twin = funcad_twin(module)
    assert twin.cell.training == train
    tx = torch.tensor(x, requires_grad=True)
    out = module(tx)
    out.sum().backward()
    np.testing.assert_allclose(np.asarray(twin.cell(x)), out.detach().numpy(), rtol=1e-10, atol=1e-12)
    grads = funcad.grad(lambda v: ops.sum(twin.cell(v)), 0, twin.cell.trainable_params())(x)
    np.testing.assert_allclose(np.asarray(grads[0]), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    by_name = dict(module.named_parameters())
    trained = [name for name, p in twin.cell.parameters_and_names() if p.requires_grad]
    for name, g in zip(trained, grads[1]):
        np.testing.assert_allclose(np.asarray(g), by_name[twin.parameter_names[name]].grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def test_torch_layers_without_state_come_to_funcad_through_their_forward():
    from torch_ref import mirror
    from torch_ref.layer_table import TranslationError

    module = tnn.Sequential(tnn.Unfold(3, padding=1, stride=2), tnn.Fold((6, 6), 3, padding=1, stride=2))
    pair = tnn.ModuleList([tnn.CosineSimilarity(dim=0), tnn.PairwiseDistance(p=1.0, keepdim=True)])
    unruled = [tnn.LayerNorm(6, elementwise_affine=False), tnn.BatchNorm2d(3, track_running_stats=False).double()]  # no rule's form
    for layer, args in ((module, (IMAGES,)), (pair[0], (ROWS, ROWS ** 2)), (pair[1], (ROWS, -ROWS)), (unruled[0], (ROWS,)),
                        (unruled[1], (IMAGES,))):
        cell = funcad_twin(layer).cell
        tensors = [torch.tensor(a, requires_grad=True) for a in args]
        out = layer(*tensors)
        out.sum().backward()
        np.testing.assert_allclose(np.asarray(cell(*args)), out.detach().numpy(), rtol=1e-12, atol=1e-14)
        grads = funcad.grad(lambda *xs, cell=cell: ops.sum(cell(*xs)), tuple(range(len(args))))(*args)
        for ours, t in zip(grads if len(args) > 1 else (grads,), tensors):  # (one position: the gradient itself, as MindSpore's)
            np.testing.assert_allclose(np.asarray(ours), t.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(mirror(cell)(*[torch.tensor(a) for a in args]).detach().numpy(), out.detach().numpy(), rtol=1e-12,
                                   atol=1e-14)
    with pytest.raises(TranslationError, match=r"FractionalMaxPool2d at the root: torch.nn.FractionalMaxPool2d has no funcad "
                                               r"translation"):
        funcad_twin(tnn.FractionalMaxPool2d(2, output_size=3))


class _PackedTagger(tnn.Module):
    """The usual torch pattern for padded batches of sequences: pack, run the LSTM, pad back."""

    def __init__(self):
        super().__init__()
        self.emb = tnn.Embedding(20, 4, padding_idx=0)
        self.rnn = tnn.LSTM(4, 5, num_layers=2, bidirectional=True, batch_first=True)
        self.fc = tnn.Linear(10, 3)

    def forward(self, tokens, lengths):
        packed = pack_padded_sequence(self.emb(tokens), lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, (h, c) = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True)
        return self.fc(out).sum(1) + self.fc(torch.cat([h[-2], h[-1]], 1))


class _PackedByAttribute(tnn.Module):
    """The same through ``nn.utils.rnn.<name>``, time-major, with a padding value and a total length."""

    def __init__(self):
        super().__init__()
        self.gru = tnn.GRU(3, 4)

    def forward(self, x, lengths):
        packed = tnn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, h = self.gru(packed)
        out, _ = tnn.utils.rnn.pad_packed_sequence(out, padding_value=-1.0, total_length=7)
        return out.sum(0) + h[0]


@pytest.mark.parametrize("model, x", [(_PackedTagger, RNG.integers(1, 20, (3, 6))), (_PackedByAttribute, RNG.standard_normal((6, 3, 3)))],
                         ids=["lstm_batch_first", "gru_by_attribute"])
def test_packed_sequences_run_as_the_recurrent_layers_seq_length(model, x):
    from torch_ref import mirror

    torch.manual_seed(2)
    module = model().double()
    twin = funcad_twin(module)
    lengths = np.array([5, 2, 4])
    tx = torch.tensor(x, requires_grad=x.dtype.kind == "f")
    out = module(tx, torch.tensor(lengths))
    out.sum().backward()
    np.testing.assert_allclose(np.asarray(twin.cell(x, lengths)), out.detach().numpy(), rtol=1e-12, atol=1e-14)
    grads = funcad.grad(lambda *a: ops.sum(twin.cell(*a)), None, twin.cell.trainable_params())(x, lengths)
    by_name = dict(module.named_parameters())
    trained = [name for name, p in twin.cell.parameters_and_names() if p.requires_grad]
    for name, g in zip(trained, grads):
        np.testing.assert_allclose(np.asarray(g), by_name[twin.parameter_names[name]].grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=name)
    back = mirror(twin.cell)
    np.testing.assert_allclose(back(torch.tensor(x), torch.tensor(lengths)).detach().numpy(), out.detach().numpy(), rtol=1e-12, atol=1e-14)


class _OwnStatistics(tnn.Module):
    """BatchNorm by function over buffers of its own, as hand-written normalisations do."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.zeros(3, dtype=torch.float64))
        self.register_buffer("var", torch.ones(3, dtype=torch.float64))
        self.weight = tnn.Parameter(torch.rand(3, dtype=torch.float64))

    def forward(self, x):
        return F.batch_norm(x, self.mean, self.var, self.weight, None, self.training, 0.2, 1e-3)


def test_a_traced_layer_inside_a_model_keeps_its_parameters_names_and_compares():
    import harness

    torch.manual_seed(0)
    model = tnn.Sequential(tnn.Conv2d(3, 4, 3), tnn.BatchNorm2d(4, track_running_stats=False), tnn.Flatten(), tnn.Linear(64, 3))
    names = funcad_twin(model).parameter_names
    assert names["1.weight"] == "1.weight" and names["1.bias"] == "1.bias"
    assert harness.compare(model, input_shape=(4, 3, 6, 6), steps=2, timing=False).passed


class _CountsCalls(tnn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x):
        self.calls.add_(1)
        return x * 2


def test_a_forward_writing_module_state_in_place_is_refused_and_tracing_leaves_the_module_as_it_was():
    from torch_ref.layer_table import TranslationError

    module = _CountsCalls()
    with pytest.raises(TranslationError, match=r"_CountsCalls at the root: node 'add_' .* writes the module's calls in place"):
        funcad_twin(module)
    batch_norm = tnn.BatchNorm2d(3, momentum=None)
    with pytest.raises(TranslationError, match=r"BatchNorm2d at the root: a cumulative moving average \(momentum=None\) has no funcad "
                                               "counterpart; its forward does not translate either"):
        funcad_twin(batch_norm).cell(IMAGES)
    assert float(module.calls) == 0.0 and int(batch_norm.num_batches_tracked) == 0


def test_batch_norm_by_function_updates_the_twin_s_running_statistics_while_training():
    module = _OwnStatistics()
    cell = funcad_twin(module).cell
    for train in (True, True, False):
        module.train(train)
        cell.set_train(train)
        x = RNG.standard_normal((5, 3)) + 2.0
        np.testing.assert_allclose(np.asarray(cell(x)), module(torch.tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-14)
        state = dict(cell.parameters_and_names())
        for name in ("mean", "var"):
            np.testing.assert_allclose(np.asarray(state[name]), getattr(module, name).numpy(), rtol=1e-13, atol=1e-15)
    assert np.abs(module.mean.numpy()).min() > 0.1  # they moved


class _ModeDependent(tnn.Module):
    """A forward reading ``self.training``: functional dropout, as torch users write it, and a branch."""

    def __init__(self):
        super().__init__()
        self.fc = tnn.Linear(6, 6)

    def forward(self, x):
        h = F.dropout(torch.tanh(self.fc(x)), 0.5, training=self.training)
        return h * 3.0 if self.training else h - 1.0


def test_a_forward_reading_the_training_mode_follows_the_twin_s_mode_and_mirrors_back():
    from torch_ref import mirror
    from torch_ref.dropout import aligned_masks, set_mask_key

    module = _ModeDependent().double().train()
    cell = funcad_twin(module).cell
    back = mirror(cell)
    for train in (True, False):
        module.train(train)
        cell.set_train(train)
        back.train(train)
        outputs = []
        for engine, run in (("torch", lambda: module(torch.tensor(ROWS)).detach().numpy()), ("funcad", lambda: np.asarray(cell(ROWS))),
                            ("torch", lambda: back(torch.tensor(ROWS)).detach().numpy())):
            set_mask_key(5, 0, engine)
            with aligned_masks():
                outputs.append(run())
        expected = outputs[0]
        assert (expected == 0).any() == train  # dropout only while training
        for got in outputs[1:]:
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_a_forward_computing_with_its_sizes_is_traced_once_per_input_shape():
    cell = funcad_twin(_GRUCellLoop().double()).cell
    for shape in ((2, 3, 3), (4, 1, 3), (2, 3, 3)):
        assert tuple(cell(RNG.standard_normal(shape)).shape) == (shape[0], 2)
    assert len(cell.traced_forward.programs) == 2


@pytest.mark.parametrize("model, shape", [(_BlitzNet, (3, 1, 14, 14)), (_GRUCellLoop, (2, 4, 3))], ids=["sizes_in_a_loop", "time_loop"])
def test_a_twin_traced_with_its_shapes_mirrors_back_to_the_same_outputs(model, shape):
    from torch_ref import mirror

    module = model().double().eval()
    x = torch.tensor(RNG.standard_normal(shape))
    np.testing.assert_allclose(mirror(funcad_twin(module).cell).eval()(x).detach().numpy(), module(x).detach().numpy(), rtol=1e-12, atol=1e-14)


class _ValueDependent(tnn.Module):
    def forward(self, x):
        return x if x.sum() > 0 else -x


def test_a_forward_branching_on_values_is_named_with_both_tracers_reasons():
    from torch_ref.layer_table import TranslationError

    cell = funcad_twin(_ValueDependent()).cell
    with pytest.raises(TranslationError, match=r"_ValueDependent at the root: torch.fx cannot trace forward \(.*\), nor with the input shapes "
                                               r"\[\[4, 6\]\] known"):
        cell(ROWS)


def test_options_without_a_counterpart_are_named():
    from torch_ref.layer_table import TranslationError

    module = _Calls(lambda x: F.avg_pool2d(x, 2, divisor_override=3))
    twin = funcad_twin(module)
    with pytest.raises(NotImplementedError, match=r"avg_pool2d: divisor_override=3 has no funcad translation"):
        twin.cell(IMAGES)
    for call, message in ((lambda x: x.scatter(1, torch.zeros((4, 1), dtype=torch.long), 1.0, reduce="add"), "scatter: reduce='add'"),
                          (lambda x: F.soft_margin_loss(x, x, size_average=True), r"soft_margin_loss: size_average/reduce=\(True, None\)")):
        with pytest.raises(NotImplementedError, match=message + " has no funcad translation"):
            funcad_twin(_Calls(call)).cell(ROWS)
    with pytest.raises(NotImplementedError, match=r"torch.nn.functional.softmax: pass dim"):
        funcad_twin(_Calls(lambda x: F.softmax(x))).cell(ROWS)
    with pytest.raises(TranslationError, match=r"torch.histc has no funcad translation"):
        funcad_twin(_Calls(lambda x: torch.histc(x, 4)))


class _CausalEncoder(tnn.Module):
    """torch's documented call: ``encoder(x, mask=..., is_causal=True)``, MindSpore's ``src_mask`` by torch's name."""

    def __init__(self):
        super().__init__()
        layer = tnn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
        self.encoder = tnn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)

    def forward(self, x):
        mask = tnn.Transformer.generate_square_subsequent_mask(x.size(1), dtype=x.dtype)
        return self.encoder(x, mask=mask, is_causal=True) + self.encoder.layers[0](x, src_mask=mask, is_causal=True)


class _UnpackedAttention(tnn.Module):
    """torch's idiom ``out, _ = attention(..., need_weights=False)`` (torch returns (out, None))."""

    def __init__(self):
        super().__init__()
        self.attention = tnn.MultiheadAttention(8, 2, batch_first=True, dtype=torch.float64)

    def forward(self, x):
        out, _ = self.attention(x, x, x, need_weights=False)
        return out


@pytest.mark.parametrize("make", [lambda: _CausalEncoder().double().eval(), _UnpackedAttention], ids=["layer_keywords", "unpacked_attention"])
def test_layer_calls_written_as_torch_calls_them_give_torch_s_outputs(make):
    """torch's keyword arguments reach the funcad layer under its names; attention without weights unpacks as in torch."""
    torch.manual_seed(0)
    module = make()
    x = RNG.standard_normal((2, 5, 8))
    want = module(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(np.asarray(to_funcad(module)(x)), want, rtol=1e-10, atol=1e-12)


class _InPlaceActivations(tnn.Module):
    """Activations applied in place whose results are not used: later reads of their input see the change."""

    def __init__(self):
        super().__init__()
        self.fc, self.act = tnn.Linear(6, 6, dtype=torch.float64), tnn.ReLU(inplace=True)

    def forward(self, x):
        h = self.fc(x)
        self.act(h)
        g = h - 0.5
        F.leaky_relu(g, 0.1, inplace=True)
        return h + g


def test_activations_in_place_change_the_tensor_they_were_given():
    torch.manual_seed(0)
    module = _InPlaceActivations()
    x = RNG.standard_normal((4, 6))
    tx = torch.from_numpy(x).requires_grad_()
    want = module(tx)
    want.pow(2).sum().backward()
    twin = to_funcad(module)
    np.testing.assert_allclose(np.asarray(twin(x)), want.detach().numpy(), rtol=1e-12, atol=1e-14)
    grad = funcad.grad(lambda v: ops.sum(twin(v) ** 2))(funcad.Tensor(x))
    np.testing.assert_allclose(np.asarray(grad), tx.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_a_keyword_argument_a_funcad_layer_lacks_is_named():
    class Calls(tnn.Module):
        def __init__(self):
            super().__init__()
            self.attention = tnn.MultiheadAttention(4, 2, batch_first=True)

        def forward(self, x):
            return self.attention(x, x, x, no_such_option=True)[0]

    with pytest.raises(TranslationError, match="no_such_option"):
        to_funcad(Calls())(RNG.standard_normal((2, 3, 4)))


class _TiedLanguageModel(tnn.Module):
    """An output layer tied to the embedding, and a head reading the embedding's weight by torch's name."""

    def __init__(self):
        super().__init__()
        self.embed = tnn.Embedding(10, 4)
        self.decode = tnn.Linear(4, 10)
        self.decode.weight = self.embed.weight
        self.norm = tnn.LayerNorm(4)

    def forward(self, tokens):
        h = self.norm(self.embed(tokens).mean(1))
        return self.decode(h) + h @ self.embed.weight.t() * self.norm.weight.sum()


def test_tied_parameters_stay_one_parameter_and_torch_names_of_renamed_ones_resolve():
    torch.manual_seed(0)
    module = _TiedLanguageModel().double()
    twin = to_funcad(module)
    layers = dict(twin.cells_and_names())
    assert layers["decode"].weight is layers["embed"].embedding_table
    tokens = np.array([[1, 2, 3], [4, 4, 0]])
    np.testing.assert_allclose(np.asarray(twin(tokens)), module(torch.from_numpy(tokens)).detach().numpy(), rtol=1e-12, atol=1e-14)
    data = [(tokens, np.array([3, 7]))] * 2
    assert harness.compare(_TiedLanguageModel(), data=data, steps=2, timing=False).passed


def test_forward_hooks_are_named_not_ignored():
    module = tnn.Sequential(tnn.Linear(4, 3))
    module[0].register_forward_hook(lambda layer, args, out: out * 2.0)
    with pytest.raises(TranslationError, match=r"Linear at '0': its forward hooks .* have no funcad translation"):
        to_funcad(module)


class _PreallocatedLoop(tnn.Module):
    """A recurrence writing each step into a tensor made from the input's sizes, and a scatter into fresh zeros."""

    def __init__(self):
        super().__init__()
        self.cell = tnn.GRUCell(3, 4)
        self.head = tnn.Linear(4, 2)

    def forward(self, x):
        out = torch.zeros(x.size(0), x.size(1), 4, dtype=x.dtype)
        h = torch.zeros(x.size(0), 4, dtype=x.dtype)
        for t in range(x.size(1)):
            h = self.cell(x[:, t], h)
            out[:, t] = h
        return self.head(out).sum(1)


class _ScatterIntoZeros(tnn.Module):
    def forward(self, x):
        return torch.zeros(x.size(0), 3, dtype=x.dtype).scatter_add_(1, torch.tensor([[0, 0, 1, 2]]).expand(x.size(0), -1), x)


def test_in_place_writes_into_tensors_the_forward_made_follow_torch():
    torch.manual_seed(0)
    module = _PreallocatedLoop().double()
    twin = to_funcad(module)
    for steps in (5, 3):
        x = RNG.standard_normal((2, steps, 3))
        np.testing.assert_allclose(np.asarray(twin(x)), module(torch.from_numpy(x)).detach().numpy(), rtol=1e-12, atol=1e-14)
    data = [(RNG.standard_normal((4, 5, 3)).astype(np.float32), RNG.standard_normal((4, 2)).astype(np.float32))] * 2
    assert harness.compare(_PreallocatedLoop(), data=data, loss="mse", steps=2, timing=False).passed
    x = RNG.standard_normal((2, 4))
    want = _ScatterIntoZeros()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(np.asarray(to_funcad(_ScatterIntoZeros())(x)), want, rtol=1e-12, atol=1e-14)


@torch.no_grad()
def _squared_without_gradient(h):
    return h * h


class _GradModeSwitches(tnn.Module):
    """A forward computing parts of its value without gradient, in every way torch offers (torch.fx records none)."""

    def __init__(self, with_sizes: bool):
        super().__init__()
        self.fc, self.with_sizes = tnn.Linear(3, 3, dtype=torch.float64), with_sizes

    def forward(self, x):
        h = self.fc(x)
        with torch.no_grad():
            scale = h.abs().max() + 1
        torch.set_grad_enabled(False)
        total = h.sum()
        torch.set_grad_enabled(True)
        with torch.set_grad_enabled(False):
            shift = h.mean(0)
        out = h / scale + _squared_without_gradient(h) + total + shift + h ** 2
        return out + torch.zeros(x.size(0), 3, dtype=x.dtype) if self.with_sizes else out  # (traced with the shapes known)


@pytest.mark.parametrize("with_sizes", [False, True])
def test_values_a_forward_computes_without_gradient_stop_gradients_in_the_twin(with_sizes):
    torch.manual_seed(0)
    module = _GradModeSwitches(with_sizes)
    x = RNG.standard_normal((4, 3))
    tx = torch.tensor(x, requires_grad=True)
    module(tx).sum().backward()
    twin = funcad_twin(module)
    _, (dx, dw) = funcad.value_and_grad(lambda v: ops.sum(twin.cell(v)), 0, twin.cell.trainable_params())(x)
    assert (twin.cell.single_graph() is None) == with_sizes
    np.testing.assert_allclose(np.asarray(twin.cell(x)), module(tx).detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.asarray(dx), tx.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.asarray(dw[0]), module.fc.weight.grad.numpy(), rtol=1e-12, atol=1e-14)
    assert torch.is_grad_enabled()
    from torch_ref import mirror

    back, tx_back = mirror(twin.cell), torch.tensor(x, requires_grad=True)  # and the twin's mirror switches as forward did
    back(tx_back).sum().backward()
    np.testing.assert_allclose(tx_back.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-14)
    assert torch.is_grad_enabled()


class _WeightNormed(tnn.Module):
    """torch's weight_norm parametrization (norms per output row, per output channel, and of the whole tensor)."""

    def __init__(self):
        super().__init__()
        weight_norm = tnn.utils.parametrizations.weight_norm
        self.fc = weight_norm(tnn.Linear(5, 4), dim=0)
        self.conv = weight_norm(tnn.Conv1d(1, 2, 3), dim=None)
        self.out = weight_norm(tnn.Linear(4, 2), dim=1)

    def forward(self, x):
        h = torch.tanh(self.fc(x)) + self.conv(x[:, None, :]).flatten(1)[:, :4]
        return self.out(h)


def test_weight_norm_parametrizations_compare_step_by_step():
    torch.manual_seed(0)
    data = [(RNG.standard_normal((6, 5)).astype(np.float32), RNG.standard_normal((6, 2)).astype(np.float32))] * 2
    result = harness.compare(_WeightNormed(), data=data, loss="mse", steps=2, timing=False)
    assert result.passed and {"fc.parametrizations.weight.original0", "fc.parametrizations.weight.original1"} <= set(result.result.grads.parameter)


def test_layers_whose_options_have_no_counterpart_are_named_alone():
    with pytest.raises(NotImplementedError, match=r"torch.nn.functional.avg_pool2d: divisor_override=3 has no funcad translation"):
        to_funcad(tnn.AvgPool2d(2, divisor_override=3))(IMAGES)  # (traced through its forward, which calls the function)


class _PowerStep(tnn.Module):
    """A parametrization of one's own keeping a vector between calls, by assignment or by ``out=`` (torch_ref.spectral_norm
    translates torch's spectral_norm itself)."""

    def __init__(self, assign: bool):
        super().__init__()
        self.assign = assign
        self.register_buffer("u", torch.ones(3, dtype=torch.float64))

    def forward(self, w):
        with torch.no_grad():
            if self.assign:
                self.u = F.normalize(w @ self.u, dim=0)
            else:
                F.normalize(w @ self.u, dim=0, out=self.u)
        return w / torch.dot(self.u, w @ self.u)


@pytest.mark.parametrize("assign, message", [(True, r"forward assigns the module's 0.u \(self.<name> = ...\), state the funcad twin cannot keep"),
                                             (False, r"node 'normalize' .* writes its result into the tensor out=_0_u")])
def test_state_a_forward_keeps_by_assignment_or_out_is_refused(assign, message):
    linear = tnn.Linear(3, 3).double()
    tnn.utils.parametrize.register_parametrization(linear, "weight", _PowerStep(assign))
    before = linear.parametrizations.weight[0].u.clone()
    with pytest.raises(TranslationError, match=r"ParametrizationList at '0.parametrizations.weight': " + message):
        to_funcad(tnn.Sequential(linear))(ROWS[:, :3])
    assert torch.equal(linear.parametrizations.weight[0].u, before)  # tracing left the module as it was


class _ViewReadAfterWrite(tnn.Module):
    def forward(self, x):
        h = x * 2
        column = h[:, 1]
        h[:, :2].mul_(2)  # torch's column sees this; a value cannot
        return column + 1


class _WriteThroughReshapedView(tnn.Module):
    def forward(self, x):
        h = x * 2
        h[0].reshape(-1).add_(1)  # a view or a copy, by h[0]'s strides
        return h


@pytest.mark.parametrize("module, message", [(_ViewReadAfterWrite(), r"node 'add' .* reads 'getitem', a view of a tensor that 'mul_' wrote "
                                                                        "in place through another view"),
                                             (_WriteThroughReshapedView(), r"node 'add_' .* writes in place through 'reshape', a reshape of a view")])
def test_views_the_twin_cannot_follow_are_named(module, message):
    with pytest.raises(TranslationError, match=message):
        to_funcad(module)(RNG.standard_normal((3, 4)))


def test_computing_outside_the_trace_with_a_tensor_written_in_place_is_refused():
    class Summed(tnn.Module):
        def forward(self, x):
            out = torch.tensor([[0.0] * x.size(1)] * x.size(0))
            for t in range(x.size(1)):
                out[:, t] = x[:, t] * 2
            return out.sum(1)  # torch runs this on the tensor as made: the writes went to the trace

    with pytest.raises(TranslationError, match="writes in place a tensor the forward made, and torch computed _tensor_constant"):
        to_funcad(Summed())(RNG.standard_normal((2, 3)))


def test_searchsorted_with_a_sorter_is_refused_by_name():
    class Sorted(tnn.Module):
        def forward(self, x):
            return torch.searchsorted(x[0], x[1:], sorter=torch.argsort(x[0])).double()

    with pytest.raises(NotImplementedError, match=r"torch.searchsorted: sorter=\.\.\. has no funcad translation"):
        to_funcad(Sorted())(ROWS)


def test_median_kthvalue_and_mode_pick_torch_s_index_among_ties():
    """Among equal elements the index (and so the gradient) is the one torch's CPU kernels choose: the lower median
    ordered by index, kthvalue's quickselect swaps, mode's last occurrence."""
    ties = np.random.default_rng(3).integers(0, 3, (40, 13)).astype(np.float64)
    ties[::7, 2] = np.nan
    for op, twin_op in ((lambda t: torch.median(t, 1), lambda v: ops.median(v, 1)), (lambda t: torch.nanmedian(t, 1), lambda v: ops.nanmedian(v, 1)),
                        *((lambda t, k=k: torch.kthvalue(t, k, 1), lambda v, k=k: ops.kthvalue(v, k, 1)) for k in range(1, 14)),
                        (lambda t: torch.mode(t[1::7], 1), lambda v: ops.mode(v[1::7], 1))):
        expected, (values, indices) = op(torch.from_numpy(ties)), twin_op(funcad.Tensor(ties))
        np.testing.assert_array_equal(np.asarray(indices), expected.indices.numpy())
        np.testing.assert_array_equal(np.asarray(values), expected.values.numpy())


def test_vander_matches_torch_s_values_and_the_products_gradient():
    """torch's own vander cannot be differentiated here (its backward reports an in-place change), so the gradient is
    checked against the same columns written as products."""
    x = RNG.standard_normal(5)
    twin = funcad_twin(_Calls(lambda v: torch.vander(v, 4) + torch.vander(v, increasing=True)[:, :4]))
    t = torch.from_numpy(x)
    np.testing.assert_allclose(np.asarray(twin.cell(x)), (torch.vander(t, 4) + torch.vander(t, increasing=True)[:, :4]).numpy())
    tx = torch.tensor(x, requires_grad=True)
    (torch.stack([tx ** 3, tx ** 2, tx, tx ** 0], 1) + torch.stack([tx ** 0, tx, tx ** 2, tx ** 3], 1)).sum().backward()
    np.testing.assert_allclose(np.asarray(funcad.grad(lambda v: ops.sum(twin.cell(v)))(x)), tx.grad.numpy(), rtol=1e-12)
