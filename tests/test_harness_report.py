"""Reports: every file is written and parses, the HTML stands alone, and a failed write leaves nothing behind."""

from __future__ import annotations

import base64
import json

import pandas as pd
import pytest
import torch
from threadpoolctl import threadpool_info

from harness import plots, report
from harness.cases import CASES
from harness.runner import RunOptions, run_cases
from harness.timing import fixed_threads, interleaved, interleaved_settings, thread_switch


@pytest.fixture(scope="module")
def run():
    with fixed_threads(1):
        return run_cases([CASES["tutorial"], CASES["logreg"]], RunOptions(steps=3, batch_size=16, time_budget_s=0.05))


@pytest.fixture(scope="module")
def written(run, tmp_path_factory):
    return report.write(run, tmp_path_factory.mktemp("reports") / "r1")


def test_report_files_exist_and_parse(written):
    target = written
    assert sorted(p.name for p in target.iterdir()) == ["metrics.csv", "metrics.json", "report.html", "report.md"]
    csv = pd.read_csv(target / "metrics.csv")
    assert list(csv.columns) == report.TIDY_COLUMNS
    assert {"summary", "forward", "gradient", "loss", "parameter_step", "final_parameter", "speed"} <= set(csv["section"])
    grads = csv[(csv["section"] == "gradient") & (csv["metric"] == "max_abs")]
    assert set(grads["item"]) == {"w", "b", "linear.weight", "linear.bias"}
    saved = json.loads((target / "metrics.json").read_text())
    assert saved["run"]["passed"] is True and [r["case"] for r in saved["summary"]] == ["tutorial", "tutorial", "logreg", "logreg"]
    assert csv["value"].dtype == float and csv["step"].dropna().eq(csv["step"].dropna().round()).all()
    verdicts = csv[csv["metric"] == "verdict"]
    assert verdicts["value"].isna().all() and set(verdicts["text"]) <= {"pass", "noise", "fail"}
    rebuilt = pd.DataFrame(saved["metrics"]["rows"], columns=saved["metrics"]["columns"])
    assert list(rebuilt.columns) == report.TIDY_COLUMNS and len(rebuilt) == len(csv)
    both = rebuilt["value"].notna()
    assert both.sum() == csv["value"].notna().sum()
    assert (rebuilt.loc[both, "value"].astype(float) - csv.loc[both, "value"]).abs().max() == 0.0
    md = (target / "report.md").read_text()
    assert "| case | dtype | verdict |" in md and "## tutorial" in md and "## logreg" in md and "Known semantic differences" in md


def test_html_embeds_its_plots(written):
    html = (written / "report.html").read_text()
    images = html.split("data:image/png;base64,")[1:]
    assert len(images) == 3 * 2  # gradient errors, loss curves, speed bars per case
    for image in images:
        assert base64.b64decode(image.split("'", 1)[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<img" in html and "src='http" not in html


def test_a_failed_write_leaves_no_partial_report(run, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("plotting failed")

    monkeypatch.setattr(plots, "speed_bars", broken)
    with pytest.raises(RuntimeError, match="plotting failed"):
        report.write(run, tmp_path / "r3")
    assert list(tmp_path.iterdir()) == []


def test_rewriting_a_report_replaces_it_whole_and_moves_latest(run, tmp_path):
    first = report.write(run, tmp_path / "r4")
    assert (tmp_path / "latest").resolve() == first.resolve()
    (first / "stale.txt").write_text("from an older run")
    second = report.write(run, tmp_path / "r4b")
    assert (tmp_path / "latest").resolve() == second.resolve()
    with pytest.raises(report.ReportError, match="also stale.txt, which replacing the report would delete"):
        report.write(run, first)  # a file beside the report's own is the user's: never deleted
    assert (first / "stale.txt").read_text() == "from an older run"
    (first / "stale.txt").unlink()
    (first / "report.md").write_text("an older report")
    report.write(run, first)
    assert (first / "report.md").read_text() != "an older report"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_an_unwritable_location_is_a_clear_error(run, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(report.ReportError, match="cannot write a report under"):
        report.write(run, blocker / "r5")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_interleaved_timing_rotates_engines_and_fits_rounds_to_the_budget():
    calls = []
    result = interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, budget_s=0.0, warmup=1, min_rounds=4, min_sample_s=0.0)
    assert calls[:6] == ["a", "a", "b", "b"] + ["a", "b"]  # warm-up + calibration of each, then round 0 in order
    assert calls[6:8] == ["b", "a"]  # round 1 starts with the other engine
    assert result["a"]["rounds"] == 4 and result["a"]["q1_s"] <= result["a"]["median_s"] <= result["a"]["q3_s"]


def test_interleaved_settings_alternate_within_rounds_and_each_sample_runs_under_its_own():
    active, calls, switches = [None], [], []

    def use(setting):
        active[0] = setting
        switches.append(setting)

    engines = {name: (lambda name=name: calls.append((name, active[0]))) for name in ("a", "b")}
    result = interleaved_settings(engines, [1, 2], use, budget_s=0.0, warmup=1, min_rounds=3, min_sample_s=0.0)
    assert switches == [1, 2] + [1, 2] + [2, 1] + [1, 2]  # calibration, then rounds 0-2 each visiting both settings
    timed = calls[8:]  # after warm-up and calibration of 2 engines x 2 settings
    assert timed[:4] == [("a", 1), ("b", 1), ("a", 2), ("b", 2)]
    assert timed[4:8] == [("b", 2), ("a", 2), ("b", 1), ("a", 1)]  # round 1 rotates settings and engines
    assert set(result) == {1, 2} and all(set(r) == {"a", "b"} and r["a"]["rounds"] == 3 for r in result.values())


def test_thread_switch_sets_torch_and_numpy_blas_threads_and_restores_both():
    def blas_threads():
        return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}

    torch_before, blas_before = torch.get_num_threads(), blas_threads()
    most = max(blas_before)  # OpenBLAS caps the count at what it started with (the core count by default)
    with thread_switch() as use:
        use(1)
        assert torch.get_num_threads() == 1 and blas_threads() == {1}
        use(most)
        assert torch.get_num_threads() == most and blas_threads() == {most}
        use(1)
    assert torch.get_num_threads() == torch_before and blas_threads() == blas_before
