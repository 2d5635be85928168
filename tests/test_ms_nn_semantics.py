"""funcad.nn (layers, losses, optimizers, learning-rate schedules, initializers) against MindSpore 2.x's documented
semantics: the example outputs its documentation prints (copied by hand), torch in float64 where there is a
counterpart, and the documented formulas (closed forms). Also the ops MindSpore code reaches through these layers:
``broadcast_to`` with -1, ``softmax(dtype=)``, ``avg_pool2d(ceil_mode=True)``, ``nll_loss(label_smoothing=)`` and
``input=`` by keyword."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import funcad
from funcad import Parameter, Tensor, nn, ops
from funcad.common import initializer as init
from funcad.testing import assert_close as _assert_close

RNG = np.random.default_rng(11)


def assert_close(actual, expected, **tolerances) -> None:
    """funcad.testing.assert_close, with lists (the documentation's printed values, lists of rates) as arrays."""
    _assert_close(*(np.asarray(v) if isinstance(v, list) else v for v in (actual, expected)), **tolerances)


def f32(values) -> Tensor:
    return Tensor(np.array(values, dtype=np.float32))


# -- losses: the documentation's examples -------------------------------------------------------------------------
LOGITS, LABELS = [1.0, 2.0, 3.0], [1.0, 2.0, 2.0]


@pytest.mark.parametrize("loss, expected", [
    (nn.L1Loss(), 0.33333334), (nn.MSELoss(), 0.33333334), (nn.SmoothL1Loss(), [0.0, 0.0, 0.5]),
    (nn.HuberLoss(), 0.16666667), (nn.RMSELoss(), 0.57735026), (nn.MAELoss(), 0.33333334),
], ids=["L1Loss", "MSELoss", "SmoothL1Loss", "HuberLoss", "RMSELoss", "MAELoss"])
def test_regression_losses_print_the_documented_examples(loss, expected):
    assert_close(loss(f32(LOGITS), f32(LABELS)), np.float32(expected) if np.isscalar(expected) else np.float32(expected))


def test_bce_losses_print_the_documented_examples():
    weight = f32([[1.0, 2.0, 3.0], [4.0, 3.3, 2.2]])
    bce = nn.BCELoss(weight=weight)(f32([[0.1, 0.2, 0.3], [0.5, 0.7, 0.9]]), f32([[0, 1, 0], [0, 0, 1]]))
    assert_close(bce, np.float32(1.8952923))
    logits = f32([[-0.8, 1.2, 0.7], [-0.1, -0.4, 0.7]])
    labels = f32([[0.3, 0.8, 1.2], [-0.6, 0.1, 2.2]])
    assert_close(nn.BCEWithLogitsLoss()(logits, labels), np.float32(0.3463612))


def test_kl_div_cosine_embedding_and_triplet_losses_print_the_documented_examples():
    assert_close(nn.KLDivLoss()(f32([0.2, 0.7, 0.1]), f32([0.0, 1.0, 0.0])), np.float32(-0.23333333))
    x1, x2 = f32([[0.3, 0.8], [0.4, 0.3]]), f32([[0.4, 1.2], [-0.4, -0.9]])
    labels = Tensor(np.array([1, -1], dtype=np.int32))
    # 1 - cos cancels in float32: the printed value and ours agree to the 3e-4 that float32 leaves; float64 is exact
    assert_close(nn.CosineEmbeddingLoss()(x1, x2, labels), np.float32(0.0003425479), rtol=3e-4, atol=0)
    a, b = np.array([[0.3, 0.8], [0.4, 0.3]]), np.array([[0.4, 1.2], [-0.4, -0.9]])
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert_close(nn.CosineEmbeddingLoss()(Tensor(a), Tensor(b), labels), ((1 - cos[0]) + max(0.0, cos[1])) / 2)
    x, pos, neg = f32([[0.3, 0.7], [0.5, 0.5]]), f32([[0.4, 0.6], [0.4, 0.6]]), f32([[0.2, 0.9], [0.3, 0.7]])
    assert_close(nn.TripletMarginLoss()(x, pos, neg, 1.0), np.float32(0.8881968))


def test_softmax_cross_entropy_focal_and_dice_print_the_documented_examples():
    logits = f32([[3, 5, 6, 9, 12, 33, 42, 12, 32, 72]])
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True)(logits, Tensor(np.array([1], dtype=np.int32)))
    assert loss.shape == (1,)  # reduction 'none' by default: one loss per sample
    assert_close(loss, np.float32([67.0]))
    focal = nn.FocalLoss(weight=f32([1, 2]), gamma=2.0)(f32([[0.8, 1.4], [0.5, 0.9], [1.2, 0.9]]), Tensor(np.array([[1], [1], [0]], np.int32)))
    assert_close(focal, np.float32(0.12516622))
    dice = nn.DiceLoss(smooth=1e-5)(f32([[0.2, 0.5], [0.3, 0.1], [0.9, 0.6]]), f32([[0, 1], [1, 0], [0, 1]]))
    assert_close(dice, np.float32(0.38596618))
    multi = nn.MultiClassDiceLoss(weights=None, ignore_indiex=None, activation="softmax")
    assert_close(multi(f32([[0.2, 0.5, 0.7], [0.3, 0.1, 0.5], [0.9, 0.6, 0.3]]), f32([[0, 1, 0], [1, 0, 0], [0, 0, 1]])), np.float32(0.54958105))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_class_losses_match_torch_in_float64(reduction):
    x = RNG.normal(size=(5, 4))
    t = np.array([0, 3, 1, -100, 2])
    weight = RNG.uniform(0.5, 2.0, size=4)
    xt, tt, wt = torch.tensor(x), torch.tensor(t), torch.tensor(weight)
    ce = nn.CrossEntropyLoss(Tensor(weight), reduction=reduction, label_smoothing=0.1)(Tensor(x), Tensor(t))
    assert_close(ce, F.cross_entropy(xt, tt, wt, reduction=reduction, label_smoothing=0.1).numpy())
    logp = F.log_softmax(xt, 1)
    nll = nn.NLLLoss(Tensor(weight), reduction=reduction)(Tensor(logp.numpy()), Tensor(t))
    assert_close(nll, F.nll_loss(logp, tt, wt, reduction=reduction).numpy())
    a, b, y = RNG.normal(size=6), RNG.normal(size=6), np.sign(RNG.normal(size=6))
    mr = nn.MarginRankingLoss(0.3, reduction)(Tensor(a), Tensor(b), Tensor(y))
    assert_close(mr, F.margin_ranking_loss(torch.tensor(a), torch.tensor(b), torch.tensor(y), 0.3, reduction=reduction).numpy())


