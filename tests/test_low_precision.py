"""float16 and bfloat16: funcad's 16-bit products and sums against float32 rounded once (what torch's CPU kernels
compute), exact bfloat16 transfer between numpy and torch, and runs judged by their noise floor: correct ones pass, a
planted gradient difference of 10x the floor fails."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
import torch

import funcad
from funcad import nn, ops
from harness.cases import CASES
from harness.metrics import LOW_NOISE_FACTOR
from harness.runner import Fault, RunOptions, run_case
from harness.timing import fixed_threads
from torch_ref.arrays import from_numpy, numpy_dtype, to_numpy, torch_dtype

LOW = {"float16": np.dtype(np.float16), "bfloat16": np.dtype(ml_dtypes.bfloat16)}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with fixed_threads(1):
        yield


def _rounded(value: np.ndarray, dtype) -> np.ndarray:
    return np.asarray(value, np.float32).astype(dtype)


def test_bfloat16_crosses_between_numpy_and_torch_bit_for_bit():
    a = np.random.default_rng(0).standard_normal((3, 5)).astype(LOW["bfloat16"])
    t = from_numpy(a)
    assert t.dtype == torch.bfloat16 and torch_dtype("bfloat16") == torch.bfloat16 and numpy_dtype(torch.bfloat16) == a.dtype
    assert torch.equal(t.float(), torch.from_numpy(a.astype(np.float32)))
    back = to_numpy(t * 2)
    assert back.dtype == a.dtype and np.array_equal(back.astype(np.float32), a.astype(np.float32) * 2)


@pytest.mark.parametrize("name", list(LOW))
def test_products_and_sums_accumulate_in_float32_and_round_once(name):
    dtype = LOW[name]
    rng = np.random.default_rng(1)
    x, w = (rng.standard_normal(s).astype(dtype) for s in ((16, 300), (300, 7)))
    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    y = ops.matmul(funcad.Tensor(x), funcad.Tensor(w))
    assert y.dtype == dtype and np.array_equal(np.asarray(y), _rounded(x32 @ w32, dtype))
    s = ops.sum(funcad.Tensor(x), axis=1)
    assert s.dtype == dtype and np.array_equal(np.asarray(s), _rounded(x32.sum(axis=1), dtype))
    # torch on the CPU computes the same product within one unit in the last place
    torch_y = to_numpy(from_numpy(x) @ from_numpy(w)).astype(np.float64)
    ulp = np.abs(_rounded(x32 @ w32, np.float64)) * float(ml_dtypes.finfo(dtype).eps) + 1e-30
    assert np.all(np.abs(np.asarray(y).astype(np.float64) - torch_y) <= ulp)


@pytest.mark.parametrize("name", list(LOW))
def test_a_convolution_runs_in_float32_and_rounds_once(name):
    dtype = LOW[name]
    funcad.set_seed(0)
    conv = nn.Conv2d(3, 4, 1, stride=2, pad_mode="valid")  # the 'direct' algorithm
    x = np.random.default_rng(2).standard_normal((2, 3, 8, 8))
    conv.set_dtype(dtype).set_dtype(np.float32)  # the weights rounded to 16 bits, held in float32
    expected = np.asarray(conv(funcad.Tensor(x.astype(dtype).astype(np.float32))))
    conv.set_dtype(dtype)
    y = conv(funcad.Tensor(x.astype(dtype)))
    assert y.dtype == dtype and np.array_equal(np.asarray(y), _rounded(expected, dtype))


@pytest.mark.parametrize("name", [*LOW, "mixed"])
def test_a_correct_run_passes_and_a_fault_of_ten_times_the_noise_floor_fails(name):
    options = dict(steps=2, batch_size=16, timing=False, dtype=name)
    clean = run_case(CASES["mlp"], RunOptions(**options))
    assert clean.passed, clean.summary
    grads = clean.grads[clean.grads["dtype"] == name].set_index("parameter")
    assert grads["torch_f32_err"].gt(0).all()  # a noise floor was measured for every gradient
    assert (grads["max_abs"] <= LOW_NOISE_FACTOR * grads["torch_f32_err"]).all()
    param = "dense_relu_sequential.4.weight"
    row = grads.loc[param]
    index = tuple(int(i) for i in row["worst_index"].strip("()").split(",") if i.strip())
    sign = 1.0 if row["funcad_value"] >= row["torch_value"] else -1.0  # away from torch, on top of the existing difference
    fault = Fault("funcad", "grad", param, index, step=0, delta=sign * 10 * float(row["torch_f32_err"]))
    planted = run_case(CASES["mlp"], RunOptions(**options, faults=(fault,)))
    low = planted.grads[planted.grads["dtype"] == name].set_index("parameter")
    assert low.loc[param, "verdict"] == "fail" and low.loc[param, "worst_index"] == row["worst_index"]
    assert low.drop(index=param)["verdict"].isin(["pass", "noise"]).all()
    assert planted.summary.set_index("dtype").loc[name, "verdict"] == "fail"


@pytest.mark.parametrize("case", ["conv1d", "resnet", "lstm", "transformer"])
def test_a_case_whose_torch_twin_is_traced_from_its_construct_runs_in_16_bits(case):
    """The mirrored cases' torch twins carry bfloat16 and float16 values through tracing, constants and weights."""
    result = run_case(CASES[case], RunOptions(timing=False, dtype="all"))  # each case's own steps and batch size
    summary = result.summary.set_index("dtype")
    assert set(LOW) <= set(summary.index) and summary["verdict"].isin(["pass", "noise"]).all(), result.summary


