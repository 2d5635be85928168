"""WithLossCell, TrainOneStepCell (with sens), SoftmaxCrossEntropyWithLogits, Adam's use_amsgrad, learning-rate
schedules and metrics, against torch, closed forms and MindSpore's published docstring outputs."""

import math

import numpy as np
import pytest
import torch

import funcad
from funcad import Tensor, nn


def _pair(seed=0):
    funcad.set_seed(seed)
    net = nn.SequentialCell(nn.Dense(5, 4), nn.ReLU(), nn.Dense(4, 3))
    module = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3)).double()
    with torch.no_grad():
        for p, (_, q) in zip(module.parameters(), net.parameters_and_names()):
            p.copy_(torch.from_numpy(q.asnumpy().astype(np.float64)))
    net.set_dtype(funcad.float64)
    rng = np.random.default_rng(seed)
    return net, module, rng.standard_normal((6, 5)), rng.integers(0, 3, 6)


def test_with_loss_cell_computes_the_loss_and_keeps_parameter_names():
    net, module, x, y = _pair()
    names = [p.name for p in net.trainable_params()]
    with_loss = nn.WithLossCell(net, nn.CrossEntropyLoss())
    assert [p.name for p in net.trainable_params()] == names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert list(with_loss.trainable_params()) == list(net.trainable_params())
    assert with_loss.backbone_network is net
    expected = torch.nn.functional.cross_entropy(module(torch.from_numpy(x)), torch.from_numpy(y)).item()
    np.testing.assert_allclose(with_loss(Tensor(x), Tensor(y)).item(), expected, rtol=1e-12)


