"""funcad.amp (auto_mixed_precision levels, loss scalers, all_finite) and funcad.train.Model with callbacks."""

import re

import numpy as np
import pytest
import torch

import funcad
from funcad import Tensor, nn, ops
from funcad.amp import DynamicLossScaler, StaticLossScaler, all_finite, auto_mixed_precision
from funcad.train import Callback, LossMonitor, Model, TimeMonitor


def _net(seed=0):
    funcad.set_seed(seed)
    return nn.SequentialCell(nn.Dense(6, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Dense(5, 3))


def _numpy_forward(net, x, dense_dtype, bn_dtype):
    """Eval-mode forward in numpy with each kind of layer computed in the dtype given."""
    w1, b1, gamma, beta, w2, b2 = (p.asnumpy() for p in net.trainable_params())
    mean, var = net[1].moving_mean.asnumpy(), net[1].moving_variance.asnumpy()

    def dense(h, w, b):
        return h.astype(dense_dtype) @ w.astype(dense_dtype).T + b.astype(dense_dtype)

    h = dense(x, w1, b1).astype(bn_dtype)
    h = (h - mean.astype(bn_dtype)) / np.sqrt(var.astype(bn_dtype) + bn_dtype(1e-5)) * gamma.astype(bn_dtype) + beta.astype(bn_dtype)
    return dense(np.maximum(h, 0), w2, b2).astype(np.float32)


@pytest.mark.parametrize("level, dense_dtype, bn_dtype", [
    ("O0", np.float32, np.float32), ("O1", np.float16, np.float32), ("O2", np.float16, np.float32), ("O3", np.float16, np.float16),
])
def test_auto_mixed_precision_levels_compute_each_layer_in_its_dtype_on_float32_parameters(level, dense_dtype, bn_dtype):
    net = _net()
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    assert auto_mixed_precision(net, level) is net
    out = net(Tensor(x))
    assert out.dtype == np.float32
    tol = 1e-6 if level == "O0" else 5e-3
    np.testing.assert_allclose(out.asnumpy(), _numpy_forward(net, x, dense_dtype, bn_dtype), rtol=tol, atol=tol)
    assert all(p.dtype == np.float32 for _, p in net.parameters_and_names())


@pytest.mark.parametrize("lists, dense_dtype, bn_dtype", [
    ({"white_list": [nn.Dense]}, np.float16, np.float32), ({"white_list": [nn.BatchNorm1d]}, np.float32, np.float16),
    ({"black_list": [nn.BatchNorm1d]}, np.float16, np.float32), ({"black_list": []}, np.float16, np.float16),
])
def test_custom_mixed_precision_computes_the_listed_cells_as_told(lists, dense_dtype, bn_dtype):
    from funcad import amp

    net = _net()
    x = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    assert amp.custom_mixed_precision(net, **lists) is net
    out = net(Tensor(x))
    assert out.dtype == np.float32
    inherited = getattr(net, "_compute_dtype", None) or np.float32  # a Cell without its own computes in its parent's
    computes = [np.dtype(getattr(cell, "_compute_dtype", None) or inherited) for cell in (net[0], net[1], net[3])]
    assert computes == [np.dtype(dense_dtype), np.dtype(bn_dtype), np.dtype(dense_dtype)]
    np.testing.assert_allclose(out.asnumpy(), _numpy_forward(net, x, dense_dtype, bn_dtype), rtol=5e-3, atol=5e-3)
    assert amp.get_white_list() == list(amp.AMP_WHITE_LIST) and amp.get_black_list() == list(amp.AMP_BLACK_LIST)
    with pytest.raises(ValueError, match="custom_mixed_precision: give exactly one of white_list and black_list"):
        amp.custom_mixed_precision(_net(), white_list=[nn.Dense], black_list=[nn.BatchNorm1d])
    with pytest.raises(TypeError, match="custom_mixed_precision: white_list must be a list of Cell classes"):
        amp.custom_mixed_precision(_net(), white_list=["MatMul"])


def test_auto_mixed_precision_rejects_unknown_levels_and_non_cells():
    with pytest.raises(ValueError, match="amp_level must be one of O0, O1, O2, O3, got 'O4'"):
        auto_mixed_precision(_net(), "O4")
    with pytest.raises(TypeError, match="network must be a Cell, got function"):
        auto_mixed_precision(lambda x: x, "O2")


def test_loss_scalers_scale_unscale_and_adjust_as_mindspore():
    static = StaticLossScaler(1024)
    loss = Tensor(np.array(0.5, np.float32))
    assert static.scale(loss).item() == 512.0
    g1, g2 = static.unscale((Tensor(np.array([1024.0, 2048.0], np.float32)), Tensor(np.array(512.0, np.float32))))
    np.testing.assert_array_equal(g1.asnumpy(), [1.0, 2.0])
    assert g2.item() == 0.5 and static.adjust(True) is False

    def expected_scales(scale, factor, window, finites):
        counter, out = 0, []
        for finite in finites:
            if finite:
                if counter == window - 1 and np.isfinite(scale * factor):
                    scale *= factor
                counter = (counter + 1) % window
            else:
                scale, counter = max(scale / factor, 1.0), 0
            out.append(scale)
        return out

    finites = [True, True, True, False, True, True, True, True, False, False]
    for compiled in (False, True):
        dynamic = DynamicLossScaler(scale_value=2**16, scale_factor=2, scale_window=3)
        adjust = funcad.jit(dynamic.adjust) if compiled else dynamic.adjust
        seen = []
        for finite in finites:
            adjust(Tensor(np.array(finite)))
            seen.append(dynamic.scale_value.item())
        assert seen == expected_scales(2.0**16, 2.0, 3, finites)
    tiny = DynamicLossScaler(scale_value=2, scale_factor=4, scale_window=1)
    tiny.adjust(False)
    assert tiny.scale_value.item() == 1.0  # never below 1
    with pytest.raises(ValueError, match="scale_window must be a positive int, got 0"):
        DynamicLossScaler(8, 2, 0)


def test_all_finite_eagerly_and_compiled():
    ok = (Tensor(np.ones(3)), Tensor(np.zeros((2, 2), np.float16)))
    bad = (Tensor(np.ones(3)), Tensor(np.array([1.0, np.inf])))
    nan = Tensor(np.array([np.nan], np.float32))
    assert all_finite(ok).item() is True and all_finite(bad).item() is False and all_finite(nan).item() is False
    compiled = funcad.jit(all_finite)
    assert compiled(ok).item() is True and compiled(bad).item() is False


def _batches(seed=0, n=4):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((8, 6)).astype(np.float32), rng.integers(0, 3, 8).astype(np.int32)) for _ in range(n)]


