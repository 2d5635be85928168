"""The optimizer's fixed learning rate held in a Parameter, as MindSpore holds it: changed by ``ops.assign``, by
assignment, or by MindSpore's ``LearningRateScheduler`` callback, the new rate is the one the next step uses, eagerly
and in compiled steps; and a weight decay scheduled by a Cell of the step. Checked against SGD and Momentum computed by
hand in float64."""

from __future__ import annotations

import numpy as np
import pytest

import funcad
from funcad import Tensor, nn, ops
from funcad.dataset import NumpySlicesDataset
from funcad.train import LearningRateScheduler, Model

RNG = np.random.default_rng(5)
X = RNG.standard_normal((12, 3))
Y = RNG.standard_normal((12, 1))
W0 = RNG.standard_normal((1, 3))


def _linear():
    net = nn.Dense(3, 1, has_bias=False, dtype=funcad.float64)
    net.weight.set_data(Tensor(W0.copy()))
    return net


def _by_hand(rates, batches):
    """Plain SGD on the mean squared error of x @ w.T against y, one rate per step."""
    w = W0.copy()
    for lr, (x, y) in zip(rates, batches):
        w = w - lr * (2.0 / y.size) * (x @ w.T - y).T @ x
    return w


def _batches(steps):
    return [(X[4 * (i % 3): 4 * (i % 3) + 4], Y[4 * (i % 3): 4 * (i % 3) + 4]) for i in range(steps)]


@pytest.mark.parametrize("mode", ["PYNATIVE_MODE", "GRAPH_MODE"])
def test_learning_rate_scheduler_sets_the_rate_each_step_uses(mode):
    def halve_every_two(lr, step):
        return lr * 0.5 if step % 2 == 0 else lr

    seen = []

    def recording(lr, step):
        seen.append((lr, step))
        return halve_every_two(lr, step)

    funcad.set_context(mode=getattr(funcad, mode))
    try:
        net = _linear()
        optimizer = nn.SGD(net.trainable_params(), 0.1)
        model = Model(net, nn.MSELoss(), optimizer)
        data = NumpySlicesDataset({"x": X, "y": Y}, shuffle=False).batch(4)
        model.train(2, data, callbacks=[LearningRateScheduler(recording)])
    finally:
        funcad.set_context(mode=funcad.PYNATIVE_MODE)
    rates = [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    assert seen == [(r, i + 1) for i, r in enumerate(rates)]  # the rate as a float, the steps done from 1
    np.testing.assert_allclose(net.weight.asnumpy(), _by_hand(rates, _batches(6)), rtol=1e-13)
    assert float(optimizer.learning_rate) == 0.0125


@pytest.mark.parametrize("change", ["assign", "attribute", "set_data"])
def test_a_changed_rate_reaches_a_step_compiled_before_the_change(change):
    net = _linear()
    optimizer = nn.SGD(net.trainable_params(), 0.1)
    train = nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()), optimizer)
    step = funcad.jit(train)
    batches = _batches(4)
    for i, (x, y) in enumerate(batches):
        if i == 2:
            if change == "assign":
                ops.assign(optimizer.learning_rate, Tensor(0.03, funcad.float64))
            elif change == "attribute":
                optimizer.learning_rate = 0.03
            else:
                optimizer.learning_rate.set_data(Tensor(np.float64(0.03)))
        step(Tensor(x), Tensor(y))
    np.testing.assert_allclose(net.weight.asnumpy(), _by_hand([0.1, 0.1, 0.03, 0.03], batches), rtol=1e-13)


def test_the_rate_parameter_keeps_the_rate_as_written_and_get_lr_gives_float32():
    net = _linear()
    optimizer = nn.SGD(net.trainable_params(), 0.1)
    rate = optimizer.learning_rate
    assert isinstance(rate, funcad.Parameter) and rate.name == "learning_rate" and rate.asnumpy() == 0.1
    assert optimizer.get_lr_parameter(net.weight) is rate
    lr = optimizer.get_lr()
    assert lr.dtype == funcad.float32 and lr.asnumpy() == np.float32(0.1)
    x, y = _batches(1)[0]
    grads = (Tensor((2.0 / y.size) * (x @ W0.T - y).T @ x),)
    optimizer(grads)
    np.testing.assert_array_equal(net.weight.asnumpy(), W0 - 0.1 * grads[0].asnumpy())  # float64: 0.1 as written