@pytest.mark.parametrize("sens", [None, 1024.0])
@pytest.mark.parametrize("compile_step", ["eager", "graph_mode", "jit"])
def test_train_one_step_cell_updates_as_torch_with_the_loss_times_sens(sens, compile_step):
    net, module, x, y = _pair(1)
    opt = nn.SGD(net.trainable_params(), learning_rate=1e-4)
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), opt, sens=sens)
    torch_opt = torch.optim.SGD(module.parameters(), lr=1e-4)
    if compile_step == "graph_mode":
        funcad.set_context(mode=funcad.GRAPH_MODE)
    run = funcad.jit(step) if compile_step == "jit" else step
    for _ in range(3):
        loss = run(Tensor(x), Tensor(y))
        torch_opt.zero_grad()
        torch_loss = torch.nn.functional.cross_entropy(module(torch.from_numpy(x)), torch.from_numpy(y))
        (torch_loss * (1.0 if sens is None else sens)).backward()
        torch_opt.step()
        np.testing.assert_allclose(loss.item(), torch_loss.item(), rtol=1e-12)  # the unscaled loss comes back
    for p, q in zip(net.trainable_params(), module.parameters()):
        np.testing.assert_allclose(p.asnumpy(), q.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_train_one_step_cell_rejects_a_non_number_sens():
    net, *_ = _pair()
    with pytest.raises(TypeError, match="TrainOneStepCell: sens must be a number, got str"):
        nn.TrainOneStepCell(net, nn.SGD(net.trainable_params(), 0.1), sens="2")


@pytest.mark.parametrize("sparse", [True, False])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_softmax_cross_entropy_with_logits_matches_torch(sparse, reduction):
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((5, 4))
    labels = rng.integers(0, 4, 5)
    target = labels if sparse else np.eye(4)[labels]
    loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=sparse, reduction=reduction)
    t_logits = torch.from_numpy(logits).requires_grad_()
    expected = torch.nn.functional.cross_entropy(t_logits, torch.from_numpy(target), reduction=reduction)
    expected.backward(torch.ones_like(expected))
    out = loss_fn(Tensor(logits), Tensor(target))
    np.testing.assert_allclose(out.asnumpy(), expected.detach().numpy(), rtol=1e-12)
    g = funcad.grad(lambda z: loss_fn(z, Tensor(target)))(Tensor(logits))
    np.testing.assert_allclose(g.asnumpy(), t_logits.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_softmax_cross_entropy_with_logits_defaults_and_shape_errors():
    loss_fn = nn.SoftmaxCrossEntropyWithLogits()
    assert (loss_fn.sparse, loss_fn.reduction) == (False, "none")
    with pytest.raises(ValueError, match=r"one-hot or probability labels must have shape \(2, 3\) for logits \(2, 3\), got \(2,\)"):
        loss_fn(Tensor(np.zeros((2, 3))), Tensor(np.array([0, 1])))


def test_adam_amsgrad_follows_the_max_of_second_moments():
    rng = np.random.default_rng(4)
    w0 = rng.standard_normal(3)
    grads = [rng.standard_normal(3) * s for s in (3.0, 0.1, 0.1, 2.0)]  # large then small: amsgrad keeps the large v
    p = funcad.Parameter(w0.copy(), name="w")
    opt = nn.Adam([p], learning_rate=0.1, beta1=0.8, beta2=0.9, eps=1e-6, use_amsgrad=True)
    w, m, v, vhat = w0.copy(), np.zeros(3), np.zeros(3), np.zeros(3)
    for t, g in enumerate(grads, start=1):
        opt((Tensor(g),))
        m = 0.8 * m + 0.2 * g
        v = 0.9 * v + 0.1 * g * g
        vhat = np.maximum(vhat, v)
        w = w - 0.1 * math.sqrt(1 - 0.9**t) / (1 - 0.8**t) * m / (np.sqrt(vhat) + 1e-6)
        np.testing.assert_allclose(p.asnumpy(), w, rtol=1e-12)
    assert not np.allclose(vhat, v)  # the maximum mattered
    with pytest.raises(ValueError, match="use_nesterov and use_amsgrad cannot both be True"):
        nn.Adam([p], use_nesterov=True, use_amsgrad=True)


def test_dynamic_lr_lists_equal_mindspore_docstring_outputs():
    assert nn.piecewise_constant_lr([2, 5, 10], [0.1, 0.05, 0.01]) == [0.1, 0.1, 0.05, 0.05, 0.05, 0.01, 0.01, 0.01, 0.01, 0.01]
    np.testing.assert_allclose(nn.exponential_decay_lr(0.1, 0.9, 6, 2, 1), [0.1, 0.1, 0.09, 0.09, 0.081, 0.081], rtol=1e-12)
    np.testing.assert_allclose(nn.cosine_decay_lr(0.01, 0.1, 6, 2, 2), [0.1, 0.1, 0.055, 0.055, 0.01, 0.01], rtol=1e-12)
    np.testing.assert_allclose(nn.natural_exp_decay_lr(0.1, 0.9, 6, 2, 2, True),
                               [0.1, 0.1, 0.1, 0.1, 0.1 * math.exp(-1.8), 0.1 * math.exp(-1.8)], rtol=1e-12)
    np.testing.assert_allclose(nn.inverse_decay_lr(0.1, 0.5, 6, 1, 2, True),
                               [0.1, 0.1, 0.1 / 1.5, 0.1 / 1.5, 0.05, 0.05], rtol=1e-12)
    np.testing.assert_allclose(nn.polynomial_decay_lr(0.1, 0.01, 6, 2, 2, 0.5),
                               [0.1, 0.1, 0.01 + 0.09 * 0.5**0.5, 0.01 + 0.09 * 0.5**0.5, 0.01, 0.01], rtol=1e-12)
    np.testing.assert_allclose(nn.warmup_lr(0.1, 6, 2, 2), [0.0, 0.0, 0.05, 0.05, 0.1, 0.1], rtol=1e-12)
    with pytest.raises(ValueError, match="milestone must increase strictly"):
        nn.piecewise_constant_lr([3, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="exponential_decay_lr: step_per_epoch must be a positive int, got 0"):
        nn.exponential_decay_lr(0.1, 0.9, 6, 0, 1)


@pytest.mark.parametrize("schedule, closed_form", [
    (nn.ExponentialDecayLR(0.1, 0.9, 4), lambda s: 0.1 * 0.9 ** (s / 4)),
    (nn.ExponentialDecayLR(0.1, 0.9, 4, is_stair=True), lambda s: 0.1 * 0.9 ** (s // 4)),
    (nn.NaturalExpDecayLR(0.1, 0.9, 4), lambda s: 0.1 * math.exp(-0.9 * s)),
    (nn.NaturalExpDecayLR(0.1, 0.9, 4, is_stair=True), lambda s: 0.1 * math.exp(-0.9 * (s // 4 * 4))),
    (nn.InverseDecayLR(0.1, 0.5, 4, is_stair=True), lambda s: 0.1 / (1 + 0.5 * (s // 4))),
    (nn.CosineDecayLR(0.01, 0.1, 6), lambda s: 0.01 + 0.045 * (1 + math.cos(math.pi * min(s, 6) / 6))),
    (nn.PolynomialDecayLR(0.1, 0.01, 6, 2.0), lambda s: 0.09 * (1 - min(s, 6) / 6) ** 2 + 0.01),
    (nn.PolynomialDecayLR(0.1, 0.01, 4, 1.0, update_decay_steps=True),
     lambda s: 0.09 * (1 - s / (4 * max(1, math.ceil(s / 4)))) + 0.01),
    (nn.WarmUpLR(0.1, 5), lambda s: 0.1 * min(s, 5) / 5),
])
def test_learning_rate_schedule_cells_equal_their_closed_forms(schedule, closed_form):
    for step in range(0, 12):
        value = schedule(Tensor(np.array(step, np.int32)))
        assert value.dtype == np.float32
        np.testing.assert_allclose(value.item(), closed_form(step), rtol=2e-6, atol=1e-9)


@pytest.mark.parametrize("learning_rate, rates", [
    (nn.piecewise_constant_lr([2, 4], [0.5, 0.25]), [0.5, 0.5, 0.25, 0.25, 0.25]),
    (nn.ExponentialDecayLR(0.5, 0.5, 1), [0.5, 0.25, 0.125, 0.0625, 0.03125]),
])
def test_optimizer_takes_a_rate_list_or_a_schedule_eagerly_and_compiled(learning_rate, rates):
    for compiled in (False, True):
        p = funcad.Parameter(np.array([1.0, 2.0], np.float32), name="p")
        opt = nn.SGD([p], learning_rate=learning_rate)
        grad = Tensor(np.array([1.0, -1.0], np.float32))
        update = funcad.jit(opt) if compiled else opt
        expected = np.array([1.0, 2.0], np.float32)
        for rate in rates:
            update((grad,))
            expected = expected - np.float32(rate) * np.array([1.0, -1.0], np.float32)
        np.testing.assert_allclose(p.asnumpy(), expected, rtol=1e-6)


def test_metrics_accuracy_loss_mae_mse():
    acc = nn.Accuracy()
    acc.update(Tensor(np.array([[0.2, 0.5], [0.3, 0.1], [0.9, 0.6]])), Tensor(np.array([1, 0, 1])))  # MindSpore's example
    assert acc.eval() == pytest.approx(2 / 3)
    acc.update(np.array([[0.0, 1.0]]), np.array([[0.0, 1.0]]))  # one-hot labels
    assert acc.eval() == pytest.approx(3 / 4)
    acc.clear()
    with pytest.raises(RuntimeError, match="Accuracy.eval: no batch"):
        acc.eval()
    multi = nn.Accuracy("multilabel")
    multi.update(np.array([[0.9, 0.2], [0.8, 0.7]]), np.array([[1, 0], [1, 0]]))
    assert multi.eval() == 0.5
    loss = nn.Loss()
    loss.update(Tensor(np.array(0.2)))
    loss.update(Tensor(np.array([0.1, 0.5])))
    assert loss.eval() == pytest.approx((0.2 + 0.3) / 2)
    rng = np.random.default_rng(5)
    pred, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    mae, mse = nn.MAE(), nn.MSE()
    mae.update(pred, y)
    mse.update(pred, y)
    assert mae.eval() == pytest.approx(np.abs(pred - y).sum() / 4)
    assert mse.eval() == pytest.approx(np.square(pred - y).sum() / 4)
    assert isinstance(nn.get_metric_fn("acc"), nn.Accuracy)
    with pytest.raises(ValueError, match="unknown metric 'f2'"):
        nn.get_metric_fn("f2")


def test_class_metrics_equal_scikit_learn_over_batches():
    from sklearn.metrics import f1_score, fbeta_score, precision_score, recall_score, top_k_accuracy_score

    rng = np.random.default_rng(9)
    scores, labels = rng.standard_normal((60, 6)), rng.integers(0, 5, 60)  # class 5 is never a label
    metrics = {"precision": nn.Precision(), "recall": nn.Recall(), "f1": nn.get_metric_fn("f1"), "f0.5": nn.Fbeta(0.5),
               "top1": nn.Top1CategoricalAccuracy(), "top3": nn.TopKCategoricalAccuracy(3), "top5": nn.get_metric_fn("top_5_accuracy")}
    for part in (slice(0, 25), slice(25, 60)):
        one_hot = np.eye(6)[labels[part]]
        for metric in metrics.values():
            metric.update(Tensor(scores[part]), one_hot if part.start else labels[part])
    predicted = scores.argmax(1)
    every = {"labels": range(6), "average": None, "zero_division": 0}
    np.testing.assert_allclose(metrics["precision"].eval(), precision_score(labels, predicted, **every), rtol=1e-12)
    np.testing.assert_allclose(metrics["recall"].eval(), recall_score(labels, predicted, **every), rtol=1e-12)
    np.testing.assert_allclose(metrics["f1"].eval(), f1_score(labels, predicted, **every), rtol=1e-12)
    np.testing.assert_allclose(metrics["f0.5"].eval(), fbeta_score(labels, predicted, beta=0.5, **every), rtol=1e-12)
    assert metrics["recall"].eval(average=True) == pytest.approx(recall_score(labels, predicted, **every).mean())
    for name, k in (("top1", 1), ("top3", 3), ("top5", 5)):
        assert metrics[name].eval() == pytest.approx(top_k_accuracy_score(labels, scores, k=k, labels=range(6)))
    with pytest.raises(ValueError, match=r"TopKCategoricalAccuracy: k must be a positive int, got 0"):
        nn.TopKCategoricalAccuracy(0)
    with pytest.raises(ValueError, match=r"Precision: labels \(3,\) do not match scores \(2, 4\)"):
        nn.Precision().update(np.zeros((2, 4)), np.zeros(3, int))
    with pytest.raises(ValueError, match=r"labels \(2,\) do not match scores \(3, 2\)"):
        nn.Accuracy().update(np.zeros((3, 2)), np.zeros(2))
