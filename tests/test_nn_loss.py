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


def _torch_focal(x, y, weight, gamma, reduction):
    """Focal loss written from its formula in torch: -(1 - p_t)^gamma w_t log p_t, mean over pixels, then reduced."""
    n, c = x.shape[:2]
    log_p = torch.log_softmax(x.reshape(n, c, -1), 1)
    y = y.reshape(n, y.shape[1], -1)
    w = torch.ones(c, dtype=x.dtype) if weight is None else torch.as_tensor(weight)
    if y.shape[1] == 1:
        log_p_t = log_p.gather(1, y.long()).squeeze(1)
        loss = -(1 - log_p_t.exp()) ** gamma * w[y.long().squeeze(1)] * log_p_t
    else:
        loss = -(1 - log_p.exp()) ** gamma * y * w[None, :, None] * log_p
    loss = loss.mean(-1)
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("spatial", [(), (5,), (3, 2)])
def test_focal_loss_against_its_formula(reduction, weighted, spatial):
    x = RNG.normal(size=(4, 3, *spatial))
    weight = np.array([0.5, 2.0, 1.5]) if weighted else None
    indices = RNG.integers(0, 3, size=(4, 1, *spatial))
    targets = RNG.uniform(size=x.shape)
    for y in (indices, targets):
        cell = nn.FocalLoss(None if weight is None else funcad.Tensor(weight), gamma=1.5, reduction=reduction)
        _check(cell, lambda a, b: _torch_focal(a, b, weight, 1.5, reduction), x, y)


def test_dice_losses_against_their_formulas():
    x, y = RNG.uniform(size=(4, 3, 5)), RNG.uniform(size=(4, 3, 5))

    def dice(a, b):
        return 1 - 2 * (a * b).sum() / ((a * a).sum() + (b * b).sum() + 1e-5)

    _check(nn.DiceLoss(), dice, x, y)
    weights = np.array([[0.5], [2.0], [1.0]])
    _check(nn.MultiClassDiceLoss(funcad.Tensor(weights), ignore_indiex=1, activation="sigmoid"),
           lambda a, b: sum(dice(torch.sigmoid(a)[:, i], b[:, i]) * weights[i, 0] for i in (0, 2)) / 3, x, y)
    # MindSpore's 'softmax' activation is nn.Softmax(), over the last axis
    _check(nn.MultiClassDiceLoss(activation="softmax"),
           lambda a, b: sum(dice(torch.softmax(a, -1)[:, i], b[:, i]) for i in range(3)) / 3, x, y)


def test_focal_and_dice_losses_reproduce_mindspore_documented_outputs():
    """The outputs MindSpore's documentation prints for its examples (float32)."""
    logits = funcad.Tensor([[0.8, 1.4], [0.5, 0.9], [1.2, 0.9]], funcad.float32)
    labels = funcad.Tensor([[1], [1], [0]], funcad.int32)
    focal = nn.FocalLoss(weight=funcad.Tensor([1, 2]), gamma=2.0, reduction="mean")(logits, labels)
    np.testing.assert_allclose(float(focal), 0.12516622, rtol=1e-6)
    dice = nn.DiceLoss(smooth=1e-5)(funcad.Tensor(np.array([[0.2, 0.5], [0.3, 0.1], [0.9, 0.6]]), funcad.float32),
                                    funcad.Tensor(np.array([[0, 1], [1, 0], [0, 1]]), funcad.float32))
    np.testing.assert_allclose(float(dice), 0.38596618, rtol=1e-6)
    multi = nn.MultiClassDiceLoss()(funcad.Tensor(np.array([[0.2, 0.5, 0.7], [0.3, 0.1, 0.5], [0.9, 0.6, 0.3]]), funcad.float32),
                                    funcad.Tensor(np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]]), funcad.float32))
    np.testing.assert_allclose(float(multi), 0.54958105, rtol=1e-6)


def test_focal_and_dice_losses_name_bad_arguments():
    with pytest.raises(TypeError, match="FocalLoss: gamma must be a float"):
        nn.FocalLoss(gamma=2)
    with pytest.raises(ValueError, match=r"FocalLoss: labels must be .* got logits \(3, 2\) and labels \(3, 3\)"):
        nn.FocalLoss()(funcad.Tensor(np.zeros((3, 2))), funcad.Tensor(np.zeros((3, 3))))
    with pytest.raises(ValueError, match="DiceLoss: smooth must be a positive float"):
        nn.DiceLoss(0.0)
    with pytest.raises(ValueError, match="MultiClassDiceLoss: activation must be one of"):
        nn.MultiClassDiceLoss(activation="gelu")
