"""MindSpore's training helpers that tutorials reach for: nn.ClipByNorm, LossBase.get_loss, Parameter.clone,
Optimizer.update_parameters_name, a (1,)-shaped loss scale, ops.standard_normal; against closed forms and finite
differences."""

from __future__ import annotations

import numpy as np
import pytest

import funcad
from funcad import Parameter, Tensor, nn, ops
from funcad.testing import check_grads

RNG = np.random.default_rng(23)


@pytest.mark.parametrize("axis", [None, 1])
def test_clip_by_norm_cell_scales_down_to_the_norm_over_its_axes(axis):
    x = RNG.standard_normal((3, 4)) * np.array([[0.1], [2.0], [0.0]])  # rows below, above and at zero norm
    clip = nn.ClipByNorm(axis=axis)
    norm = np.sqrt((x * x).sum(axis=axis, keepdims=True))
    np.testing.assert_allclose(np.asarray(clip(x, 1.0)), x * 1.0 / np.maximum(norm, 1.0), rtol=1e-14)
    check_grads(lambda v: clip(v, 0.7), [x + 0.01], order=1)
    zero_grad = funcad.grad(lambda v: ops.sum(clip(v, 1.0)))(np.zeros((2, 2)))
    assert np.all(np.isfinite(np.asarray(zero_grad)))


def test_get_loss_weights_and_reduces_as_the_cell_says():
    x, w = RNG.standard_normal((2, 3)), RNG.uniform(0.5, 1.5, (2, 3))

    class WeightedMAE(nn.LossBase):
        def construct(self, logits, labels):
            return self.get_loss(ops.abs(logits - labels), w)

    for reduction, want in (("mean", (np.abs(x) * w).mean()), ("sum", (np.abs(x) * w).sum()), ("none", np.abs(x) * w)):
        np.testing.assert_allclose(np.asarray(WeightedMAE(reduction)(x, np.zeros_like(x))), want, rtol=1e-14)