def test_loss_defaults_are_mindspore_s():
    def defaults(cls):
        return {k: v.default for k, v in inspect.signature(cls).parameters.items() if v.default is not inspect.Parameter.empty}
    assert defaults(nn.SmoothL1Loss) == {"beta": 1.0, "reduction": "none"}
    assert defaults(nn.SoftmaxCrossEntropyWithLogits) == {"sparse": False, "reduction": "none"}
    assert list(inspect.signature(nn.BCEWithLogitsLoss).parameters) == ["reduction", "weight", "pos_weight"]
    assert list(inspect.signature(nn.HuberLoss).parameters) == ["reduction", "delta"]
    assert defaults(nn.TripletMarginLoss) == {"p": 2, "swap": False, "eps": 1e-6, "reduction": "mean"}


# -- activations and layers: the documentation's examples -----------------------------------------------------------
X23 = [[-1.0, 4.0, -8.0], [2.0, -5.0, 9.0]]
X5 = [-1.0, -2.0, 0.0, 2.0, 1.0]


def test_activations_print_the_documented_examples():
    assert_close(nn.LeakyReLU()(f32(X23)), np.float32([[-0.2, 4.0, -1.6], [2.0, -1.0, 9.0]]))
    assert_close(nn.ELU()(f32(X5)), np.float32([-0.63212055, -0.86466473, 0.0, 2.0, 1.0]))
    assert_close(nn.HSigmoid()(f32(X5)), np.float32([0.33333334, 0.16666667, 0.5, 0.8333333, 0.6666667]))
    assert_close(nn.HSwish()(f32(X5)), np.float32([-0.3333333, -0.3333333, 0.0, 1.6666666, 0.6666667]))
    assert_close(nn.Softmax()(f32(X5)), np.float32([0.03168492, 0.01165623, 0.08612854, 0.6364086, 0.23412165]))
    gelu = nn.GELU()(f32(X23))  # approximate=True (the tanh form) by default
    assert_close(gelu, np.float32([[-1.5880802e-01, 3.9999299e+00, -3.1077917e-21], [1.9545976e+00, -2.2918017e-07, 9.0]]), rtol=1e-5, atol=1e-7)
    assert_close(nn.GELU(approximate=False)(Tensor(np.array(X23))), F.gelu(torch.tensor(X23)).numpy())
    assert_close(nn.PReLU()(f32(X23)), np.float32([[-0.25, 4.0, -2.0], [2.0, -1.25, 9.0]]))
    assert [name for name, _ in nn.PReLU().parameters_and_names()] == ["w"]


