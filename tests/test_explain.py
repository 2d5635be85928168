"""funcad-compare explain: one element of a saved run, its values and gradients on both sides at every step."""

from __future__ import annotations

import torch

from harness.cases import CASES
from harness.cli import main
from harness.explain import trace
from harness.faults import Fault
from harness.runner import RunOptions


def test_explain_prints_an_elements_values_and_gradients_across_steps(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["run", "logreg", "--steps", "2", "--dtype", "float32", "--no-timing", "--layers", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["explain", str(out), "--param", "linear.weight", "--element", "0,3"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("== logreg: linear.weight[0, 3], 2 steps, mode free, seed 0")
    assert "funcad value" in text and "torch grad" in text and "report, after each step:" in text and "layer linear" in text
    assert main(["explain", str(out), "--param", "linear.weight", "--element", "0,99"]) == 2
    assert "--element 0,99 is not an element of linear.weight with shape (1, 30)" in capsys.readouterr().err


def test_trace_values_are_the_engines_own():
    """The traced torch gradient at step 0 is torch autograd's on the case's first batch."""
    case = CASES["logreg"]
    table = trace("logreg", RunOptions(steps=1, dtype="float32", timing=False), "linear.weight", (0, 3))
    pair = case.build("float32", 0)
    x, y = case.batches(1, 0)[0]
    model = pair.torch.trainer.model
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(torch.from_numpy(x)), torch.from_numpy(y).float())
    loss.backward()
    assert table.loc[0, "torch grad"] == float(model.linear.weight.grad[0, 3])
    assert abs(table.loc[0, "funcad grad"] - table.loc[0, "torch grad"]) <= 1e-7


def test_explain_replays_the_runs_planted_gradient_fault(tmp_path, capsys):
    out = tmp_path / "planted"
    plant = "funcad:grad:linear.weight:0,3:1:0.5"
    assert main(["run", "logreg", "--steps", "3", "--dtype", "float64", "--no-timing", "--plant", plant, "--out", str(out)]) == 1
    capsys.readouterr()
    options = RunOptions(steps=3, dtype="float64", timing=False, faults=(Fault.parse(plant),))
    table = trace("logreg", options, "linear.weight", (0, 3)).set_index("step")
    # the planted 0.5 shows in step 1's funcad gradient only, and the update it made in the values after it (lr 0.1)
    assert abs(table.loc[0, "grad |diff|"]) <= 1e-12 and abs(table.loc[1, "grad |diff|"] - 0.5) <= 1e-12
    assert abs(table.loc[2, "value |diff|"] - 0.1 * 0.5) <= 1e-9
    assert main(["explain", str(out), "--param", "linear.weight", "--element", "0,3"]) == 0
    assert "0.5" in capsys.readouterr().out
