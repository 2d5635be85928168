"""The harness finds planted faults: it names the parameter, the element and the first divergent step, and fails."""

from __future__ import annotations

import numpy as np
import pytest

from harness.cases import CASES
from harness.metrics import DEFAULT_TOLERANCES, Tolerance, diff_stats, judge, ulp_floor
from harness.runner import Fault, RunOptions, run_case
from harness.timing import fixed_threads

FAST = dict(steps=5, batch_size=8, timing=False)
PARAM = "dense_relu_sequential.2.weight"


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with fixed_threads(1):
        yield


def test_a_gradient_fault_at_step_0_is_located_in_the_gradient_table():
    fault = Fault("funcad", "grad", PARAM, (3, 5), step=0, delta=1e-2)
    result = run_case(CASES["mlp"], RunOptions(**FAST, faults=(fault,)))
    assert not result.passed
    for dtype in ("float32", "float64"):
        grads = result.grads[result.grads["dtype"] == dtype].set_index("parameter")
        assert grads.loc[PARAM, "verdict"] == "fail"
        assert grads.loc[PARAM, "worst_index"] == "(3, 5)"
        assert grads.loc[PARAM, "funcad_value"] - grads.loc[PARAM, "torch_value"] == pytest.approx(1e-2, rel=1e-4)
        assert (grads.drop(index=PARAM)["verdict"] != "fail").all()
        summary = result.summary.set_index("dtype").loc[dtype]
        assert summary["worst_grad_param"] == PARAM and summary["first_divergent_step"] == 0


@pytest.mark.parametrize("mode", ["free", "lockstep"])
def test_a_parameter_fault_before_step_2_is_the_first_divergence(mode):
    fault = Fault("torch", "param", "dense_relu_sequential.0.bias", (7,), step=2, delta=1e-2)
    result = run_case(CASES["mlp"], RunOptions(**FAST, mode=mode, faults=(fault,)))
    assert not result.passed
    for dtype in ("float32", "float64"):
        summary = result.summary.set_index("dtype").loc[dtype]
        assert summary["verdict"] == "fail" and summary["first_divergent_step"] == 2
        steps = result.params[(result.params["dtype"] == dtype) & (result.params["parameter"] == "dense_relu_sequential.0.bias")]
        expected = ["pass", "pass", "fail", "fail", "fail"] if mode == "free" else ["pass", "pass", "fail", "pass", "pass"]
        assert steps["verdict"].tolist() == expected
    if mode == "free":
        final = result.final_params[result.final_params["dtype"] == "float64"].set_index("parameter")
        assert final.loc["dense_relu_sequential.0.bias", "worst_index"] == "(7,)"
        assert final.loc["dense_relu_sequential.0.bias", "verdict"] == "fail"


def test_lockstep_shows_only_the_local_error_of_a_gradient_fault():
    fault = Fault("funcad", "grad", PARAM, (0, 0), step=1, delta=1.0)
    result = run_case(CASES["mlp"], RunOptions(**FAST, mode="lockstep", faults=(fault,), dtype="float64"))
    rows = result.params[result.params["parameter"] == PARAM].set_index("step")
    assert rows["verdict"].tolist() == ["pass", "fail", "pass", "pass", "pass"]
    assert rows.loc[1, "max_abs"] == pytest.approx(1e-2, rel=1e-6)  # lr 1e-2 times the planted 1.0
    assert result.summary.loc[0, "first_divergent_step"] == 1


def test_lockstep_judges_every_steps_gradients_so_a_small_late_fault_fails():
    """A gradient fault of 1e-3 at step 2 moves the parameter by only lr * 1e-3, inside its tolerance; lockstep starts
    both sides from the same parameters each step, so the gradient itself is judged there and fails at step 2."""
    fault = Fault("funcad", "grad", PARAM, (3, 5), step=2, delta=1e-3)
    result = run_case(CASES["mlp"], RunOptions(**FAST, mode="lockstep", faults=(fault,)))
    assert not result.passed
    for dtype in ("float32", "float64"):
        grads = result.grads[result.grads["dtype"] == dtype].set_index("parameter")
        assert grads.loc[PARAM, "verdict"] == "fail" and grads.loc[PARAM, "step"] == 2
        assert grads.loc[PARAM, "worst_index"] == "(3, 5)"
        assert grads.loc[PARAM, "funcad_value"] - grads.loc[PARAM, "torch_value"] == pytest.approx(1e-3, rel=1e-3)
        assert (grads.drop(index=PARAM)["verdict"] != "fail").all()
        assert result.summary.set_index("dtype").loc[dtype, "offender"] == f"gradient of {PARAM}, element (3, 5), step 2"
    clean = run_case(CASES["mlp"], RunOptions(**FAST, mode="lockstep"))
    assert clean.passed and set(clean.grads["step"]) <= set(range(5))