def test_softmax_and_log_softmax_take_axis():
    x = RNG.normal(size=(3, 4))
    assert_close(nn.Softmax(axis=0)(Tensor(x)), torch.softmax(torch.tensor(x), 0).numpy())
    assert_close(nn.LogSoftmax(axis=0)(Tensor(x)), torch.log_softmax(torch.tensor(x), 0).numpy())


def test_layer_parameter_names_and_default_initial_values():
    dense = nn.Dense(300, 200)
    assert [name for name, _ in dense.parameters_and_names()] == ["weight", "bias"]
    bound = 1 / math.sqrt(300)  # HeUniform(sqrt 5): U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the bias the same
    for p in (dense.weight, dense.bias):
        values = p.asnumpy()
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.95 * bound
    conv = nn.Conv2d(8, 4, 3)
    assert [name for name, _ in conv.parameters_and_names()] == ["weight"]  # has_bias=False
    assert np.abs(conv.weight.asnumpy()).max() <= 1 / math.sqrt(72)
    table = nn.Embedding(400, 50).embedding_table.asnumpy()
    assert abs(table.std() - 0.01) < 0.001  # 'normal': N(0, 0.01^2)
    bn = nn.BatchNorm2d(3)
    assert [name for name, _ in bn.parameters_and_names()] == ["gamma", "beta", "moving_mean", "moving_variance"]


def test_embedding_takes_mindspore_s_positional_arguments():
    emb = nn.Embedding(4, 2, False, "ones", funcad.int32, 1)
    assert_close(emb(Tensor(np.array([0, 1, 3], np.int32))), np.float32([[1, 1], [0, 0], [1, 1]]))
    assert emb.use_one_hot is False
    with pytest.raises(TypeError, match="Embedding: dtype is the ids' type"):
        nn.Embedding(4, 2, dtype=funcad.float32)


def test_conv2d_and_batchnorm2d_take_data_format_before_dtype():
    conv = nn.Conv2d(2, 3, 3, 1, "same", 0, 1, 1, False, None, None, "NCHW", funcad.float64)
    assert conv.weight.dtype == funcad.float64
    bn = nn.BatchNorm2d(3, 1e-5, 0.9, True, "ones", "zeros", "zeros", "ones", None, "NCHW", funcad.float64)
    assert bn.gamma.dtype == funcad.float64
    assert nn.Conv3d(1, 1, 2, dtype=funcad.float64).weight.dtype == funcad.float64
    with pytest.raises(ValueError, match="Conv2d: data_format='NHWC': only 'NCHW'"):
        nn.Conv2d(2, 3, 3, data_format="NHWC")
    with pytest.raises(ValueError, match="BatchNorm2d: data_format='NHWC': only 'NCHW'"):
        nn.BatchNorm2d(3, data_format="NHWC")


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("divisor", [None, 3])
def test_avg_pool2d_layer_takes_divisor_override_as_torch(ceil_mode, divisor):
    x = RNG.normal(size=(2, 3, 7, 6))
    ours = nn.AvgPool2d(3, 2, "pad", 1, ceil_mode, False, divisor)(Tensor(x))
    assert_close(ours, F.avg_pool2d(torch.tensor(x), 3, 2, 1, ceil_mode, False, divisor).numpy())


def test_avg_pool2d_layer_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="AvgPool2d: data_format='NHWC': only 'NCHW'"):
        nn.AvgPool2d(2, data_format="NHWC")
    with pytest.raises(ValueError, match="AvgPool2d: divisor_override must be None or a non-negative int, got -1"):
        nn.AvgPool2d(2, divisor_override=-1)


# -- optimizers ---------------------------------------------------------------------------------------------------
def _params():
    return [Parameter(f32([1.0, -2.0]), name="conv.weight"), Parameter(f32([0.5, 1.5]), name="bn.gamma")]


def _one_step(opt, params, grads):
    opt(tuple(f32(g) for g in grads))
    return [p.asnumpy().copy() for p in params]


GRADS = ([0.1, 0.2], [0.3, -0.4])


def test_ungrouped_weight_decay_skips_beta_and_gamma():
    params = _params()
    w, g = _one_step(nn.SGD(params, 0.1, weight_decay=0.5), params, GRADS)
    assert_close(w, np.float32([1.0, -2.0]) - 0.1 * (np.float32(GRADS[0]) + 0.5 * np.float32([1.0, -2.0])))
    assert_close(g, np.float32([0.5, 1.5]) - 0.1 * np.float32(GRADS[1]))


