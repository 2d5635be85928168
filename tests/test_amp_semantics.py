"""Mixed precision as MindSpore 2.x defines it: programs written as MindSpore users write them (imports changed to
funcad), checked against numpy computations of what MindSpore's source does (mindspore/nn/cell.py ``to_float``,
mindspore/train/amp.py, mindspore/amp.py, mindspore/nn/wrap/loss_scale.py, mindspore/train/loss_scale_manager.py).
The inputs are chosen so that float16 and float32 give visibly different results (1.0001 is 1.0 in float16, and
70000 overflows float16); each expected value below is also what MindSpore 2.10 computes on the CPU in graph mode.
"""

import numpy as np
import pytest

import funcad as ms
from funcad import Parameter, Tensor, amp, nn, ops
from funcad.train import Model

F16, F32 = np.float16, np.float32
X = np.array([[1.0001, -2.0, 3.0]], F32)


@pytest.fixture(autouse=True)
def _overflow_is_expected():
    """float16 sums overflowing to inf are what several of these tests look for: numpy need not warn of them."""
    with np.errstate(over="ignore"):
        yield


class Child(nn.Cell):
    def __init__(self):
        super().__init__()
        self.w = Parameter(Tensor(np.array([1.0001], F32)), name="w")

    def construct(self, x):
        return x * self.w


class MakesItsOwnInput(nn.Cell):
    """Hands its child a float32 tensor made inside construct (no input of the parent's to cast)."""

    def __init__(self):
        super().__init__()
        self.child = Child()

    def construct(self, x):
        made = ops.ones((1,), ms.float32) * 1.0001
        return self.child(made), x


class ReadsChildWeight(nn.Cell):
    def __init__(self):
        super().__init__()
        self.child = Child()

    def construct(self, x):
        return self.child(x * 1.0), x * self.child.w


def _values(outputs):
    return [(np.dtype(o.dtype), o.asnumpy().tolist()) for o in outputs]


@pytest.mark.parametrize("mode", [ms.PYNATIVE_MODE, ms.GRAPH_MODE])
def test_to_float_reaches_every_sub_cell_and_the_last_call_wins(mode):
    """MindSpore's graph-mode casts: a Cell's inputs and the Parameters its construct reads, in its own type."""
    ms.set_context(mode=mode)
    one = F32(1.0001)
    net = MakesItsOwnInput().to_float(ms.float16)
    # the child casts the float32 tensor made inside its parent: 1.0001 * 1.0001 in float16
    assert _values(net(Tensor(np.array([1.0001], F32)))) == [(np.dtype(F16), [float(F16(one) * F16(one))]),
                                                              (np.dtype(F16), [float(F16(one))])]
    net = ReadsChildWeight()
    net.to_float(ms.float16)
    net.child.to_float(ms.float32)  # later, so it wins inside the child
    inner, direct = net(Tensor(np.array([1.0001], F32)))
    assert np.dtype(inner.dtype) == F32 and inner.asnumpy().tolist() == [float(F32(F16(one)) * one)]
    # the parent's own construct reads the child's weight in the parent's type
    assert np.dtype(direct.dtype) == F16 and direct.asnumpy().tolist() == [float(F16(one) * F16(one))]
    net = ReadsChildWeight()
    net.child.to_float(ms.float32)
    net.to_float(ms.float16)  # later, so it overwrites the child's float32
    inner, _ = net(Tensor(np.array([1.0001], F32)))
    assert np.dtype(inner.dtype) == F16 and inner.asnumpy().tolist() == [float(F16(one) * F16(one))]
    assert all(np.dtype(p.dtype) == F32 for p in net.get_parameters())  # the stored weights stay float32