def _torch_twin(net):
    module = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    with torch.no_grad():
        for p, q in zip(module.parameters(), net.trainable_params()):
            p.copy_(torch.from_numpy(q.asnumpy()))
    return module


@pytest.mark.parametrize("mode", ["pynative", "graph"])
def test_model_train_equals_a_torch_loop_and_loss_monitor_prints_each_step(mode, capsys):
    if mode == "graph":
        funcad.set_context(mode=funcad.GRAPH_MODE)
    funcad.set_seed(1)
    net = nn.SequentialCell(nn.Dense(6, 5), nn.ReLU(), nn.Dense(5, 3))
    module = _torch_twin(net)
    data = _batches()
    model = Model(net, nn.CrossEntropyLoss(), nn.SGD(net.trainable_params(), 0.1), metrics={"Accuracy": nn.Accuracy()})
    model.train(2, data, callbacks=[LossMonitor(2), TimeMonitor()])
    torch_opt = torch.optim.SGD(module.parameters(), lr=0.1)
    losses = []
    for _ in range(2):
        for x, y in data:
            torch_opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(module(torch.from_numpy(x)), torch.from_numpy(y).long())
            loss.backward()
            torch_opt.step()
            losses.append(loss.item())
    for p, q in zip(net.trainable_params(), module.parameters()):
        np.testing.assert_allclose(p.asnumpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)
    lines = capsys.readouterr().out.splitlines()
    loss_lines = [line for line in lines if line.startswith("epoch")]
    assert [line.split(", loss is")[0] for line in loss_lines] == ["epoch: 1 step: 2", "epoch: 1 step: 4", "epoch: 2 step: 2", "epoch: 2 step: 4"]
    printed = [float(line.split("loss is ")[1]) for line in loss_lines]
    np.testing.assert_allclose(printed, [losses[1], losses[3], losses[5], losses[7]], rtol=1e-5)
    assert sum(bool(re.fullmatch(r"Train epoch time: [0-9.]+ ms, per step time: [0-9.]+ ms", line)) for line in lines) == 2


