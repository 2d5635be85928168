"""CTC loss, multi-class margin losses, RMS and local response normalisation and channel shuffling against torch in
float64 (values and gradients), their layers' round trips through mirror and to_funcad, and the errors bad inputs
give."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import funcad
from funcad import nn, ops
from funcad.testing import check_grads
from tests.twin_check import assert_same_model
from torch_ref.mirror import mirror_twin
from torch_ref.to_funcad import TracedCell, funcad_twin

RNG = np.random.default_rng(11)
LOGITS = RNG.standard_normal((6, 3, 5))  # (T, N, C)
TARGETS = np.array([[1, 2, 2], [3, 1, 0], [4, 0, 0]])
INPUT_LENGTHS, TARGET_LENGTHS = np.array([6, 5, 4]), np.array([3, 2, 1])
IMAGES = RNG.standard_normal((2, 6, 3, 4))
ROWS = RNG.standard_normal((4, 6))


def _ctc_both(logits, targets, input_lengths, target_lengths, **options):
    """(funcad loss, its gradient in the logits, torch's loss, torch's gradient), both through log_softmax: torch's own
    derivative in log_probs assumes a log_softmax before it (it adds exp(log_probs)), which log_softmax's backward removes."""
    def ours(x):
        return ops.ctc_loss(ops.log_softmax(x, -1), targets, input_lengths, target_lengths, **options)[0]

    cot = RNG.standard_normal(np.shape(ours(logits)))
    value, grad = funcad.value_and_grad(lambda x: ops.sum(ours(x) * cot))(logits)
    tx = torch.tensor(logits, requires_grad=True)
    theirs = F.ctc_loss(tx.log_softmax(-1), torch.tensor(targets), torch.tensor(input_lengths), torch.tensor(target_lengths), **options)
    (theirs * torch.from_numpy(cot)).sum().backward()
    return np.asarray(ours(logits)), np.asarray(grad), theirs.detach().numpy(), tx.grad.numpy()


@pytest.mark.parametrize("blank", [0, 3])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_ctc_loss_and_its_gradient_match_torch_for_unequal_lengths_and_any_blank(blank, reduction):
    targets = np.where(TARGETS == blank, (blank + 1) % 5, TARGETS)
    ours, grad, theirs, torch_grad = _ctc_both(LOGITS, targets, INPUT_LENGTHS, TARGET_LENGTHS, blank=blank, reduction=reduction)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    np.testing.assert_allclose(grad, torch_grad, rtol=1e-9, atol=1e-12)
    assert not np.any(grad[5, 1:]) and not np.any(grad[4:, 2])  # frames past a sample's input length take no gradient


def test_ctc_zero_infinity_zeroes_the_loss_and_gradient_of_targets_that_cannot_be_aligned():
    targets = np.array([[1, 1, 1], [2, 3, 0]])  # three repeats need five frames; sample 0 has four
    for zero_infinity in (False, True):
        ours = np.asarray(ops.ctc_loss(ops.log_softmax(LOGITS[:4, :2], -1), targets, [4, 4], [3, 2], reduction="none",
                                       zero_infinity=zero_infinity)[0])
        assert ours[0] == (0.0 if zero_infinity else np.inf) and np.isfinite(ours[1])
    ours, grad, theirs, torch_grad = _ctc_both(LOGITS[:4, :2], targets, np.array([4, 4]), np.array([3, 2]), zero_infinity=True)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    np.testing.assert_allclose(grad, torch_grad, rtol=1e-9, atol=1e-12)
    assert not np.any(grad[:, 0])


def test_ctc_takes_concatenated_targets_and_an_unbatched_sample_as_torch_does():
    log_probs = np.asarray(ops.log_softmax(LOGITS, -1))
    flat = np.concatenate([TARGETS[n, :length] for n, length in enumerate(TARGET_LENGTHS)])
    want = F.ctc_loss(torch.tensor(log_probs), torch.tensor(flat), torch.tensor(INPUT_LENGTHS), torch.tensor(TARGET_LENGTHS), reduction="none")
    np.testing.assert_allclose(np.asarray(ops.ctc_loss(log_probs, flat, INPUT_LENGTHS, TARGET_LENGTHS, reduction="none")[0]), want.numpy(),
                               rtol=1e-12)
    one = ops.ctc_loss(log_probs[:, 0], TARGETS[0], 6, 3, reduction="none")[0]
    assert np.shape(one) == () and np.isclose(float(one), float(want[0]), rtol=1e-12)


