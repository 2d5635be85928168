"""funcad against outputs recorded from MindSpore itself (tests/data/mindspore_reference.json, written by
tests/data/record_mindspore.py, which also holds every input as a literal)."""

import json
import pathlib

import numpy as np
import pytest

import funcad
from funcad import Parameter, Tensor, nn
from funcad.amp import DynamicLossScaler

REF = json.loads((pathlib.Path(__file__).parent / "data" / "mindspore_reference.json").read_text())


def test_dtype_names_defaults_and_printing():
    names = [str(d) for d in (funcad.float16, funcad.float32, funcad.float64, funcad.int8, funcad.int16, funcad.int32,
                              funcad.int64, funcad.uint8, funcad.bool_)]
    assert names == REF["dtype_names"]
    defaults = REF["default_dtypes"]
    assert str(Tensor(1.0).dtype) == defaults["float"] and str(Tensor(True).dtype) == defaults["bool"]
    assert str(Tensor([1.0, 2.0]).dtype) == defaults["float_list"]
    assert str(Tensor(np.array([1.0])).dtype) == defaults["ndarray_float64"]
    x = Tensor(np.array([[1, 2], [3, 4]]), funcad.int32)
    assert repr(x) == REF["repr_int_matrix"] and str(x) == REF["str_int_matrix"]
    assert [list(x.shape), x.itemsize, x.nbytes, x.ndim, x.size, list(x.strides)] == REF["attributes"]
    assert str(Tensor(np.array([[0, 1], [2, 3]]).astype(np.float32))[1, 1]) == REF["str_float_scalar"]


def test_integer_defaults_recorded():
    """MindSpore makes Python ints int64 (Tensor(1), Tensor([1, 0])), as numpy does on this platform."""
    assert str(Tensor(1).dtype) == REF["default_dtypes"]["int"]
    assert str(Tensor([1, 0]).dtype) == REF["default_dtypes"]["int_list"]


@pytest.mark.parametrize("name, make", [
    ("exponential_stair", lambda: nn.exponential_decay_lr(0.1, 0.9, 6, 2, 2, True)),
    ("natural_exp", lambda: nn.natural_exp_decay_lr(0.1, 0.9, 6, 2, 2)),
    ("natural_exp_stair", lambda: nn.natural_exp_decay_lr(0.1, 0.9, 6, 2, 2, True)),
    ("inverse", lambda: nn.inverse_decay_lr(0.1, 0.5, 6, 1, 2)),
    ("inverse_stair", lambda: nn.inverse_decay_lr(0.1, 0.5, 6, 1, 2, True)),
    ("polynomial", lambda: nn.polynomial_decay_lr(0.1, 0.01, 6, 2, 2, 0.5)),
    ("polynomial_update", lambda: nn.polynomial_decay_lr(0.1, 0.01, 6, 1, 2, 0.5, True)),
    ("warmup", lambda: nn.warmup_lr(0.1, 6, 2, 2)),
])
def test_learning_rate_lists(name, make):
    np.testing.assert_allclose(make(), REF["lr_lists"][name], rtol=1e-12)


@pytest.mark.parametrize("name, schedule", [
    ("ExponentialDecayLR", nn.ExponentialDecayLR(0.1, 0.9, 4)),
    ("ExponentialDecayLR_stair", nn.ExponentialDecayLR(0.1, 0.9, 4, True)),
    ("NaturalExpDecayLR", nn.NaturalExpDecayLR(0.1, 0.9, 4)),
    ("InverseDecayLR", nn.InverseDecayLR(0.1, 0.5, 4, True)),
    ("CosineDecayLR", nn.CosineDecayLR(0.01, 0.1, 6)),
    ("PolynomialDecayLR", nn.PolynomialDecayLR(0.1, 0.01, 6, 2.0)),
    ("PolynomialDecayLR_update", nn.PolynomialDecayLR(0.1, 0.01, 4, 1.0, True)),
    ("WarmUpLR", nn.WarmUpLR(0.1, 5)),
])
def test_learning_rate_schedule_cells(name, schedule):
    got = [schedule(Tensor(np.array(step, np.int32))).item() for step in range(12)]
    np.testing.assert_allclose(got, REF["lr_schedules"][name], rtol=2e-6, atol=1e-9)