def test_model_eval_and_predict_match_numpy():
    funcad.set_seed(2)
    net = nn.SequentialCell(nn.Dense(6, 5), nn.ReLU(), nn.Dense(5, 3))
    model = Model(net, nn.CrossEntropyLoss(), metrics={"Accuracy": nn.Accuracy(), "Loss": nn.Loss()})
    data = _batches(3)
    w1, b1, w2, b2 = (p.asnumpy().astype(np.float64) for p in net.trainable_params())
    right, losses = 0, []
    for x, y in data:
        logits = np.maximum(x @ w1.T + b1, 0) @ w2.T + b2
        right += int(np.sum(logits.argmax(1) == y))
        logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        losses.append(-logp[np.arange(len(y)), y].mean())
    result = model.eval(data)
    assert result["Accuracy"] == right / 32
    assert result["Loss"] == pytest.approx(np.mean(losses), rel=1e-5)
    x = data[0][0]
    np.testing.assert_allclose(model.predict(Tensor(x)).asnumpy(), np.maximum(x @ w1.T + b1, 0) @ w2.T + b2, rtol=1e-5, atol=1e-6)
    assert set(Model(net, nn.CrossEntropyLoss(), metrics={"accuracy", "loss"}).eval(data)) == {"accuracy", "loss"}


def test_model_callbacks_can_stop_and_see_the_run():
    class StopAfterThree(Callback):
        def __init__(self):
            self.seen = []

        def on_train_step_end(self, run_context):
            cb = run_context.original_args()
            self.seen.append((cb.cur_epoch_num, cb.cur_step_num, cb.batch_num))
            if cb.cur_step_num == 3:
                run_context.request_stop()

    class OldStyle(Callback):
        def __init__(self):
            self.calls = []

        def begin(self, run_context):
            self.calls.append("begin")

        def epoch_end(self, run_context):
            self.calls.append("epoch_end")

        def end(self, run_context):
            self.calls.append("end")

    funcad.set_seed(3)
    net = nn.Dense(6, 3)
    stop, old = StopAfterThree(), OldStyle()
    Model(net, nn.CrossEntropyLoss(), nn.SGD(net.trainable_params(), 0.1)).train(5, _batches(n=2), callbacks=[stop, old])
    assert stop.seen == [(1, 1, 2), (1, 2, 2), (2, 3, 2)]
    assert old.calls == ["begin", "epoch_end", "epoch_end", "end"]


def test_a_model_of_a_training_cell_trains_by_calling_it():
    """Model(TrainOneStepCell(...)).train: no loss_fn, no optimizer, the cell is the step (MindSpore's model-zoo form)."""
    funcad.set_seed(3)
    net, reference = nn.Dense(6, 3), nn.Dense(6, 3)
    reference.weight.set_data(net.weight.asnumpy().copy())
    reference.bias.set_data(net.bias.asnumpy().copy())
    batches, start = _batches(n=3), net.weight.asnumpy().copy()
    Model(nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), nn.SGD(net.trainable_params(), 0.1))).train(2, batches)
    Model(reference, nn.CrossEntropyLoss(), nn.SGD(reference.trainable_params(), 0.1)).train(2, batches)
    np.testing.assert_array_equal(net.weight.asnumpy(), reference.weight.asnumpy())
    assert not np.array_equal(net.weight.asnumpy(), start)  # it trained