def test_parameter_clone_copies_or_initialises_under_the_same_name():
    p = Parameter(Tensor(np.arange(3.0, dtype=np.float32)), name="w", requires_grad=False)
    same, zeros = p.clone(), p.clone("zeros")
    assert same is not p and same.name == zeros.name == "w" and not same.requires_grad
    np.testing.assert_array_equal(np.asarray(same), [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(np.asarray(zeros), [0.0, 0.0, 0.0])
    same.set_data(np.ones(3, np.float32))
    np.testing.assert_array_equal(np.asarray(p), [0.0, 1.0, 2.0])


def test_update_parameters_name_prefixes_the_optimizer_state_only():
    net = nn.Dense(3, 2)
    optimizer = nn.Adam(net.trainable_params(), 1e-3)
    optimizer.update_parameters_name("optim_g.")
    assert [name for name, _ in optimizer.parameters_and_names()] == [
        "optim_g.learning_rate", "optim_g.global_step", "optim_g.moment1.weight", "optim_g.moment1.bias", "optim_g.moment2.weight",
        "optim_g.moment2.bias"]
    assert [p.name for p in net.trainable_params()] == ["weight", "bias"]


def test_a_loss_scale_of_shape_one_scales_like_a_number():
    x, y = RNG.standard_normal((4, 3)).astype(np.float32), RNG.standard_normal((4, 2)).astype(np.float32)
    results = []
    for scale in (Tensor(np.full((1,), 1024.0), funcad.float32), 1024.0):
        funcad.set_seed(0)
        net = nn.Dense(3, 2)
        step = nn.TrainOneStepWithLossScaleCell(nn.WithLossCell(net, nn.MSELoss()), nn.SGD(net.trainable_params(), 0.1), scale_sense=scale)
        loss, overflow, used = step(Tensor(x), Tensor(y))
        results.append((float(loss), bool(overflow), float(used), np.asarray(net.weight).copy()))
    assert results[0][:3] == results[1][:3] and np.array_equal(results[0][3], results[1][3])
    with pytest.raises(ValueError, match=r"a Tensor scale_sense must have shape \(\) or \(1,\), got \(2,\)"):
        nn.TrainOneStepWithLossScaleCell(nn.WithLossCell(nn.Dense(3, 2), nn.MSELoss()), nn.SGD(nn.Dense(3, 2).trainable_params(), 0.1),
                                         scale_sense=Tensor(np.ones(2, np.float32)))


def test_standard_normal_draws_float32_seeded_or_from_the_key():
    a, b = ops.standard_normal((2000,), seed=3, seed2=1), ops.standard_normal((2000,), seed=3, seed2=1)
    assert a.dtype == funcad.float32 and np.array_equal(np.asarray(a), np.asarray(b))
    assert abs(float(np.asarray(a).mean())) < 0.1 and abs(float(np.asarray(a).std()) - 1.0) < 0.1
    funcad.set_seed(5)
    first = np.asarray(ops.standard_normal((3,)))
    funcad.set_seed(5)
    assert np.array_equal(first, np.asarray(ops.standard_normal((3,)))) and not np.array_equal(first, np.asarray(ops.standard_normal((3,))))


def test_a_train_step_subclass_written_as_mindspore_s_model_zoo_writes_them_steps_alike():
    class OwnStep(nn.TrainOneStepCell):
        def construct(self, *inputs):
            loss = self.network(*inputs)
            sens = ops.fill(loss.dtype, loss.shape, self.sens)
            grads = self.grad_reducer(self.grad(self.network, self.weights)(*inputs, sens))
            return ops.depend(loss, self.optimizer(grads))

    x, y = RNG.standard_normal((4, 3)).astype(np.float32), RNG.standard_normal((4, 2)).astype(np.float32)
    trained = []
    for step_class in (OwnStep, nn.TrainOneStepCell):
        funcad.set_seed(0)
        net = nn.Dense(3, 2)
        step = step_class(nn.WithLossCell(net, nn.MSELoss()), nn.Momentum(net.trainable_params(), 0.1, 0.9))
        losses = [float(step(Tensor(x), Tensor(y))) for _ in range(3)]
        trained.append((losses, np.asarray(net.weight).copy()))
    assert trained[0][0] == trained[1][0] and np.array_equal(trained[0][1], trained[1][1])
    assert not OwnStep(nn.WithLossCell(nn.Dense(3, 2), nn.MSELoss()), nn.SGD(nn.Dense(3, 2).trainable_params())).reducer_flag


def test_loss_scale_steps_for_subclasses_report_overflow_and_adjust_the_scale():
    net = nn.Dense(3, 2)
    scaler = nn.DynamicLossScaleUpdateCell(loss_scale_value=2.0**10, scale_factor=2, scale_window=1000)
    step = nn.TrainOneStepWithLossScaleCell(nn.WithLossCell(net, nn.MSELoss()), nn.SGD(net.trainable_params(), 0.1), scaler)
    status, scale = step.start_overflow_check(None, step.scale_sense)
    assert not bool(step.get_overflow_status(status, (Tensor(np.ones(2)),)))
    assert bool(step.process_loss_scale(step.get_overflow_status(status, (Tensor(np.array([1.0, np.inf])),))))
    assert float(step.scale_sense) == 2.0**9
    step.set_sense_scale(Tensor(8.0))
    assert float(step.scale_sense) == 8.0


def test_optimizer_parameters_clone_into_accumulation_buffers():
    net = nn.Dense(3, 2)
    buffers = nn.SGD(net.trainable_params(), 0.1).parameters.clone(prefix="accu", init="zeros")
    assert [p.name for p in buffers] == ["accu.weight", "accu.bias"] and not np.asarray(buffers[0]).any()


def test_random_primitive_classes_seeded_streams_and_cumulative_ranges():
    seeded = ops.StandardNormal(seed=1, seed2=2)
    first, second = np.asarray(seeded((3,))), np.asarray(seeded((3,)))
    assert first.dtype == np.float32 and not np.array_equal(first, second)
    assert np.array_equal(first, np.asarray(ops.StandardNormal(seed=1, seed2=2)((3,))))
    ints = np.asarray(ops.UniformInt(seed=4)((200,), 2, 5))
    assert ints.dtype == np.int32 and set(ints.tolist()) == {2, 3, 4}
    uniform = np.asarray(ops.UniformReal(seed=3)((200,)))
    assert uniform.dtype == np.float32 and 0.0 <= uniform.min() and uniform.max() < 1.0
    x = np.array([[1.0, 2.0, 4.0], [3.0, 5.0, 7.0]])
    for exclusive in (False, True):
        for reverse in (False, True):
            flipped = x[:, ::-1] if reverse else x
            want = np.cumsum(flipped, axis=1) - (flipped if exclusive else 0)
            got = ops.CumSum(exclusive=exclusive, reverse=reverse)(Tensor(x), 1)
            np.testing.assert_array_equal(np.asarray(got), want[:, ::-1] if reverse else want)
    np.testing.assert_array_equal(np.asarray(ops.Range()(1, 8, 3)), [1, 4, 7])
    assert ops.shape(Tensor(x)) == (2, 3) and ops.size(Tensor(x)) == 6 and ops.dtype(Tensor(x)) == funcad.float64


def test_mindspore_2_keywords_and_top_level_helpers():
    x = Tensor(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]]))
    np.testing.assert_array_equal(np.asarray(ops.argmax(x, dim=1, keepdim=True)), [[1], [0]])
    np.testing.assert_array_equal(np.asarray(ops.argmin(x, dim=0)), [0, 1, 0])
    np.testing.assert_array_equal(np.asarray(ops.max(x, dim=0, keepdim=True)[0]), [[7.0, 5.0, 3.0]])
    np.testing.assert_array_equal(np.asarray(ops.pad(x, padding=(1, 0))), np.pad(np.asarray(x), ((0, 0), (1, 0))))
    with pytest.raises(TypeError, match="give the widths once"):
        ops.pad(x, (1, 0), padding=(1, 0))
    shared = np.zeros(2, np.float32)
    t = funcad.from_numpy(shared)
    shared[0] = 3.0
    assert float(t[0]) == 3.0 and funcad.tensor([1, 2], funcad.float32).dtype == funcad.float32
    assert funcad.dtype_to_nptype(funcad.float16) is np.float16 and funcad.pytype_to_dtype(bool) == funcad.bool_
    p = Parameter(np.ones(2, np.float32), name="p")
    assert type(p.value()) is Tensor and np.array_equal(np.asarray(p.value()), [1.0, 1.0])
    assert np.array_equal(nn.Metric._convert_data([1, 2]), [1, 2]) and nn.Metric._convert_data(Tensor([3.0])).tolist() == [3.0]
