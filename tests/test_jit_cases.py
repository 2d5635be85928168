"""Every built-in harness case trains the same under funcad.jit as eagerly: 20 steps, losses and all state."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")  # the harness builds both engines of a case

from funcad.jit import jit  # noqa: E402
from harness.cases import CASES  # noqa: E402

STEPS = 20


def _train(case, batches, compiled: bool):
    engine = case.build("float32", seed=0).funcad
    step = jit(engine.train_step) if compiled else engine.train_step
    losses = []
    for x, y in batches:
        xf, yf = engine.prepare(x, y)
        losses.append(np.asarray(step(xf, yf)).item())
    return losses, engine.state(), step


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_trains_identically_under_jit(name):
    case = CASES[name]
    batches = case.batches(STEPS, seed=0, batch_size=16 if case.batch_size else None)
    eager_losses, eager_state, _ = _train(case, batches, compiled=False)
    losses, state, step = _train(case, batches, compiled=True)
    assert step.trace_count == 1
    np.testing.assert_array_equal(losses, eager_losses)
    assert state.keys() == eager_state.keys()
    for key in state:
        np.testing.assert_array_equal(state[key], eager_state[key], err_msg=f"{name}: {key}")
