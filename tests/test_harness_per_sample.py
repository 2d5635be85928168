"""The harness's per-sample gradient comparison: funcad and torch.func agree per parameter on the mlp and lenet
cases in float64, and the comparison sees a gradient that is off."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harness import cli
from harness.per_sample import per_sample_differences


@pytest.mark.parametrize("case", ["mlp", "lenet"])
def test_per_sample_gradients_agree_with_torch_func(case):
    diffs = per_sample_differences(case, batch_size=3)
    assert diffs and all(d < 1e-10 for d in diffs.values()), diffs


def test_the_comparison_sees_a_different_loss(monkeypatch):
    from funcad import nn

    real = nn.per_sample_grads
    monkeypatch.setattr(nn, "per_sample_grads", lambda *a, **k: tuple(g * 1.001 for g in real(*a, **k)))
    assert max(per_sample_differences("mlp", batch_size=2).values()) > 1e-8


# -- through the CLI: --per-sample ---------------------------------------------------------------------------------

FAST = ["--steps", "2", "--no-timing", "--dtype", "float64", "--batch-size", "8"]
MLP_PARAMS = [f"dense_relu_sequential.{i}.{kind}" for i in (0, 2, 4) for kind in ("weight", "bias")]


def _per_sample_rows(out: Path, case: str) -> pd.DataFrame:
    metrics = pd.read_csv(out / "metrics.csv")
    return metrics[(metrics["case"] == case) & (metrics["section"] == "per_sample")]


def test_cli_per_sample_on_mlp_reports_each_parameter(tmp_path, capsys):
    out = tmp_path / "report"
    assert cli.main(["run", "mlp", "tutorial", *FAST, "--per-sample", "--out", str(out)]) == 0
    console = capsys.readouterr().out
    assert "mlp per-sample gradients at step 0: all 6 parameters within" in console
    assert "tutorial per-sample gradients at step 0: not computed" in console
    rows = _per_sample_rows(out, "mlp")
    max_abs = rows[rows["metric"] == "max_abs"].set_index("item")["value"]
    assert sorted(max_abs.index) == sorted(MLP_PARAMS)
    assert (max_abs < 1e-12).all(), max_abs  # float64 vmap(grad) against torch.func: rounding only
    assert set(rows.loc[rows["metric"] == "verdict", "text"]) == {"pass"}
    assert _per_sample_rows(out, "tutorial")["text"].str.startswith("not computed").all()
    report = (out / "report.md").read_text()
    assert "Per-sample gradients at step 0 (float64): all 6 parameters" in report
    assert "| dense_relu_sequential.4.bias | (8, 10) |" in report
    assert "Per-sample gradients" in (out / "report.html").read_text()


def test_cli_per_sample_difference_alone_fails_the_run(tmp_path, capsys, monkeypatch):
    from funcad import nn

    real = nn.per_sample_grads

    def off(*args, **kwargs):  # the last bias's per-sample gradients 0.1 % off; the batch gradient stays right
        grads = real(*args, **kwargs)
        return (*grads[:-1], grads[-1] * 1.001)

    monkeypatch.setattr(nn, "per_sample_grads", off)
    out = tmp_path / "report"
    assert cli.main(["run", "mlp", *FAST, "--per-sample", "--out", str(out)]) == 1
    assert "FAIL in 1 of 6 parameters: dense_relu_sequential.4.bias" in capsys.readouterr().out
    rows = _per_sample_rows(out, "mlp")
    verdicts = rows[rows["metric"] == "verdict"].set_index("item")["text"]
    assert verdicts["dense_relu_sequential.4.bias"] == "fail" and (verdicts.drop("dense_relu_sequential.4.bias") == "pass").all()
    summary = json.loads((out / "metrics.json").read_text())["summary"]
    assert summary[0]["verdict"] == "fail" and "per-sample gradient of dense_relu_sequential.4.bias" in summary[0]["offender"]


def test_cli_planted_grad_fault_shows_in_every_sample(tmp_path):
    out = tmp_path / "report"
    plant = "funcad:grad:dense_relu_sequential.4.bias:3:0:1e-3"
    assert cli.main(["run", "mlp", *FAST, "--per-sample", "--plant", plant, "--out", str(out)]) == 1
    rows = _per_sample_rows(out, "mlp").set_index(["item", "metric"])
    assert rows.loc[("dense_relu_sequential.4.bias", "max_abs"), "value"] == pytest.approx(1e-3, rel=1e-6)
    assert rows.loc[("dense_relu_sequential.4.bias", "verdict"), "text"] == "fail"
    assert rows.loc[("dense_relu_sequential.4.weight", "verdict"), "text"] == "pass"