def test_model_errors_name_what_is_missing():
    net = nn.Dense(6, 3)
    with pytest.raises(RuntimeError, match="Model.train: the Model was made without an optimizer"):
        Model(net, nn.CrossEntropyLoss()).train(1, _batches())
    with pytest.raises(RuntimeError, match="Model.eval: the Model was made without metrics"):
        Model(net, nn.CrossEntropyLoss()).eval(_batches())
    with pytest.raises(TypeError, match="batch 0 must be a non-empty tuple of arrays"):
        Model(net, nn.CrossEntropyLoss(), nn.SGD(net.trainable_params(), 0.1)).train(1, [np.zeros(3)])
    with pytest.raises(TypeError, match="unsupported argument\\(s\\) boost_config"):
        Model(net, nn.CrossEntropyLoss(), boost_config={})
    with pytest.raises(ValueError, match="initial_epoch \\(2\\) must be below epoch \\(2\\)"):
        Model(net, nn.CrossEntropyLoss(), nn.SGD(net.trainable_params(), 0.1)).train(2, _batches(), initial_epoch=2)
    with pytest.raises(ValueError, match="LossMonitor: epoch 1 step 1: loss is nan"), np.errstate(invalid="ignore"):
        Model(net, lambda out, y: ops.log(out * 0.0 - 1.0).sum(), nn.SGD(net.trainable_params(), 0.1)).train(
            1, _batches(), callbacks=[LossMonitor()])


def _mlp_step_inputs(seed=6):
    funcad.set_seed(seed)
    net = nn.SequentialCell(nn.Dense(6, 5), nn.ReLU(), nn.Dense(5, 3))
    x, y = _batches(seed, 1)[0]
    return net, Tensor(x), Tensor(y)


def _state(optimizer):
    return [p.asnumpy().copy() for p in (*optimizer.parameters, *optimizer.moment1, *optimizer.moment2, optimizer.global_step)]


@pytest.mark.parametrize("compiled", [False, True])
def test_loss_scaled_step_with_a_power_of_two_scale_equals_the_plain_step_bitwise(compiled):
    net, x, y = _mlp_step_inputs()
    twin = __import__("copy").deepcopy(net)
    opt, twin_opt = nn.Adam(net.trainable_params(), 1e-2), nn.Adam(twin.trainable_params(), 1e-2)
    scaled = nn.TrainOneStepWithLossScaleCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), opt, scale_sense=1024.0)
    plain = nn.TrainOneStepCell(nn.WithLossCell(twin, nn.CrossEntropyLoss()), twin_opt)
    if compiled:
        scaled, plain = funcad.jit(scaled), funcad.jit(plain)
    for _ in range(3):
        loss, overflow, scale = scaled(x, y)
        expected = plain(x, y)
        assert loss.item() == expected.item() and overflow.item() is False and scale.item() == 1024.0
    for a, b in zip(_state(opt), _state(twin_opt)):
        np.testing.assert_array_equal(a, b)  # scaling by 2**10 and back is exact


@pytest.mark.parametrize("compiled", [False, True])
def test_an_overflowing_step_changes_no_parameter_or_optimizer_state_and_halves_a_dynamic_scale(compiled):
    net, x, y = _mlp_step_inputs(7)
    opt = nn.Adam(net.trainable_params(), 1e-2)
    scaler = nn.DynamicLossScaleUpdateCell(loss_scale_value=2.0**100, scale_factor=2, scale_window=2)
    step = nn.TrainOneStepWithLossScaleCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), opt, scale_sense=scaler)
    run = funcad.jit(step) if compiled else step
    before = _state(opt)
    with np.errstate(all="ignore"):
        loss, overflow, scale = run(x * 1e20, y)  # gradients of about 2**100 * 1e20 overflow float32
    assert overflow.item() is True and scale.item() == 2.0**99 and np.isfinite(loss.item())  # the scale after the update
    for a, b in zip(_state(opt), before):
        np.testing.assert_array_equal(a, b)
    assert scaler.scale_value.item() == 2.0**99 and scaler.get_loss_scale() == 2.0**100  # MindSpore's: the initial value
    scaler.scale_value.set_data(np.float32(2.0**10))
    with np.errstate(all="ignore"):
        run(x, y)
    assert opt.global_step.item() == 1 and not np.array_equal(_state(opt)[0], before[0])  # a finite step updates