def test_ctc_returns_mindspore_s_log_alpha_whose_final_states_give_the_loss():
    log_probs = np.asarray(ops.log_softmax(LOGITS, -1))
    loss, log_alpha = ops.ctc_loss(log_probs, TARGETS, INPUT_LENGTHS, TARGET_LENGTHS, reduction="none")
    log_alpha = np.asarray(log_alpha)
    assert log_alpha.shape == (3, 6, 7)
    for n, (frames, labels) in enumerate(zip(INPUT_LENGTHS, TARGET_LENGTHS)):
        ends = log_alpha[n, frames - 1, [2 * labels - 1, 2 * labels]]
        np.testing.assert_allclose(-np.logaddexp(*ends), np.asarray(loss)[n], rtol=1e-12)
        assert np.all(log_alpha[n, frames:] == -np.inf) and np.all(log_alpha[n, :, 2 * labels + 1:] == -np.inf)
    assert np.all(log_alpha[:, 0, 2:] == -np.inf)  # at the first frame only the leading blank and the first label are reached


def test_ctc_gradient_is_the_exact_derivative_in_the_log_probabilities():
    targets, lengths = TARGETS[:2, :2], (np.array([4, 3]), np.array([2, 1]))
    check_grads(lambda lp: ops.ctc_loss(lp, targets, *lengths, reduction="sum")[0], [np.log(RNG.uniform(0.1, 1.0, (4, 2, 5)))], order=2,
                modes=("rev", "fwd"))


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_multi_margin_loss_matches_torch(p, weighted, reduction):
    labels = np.array([1, 0, 5, 2])
    weight = np.linspace(0.5, 1.5, 6) if weighted else None
    cot = RNG.standard_normal((4,) if reduction == "none" else ())
    ours, grad = funcad.value_and_grad(lambda x: ops.sum(ops.multi_margin_loss(x, labels, p, 0.7, weight, reduction) * cot))(ROWS)
    tx = torch.tensor(ROWS, requires_grad=True)
    theirs = F.multi_margin_loss(tx, torch.tensor(labels), p, 0.7, None if weight is None else torch.tensor(weight), reduction=reduction)
    (theirs * torch.from_numpy(cot)).sum().backward()
    np.testing.assert_allclose(np.asarray(ops.multi_margin_loss(ROWS, labels, p, 0.7, weight, reduction)), theirs.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(grad), tx.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_multilabel_margin_loss_matches_torch_with_targets_ending_at_the_first_minus_one(reduction):
    target = np.array([[1, 4, -1, 0, 0, 0], [5, 0, 2, 1, 3, -1], [2, 2, 2, 2, 2, 2], [-1, 1, 1, 1, 1, 1]])
    cot = RNG.standard_normal((4,) if reduction == "none" else ())
    grad = funcad.grad(lambda x: ops.sum(ops.multilabel_margin_loss(x, target, reduction) * cot))(ROWS)
    tx = torch.tensor(ROWS, requires_grad=True)
    theirs = F.multilabel_margin_loss(tx, torch.tensor(target), reduction=reduction)
    (theirs * torch.from_numpy(cot)).sum().backward()
    np.testing.assert_allclose(np.asarray(ops.multilabel_margin_loss(ROWS, target, reduction)), theirs.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(grad), tx.grad.numpy(), rtol=1e-12, atol=1e-14)
    one = F.multilabel_margin_loss(torch.tensor(ROWS[1]), torch.tensor(target[1]), reduction="none")  # an unbatched sample
    np.testing.assert_allclose(np.asarray(ops.multilabel_margin_loss(ROWS[1], target[1], "none")), one.numpy(), rtol=1e-12)


def _against_torch(ours, theirs, *arrays):
    """Values and gradients (of a random projection) of ``ours`` and ``theirs`` on the same float64 arrays."""
    cot = RNG.standard_normal(np.shape(ours(*arrays)))
    grads = funcad.grad(lambda *xs: ops.sum(ours(*xs) * cot), tuple(range(len(arrays))))(*arrays)
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = theirs(*tensors)
    (out * torch.from_numpy(cot)).sum().backward()
    np.testing.assert_allclose(np.asarray(ours(*arrays)), out.detach().numpy(), rtol=1e-12, atol=1e-14)
    for g, t in zip(grads if len(arrays) > 1 else (grads,), tensors):
        np.testing.assert_allclose(np.asarray(g), t.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_rms_norm_is_mindspore_s_pair_and_matches_torch_s_function():
    y, rstd = ops.rms_norm(np.array([[1.0, 2, 3], [1, 2, 3]]), np.ones(3))
    np.testing.assert_allclose(np.asarray(y), [[0.46290997, 0.92581993, 1.3887299]] * 2, rtol=1e-7)  # MindSpore's documented values
    np.testing.assert_allclose(np.asarray(rstd), [[0.46290997]] * 2, rtol=1e-7)
    weight = RNG.standard_normal((3, 4))
    _against_torch(lambda x, w: ops.rms_norm(x, w, 1e-5)[0], lambda x, w: F.rms_norm(x, (3, 4), w, 1e-5), IMAGES, weight)
    _against_torch(lambda x: nn.RMSNorm(4, elementwise_affine=False)(x), lambda x: F.rms_norm(x, [4]), IMAGES)  # eps: float64's epsilon


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
def test_local_response_norm_matches_torch_for_every_window_size(size):
    from torch_ref.losses_norms import local_response_norm

    _against_torch(lambda x: local_response_norm(x, size, 0.3, 0.7, 1.5), lambda x: F.local_response_norm(x, size, 0.3, 0.7, 1.5), IMAGES)
    if size % 2:  # MindSpore's form: alpha per squared channel, not divided by the window
        _against_torch(lambda x: ops.lrn(x, size // 2, 1.5, 0.3 / size, 0.7), lambda x: F.local_response_norm(x, size, 0.3, 0.7, 1.5), IMAGES)


def test_lrn_gives_mindspore_s_documented_values():
    out = ops.lrn(np.array([[[[0.1], [0.2]], [[0.3], [0.4]]]], np.float32))
    np.testing.assert_allclose(np.asarray(out), [[[[0.09534626], [0.1825742]], [[0.2860388], [0.3651484]]]], rtol=1e-6)


def test_channel_shuffle_matches_torch():
    _against_torch(lambda x: ops.channel_shuffle(x, 3), lambda x: F.channel_shuffle(x, 3), IMAGES)
    _against_torch(lambda x: nn.ChannelShuffle(2)(x), lambda x: torch.nn.ChannelShuffle(2)(x), IMAGES[:, :, 0])


LAYERS = [  # (funcad layer, input, torch class of its mirror)
    (lambda: nn.RMSNorm((3, 4), eps=1e-5), IMAGES, torch.nn.RMSNorm),
    (lambda: nn.RMSNorm(4, elementwise_affine=False), IMAGES, torch.nn.RMSNorm),
    (lambda: nn.LRN(2, 1.5, 0.3, 0.75), IMAGES, torch.nn.LocalResponseNorm),
    (lambda: nn.ChannelShuffle(3), IMAGES, torch.nn.ChannelShuffle),
    (lambda: nn.MultiMarginLoss(2, 0.5, "sum", np.linspace(0.5, 1.0, 6)), (ROWS, np.array([0, 5, 1, 2])), torch.nn.MultiMarginLoss),
    (lambda: nn.MultilabelMarginLoss("none"), (ROWS, np.array([[1, -1, 0, 0, 0, 0], [5, 4, 3, 2, 1, 0], [0, 1, -1, 2, 2, 2], [3] * 6])),
     torch.nn.MultiLabelMarginLoss),
]


@pytest.mark.parametrize("factory, x, torch_type", LAYERS, ids=[t[2].__name__ + str(i) for i, t in enumerate(LAYERS)])
def test_layers_mirror_to_torch_s_and_come_back(factory, x, torch_type):
    funcad.set_seed(0)
    cell = factory()
    for _, p in cell.parameters_and_names():
        if p.requires_grad:
            p.set_data(np.asarray(p) + RNG.uniform(0.1, 0.5, p.shape))
    cell.set_dtype(funcad.float64)
    twin = mirror_twin(cell)
    assert type(twin.module) is torch_type
    assert_same_model(cell, twin.module, twin.parameter_names, x, train=True)
    back = funcad_twin(twin.module)
    assert type(back.cell) is type(cell)
    assert_same_model(back.cell, twin.module, back.parameter_names, x, train=True)


@pytest.mark.parametrize("module, kind", [(torch.nn.LocalResponseNorm(3, 0.2, 0.6, 2.0), nn.LRN), (torch.nn.LocalResponseNorm(4), TracedCell),
                                          (torch.nn.RMSNorm([6, 3, 4], eps=1e-4), nn.RMSNorm), (torch.nn.ChannelShuffle(2), nn.ChannelShuffle)],
                         ids=["lrn_odd", "lrn_even_traced", "rms_norm", "channel_shuffle"])
def test_torch_layers_come_to_funcad_with_the_same_values_and_gradients(module, kind):
    twin = funcad_twin(module.double())
    assert type(twin.cell) is kind
    assert_same_model(twin.cell, module, twin.parameter_names, IMAGES, train=True)


def test_ctc_loss_layers_translate_both_ways():
    log_probs = np.asarray(ops.log_softmax(LOGITS, -1))
    args = (log_probs, TARGETS, INPUT_LENGTHS, TARGET_LENGTHS)
    cell = nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True)
    module = mirror_twin(cell).module
    assert isinstance(module, torch.nn.CTCLoss) and (module.blank, module.reduction, module.zero_infinity) == (0, "sum", True)
    back = funcad_twin(module).cell
    assert type(back) is nn.CTCLoss and (back.blank, back.reduction, back.zero_infinity) == (0, "sum", True)
    want = module(*(torch.tensor(a) for a in args)).item()
    assert np.isclose(float(cell(*args)), want, rtol=1e-12) and np.isclose(float(back(*args)), want, rtol=1e-12)

    class Recogniser(torch.nn.Module):
        """A model ending in a CTC loss, as speech models are written."""

        def __init__(self):
            super().__init__()
            self.fc, self.loss = torch.nn.Linear(5, 5), torch.nn.CTCLoss(blank=4)

        def forward(self, x, targets, input_lengths, target_lengths):
            return self.loss(self.fc(x).log_softmax(-1), targets, input_lengths, target_lengths)

    torch.manual_seed(0)
    model = Recogniser().double()
    targets = np.where(TARGETS == 4, 1, TARGETS)
    twin = funcad_twin(model)
    assert type(twin.cell.loss) is nn.CTCLoss
    assert_same_model(twin.cell, model, twin.parameter_names, (LOGITS, targets, INPUT_LENGTHS, TARGET_LENGTHS), train=True)


@pytest.mark.parametrize("call, message", [
    (lambda: ops.ctc_loss(LOGITS, TARGETS, INPUT_LENGTHS[:2], TARGET_LENGTHS),
     r"ctc_loss: input_lengths must hold one length per sample, shape \(3,\) for log_probs of shape \(6, 3, 5\), got shape \(2,\)"),
    (lambda: ops.ctc_loss(LOGITS, TARGETS[:2], INPUT_LENGTHS, TARGET_LENGTHS),
     r"ctc_loss: targets must be \(N, S\) = \(3, S\) for log_probs of shape \(6, 3, 5\), got shape \(2, 3\)"),
    (lambda: ops.ctc_loss(LOGITS[:2], TARGETS, [2, 2, 2], TARGET_LENGTHS),
     r"ctc_loss: a target longer than its input cannot be aligned: target_lengths \[3\] > input_lengths \[2\] at samples \[0\]"),
    (lambda: ops.ctc_loss(LOGITS, TARGETS, [6, 7, 4], TARGET_LENGTHS), r"ctc_loss: input_lengths must lie in \[1, 6\] .* got \[7\] at samples \[1\]"),
    (lambda: ops.ctc_loss(LOGITS, TARGETS, INPUT_LENGTHS, TARGET_LENGTHS, blank=5), r"ctc_loss: blank must lie in \[0, 5\) .* got 5"),
    (lambda: ops.ctc_loss(LOGITS, TARGETS + 3, INPUT_LENGTHS, TARGET_LENGTHS), r"ctc_loss: target labels must lie in \[0, 5\) .* got \[5, 5, 6, 7\]"),
    (lambda: ops.ctc_loss(LOGITS, np.arange(5), INPUT_LENGTHS, TARGET_LENGTHS),
     r"concatenated targets of shape \(5,\) must hold sum\(target_lengths\) = 6"),
    (lambda: ops.multi_margin_loss(ROWS, np.array([0, 1, 2])), r"multi_margin_loss: target shape \(3,\) does not match input shape \(4, 6\)"),
    (lambda: ops.multi_margin_loss(ROWS, np.array([0, 1, 2, 6])), r"multi_margin_loss: target values must lie in \[0, 6\)"),
    (lambda: ops.multi_margin_loss(ROWS, np.array([0, 1, 2, 3]), weight=np.ones(5)), r"multi_margin_loss: weight must hold one value per class"),
    (lambda: ops.multi_margin_loss(ROWS, np.array([0, 1, 2, 3]), p=3), r"multi_margin_loss: p must be 1 or 2, got 3"),
    (lambda: ops.multilabel_margin_loss(ROWS, np.zeros((4, 5), int)),
     r"multilabel_margin_loss: target shape \(4, 5\) must equal input shape \(4, 6\)"),
    (lambda: ops.rms_norm(IMAGES, np.ones(3)), r"rms_norm: gamma of shape \(3,\) must match the trailing axes of x of shape \(2, 6, 3, 4\)"),
    (lambda: ops.channel_shuffle(IMAGES, 4), r"channel_shuffle: input must be \(N, C, ...\) with C divisible by groups=4, got shape \(2, 6, 3, 4\)"),
    (lambda: ops.lrn(IMAGES[0]), r"lrn: input must be \(N, C, H, W\), got shape \(6, 3, 4\)"),
    (lambda: nn.RMSNorm(5)(IMAGES), r"RMSNorm.*expected input of shape \(\*, 5\), got \(2, 6, 3, 4\)"),
])
def test_bad_inputs_are_errors_naming_the_op_and_the_shapes_or_values(call, message):
    with pytest.raises(ValueError, match=message):
        call()