class FcNet(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(3, 2, weight_init="ones", bias_init="zeros")
        self.relu = nn.ReLU()

    def construct(self, x):
        h = self.fc(x)
        return h + 70000.0, self.relu(x), x + 70000.0


class BNNet(nn.Cell):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm1d(3)

    def construct(self, x):
        h = self.bn(x)
        return h + 70000.0, h


def _fc_reference(dense_low: bool, relu_low: bool, rest_low: bool, dense_out_low: bool):
    """FcNet's outputs with each part computed in float16 (``*_low``) or float32; weight ones, bias zeros."""
    low = (lambda v: v.astype(F16)) if dense_low else (lambda v: v)
    h = (low(X) @ low(np.ones((3, 2), F32))).astype(F32)
    with np.errstate(over="ignore"):  # 70000 is inf in float16
        h_plus = (h.astype(F16) + F16(70000.0)) if dense_out_low or rest_low else h + F32(70000.0)
        x_plus = X.astype(F16) + F16(70000.0) if rest_low else X + F32(70000.0)
    relu = np.maximum(X.astype(F16) if relu_low else X, 0)
    return [a.astype(F32).tolist() for a in (h_plus, relu, x_plus)]


@pytest.mark.parametrize("how, expected", [
    # O1: Dense computes in float16 and returns float32; ReLU (MindSpore's ReLU primitive is white-listed) too
    (lambda net: amp.auto_mixed_precision(net, "O1"), _fc_reference(True, True, False, False)),
    (lambda net: amp.auto_mixed_precision(net, "O3"), _fc_reference(True, True, True, True)),
    (lambda net: amp.custom_mixed_precision(net, white_list=[nn.Dense]), _fc_reference(True, False, False, False)),
    # a black-listed Cell computes in float32 and hands float16 on
    (lambda net: amp.custom_mixed_precision(net, black_list=[nn.Dense]), _fc_reference(False, True, True, True)),
])
def test_levels_and_custom_lists_compute_and_return_each_cell_in_mindspore_s_types(how, expected):
    out = how(FcNet())(Tensor(X))
    assert all(np.dtype(o.dtype) == F32 for o in out)
    assert [o.asnumpy().tolist() for o in out] == expected


class DenseOnly(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(3, 2, weight_init="ones", bias_init="zeros")

    def construct(self, x):
        return self.fc(x)


def test_o1_leaves_a_cell_whose_precision_the_user_set():
    assert amp.auto_mixed_precision(DenseOnly(), "O1")(Tensor(X)).asnumpy().tolist() == [[2.0, 2.0]]  # 1.0001 - 2 + 3 in float16
    seq = amp.auto_mixed_precision(nn.SequentialCell([nn.Dense(3, 2, weight_init="ones", bias_init="zeros"), nn.ReLU()]), "O1")
    out = seq(Tensor(X))
    assert np.dtype(out.dtype) == F32 and out.asnumpy().tolist() == [[2.0, 2.0]]
    net = DenseOnly()
    net.fc.to_float(ms.float32)
    out = amp.auto_mixed_precision(net, "O1")(Tensor(X))
    assert out.asnumpy().tolist() == [[float(F32(1.0001) - F32(2.0) + F32(3.0))] * 2]  # 2.0001 in float32


def test_o2_hands_batchnorm_s_output_on_in_float16_and_keeps_a_root_batchnorm_in_float16():
    net = amp.auto_mixed_precision(BNNet(), "O2")
    net.set_train(False)
    plus, h = net(Tensor(X))
    normalised = (X / np.sqrt(F32(1.0) + F32(1e-5))).astype(F16)  # float32 BatchNorm, cast to float16 after
    assert np.isinf(plus.asnumpy()).all() and np.dtype(plus.dtype) == F32  # h + 70000 in float16
    assert h.asnumpy().tolist() == normalised.astype(F32).tolist() == [[1.0, -2.0, 3.0]]
    assert amp.get_black_list() == [nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm]
    # MindSpore's O2 checks the Cells below the network only: a BatchNorm as the network computes in float16
    bn = amp.auto_mixed_precision(nn.BatchNorm1d(3), "O2")
    bn.set_train(False)
    scale = np.sqrt(F16(1.0) + F16(1e-5))
    assert bn(Tensor(np.array([[1.0001, 2049.0, 3.0]], F32))).asnumpy().tolist() == \
        (np.array([[1.0001, 2049.0, 3.0]], F32).astype(F16) / scale).astype(F32).tolist()


def test_white_list_is_mindspore_s_cells():
    assert amp.get_white_list() == [nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Conv1dTranspose, nn.Conv2dTranspose, nn.Conv3dTranspose,
                                    nn.Dense, nn.LSTMCell, nn.RNNCell, nn.GRUCell]
    with pytest.raises(TypeError, match="custom_mixed_precision: black_list must be a list of Cell classes"):
        amp.custom_mixed_precision(FcNet(), black_list=(nn.Dense,))


def _dense_data():
    return Tensor(np.array([[1.0, -2.0, 3.0]], F32)), Tensor(np.array([[0.5, 1.0]], F32))


def _sgd_reference():
    """One SGD(0.1) step of MSE on Dense(3, 2) (weight ones, bias zeros) at x = [1, -2, 3], label [0.5, 1]: exact in
    float16 and float32 alike (loss 1.625)."""
    x, label = np.array([[1.0, -2.0, 3.0]]), np.array([[0.5, 1.0]])
    out = x @ np.ones((3, 2))
    grad_out = 2 * (out - label) / out.size
    lr = F32(0.1)  # SGD's update in float32: param - lr * grad
    return float(np.mean((out - label) ** 2)), F32(1.0) - lr * (grad_out.T @ x).astype(F32), F32(0.0) - lr * grad_out[0].astype(F32)


def test_model_o3_trains_in_float16_without_loss_scaling_and_predicts_float16():
    net = nn.Dense(3, 2, weight_init="ones", bias_init="zeros")
    model = Model(net, nn.MSELoss(), nn.SGD(net.trainable_params(), 0.1), amp_level="O3")
    assert type(model.train_network) is nn.TrainOneStepCell
    x, y = _dense_data()
    loss = model.train_network(x, y)
    expected_loss, weight, bias = _sgd_reference()
    assert np.dtype(loss.dtype) == F32 and float(loss) == expected_loss
    np.testing.assert_array_equal(net.weight.asnumpy(), weight)
    np.testing.assert_array_equal(net.bias.asnumpy(), bias)
    assert np.dtype(model.predict(x).dtype) == F16


def test_model_o2_without_a_manager_scales_the_loss_dynamically_from_2_to_the_24():
    net = nn.SequentialCell([nn.Dense(3, 2, weight_init="ones", bias_init="zeros"), nn.BatchNorm1d(2)])
    model = Model(net, nn.MSELoss(), nn.SGD(net.trainable_params(), 0.1), amp_level="O2")
    step = model.train_network
    assert type(step) is nn.TrainOneStepWithLossScaleCell
    assert (step.scaler.scale_factor, step.scaler.scale_window, float(step.scale_sense)) == (2.0, 2000, 2.0**24)
    assert np.dtype(net[0]._compute_dtype) == F16 and np.dtype(net[1]._compute_dtype) == F32  # BatchNorm kept float32
    before = [p.asnumpy().copy() for p in net.trainable_params()]
    x, y = _dense_data()
    with np.errstate(invalid="ignore"):
        loss, overflow, scale = step(Tensor(np.array([[1.0, -2.0, 3.0], [2.0, 1.0, 0.0]], F32)), Tensor(np.array([[0.5, 1.0], [1.0, 0.0]], F32)))
    # 2**24 times the loss's gradient overflows the float16 network: the step changes nothing and halves the scale
    assert bool(overflow) and float(scale) == 2.0**23 and np.isfinite(float(loss))
    for p, b in zip(net.trainable_params(), before):
        np.testing.assert_array_equal(p.asnumpy(), b)
    explicit = Model(nn.Dense(3, 2), nn.MSELoss(), nn.SGD(nn.Dense(3, 2).trainable_params(), 0.1), amp_level="O2", loss_scale_manager=None)
    assert type(explicit.train_network) is nn.TrainOneStepCell  # a manager given as None: no loss scaling


def test_model_o2_predicts_float16_and_evaluates_in_float32():
    net = BNNet()
    model = Model(net, nn.MSELoss(), nn.SGD(net.trainable_params(), 0.1), amp_level="O2", loss_scale_manager=None)
    plus, h = model.predict(Tensor(X))  # BatchNorm's float16 output plus 70000 in float16
    assert np.dtype(h.dtype) == F16 and np.isinf(plus.asnumpy()).all()
    net = nn.SequentialCell([nn.Dense(3, 3, weight_init="ones", bias_init="zeros"), nn.BatchNorm1d(3)])
    model = Model(net, nn.MSELoss(), nn.SGD(net.trainable_params(), 0.1), metrics={"mae"}, amp_level="O2", loss_scale_manager=None)
    model.eval_network.set_train(False)
    loss, outputs, label = model.eval_network(Tensor(X), Tensor(np.zeros((1, 3), F16)))
    assert [np.dtype(t.dtype) for t in (loss, outputs, label)] == [F32, F32, F32]
    assert np.dtype(model.predict(Tensor(X)).dtype) == F16


def test_model_refuses_amp_without_an_optimizer_and_unsupported_levels():
    with pytest.raises(ValueError, match="Model: amp_level 'O2' needs an optimizer"):
        Model(nn.Dense(3, 2), nn.MSELoss(), amp_level="O2")
    with pytest.raises(ValueError, match="Model: loss_scale_manager needs an optimizer"):
        Model(nn.Dense(3, 2), nn.MSELoss(), loss_scale_manager=amp.FixedLossScaleManager())
    net = nn.Dense(3, 2)
    with pytest.raises(NotImplementedError, match="Model: boost_level 'O1'"):
        Model(net, nn.MSELoss(), nn.SGD(net.trainable_params(), 0.1), boost_level="O1")
    with pytest.raises(NotImplementedError, match="Model: level 'auto'"):
        Model(net, nn.MSELoss(), nn.SGD(net.trainable_params(), 0.1), amp_level="auto")


def test_build_train_network_follows_mindspore_s_level_configuration():
    expected_loss, weight, _ = _sgd_reference()
    for kwargs, kind in (({"level": "O2", "loss_scale_manager": amp.FixedLossScaleManager(1024.0)}, nn.TrainOneStepWithLossScaleCell),
                         ({"level": "O2", "loss_scale_manager": amp.FixedLossScaleManager(1024.0, drop_overflow_update=False)}, nn.TrainOneStepCell),
                         ({"level": "O0", "cast_model_type": ms.float16}, nn.TrainOneStepCell)):
        net = nn.Dense(3, 2, weight_init="ones", bias_init="zeros")
        opt = nn.SGD(net.trainable_params(), 0.1, loss_scale=1024.0 if kind is nn.TrainOneStepCell and "loss_scale_manager" in kwargs else 1.0)
        step = amp.build_train_network(net, opt, nn.MSELoss(), **kwargs)
        assert type(step) is kind and np.dtype(net._compute_dtype) == F16
        out = step(*_dense_data())
        assert float(out[0] if isinstance(out, tuple) else out) == expected_loss
        np.testing.assert_array_equal(net.weight.asnumpy(), weight)
    # keep_batchnorm_fp32=False at O2 computes BatchNorm in float16 too; cast_model_type=float32 leaves the network alone
    net = nn.SequentialCell([nn.Dense(3, 2), nn.BatchNorm1d(2)])
    amp.build_train_network(net, nn.SGD(net.trainable_params(), 0.1), nn.MSELoss(), level="O2", keep_batchnorm_fp32=False)
    assert np.dtype(net[1]._compute_dtype) == F16
    net = nn.SequentialCell([nn.Dense(3, 2), nn.BatchNorm1d(2)])
    step = amp.build_train_network(net, nn.SGD(net.trainable_params(), 0.1), nn.MSELoss(), level="O2", cast_model_type=ms.float32)
    assert net[0]._compute_dtype is None and type(step) is nn.TrainOneStepWithLossScaleCell


def test_build_train_network_refuses_what_mindspore_refuses():
    net = nn.Dense(3, 2)
    opt = nn.SGD(net.trainable_params(), 0.1)
    with pytest.raises(ValueError, match="build_train_network: unsupported argument"):
        amp.build_train_network(net, opt, level="O2", keep_fp32=True)
    with pytest.raises(ValueError, match="cast_model_type must be float16 or float32, got float64"):
        amp.build_train_network(net, opt, level="O2", cast_model_type=ms.float64)
    with pytest.raises(TypeError, match="keep_batchnorm_fp32 must be a bool"):
        amp.build_train_network(net, opt, level="O2", keep_batchnorm_fp32=1)
    with pytest.raises(NotImplementedError, match="build_train_network: level 'auto'"):
        amp.build_train_network(net, opt, level="auto")
    with pytest.raises(ValueError, match="build_train_network: level must be one of O0, O1, O2, O3, got 'O4'"):
        amp.build_train_network(net, opt, level="O4")
    with pytest.raises(ValueError, match="build_train_network: boost_level must be 'O0', 'O1' or 'O2', got 'O5'"):
        amp.build_train_network(net, opt, boost_level="O5")
    with pytest.raises(NotImplementedError, match="auto_mixed_precision: amp_level 'auto'"):
        amp.auto_mixed_precision(net, "auto")


def _update_cell_rule(scale, factor, window, overflows):
    """nn.DynamicLossScaleUpdateCell's construct in float32: cur_iter from 1, last_overflow_iter from 0; grows with no
    finiteness check; the cut multiplies by the float32 reciprocal."""
    scale, cur, last, seen = F32(scale), 1, 0, []
    for overflow in overflows:
        on_overflow = max(scale * (F32(1) / F32(factor)), F32(1)) if overflow else scale
        should_inc = window <= cur - last
        last = cur if overflow or should_inc else last
        scale = on_overflow * F32(factor) if should_inc and not overflow else on_overflow
        seen.append(float(scale))
        cur += 1
    return seen


@pytest.mark.parametrize("scale, factor, window, overflows", [
    (2.0**126, 2, 2, [False, False, False, False, True, False, False, True, True]),  # grows to inf and stays there
    (3.0, 4, 1, [True, True, False, True]),
    (10.0, 3, 2, [True, False, False, True]),  # 10 * float32(1/3), not 10 / 3
])
def test_dynamic_loss_scale_update_cell_follows_mindspore_s_cell_rule(scale, factor, window, overflows):
    cell = nn.DynamicLossScaleUpdateCell(loss_scale_value=scale, scale_factor=factor, scale_window=window)
    held = Parameter(Tensor(np.float32(scale)), name="loss_scale")
    seen = []
    for overflow in overflows:
        cell(held, Tensor(overflow))
        seen.append(float(held.asnumpy()))
    assert seen == _update_cell_rule(scale, factor, window, overflows)
    assert cell.get_loss_scale() == scale  # MindSpore's returns the value the cell was made with


def test_amp_dynamic_loss_scaler_stops_growing_before_inf():
    scaler = amp.DynamicLossScaler(2.0**126, 2, 2)
    seen = []
    for finite in (True, True, True, True, False):
        scaler.adjust(Tensor(finite))
        seen.append(float(scaler.scale_value.asnumpy()))
    assert seen == [2.0**126, 2.0**127, 2.0**127, 2.0**127, 2.0**126] and int(scaler.counter.asnumpy()) == 0


def test_static_scaler_scales_and_unscales_in_the_inputs_dtype():
    scaler = amp.StaticLossScaler(3)
    grads = scaler.unscale((Tensor(np.array([1.5, 1.0], F16)), Tensor(np.array([1.2], F32))))
    inverse16 = F16(F32(1) / F32(3))
    assert grads[0].asnumpy().tolist() == [float(F16(1.5) * inverse16), float(F16(1.0) * inverse16)] == [0.5, 0.333251953125]
    assert grads[1].asnumpy().tolist() == [float(F32(1.2) * (F32(1) / F32(3)))]
    assert scaler.scale(Tensor(np.array([1.0001], F16))).asnumpy().tolist() == [3.0]
    assert not bool(amp.all_finite([Tensor(np.array([1.0, np.inf], F16)), Tensor(np.array([1.0], F32))]))


def test_scalers_and_managers_check_their_arguments_as_mindspore():
    for bad, error, message in (((0.5, 2, 1), ValueError, "DynamicLossScaler: scale_value must be a number >= 1, got 0.5"),
                                ((2, 1.5, 1), TypeError, "DynamicLossScaler: scale_factor must be a positive int, got 1.5"),
                                ((2, 2, 0), ValueError, "DynamicLossScaler: scale_window must be a positive int, got 0")):
        with pytest.raises(error, match=message):
            amp.DynamicLossScaler(*bad)
    assert float(amp.StaticLossScaler(1).scale_value) == 1.0
    with pytest.raises(ValueError, match="StaticLossScaler: scale_value must be a number >= 1, got 0.5"):
        amp.StaticLossScaler(0.5)
    with pytest.raises(ValueError, match="DynamicLossScaleManager: init_loss_scale must be a number >= 1"):
        amp.DynamicLossScaleManager(0.5)
    with pytest.raises(ValueError, match="DynamicLossScaleManager: scale_factor must be a number > 0, got 0"):
        amp.DynamicLossScaleManager(2, 0)
    assert amp.DynamicLossScaleManager(2, 1.5, 3).get_update_cell().scale_factor == 1.5  # the manager takes any factor
    with pytest.raises(ValueError, match="FixedLossScaleManager: loss_scale must be a number >= 1, got 0.5"):
        amp.FixedLossScaleManager(0.5)


def test_dynamic_loss_scale_manager_updates_on_the_host_as_mindspore():
    manager = amp.DynamicLossScaleManager(16, 2, 3)
    seen = []
    for overflow in (False, False, False, True, False, False, False, True):
        manager.update_loss_scale(overflow)
        seen.append(manager.get_loss_scale())
    # a growth every 3rd step counted from the last overflow (cur_iter from 1), a halving at each overflow
    assert seen == [16, 16, 32, 16, 16, 16, 32, 16]
    with pytest.raises(RuntimeError, match="overflowed 1001 steps in a row"):
        for _ in range(1001):
            manager.update_loss_scale(True)
    fixed = amp.FixedLossScaleManager(64.0, drop_overflow_update=False)
    fixed.update_loss_scale(True)
    assert fixed.get_loss_scale() == 64.0 and fixed.get_update_cell() is None


def test_loss_scaled_step_returns_the_scale_after_its_update_and_keeps_a_tensor_scale_s_shape():
    x, y = _dense_data()
    expected_loss, weight, bias = _sgd_reference()
    net = nn.Dense(3, 2, weight_init="ones", bias_init="zeros")
    cell = nn.DynamicLossScaleUpdateCell(loss_scale_value=2.0**4, scale_factor=2, scale_window=1)
    step = nn.TrainOneStepWithLossScaleCell(nn.WithLossCell(net, nn.MSELoss()), nn.SGD(net.trainable_params(), 0.1), scale_sense=cell)
    loss, overflow, scale = step(x, y)
    assert (float(loss), bool(overflow), float(scale)) == (expected_loss, False, 2.0**5)  # grown by this step's update
    np.testing.assert_array_equal(net.weight.asnumpy(), weight)
    np.testing.assert_array_equal(net.bias.asnumpy(), bias)
    for sense in (Tensor(np.array([16.0], F32)), Tensor(np.array(16.0, F16)), Parameter(Tensor(np.array([16.0], F32)), name="sens")):
        net = nn.Dense(3, 2, weight_init="ones", bias_init="zeros")
        step = nn.TrainOneStepWithLossScaleCell(nn.WithLossCell(net, nn.MSELoss()), nn.SGD(net.trainable_params(), 0.1), scale_sense=sense)
        loss, overflow, scale = step(x, y)
        assert scale.shape == sense.shape and scale.dtype == sense.dtype and float(scale.asnumpy().reshape(())) == 16.0
        assert float(loss) == expected_loss and not bool(overflow)
        np.testing.assert_array_equal(net.weight.asnumpy(), weight)
    with pytest.raises(ValueError, match=r"a Tensor scale_sense must have shape \(\) or \(1,\), got \(1, 1\)"):
        nn.TrainOneStepWithLossScaleCell(nn.WithLossCell(net, nn.MSELoss()), nn.SGD(net.trainable_params(), 0.1),
                                         scale_sense=Tensor(np.ones((1, 1), F32)))


def test_a_loss_scale_manager_of_the_user_s_must_define_what_the_step_asks_for():
    class Halving(amp.LossScaleManager):
        pass

    for call, name in ((lambda m: m.get_loss_scale(), "get_loss_scale"), (lambda m: m.update_loss_scale(True), "update_loss_scale"),
                       (lambda m: m.get_update_cell(), "get_update_cell")):
        with pytest.raises(NotImplementedError, match=f"Halving must define {name}"):
            call(Halving())
    net = nn.Dense(3, 2)
    with pytest.raises(NotImplementedError, match="Halving must define get_loss_scale"):
        amp.build_train_network(net, nn.SGD(net.trainable_params(), 0.1), level="O0", loss_scale_manager=Halving())
    with pytest.raises(TypeError, match="loss_scale_manager must be a LossScaleManager"):
        Model(net, nn.MSELoss(), nn.SGD(net.trainable_params(), 0.1), loss_scale_manager=1024.0)