def test_a_group_without_its_own_weight_decay_decays_every_parameter_in_it():
    # MindSpore: in groups the name filter is off; a group's decay (its own or the optimizer's) applies to all its parameters
    params = _params()
    opt = nn.SGD([{"params": params[:1], "weight_decay": 0.0}, {"params": params[1:]}], 0.1, weight_decay=0.5)
    w, g = _one_step(opt, params, GRADS)
    assert_close(w, np.float32([1.0, -2.0]) - 0.1 * np.float32(GRADS[0]))
    assert_close(g, np.float32([0.5, 1.5]) - 0.1 * (np.float32(GRADS[1]) + 0.5 * np.float32([0.5, 1.5])))


def test_momentum_and_adam_take_mindspore_s_positional_order():
    params = _params()
    opt = nn.Momentum(params, 0.1, 0.9, 0.0, 1.0, True)
    assert opt.use_nesterov is True
    adam = nn.Adam(_params(), 1e-3, 0.9, 0.999, 1e-8, False, True, 0.01, 2.0, False)
    assert (adam.use_locking, adam.use_nesterov, adam.weight_decay, adam.loss_scale, adam.use_amsgrad) == (False, True, 0.01, 2.0, False)


def test_momentum_with_loss_scale_and_weight_decay_matches_torch_sgd():
    # MindSpore folds weight_decay * loss_scale into the scaled gradient and divides by loss_scale: torch's decay exactly
    w0 = RNG.normal(size=(3, 2))
    grads = [RNG.normal(size=(3, 2)) for _ in range(3)]
    p = Parameter(Tensor(w0), name="w")
    opt = nn.Momentum([p], 0.05, 0.9, weight_decay=0.01, loss_scale=8.0, use_nesterov=True)
    tp = torch.tensor(w0, requires_grad=True)
    topt = torch.optim.SGD([tp], lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=True)
    for g in grads:
        opt((Tensor(g * 8.0),))
        tp.grad = torch.tensor(g)
        topt.step()
    assert_close(p, tp.detach().numpy())


# -- learning rates: the documentation's examples and the closed forms -----------------------------------------------
def test_learning_rate_lists_print_the_documented_examples():
    assert_close(nn.piecewise_constant_lr([2, 5, 10], [0.1, 0.05, 0.01]), [0.1, 0.1, 0.05, 0.05, 0.05, 0.01, 0.01, 0.01, 0.01, 0.01])
    assert_close(nn.exponential_decay_lr(0.1, 0.9, 6, 2, 1), [0.1, 0.1, 0.09, 0.09, 0.081, 0.081])
    assert_close(nn.natural_exp_decay_lr(0.1, 0.9, 6, 2, 2, True), [0.1, 0.1, 0.1, 0.1, 0.016529888822158657, 0.016529888822158657])
    assert_close(nn.inverse_decay_lr(0.1, 0.5, 6, 1, 1), [0.1, 0.06666666666666667, 0.05, 0.04, 0.03333333333333333, 0.028571428571428574])
    assert_close(nn.cosine_decay_lr(0.01, 0.1, 6, 2, 2), [0.1, 0.1, 0.05500000000000001, 0.05500000000000001, 0.01, 0.01])
    assert_close(nn.polynomial_decay_lr(0.1, 0.01, 6, 2, 2, 0.5), [0.1, 0.1, 0.07363961030678928, 0.07363961030678928, 0.01, 0.01])
    assert_close(nn.warmup_lr(0.1, 6, 2, 2), [0.0, 0.0, 0.05, 0.05, 0.1, 0.1])


def test_polynomial_decay_lr_with_update_decay_epoch_follows_the_closed_form():
    lr = nn.polynomial_decay_lr(0.1, 0.01, 12, 1, 3, 2.0, update_decay_epoch=True)
    expected = [(0.1 - 0.01) * (1 - e / (3 * max(math.ceil(e / 3), 1))) ** 2 + 0.01 for e in range(12)]
    assert_close(lr, expected)


@pytest.mark.parametrize("schedule, closed_form", [
    (nn.ExponentialDecayLR(0.1, 0.9, 4, True), lambda s: 0.1 * 0.9 ** math.floor(s / 4)),
    (nn.ExponentialDecayLR(0.1, 0.9, 4), lambda s: 0.1 * 0.9 ** (s / 4)),
    (nn.NaturalExpDecayLR(0.1, 0.9, 4, True), lambda s: 0.1 * math.exp(-0.9 * math.floor(s / 4) * 4)),
    (nn.InverseDecayLR(0.1, 0.9, 4), lambda s: 0.1 / (1 + 0.9 * s / 4)),
    (nn.CosineDecayLR(0.01, 0.1, 4), lambda s: 0.01 + 0.045 * (1 + math.cos(math.pi * min(s, 4) / 4))),
    (nn.PolynomialDecayLR(0.1, 0.01, 4, 0.5), lambda s: 0.09 * (1 - min(s, 4) / 4) ** 0.5 + 0.01),
    (nn.PolynomialDecayLR(0.1, 0.01, 4, 0.5, True), lambda s: 0.09 * (1 - s / (4 * max(math.ceil(s / 4), 1))) ** 0.5 + 0.01),
    (nn.WarmUpLR(0.1, 2), lambda s: 0.1 * min(s, 2) / 2),
], ids=["exp-stair", "exp", "natural-stair", "inverse", "cosine", "poly", "poly-update", "warmup"])
def test_schedule_cells_follow_their_closed_forms(schedule, closed_form):
    for step in range(10):
        assert float(schedule(Tensor(np.array(step, np.int32)))) == pytest.approx(closed_form(step), rel=1e-6, abs=1e-9)


