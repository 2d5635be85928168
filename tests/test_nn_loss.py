"""Loss Cells against torch's losses in float64 (value and gradient), and MindSpore's defaults."""

import numpy as np
import pytest
import torch

import funcad
from funcad import nn

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(6, 4))
LABELS = RNG.integers(0, 4, size=6)
PROBS = 1 / (1 + np.exp(-RNG.normal(size=(6, 4))))
TARGET = RNG.uniform(size=(6, 4))


def _check(cell, module, x, y, torch_y=None):
    value, grad = funcad.value_and_grad(lambda a: funcad.ops.sum(cell(a, y)))(x)
    tx = torch.tensor(x, requires_grad=True)
    tv = module(tx, torch.as_tensor(y) if torch_y is None else torch_y).sum()
    tv.backward()
    np.testing.assert_allclose(float(value), tv.item(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(grad), tx.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_and_nll(reduction):
    weight = np.array([1.0, 2.0, 0.5, 1.5])
    _check(nn.CrossEntropyLoss(reduction=reduction), torch.nn.CrossEntropyLoss(reduction=reduction), LOGITS, LABELS)
    _check(nn.CrossEntropyLoss(weight, ignore_index=2, reduction=reduction, label_smoothing=0.1),
           torch.nn.CrossEntropyLoss(torch.tensor(weight), ignore_index=2, reduction=reduction, label_smoothing=0.1), LOGITS, LABELS)
    _check(nn.NLLLoss(reduction=reduction), torch.nn.NLLLoss(reduction=reduction), np.log(PROBS / PROBS.sum(1, keepdims=True)), LABELS)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_and_regression_losses(reduction):
    w = RNG.uniform(size=(4,))
    _check(nn.BCEWithLogitsLoss(reduction, weight=w, pos_weight=2 * w),
           torch.nn.BCEWithLogitsLoss(torch.tensor(w), reduction=reduction, pos_weight=torch.tensor(2 * w)), LOGITS, TARGET)
    _check(nn.BCELoss(w, reduction), torch.nn.BCELoss(torch.tensor(w), reduction=reduction), PROBS, TARGET)
    _check(nn.MSELoss(reduction), torch.nn.MSELoss(reduction=reduction), LOGITS, TARGET)
    _check(nn.L1Loss(reduction), torch.nn.L1Loss(reduction=reduction), LOGITS, TARGET)


def test_smooth_l1_defaults_to_no_reduction_as_mindspore():
    if not hasattr(funcad.ops, "smooth_l1_loss"):
        pytest.fail("funcad.ops.smooth_l1_loss is missing")
    cell = nn.SmoothL1Loss(beta=0.5)
    assert cell.reduction == "none"
    _check(cell, torch.nn.SmoothL1Loss(beta=0.5, reduction="none"), LOGITS, TARGET)
    _check(nn.SmoothL1Loss(reduction="mean"), torch.nn.SmoothL1Loss(), LOGITS, TARGET)


def test_bad_reduction_and_shapes():
    with pytest.raises(ValueError, match="MSELoss: reduction must be one of mean, sum, none, got 'avg'"):
        nn.MSELoss("avg")
    with pytest.raises(ValueError, match="target shape"):
        nn.CrossEntropyLoss()(LOGITS, LABELS[:3])