def test_without_drop_overflow_update_the_optimizer_s_loss_scale_divides_and_an_overflowing_step_still_updates():
    """MindSpore's FixedLossScaleManager(scale, False) has no update cell: TrainOneStepCell(sens=scale) hands the
    optimizer scaled gradients, which an optimizer made with loss_scale=scale divides (the model zoo's pattern)."""
    net, x, y = _mlp_step_inputs(8)
    reference = [p.asnumpy().copy() for p in net.trainable_params()]
    grads = funcad.grad(lambda a, b: nn.CrossEntropyLoss()(net(a), b), None, net.trainable_params())(x, y)
    opt = nn.SGD(net.trainable_params(), 1e-2, loss_scale=1024.0)
    manager = funcad.amp.FixedLossScaleManager(1024.0, drop_overflow_update=False)
    assert manager.get_update_cell() is None
    step = funcad.amp.build_train_network(net, opt, nn.CrossEntropyLoss(), level="O0", loss_scale_manager=manager)
    assert type(step) is nn.TrainOneStepCell and step.sens == 1024.0
    loss = step(x, y)
    assert isinstance(loss, funcad.Tensor) and loss.shape == ()
    for p, before, g in zip(net.trainable_params(), reference, grads):
        np.testing.assert_allclose(p.asnumpy(), before - 1e-2 * g.asnumpy(), rtol=1e-5, atol=1e-7)
    with np.errstate(all="ignore"):
        step(x * 1e37, y)  # 1e37 * 1024 overflows float32
    assert not np.all(np.isfinite(net[0].weight.asnumpy()))


def test_build_train_network_and_model_with_a_loss_scale_manager_train_as_without_scaling():
    data = _batches(9, 3)
    results = []
    for manager in (None, funcad.amp.FixedLossScaleManager(), funcad.amp.DynamicLossScaleManager(2.0**12, 2, 2)):
        funcad.set_seed(9)
        net = nn.SequentialCell(nn.Dense(6, 5), nn.ReLU(), nn.Dense(5, 3))
        Model(net, nn.CrossEntropyLoss(), nn.SGD(net.trainable_params(), 0.1), loss_scale_manager=manager).train(2, data)
        results.append([p.asnumpy() for p in net.trainable_params()])
    for scaled in results[1:]:
        for a, b in zip(scaled, results[0]):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)  # scales of 2**k round only where float32 does
    funcad.set_seed(9)
    net = nn.SequentialCell(nn.Dense(6, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Dense(5, 3))
    step = funcad.amp.build_train_network(net, nn.SGD(net.trainable_params(), 0.1), nn.CrossEntropyLoss(), level="O2")
    assert isinstance(step, nn.TrainOneStepWithLossScaleCell) and step.scale_sense.item() == 2.0**24
    assert net._compute_dtype == np.float16 and net[1]._compute_dtype == np.float32  # BatchNorm stays float32
    with pytest.raises(TypeError, match="loss_scale_manager must be a LossScaleManager .*, got object"):
        Model(net, nn.CrossEntropyLoss(), nn.SGD(net.trainable_params(), 0.1), loss_scale_manager=object())


class _PredictionAndLabels(nn.Cell):
    """An eval network returning (prediction, *labels), as MindSpore's metrics tutorial writes one."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def construct(self, data, *labels):
        return (self.net(data), *labels)


def test_eval_with_an_eval_network_follows_mindspore_s_rule_for_metric_inputs():
    """Without eval_indexes every metric takes all the eval network's outputs; with them, (loss, prediction, label)."""
    net = nn.Dense(1, 1, weight_init="zeros", bias_init="zeros")  # predicts 0
    data, five = (funcad.Tensor(np.full((2, 1), v, np.float32)) for v in (1.0, 5.0))
    seven = funcad.Tensor(np.full(2, 7.0, np.float32))
    assert Model(net, eval_network=_PredictionAndLabels(net), metrics={"mae": nn.MAE()}).eval([(data, five)]) == {"mae": 5.0}
    picked = Model(net, eval_network=_PredictionAndLabels(net), metrics={"mae": nn.MAE(), "loss": nn.Loss()}, eval_indexes=[2, 0, 1])
    assert picked.eval([(data, five, seven)]) == {"mae": 5.0, "loss": 7.0}  # loss: output 2 (7); prediction 0 vs label 5
    with pytest.raises(ValueError, match=r"eval_indexes \[2, 0, 1\] need an eval network with at least 3 outputs, got 2"):
        picked.eval([(data, five)])