def test_schedule_cells_print_the_documented_examples():
    step = Tensor(np.array(2, np.int32))
    for schedule, expected in [(nn.ExponentialDecayLR(0.1, 0.9, 4, True), 0.1), (nn.NaturalExpDecayLR(0.1, 0.9, 4, True), 0.1),
                               (nn.InverseDecayLR(0.1, 0.9, 4, True), 0.1), (nn.CosineDecayLR(0.01, 0.1, 4), 0.055),
                               (nn.PolynomialDecayLR(0.1, 0.01, 4, 0.5), 0.07363961), (nn.WarmUpLR(0.1, 2), 0.1)]:
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-6)


# -- initializers ------------------------------------------------------------------------------------------------
def test_initializer_defaults_are_mindspore_s():
    assert (init.Normal().sigma, init.Normal().mean) == (0.01, 0.0)
    assert init.Uniform().scale == 0.07
    tn = init.TruncatedNormal()
    assert (tn.sigma, tn.mean, tn.a, tn.b) == (0.01, 0.0, -2.0, 2.0)
    he = init.HeUniform()
    assert (he.negative_slope, he.mode, he.nonlinearity) == (0, "fan_in", "leaky_relu")
    assert init.XavierUniform().gain == 1


@pytest.mark.parametrize("make, bound", [
    (lambda: init.HeUniform(), math.sqrt(2) * math.sqrt(3 / 40)),                        # gain sqrt(2 / (1 + 0^2)), fan_in 40
    (lambda: init.HeUniform(math.sqrt(5)), math.sqrt(1 / 3) * math.sqrt(3 / 40)),
    (lambda: init.HeUniform(mode="fan_out", nonlinearity="relu"), math.sqrt(2) * math.sqrt(3 / 32)),
    (lambda: init.XavierUniform(gain=2.0), 2.0 * math.sqrt(6 / 72)),
    (lambda: init.Uniform(0.3), 0.3),
], ids=["he-default", "he-sqrt5", "he-fan-out-relu", "xavier-gain", "uniform-scale"])
def test_uniform_initializers_fill_their_documented_bounds(make, bound):
    values = init.initializer(make(), (8, 10, 2, 2), funcad.float64).asnumpy()  # fan_in 40, fan_out 32
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.97 * bound


@pytest.mark.parametrize("make, std", [
    (lambda: init.HeNormal(), math.sqrt(2 / 40)), (lambda: init.Normal(0.5, 1.0), 0.5),
    (lambda: init.XavierNormal(), math.sqrt(2 / (40 + 800))),
], ids=["he-normal", "normal-sigma-mean", "xavier-normal"])
def test_normal_initializers_have_their_documented_spread(make, std):
    values = init.initializer(make(), (200, 10, 2, 2), funcad.float64).asnumpy()
    assert values.std() == pytest.approx(std, rel=0.05)


def test_truncated_normal_bounds_are_absolute_and_constants_fill():
    values = init.initializer(init.TruncatedNormal(1.0, 0.0, -0.5, 0.5), (4000,), funcad.float64).asnumpy()
    assert values.min() >= -0.5 and values.max() <= 0.5 and values.std() > 0.25
    assert_close(init.initializer(init.Constant(3), (2,)), np.float32([3, 3]))
    assert_close(init.initializer("ones", (2,)), np.float32([1, 1]))
    assert_close(init.initializer(init.Zero(), (2,)), np.float32([0, 0]))


# -- ops ----------------------------------------------------------------------------------------------------------
def test_broadcast_to_keeps_minus_one_dimensions_as_documented():
    out = ops.broadcast_to(f32([[1], [2]]), (-1, 2))
    assert_close(out, np.float32([[1, 1], [2, 2]]))
    assert ops.broadcast_to(f32(np.zeros((1, 3))), (4, 2, -1)).shape == (4, 2, 3)
    with pytest.raises(ValueError, match=r"broadcast_to: a -1 in shape \(-1, 2, 3\) must stand over one of the input's dimensions"):
        ops.broadcast_to(f32(np.zeros((2, 3))), (-1, 2, 3))