def test_a_users_parameter_as_the_rate_is_shared():
    net = _linear()
    rate = funcad.Parameter(Tensor(np.float64(0.2)), name="lr", requires_grad=False)
    optimizer = nn.SGD(net.trainable_params(), rate)
    assert optimizer.learning_rate is rate
    rate.set_data(Tensor(np.float64(0.05)))
    grads = (Tensor(np.ones((1, 3))),)
    optimizer(grads)
    np.testing.assert_allclose(net.weight.asnumpy(), W0 - 0.05, rtol=1e-15)


def test_learning_rate_scheduler_refuses_what_it_cannot_change():
    with pytest.raises(TypeError, match="LearningRateScheduler: learning_rate_function must be callable"):
        LearningRateScheduler(0.1)
    net = _linear()
    optimizer = nn.SGD(net.trainable_params(), [0.1, 0.05])
    model = Model(net, nn.MSELoss(), optimizer)
    data = NumpySlicesDataset({"x": X, "y": Y}, shuffle=False).batch(4)
    with pytest.raises(ValueError, match="LearningRateScheduler: the run needs an optimizer with one fixed learning rate.*StepTable"):
        model.train(1, data, callbacks=[LearningRateScheduler(lambda lr, step: lr)])
    with pytest.raises(ValueError, match="SGD: learning_rate must be a non-negative number, got -0.5"):
        nn.SGD(net.trainable_params(), 0.1).learning_rate = -0.5


class ExponentialWeightDecay(nn.Cell):
    """MindSpore's optimizer tutorial's dynamic weight decay: weight_decay * decay_rate ** (step / decay_steps)."""

    def __init__(self, weight_decay, decay_rate, decay_steps):
        super().__init__()
        self.weight_decay, self.decay_rate, self.decay_steps = weight_decay, decay_rate, decay_steps

    def construct(self, global_step):
        return self.weight_decay * ops.pow(self.decay_rate, global_step / self.decay_steps)


@pytest.mark.parametrize("compiled", [False, True])
def test_a_weight_decay_cell_of_the_step_decays_each_update_by_its_value(compiled):
    """MindSpore's dynamic weight decay: the Cell is called on the steps done before the update; the default filter
    still leaves 'beta'/'gamma' undecayed. Momentum by hand in float64."""
    w = funcad.Parameter(Tensor(W0.copy()), name="w")
    gamma = funcad.Parameter(Tensor(np.ones(3)), name="gamma")
    optimizer = nn.Momentum([w, gamma], 0.1, 0.9, weight_decay=ExponentialWeightDecay(0.2, 0.5, 2))
    grads = [(Tensor(RNG.standard_normal((1, 3))), Tensor(RNG.standard_normal(3))) for _ in range(4)]
    step = funcad.jit(optimizer) if compiled else optimizer
    for g in grads:
        step(g)
    want_w, want_gamma, v_w, v_gamma = W0.copy(), np.ones(3), 0.0, 0.0
    for t, (gw, gg) in enumerate(grads):
        decayed = gw.asnumpy() + 0.2 * 0.5 ** (t / 2) * want_w
        v_w, v_gamma = 0.9 * v_w + decayed, 0.9 * v_gamma + gg.asnumpy()
        want_w, want_gamma = want_w - 0.1 * v_w, want_gamma - 0.1 * v_gamma
    np.testing.assert_allclose(w.asnumpy(), want_w, rtol=1e-6)
    np.testing.assert_allclose(gamma.asnumpy(), want_gamma, rtol=1e-12)


def test_a_weight_decay_schedule_returning_a_vector_is_refused():
    optimizer = nn.SGD([funcad.Parameter(Tensor(np.ones(2)), name="w")], 0.1, weight_decay=lambda step: Tensor(np.ones(2)))
    with pytest.raises(ValueError, match="SGD: the weight_decay callable must return a number or a 0-d"):
        optimizer((Tensor(np.ones(2)),))
