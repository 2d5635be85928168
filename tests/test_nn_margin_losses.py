"""The margin, embedding and likelihood loss Cells against torch's loss modules in float64: values and the gradients
of every input, over their options; MindSpore's RMSELoss and MAELoss against their formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import funcad
from funcad import nn, ops

RNG = np.random.default_rng(3)
A, B = RNG.standard_normal((2, 6, 4))
SIGNS = np.sign(RNG.standard_normal(6))
LABELS = (RNG.standard_normal((6, 4)) > 0).astype(np.float64)

# name -> (funcad Cell, torch module, inputs (differentiated first), how many inputs are differentiated)
CASES = {
    "margin_ranking": (nn.MarginRankingLoss(0.3), torch.nn.MarginRankingLoss(0.3), (A[:, 0], B[:, 0], SIGNS), 2),
    "margin_ranking_sum": (nn.MarginRankingLoss(reduction="sum"), torch.nn.MarginRankingLoss(reduction="sum"), (A[:, 1], B[:, 1], SIGNS), 2),
    "soft_margin": (nn.SoftMarginLoss(), torch.nn.SoftMarginLoss(), (A, np.sign(B)), 1),
    "hinge_embedding": (nn.HingeEmbeddingLoss(0.7, "none"), torch.nn.HingeEmbeddingLoss(0.7, reduction="none"), (A, np.sign(B)), 1),
    "cosine_embedding": (nn.CosineEmbeddingLoss(0.1), torch.nn.CosineEmbeddingLoss(0.1), (A, B, SIGNS), 2),
    "triplet_margin": (nn.TripletMarginLoss(p=1, swap=True), torch.nn.TripletMarginLoss(margin=1.0, p=1, swap=True), (A, B, A * 0.3 + 0.5), 3),
    "multilabel_soft_margin": (nn.MultiLabelSoftMarginLoss(np.linspace(0.5, 1.5, 4)),
                               torch.nn.MultiLabelSoftMarginLoss(torch.tensor(np.linspace(0.5, 1.5, 4))), (A, LABELS), 1),
    "poisson_nll": (nn.PoissonNLLLoss(full=True), torch.nn.PoissonNLLLoss(full=True), (A, np.abs(B) * 3), 1),
    "poisson_nll_rates": (nn.PoissonNLLLoss(log_input=False, reduction="sum"), torch.nn.PoissonNLLLoss(log_input=False, reduction="sum"),
                          (np.abs(A) + 0.1, np.round(np.abs(B) * 2)), 1),
    "gaussian_nll": (nn.GaussianNLLLoss(full=True), torch.nn.GaussianNLLLoss(full=True), (A, B, np.abs(A) * 0.5), 3),
    "gaussian_nll_clamped_var": (nn.GaussianNLLLoss(eps=0.2), torch.nn.GaussianNLLLoss(eps=0.2), (A, B, np.abs(B) * 0.3), 3),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_loss_cells_equal_torch_s_in_value_and_every_gradient(name):
    cell, module, inputs, differentiated = CASES[name]
    tensors = [torch.tensor(x, requires_grad=i < differentiated) for i, x in enumerate(inputs)]
    expected = module(*tensors)
    cot = RNG.standard_normal(tuple(expected.shape))
    (expected * torch.from_numpy(np.asarray(cot))).sum().backward()
    value, grads = funcad.value_and_grad(lambda *xs: ops.sum(cell(*xs) * cot), tuple(range(differentiated)))(*inputs)
    np.testing.assert_allclose(np.asarray(cell(*inputs)), expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    for ours, theirs in zip(grads if differentiated > 1 else (grads,), tensors[:differentiated]):
        np.testing.assert_allclose(np.asarray(ours), theirs.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_mindspore_s_rmse_and_mae_losses():
    np.testing.assert_allclose(float(nn.RMSELoss()(A, B)), np.sqrt(np.mean((A - B) ** 2)), rtol=1e-14)
    np.testing.assert_allclose(np.asarray(nn.MAELoss("none")(A, B)), np.abs(A - B), rtol=1e-14)
    with pytest.raises(ValueError, match="MarginRankingLoss: reduction must be one of mean, sum, none"):
        nn.MarginRankingLoss(reduction="avg")