def test_softmax_takes_a_dtype():
    x = f32([[1.0, 2.0, 3.0]])
    out = ops.softmax(x, dtype=funcad.float64)
    assert out.dtype == funcad.float64
    assert_close(out, torch.softmax(torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64), -1).numpy())


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_ops_avg_pool2d_takes_ceil_mode_as_torch(count_include_pad):
    x = RNG.normal(size=(1, 2, 7, 5))
    ours = ops.avg_pool2d(Tensor(x), 3, 2, 1, ceil_mode=True, count_include_pad=count_include_pad)
    assert_close(ours, F.avg_pool2d(torch.tensor(x), 3, 2, 1, True, count_include_pad).numpy())
    g = funcad.grad(lambda a: ops.sum(ops.avg_pool2d(a, 2, 2, ceil_mode=True) ** 2))(Tensor(x))
    xt = torch.tensor(x, requires_grad=True)
    (F.avg_pool2d(xt, 2, 2, ceil_mode=True) ** 2).sum().backward()
    assert_close(g, xt.grad.numpy())


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_ops_avg_pool2d_takes_ceil_mode_with_divisor_override_as_torch(count_include_pad):
    x = RNG.normal(size=(2, 2, 7, 6))
    ours = ops.avg_pool2d(Tensor(x), 3, 2, 1, ceil_mode=True, count_include_pad=count_include_pad, divisor_override=4)
    assert_close(ours, F.avg_pool2d(torch.tensor(x), 3, 2, 1, True, count_include_pad, 4).numpy())
    w = RNG.normal(size=(2, 2, 4, 4))  # weights on the 4 x 4 output, so each window's gradient differs
    g = funcad.grad(lambda a: ops.sum(ops.avg_pool2d(a, 3, 2, 1, True, count_include_pad, 4) * Tensor(w)))(Tensor(x))
    xt = torch.tensor(x, requires_grad=True)
    (F.avg_pool2d(xt, 3, 2, 1, True, count_include_pad, 4) * torch.tensor(w)).sum().backward()
    assert_close(g, xt.grad.numpy())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_label_smoothing_matches_torch_cross_entropy(reduction):
    x = RNG.normal(size=(6, 5))
    t = np.array([0, 4, 2, 1, 3, 0])
    logp = F.log_softmax(torch.tensor(x), 1)
    ours = ops.nll_loss(Tensor(logp.numpy()), Tensor(t), reduction=reduction, label_smoothing=0.2)
    assert_close(ours, F.cross_entropy(torch.tensor(x), torch.tensor(t), reduction=reduction, label_smoothing=0.2).numpy())


def test_nll_loss_label_smoothing_follows_mindspore_s_formula_with_ignored_targets_and_weights():
    logp = np.log(RNG.dirichlet(np.ones(4), size=5))
    t = np.array([0, -100, 3, 1, 2])
    w = np.array([0.5, 1.0, 2.0, 1.5])
    valid = t != -100
    picked = -logp[np.arange(5), np.where(valid, t, 0)] * w[np.where(valid, t, 0)] * valid
    smooth = -logp.sum(1) * valid
    expected = 0.9 * picked.sum() / (w[t[valid]]).sum() + 0.1 / 4 * smooth.mean()  # 'mean': smooth over every position
    assert_close(ops.nll_loss(Tensor(logp), Tensor(t), Tensor(w), label_smoothing=0.1), expected)
    with pytest.raises(ValueError, match="nll_loss: label_smoothing must be in"):
        ops.nll_loss(Tensor(logp), Tensor(t), label_smoothing=1.5)


def test_ops_take_their_first_argument_as_input_by_keyword():
    x = RNG.normal(size=(3, 4))
    assert_close(ops.mean(input=Tensor(x), axis=1), x.mean(1))
    assert_close(ops.sum(input=Tensor(x)), x.sum())
    assert_close(ops.exp(input=Tensor(x)), np.exp(x))  # a primitive
    assert_close(ops.sqrt(input=Tensor(np.abs(x))), np.sqrt(np.abs(x)))
    assert_close(ops.argmax(input=Tensor(x), axis=1), x.argmax(1))
    assert_close(ops.softmax(input=Tensor(x), axis=0), torch.softmax(torch.tensor(x), 0).numpy())
    g = funcad.grad(lambda a: ops.sum(ops.tanh(input=a) * ops.mean(input=a, axis=0)))(Tensor(x))
    xt = torch.tensor(x, requires_grad=True)
    (torch.tanh(xt) * xt.mean(0)).sum().backward()
    assert_close(g, xt.grad.numpy())
    with pytest.raises(TypeError, match="mean: input given both by position and as input="):
        ops.mean(Tensor(x), input=Tensor(x))