def test_nan_is_recorded_with_step_and_parameter_and_fails_without_raising():
    fault = Fault("funcad", "param", "w", (0, 0), step=2, delta=float("nan"))
    result = run_case(CASES["tutorial"], RunOptions(steps=4, timing=False, faults=(fault,)))
    assert not result.passed
    events = result.events[result.events["dtype"] == "float32"]
    assert set(zip(events["step"], events["side"], events["where"])) == {(2, "funcad", "loss"), (2, "funcad", "w"), (2, "funcad", "b")}
    assert (result.summary["verdict"] == "fail").all() and (result.summary["first_divergent_step"] == 2).all()


def test_diff_stats_against_hand_computed_values():
    a = np.array([[1.0, 2.0], [3.0, 4.5]])
    e = np.array([[1.0, 2.0], [3.0, 4.0]])
    s = diff_stats(a, e, Tolerance(rtol=0.01, atol=0.1))
    assert s["max_abs"] == 0.5 and s["worst_index"] == "(1, 1)" and s["funcad_value"] == 4.5 and s["torch_value"] == 4.0
    assert s["max_rel"] == pytest.approx(0.5 / 4.0) and s["tol_ratio"] == pytest.approx(0.5 / (0.1 + 0.04)) and not s["passed"]
    assert s["cosine"] == pytest.approx(float((a * e).sum() / np.linalg.norm(a) / np.linalg.norm(e)))
    tiny = diff_stats(np.array([1.0, 1e-30]), np.array([1.0, 0.0]), DEFAULT_TOLERANCES["float64"])
    assert tiny["max_rel"] == pytest.approx(1e-30 / 1e-3) and tiny["passed"]  # denominator guarded at 1e-3 * max|expected|
    bad = diff_stats(np.array([1.0, np.inf]), np.array([1.0, 2.0]), DEFAULT_TOLERANCES["float32"])
    assert not bad["passed"] and bad["worst_index"] == "(1,)" and bad["nonfinite_funcad"] == 1


def test_diff_stats_counts_the_same_infinity_on_both_sides_as_agreement():
    """A -inf mask entry both engines hold agrees; the finite rest is judged as usual; NaN or opposite infinities do not."""
    tol = DEFAULT_TOLERANCES["float32"]
    same = diff_stats(np.array([0.5, -np.inf, 2.0]), np.array([0.5, -np.inf, 2.0 + 1e-9]), tol)
    assert same["passed"] and same["max_abs"] == pytest.approx(1e-9) and same["nonfinite_funcad"] == 1
    off = diff_stats(np.array([0.5, -np.inf, 2.5]), np.array([0.5, -np.inf, 2.0]), tol)
    assert not off["passed"] and off["worst_index"] == "(2,)" and off["max_abs"] == 0.5
    for a, e in (([np.inf], [-np.inf]), ([np.nan], [np.nan]), ([-np.inf], [1.0])):
        assert not diff_stats(np.array(a), np.array(e), tol)["passed"]


def test_noise_floor_judgement():
    assert judge(True, 1e-3, None) == "pass"
    assert judge(False, 1e-6, 2e-7) == "noise"
    assert judge(False, 1e-5, 2e-7) == "fail"
    assert judge(False, 1e-6, None) == "fail"
    assert judge(True, float("nan"), 1.0) == "fail"


def test_a_16_bit_noise_floor_is_at_least_one_unit_in_the_last_place():
    """bfloat16 holds 0.098 in steps of 2**-11 (8 bits of mantissa below 2**-4): one such step is the least floor, so a
    run where torch landed on the float64 value by chance does not fail funcad one rounding step away."""
    assert ulp_floor(np.array([0.098, -0.01]), "bfloat16") == 2.0**-11
    assert ulp_floor(np.array([3.0]), "float16") == 2.0**-9
    assert ulp_floor(np.array([0.098]), "float32") == 0.0 and ulp_floor(np.array([0.098]), "mixed") == 0.0
    assert ulp_floor(np.zeros(3), "bfloat16") == 0.0
    result = run_case(CASES["logreg"], RunOptions(steps=2, timing=False, dtype="all"))
    assert result.passed, result.summary[["dtype", "verdict", "offender"]]


def test_fault_text_form():
    assert Fault.parse("funcad:grad:fc1.weight:3,5:2:1e-3") == Fault("funcad", "grad", "fc1.weight", (3, 5), 2, 1e-3)
    with pytest.raises(ValueError, match="side:kind:param"):
        Fault.parse("funcad:grad")