@pytest.mark.parametrize("flag", ["use_amsgrad", "use_nesterov"])
def test_adam_variants(flag):
    ref = REF["adam"]
    p = Parameter(np.array(ref["w0"], np.float32), name="w")
    opt = nn.Adam([p], learning_rate=0.1, beta1=0.8, beta2=0.9, eps=1e-6, **{flag: True})
    for g, expected in zip(ref["grads"], ref["trajectories"][flag]):
        opt((Tensor(np.array(g, np.float32)),))
        np.testing.assert_allclose(p.asnumpy(), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("sparse", [True, False])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_softmax_cross_entropy_with_logits(sparse, reduction):
    ref = REF["softmax_cross_entropy"]
    labels = np.array(ref["labels"], np.int32) if sparse else np.eye(4, dtype=np.float32)[ref["labels"]]
    value = nn.SoftmaxCrossEntropyWithLogits(sparse=sparse, reduction=reduction)(Tensor(np.array(ref["logits"], np.float32)), Tensor(labels))
    np.testing.assert_allclose(value.asnumpy(), ref["values"][f"{sparse}-{reduction}"], rtol=1e-6)


def test_dynamic_loss_scaler():
    ref = REF["dynamic_loss_scaler"]
    scaler = DynamicLossScaler(scale_value=2**16, scale_factor=2, scale_window=3)
    scales = []
    for finite in ref["finites"]:
        scaler.adjust(Tensor(np.array(finite)))
        scales.append(scaler.scale_value.item())
    assert scales == ref["scales"]


def test_metrics():
    ref = REF["metrics"]
    acc, loss, mae, mse = nn.Accuracy(), nn.Loss(), nn.MAE(), nn.MSE()
    acc.update(Tensor(np.array([[0.2, 0.5], [0.3, 0.1], [0.9, 0.6]])), Tensor(np.array([1, 0, 1])))
    loss.update(Tensor(np.array(0.2)))
    loss.update(Tensor(np.array([0.1, 0.5])))
    mae.update(Tensor(np.array(ref["pred"])), Tensor(np.array(ref["true"])))
    mse.update(Tensor(np.array(ref["pred"])), Tensor(np.array(ref["true"])))
    np.testing.assert_allclose([acc.eval(), loss.eval(), mae.eval(), mse.eval()], [ref["accuracy"], ref["loss"], ref["mae"], ref["mse"]], rtol=1e-12)


def test_train_one_step_cell_with_sens():
    ref = REF["train_one_step"]
    dense = nn.Dense(3, 2, weight_init=Tensor(np.array(ref["weight"], np.float32)), bias_init=Tensor(np.array(ref["bias"], np.float32)))
    step = nn.TrainOneStepCell(nn.WithLossCell(dense, nn.CrossEntropyLoss()), nn.SGD(dense.trainable_params(), ref["lr"]), sens=ref["sens"])
    loss = step(Tensor(np.array(ref["x"], np.float32)), Tensor(np.array(ref["y"], np.int32)))
    np.testing.assert_allclose(loss.item(), ref["loss"], rtol=1e-6)
    np.testing.assert_allclose(dense.weight.asnumpy(), ref["new_weight"], rtol=1e-6, atol=1e-8)  # float32 rounding
    np.testing.assert_allclose(dense.bias.asnumpy(), ref["new_bias"], rtol=1e-6, atol=1e-8)


def test_scalar_printing_lazy_init_and_methods():
    assert repr(Tensor(2.5)) == REF["repr_float_scalar"] and str(Tensor(1.0)) == REF["str_float_scalar_0d"]
    lazy = Tensor(shape=(2, 2), dtype=funcad.float32, init=funcad.common.initializer.One())
    assert lazy.has_init == REF["lazy_init"]["has_init_before"]
    assert lazy.init_data().asnumpy().tolist() == REF["lazy_init"]["values"]
    ref = REF["methods"]
    a = Tensor(np.array(ref["a"], np.float32))
    assert a.mean(axis=1, keep_dims=True).asnumpy().tolist() == ref["mean_keep"]
    assert a.argmax(axis=1, keepdims=True).asnumpy().tolist() == ref["argmax_keep"]
    assert list(a.flatten().shape) == ref["flatten"]
    assert a.all().item() == ref["all"]
    # MindSpore 2.10 on the CPU recorded any(axis=0) of this float Tensor as [True, False, True] (column [0, 4] has a
    # non-zero), the values of all(axis=0); funcad follows numpy's any here.
    assert ref["any_axis0"] == np.all(ref["a"], axis=0).tolist()
    assert a.any(axis=0).asnumpy().tolist() == np.any(ref["a"], axis=0).tolist()
    assert a.all(axis=1, keep_dims=True).asnumpy().tolist() == ref["all_axis1_keep"]
    w = Parameter(np.ones(2, np.float32), name="w")
    assert [p.name for p in funcad.ParameterTuple([w]).clone("moment1", "zeros")] == REF["parameter_tuple_clone"]


def test_to_float_and_amp_dtypes():
    ref = REF["to_float"]
    dense16 = nn.Dense(3, 2).to_float(funcad.float16)
    xs = Tensor(np.array(REF["train_one_step"]["x"], np.float32))
    grads = funcad.grad(lambda x: dense16(x).sum(), None, dense16.trainable_params())(xs)
    assert [str(dense16(xs).dtype), str(dense16.weight.dtype), str(grads[0].dtype)] == [ref["output"], ref["weight"], ref["grad"]]
    net = funcad.amp.auto_mixed_precision(nn.SequentialCell([nn.Dense(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Dense(4, 2)]), "O2")
    assert str(net(xs).dtype) == REF["amp_o2_output"]


def test_model_train_prints_and_evaluates_as_mindspore(capsys):
    ref, step = REF["model"], REF["train_one_step"]
    dense = nn.Dense(3, 2, weight_init=Tensor(np.array(step["weight"], np.float32)), bias_init=Tensor(np.array(step["bias"], np.float32)))
    data = [(np.array(step["x"], np.float32), np.array(step["y"], np.int32))] * 2
    model = funcad.train.Model(dense, nn.CrossEntropyLoss(), nn.SGD(dense.trainable_params(), 0.01), metrics={"accuracy", "loss"})
    model.train(2, data, callbacks=[funcad.train.LossMonitor(1)], dataset_sink_mode=False)
    printed = capsys.readouterr().out.splitlines()
    expected = ref["printed"].splitlines()
    assert [line.split(", loss is ")[0] for line in printed] == [line.split(", loss is ")[0] for line in expected]
    np.testing.assert_allclose([float(line.split("loss is ")[1]) for line in printed],
                               [float(line.split("loss is ")[1]) for line in expected], rtol=1e-6)
    np.testing.assert_allclose(dense.weight.asnumpy(), ref["weight"], rtol=1e-5, atol=1e-8)
    result = model.eval(data, dataset_sink_mode=False)
    assert set(result) == set(ref["eval"]) and result["accuracy"] == ref["eval"]["accuracy"]
    np.testing.assert_allclose(result["loss"], ref["eval"]["loss"], rtol=1e-6)