def test_initializers_written_for_mindspore_fill_arrays_in_place():
    class Ramp(init.Initializer):
        def __init__(self, start):
            super().__init__(start=start)
            self.start = start

        def _initialize(self, arr):
            arr[...] = self.start + np.arange(arr.shape[-1])

    assert_close(init.initializer(Ramp(2.0), (2, 3)), np.float32([[2, 3, 4], [2, 3, 4]]))
    arr = np.zeros((2, 2))
    assert init.Constant(5)(arr) is arr and (arr == 5).all()  # MindSpore's form: init(arr) fills arr
    assert init.initializer(funcad.Tensor(np.ones((2, 3), np.float32))).shape == (2, 3)  # shape None: the array's
    with pytest.raises(ValueError, match="shape may be None only for an array or Tensor init"):
        init.initializer("normal")

    class Unfinished(init.Initializer):
        pass

    with pytest.raises(NotImplementedError, match="Unfinished: an Initializer defines _values"):
        init.initializer(Unfinished(), (2,))


@pytest.mark.parametrize("shape, groups", [((6, 4, 3, 3), 2), ((4, 4, 3), 1), ((2, 3, 3, 2, 5), 1)])
def test_dirac_matches_torch(shape, groups):
    expected = torch.nn.init.dirac_(torch.empty(shape, dtype=torch.float64), groups).numpy()
    assert_close(init.initializer(init.Dirac(groups), shape, funcad.float64), expected)
    assert_close(init.initializer("dirac", shape, funcad.float64), torch.nn.init.dirac_(torch.empty(shape, dtype=torch.float64)).numpy())


def test_identity_orthogonal_sparse_and_variance_scaling():
    assert_close(init.initializer("identity", (2, 3)), np.eye(2, 3, dtype=np.float32))
    for shape in [(3, 8), (8, 3), (4, 2, 3)]:
        q = init.initializer(init.Orthogonal(2.0), shape, funcad.float64).asnumpy().reshape(shape[0], -1)
        small = q @ q.T if shape[0] <= q.shape[1] else q.T @ q
        assert_close(small, 4.0 * np.eye(len(small)))  # (semi-)orthogonal rows or columns, times gain^2
    sparse = init.initializer(init.Sparse(0.3, 1.0), (10, 6), funcad.float64).asnumpy()
    assert ((sparse == 0).sum(0) == 3).all()  # ceil(0.3 * 10) zeros in every column
    values = init.initializer(init.VarianceScaling(2.0, "fan_avg", "uniform"), (300, 100), funcad.float64).asnumpy()
    limit = math.sqrt(3 * 2.0 / 200)
    assert np.abs(values).max() <= limit and np.abs(values).max() > 0.99 * limit
    values = init.initializer(init.VarianceScaling(2.0, "fan_out", "untruncated_normal"), (400, 100), funcad.float64).asnumpy()
    assert values.std() == pytest.approx(math.sqrt(2.0 / 400), rel=0.03)
    values = init.initializer("varianceScaling", (400, 100), funcad.float64).asnumpy()  # truncated at +-2, never reached here
    assert values.std() == pytest.approx(math.sqrt(1.0 / 100) / 0.87962566103423978, rel=0.03)
    for bad, match in [(lambda: init.Identity()((2, 2, 2)), "Identity: initialises tensors of 2 dimensions"),
                       (lambda: init.Dirac(4)((6, 4, 3)), "Dirac: the first dimension of shape"),
                       (lambda: init.Orthogonal()((3,)), "Orthogonal: initialises tensors of at least 2"),
                       (lambda: init.VarianceScaling(mode="fan"), "VarianceScaling: mode must be"),
                       (lambda: init.VarianceScaling(0.0), "VarianceScaling: scale must be > 0"),
                       (lambda: init.VarianceScaling(distribution="normal"), "VarianceScaling: distribution must be")]:
        with pytest.raises(ValueError, match=match):
            bad()


