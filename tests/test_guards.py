"""Guards against both sides being wrong together: a run whose gradients are zero on both sides passes parity, and is
flagged anyway; --strict makes the flags fail it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

import harness
from funcad import nn
from harness.guards import GuardMonitor, dead_relu_fractions, warnings


class Silenced(nn.Cell):
    """A Dense whose output is multiplied by zero: every gradient is zero, the loss never moves, in both engines."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(4, 3)

    def construct(self, x):
        return self.fc(x) * 0.0


def _data():
    rng = np.random.default_rng(0)
    return [(rng.normal(size=(6, 4)).astype(np.float32), rng.integers(0, 3, 6)) for _ in range(3)]


def test_a_both_sides_zero_run_passes_parity_and_is_flagged():
    result = harness.compare(Silenced(), data=_data(), steps=3, dtype="float32", timing=False)
    assert result.passed  # parity alone would call this fine
    flags = result.result.guards
    assert any(f.startswith("gradient exactly zero at every step on both sides: fc.weight, fc.bias") for f in flags), flags
    assert any(f.startswith("flat loss: funcad's loss stays at 1.09861") for f in flags), flags  # log(3)
    assert any(f.startswith("parameters never change on either side: fc.weight, fc.bias") for f in flags), flags


def test_a_healthy_case_raises_no_flag():
    from harness.cases import CASES
    from harness.runner import RunOptions, run_case

    assert run_case(CASES["mlp_bn"], RunOptions(steps=3, dtype="float32", timing=False)).guards == []


def test_norm_collapse_and_explosion_and_dead_relus():
    monitor = GuardMonitor()
    observe = monitor.observer("funcad", None)
    for scale in (1.0, 1e-5):
        observe({"w": np.full(4, scale)})
    explode = monitor.observer("torch", None)
    for scale in (1.0, 1e4):
        explode({"w": np.full(4, scale)})
    state = {"w": np.zeros(4)}
    flags = warnings(monitor, {"funcad": [1.0, 0.5]}, {"funcad": state, "torch": state}, {"funcad": {"w": np.ones(4)}, "torch": state},
                     {"relu": 0.75, "act": 0.25})
    assert "gradient norm collapses on funcad: 2 at step 0, 2e-05 at step 1" in flags
    assert "gradient norm explodes on torch: 2 at step 0, 2e+04 at step 1" in flags
    assert "dead ReLU: 75% of the units of relu are zero for every sample" in flags
    assert not any("act" in f or "never change" in f or "flat" in f for f in flags), flags
    module = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU())
    with torch.no_grad():
        module[0].weight.zero_()
        module[0].bias.copy_(torch.tensor([1.0, -1.0, -1.0, -1.0]))
    assert dead_relu_fractions(module, torch.ones(5, 2)) == {"1": 0.75}


def test_strict_fails_a_flagged_run(tmp_path):
    (tmp_path / "silenced.py").write_text(
        "from funcad import nn\n"
        "class Silenced(nn.Cell):\n"
        "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Dense(4, 3)\n"
        "    def construct(self, x):\n        return self.fc(x) * 0.0\n")
    root = Path(__file__).resolve().parents[1]
    env = os.environ | {"PYTHONPATH": f"{root}{os.pathsep}{tmp_path}"}
    base = [sys.executable, "-m", "harness", "run", "--model", "silenced:Silenced", "--input-shape", "6,4", "--classes", "3",
            "--steps", "2", "--dtype", "float32", "--no-timing"]
    loose = subprocess.run(base + ["--out", str(tmp_path / "a")], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert loose.returncode == 0, loose.stderr
    assert "WARNING: gradient exactly zero at every step on both sides: fc.weight, fc.bias" in loose.stdout
    strict = subprocess.run(base + ["--strict", "--out", str(tmp_path / "b")], capture_output=True, text=True, cwd=tmp_path, env=env,
                            timeout=600)
    assert strict.returncode == 1 and "--strict: guard warnings fail the run" in strict.stderr