def test_a_case_whose_torch_twin_is_traced_from_its_construct_runs_in_mixed_precision():
    """The guards run the traced twin as its trainer does, under autocast, where its layers meet float16 inputs."""
    result = run_case(CASES["resnet"], RunOptions(timing=False, dtype="mixed"))
    assert result.summary["verdict"].isin(["pass", "noise"]).all(), result.summary


def test_a_float16_adam_run_takes_a_representable_epsilon_and_stays_finite():
    result = run_case(CASES["lenet"], RunOptions(steps=3, batch_size=16, timing=False, dtype="float16"))
    assert not len(result.events), result.events
    assert any("epsilon 1e-08 -> 0.0001" in note for note in result.known_differences)
    assert "eps 0.0001" in result.optimizer
    assert np.isfinite(result.losses["funcad_loss"].astype(float)).all()


@pytest.mark.parametrize("name", ["mlp", "mlp_bn"])  # mlp_bn: BatchNorm's float32 running statistics stay unrounded
def test_mixed_precision_matches_autocast_and_is_judged_against_float64(name):
    result = run_case(CASES[name], RunOptions(steps=3, batch_size=16, timing=False, dtype="mixed"))
    assert result.passed, result.summary
    grads = result.grads[result.grads["dtype"] == "mixed"]
    # float16 compute shows: PyTorch's error against float64 is far above float32's (about 1e-7 relative here)
    assert (grads["torch_f32_err"] > 1e-6).any()
    assert (grads["max_abs"] <= LOW_NOISE_FACTOR * grads["torch_f32_err"]).all()
    pair = CASES[name].build("mixed", 0, "cpu")
    assert pair.funcad.net.trainable_params()[0].dtype == np.float32 and next(pair.torch.trainer.model.parameters()).dtype == torch.float32


def test_an_overflowing_mixed_step_changes_nothing_on_either_side_and_both_scales_back_off(monkeypatch):
    import harness.mixed

    monkeypatch.setattr(harness.mixed, "INIT_SCALE", 2.0**40)  # float16 gradients of the scaled loss overflow
    case = CASES["mlp"]
    pair = case.build("mixed", 0, "cpu")
    start = pair.funcad.state()
    with np.errstate(all="ignore"):
        for x, y in case.batches(2, 0, 16):
            pair.funcad.step(x, y)
            pair.torch.step(x, y)
    for side in (pair.funcad, pair.torch):
        assert all(np.array_equal(v, start[n]) for n, v in side.state().items())
    assert float(np.asarray(pair.funcad.scaler.scale_value)) == pair.torch.trainer.scaler.get_scale() == 2.0**38


@pytest.mark.parametrize("name", list(LOW))
def test_a_compiled_16_bit_gradient_equals_the_eager_one(name):
    case = CASES["lenet"]
    f = case.build(name, 0, "cpu").funcad
    x, y = f.prepare(*case.batches(1, 0, 8)[0])
    (loss, grads), (jit_loss, jit_grads) = f.grad_fn(x, y), funcad.jit(f.grad_fn)(x, y)
    assert np.asarray(jit_loss).dtype == LOW[name] and np.array_equal(np.asarray(jit_loss), np.asarray(loss))
    for g, j in zip(grads, jit_grads):
        assert np.asarray(j).dtype == LOW[name] and np.array_equal(np.asarray(j), np.asarray(g))


@pytest.mark.parametrize("name", list(LOW))
def test_a_16_bit_layer_comparison_is_clean_and_finds_a_planted_layer_output(name):
    options = dict(steps=1, batch_size=8, timing=False, dtype=name, layers="leaves")
    assert run_case(CASES["lenet"], RunOptions(**options)).layers.first_fault() is None
    planted = Fault("funcad", "output", "fc2", (0,), step=0, delta=0.5)  # 0.5 is >= 16 of bfloat16's units at 1
    assert run_case(CASES["lenet"], RunOptions(**options, faults=(planted,))).layers.first_fault() == ("fc2", "forward")