def test_grad_centralization_groups_centre_the_decayed_gradient_as_mindspore():
    # MindSpore: g <- g + weight_decay * p, then minus its mean over every axis but the first where the second axis is a
    # multiple of 16 (other shapes as they are), then the update
    conv = Parameter(Tensor(RNG.normal(size=(4, 16, 3, 3))), name="conv.weight")
    odd = Parameter(Tensor(RNG.normal(size=(4, 3, 3, 3))), name="odd.weight")
    bias = Parameter(Tensor(RNG.normal(size=(4,))), name="bias")
    start = [p.asnumpy().copy() for p in (conv, odd, bias)]
    grads = [RNG.normal(size=p.shape) for p in (conv, odd, bias)]
    opt = nn.Momentum([{"params": [conv, odd, bias], "grad_centralization": True, "weight_decay": 0.1}], 0.05, 0.9)
    opt(tuple(Tensor(g) for g in grads))
    decayed = [g + 0.1 * p for g, p in zip(grads, start)]
    decayed[0] = decayed[0] - decayed[0].mean(axis=(1, 2, 3), keepdims=True)
    for p, p0, g in zip((conv, odd, bias), start, decayed):
        assert_close(p, p0 - 0.05 * g)
    centred = opt.gradients_centralization(tuple(Tensor(g) for g in grads))  # what a construct copied from MindSpore calls
    assert_close(centred[0], grads[0] - grads[0].mean(axis=(1, 2, 3), keepdims=True))
    assert_close(centred[1], grads[1])


def test_fast_gelu_and_softmax2d_follow_their_documented_formulas():
    x = np.array([[-1.0, 4.0, -8.0], [2.0, -5.0, 9.0]])
    documented = x / (1 + np.exp(-1.702 * np.abs(x))) * np.exp(0.851 * (x - np.abs(x)))
    assert_close(ops.fast_gelu(Tensor(x)), documented)
    assert_close(nn.FastGelu()(Tensor(x)), documented)
    assert isinstance(nn.get_activation("fast_gelu"), nn.FastGelu)
    g = funcad.grad(lambda a: ops.sum(ops.fast_gelu(a)))(Tensor(x))
    xt = torch.tensor(x, requires_grad=True)
    (xt * torch.sigmoid(1.702 * xt)).sum().backward()
    assert_close(g, xt.grad.numpy())
    images = RNG.normal(size=(2, 3, 4, 5))
    assert_close(nn.Softmax2d()(Tensor(images)), torch.nn.Softmax2d()(torch.tensor(images)).numpy())
    with pytest.raises(ValueError, match=r"Softmax2d.*expected input of shape \(C, H, W\) or \(N, C, H, W\), got \(2, 3\)"):
        nn.Softmax2d()(Tensor(x))


def test_the_mindspore_signatures_run_under_jit():
    x = Tensor(RNG.normal(size=(1, 2, 5, 5)))
    step = funcad.jit(lambda a: (ops.avg_pool2d(a, 2, 2, ceil_mode=True), ops.mean(input=a, axis=1), ops.exp(input=a),
                                 ops.broadcast_to(a[:, :1], (-1, 3, 5, 5)), ops.softmax(a, 1, dtype=funcad.float32)))
    for got, want in zip(step(x), (F.avg_pool2d(torch.tensor(x.asnumpy()), 2, 2, ceil_mode=True).numpy(), x.asnumpy().mean(1),
                                   np.exp(x.asnumpy()), np.broadcast_to(x.asnumpy()[:, :1], (1, 3, 5, 5)),
                                   torch.softmax(torch.tensor(x.asnumpy()), 1).numpy().astype(np.float32))):
        assert_close(got, want)


def test_ops_conv2d_takes_mindspore_s_positional_pad_mode():
    x, w = RNG.normal(size=(1, 2, 7, 6)), RNG.normal(size=(3, 2, 3, 3))
    xt, wt = torch.tensor(x), torch.tensor(w)
    # MindSpore 2.x: conv2d(input, weight, bias, stride, pad_mode, padding, dilation, groups)
    assert_close(ops.conv2d(Tensor(x), Tensor(w), None, 2, "pad", 1, 2, 1), F.conv2d(xt, wt, None, 2, 1, 2).numpy())
    assert_close(ops.conv2d(Tensor(x), Tensor(w), None, 1, "same"), F.conv2d(xt, wt, None, 1, "same").numpy())
    assert_close(ops.conv2d(Tensor(x), Tensor(w), None, 1, 1), F.conv2d(xt, wt, None, 1, 1).numpy())  # funcad's: padding 5th
    with pytest.raises(TypeError, match="conv2d: MindSpore's order takes at most 8 positional arguments, got 9"):
        ops.conv2d(Tensor(x), Tensor(w), None, 1, "pad", 1, 1, 1, "gemm")


def test_an_initializer_defining_neither_values_nor_initialize_says_what_it_needs():
    class Forgetful(init.Initializer):
        pass

    with pytest.raises(NotImplementedError, match=r"Forgetful: an Initializer defines _values\(shape\), or _initialize\(arr\)"):
        init.initializer(Forgetful(), (2, 3))
