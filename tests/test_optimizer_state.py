"""Optimizer state compared per step and slot: a planted difference in one Adam moment is found and named; lockstep
mode re-syncs optimizer state with the parameters."""

from __future__ import annotations

import numpy as np
import pytest

from harness.cases import CASES
from harness.faults import Fault
from harness.runner import RunOptions, run_case


def _state(mode: str, faults=()):
    result = run_case(CASES["lenet"], RunOptions(steps=2, dtype="float32", timing=False, mode=mode, faults=faults))
    return result.optimizer_state.set_index(["step", "state"])


def test_adam_moments_and_step_counts_agree_with_torch():
    state = _state("free")
    assert (state["verdict"] == "pass").all(), state[state["verdict"] != "pass"]
    slots = {name.split(".", 1)[0] for _, name in state.index}
    assert slots == {"moment1", "moment2", "step"}
    assert state.loc[(1, "step.fc1.weight"), "max_abs"] == 0.0  # both at step 2


@pytest.mark.parametrize("mode, fails_at_step_1", [("free", True), ("lockstep", False)])
def test_a_planted_moment_difference_is_found_and_named(mode, fails_at_step_1):
    state = _state(mode, (Fault("torch", "state", "moment2.fc2.bias", (7,), 0, 1e-3),))
    failing = state[state["verdict"] == "fail"]
    assert list(failing.loc[0].index) == ["moment2.fc2.bias"]
    row = state.loc[(0, "moment2.fc2.bias")]
    assert row["worst_index"] == "(7,)" and np.isclose(row["max_abs"], 1e-3, rtol=1e-3)
    # free: the moment stays apart (and drives the update apart); lockstep: re-synced from funcad before step 1
    assert (state.loc[(1, "moment2.fc2.bias"), "verdict"] == "fail") == fails_at_step_1


def test_momentum_buffers_are_compared():
    result = run_case(CASES["mlp_bn"], RunOptions(steps=2, dtype="float32", timing=False,
                                                  faults=(Fault("funcad", "state", "moments.layers.3.bias", (4,), 1, 0.5),)))
    state = result.optimizer_state
    assert set(state["state"]) >= {"moments.layers.0.weight", "moments.layers.1.gamma", "moments.layers.3.bias"}
    assert list(state.loc[state["verdict"] == "fail", "state"]) == ["moments.layers.3.bias"]
