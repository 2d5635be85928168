"""What a report says is true: planted faults are real and announced, the data and thread settings are the ones in
force, speed ratios carry their spread, the first divergent step is defined and backed by its table, and the run's
time covers writing the report. The console summary fits the terminal."""

from __future__ import annotations

import json
import re
import shlex
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from cli_process import FAST, run

import harness
from funcad import nn
from harness import cli, console, plots, report
from harness.timing import NOISY_SPREAD


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_a_plant_that_would_never_be_applied_is_a_usage_error(capsys):
    assert cli.main(["run", "lenet", "--plant", "funcad:grad:fc1.weight:3,5:50:1e-3", "--steps", "2"]) == 2
    assert "step 50 is not below --steps 2" in capsys.readouterr().err
    assert cli.main(["run", "tutorial", "logreg", *FAST, "--plant", "funcad:grad:fc9.weight:0,0:0"]) == 2
    err = capsys.readouterr().err
    assert "no selected case has a parameter 'fc9.weight'" in err and "tutorial: w, b" in err
    assert cli.main(["run", "tutorial", *FAST, "--plant", "funcad:grad:w:5,0:0"]) == 2
    assert "element (5, 0) is outside w of shape (5, 3) in case tutorial" in capsys.readouterr().err
    assert not Path("reports").exists()


def test_the_plant_example_in_run_help_works_as_printed(tmp_path, capsys):
    assert cli.main(["run", "--help"]) == 0
    help_text = capsys.readouterr().out
    [example] = [line.strip() for line in help_text.splitlines() if line.strip().startswith("funcad-compare run") and "--plant" in line]
    args = shlex.split(example)[1:]
    done = run(args, tmp_path)
    assert done.returncode == 1, done.stderr  # the fault is found: a failing verdict, not an error
    assert done.stdout.startswith("PLANTED FAULTS: this run perturbs one side on purpose: funcad's gradient fc1.weight[3, 5] + 0.001")
    assert re.search(r"worst: lenet float(32|64), gradient of fc1\.weight, element \(3, 5\), step 0", done.stdout)


def test_a_plant_run_says_so_everywhere_and_never_becomes_latest(capsys):
    assert cli.main(["run", "tutorial", *FAST, "--out", "reports/clean"]) == 0
    capsys.readouterr()
    assert cli.main(["run", "tutorial", *FAST, "--plant", "torch:param:w:4,2:1:0.5"]) == 1
    out = capsys.readouterr().out.splitlines()[0]
    assert out.startswith("PLANTED FAULTS: this run perturbs one side on purpose: torch's parameter w[4, 2] + 0.5 before step 1")
    [planted] = [p for p in Path("reports").iterdir() if p.name not in ("clean", "latest")]
    assert (planted / "report.md").read_text().startswith("# PLANTED FAULTS: funcad vs PyTorch: tutorial\n")
    html = (planted / "report.html").read_text()
    assert html.index("<div class='banner plant'") < html.index("<table")
    assert "<title>PLANTED FAULTS: funcad vs PyTorch: tutorial</title>" in html
    assert Path("reports/latest").resolve() == Path("reports/clean").resolve()


def _user_models():
    torch.manual_seed(0)
    cell, module = nn.Dense(4, 3), torch.nn.Linear(4, 3)
    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((8, 4)).astype(np.float32), rng.integers(0, 3, 8)) for _ in range(2)]
    return cell, module, data


def test_compare_reports_the_users_data_and_the_threads_in_force_while_timing():
    import torch as torch_module

    cell, module, data = _user_models()
    threads_outside = max(2, torch_module.get_num_threads())
    torch_module.set_num_threads(threads_outside)
    result = harness.compare(cell, module, data, steps=3, dtype="float32", threads=1)
    assert torch_module.get_num_threads() == threads_outside  # restored after the run
    md = (result.write_report(Path("r")) / "report.md").read_text()
    assert "data user batches (2 given, cycled): 3 x float32[8, 4]" in md
    assert "digits" not in md
    assert re.search(r"- threads: torch (intra-op 1|1 intra-op threads);", md)  # as set while timing, not after the run
    assert "torch and numpy BLAS at 1 thread while timing" in md


def test_speed_ratios_carry_their_spread_and_a_wide_one_is_marked_noisy():
    rows = [{"engine": e, "median_s": m, "iqr_s": iqr} for e, m, iqr in (("torch", 2.0, 0.1), ("funcad", 1.0, 0.1), ("funcad jit", 1.0, 0.3))]
    from harness.summary import CaseSummary, frame
    from harness.timing import spread

    steady, wide = spread(rows[1], rows[0]), spread(rows[2], rows[0])
    assert steady == pytest.approx(0.1) and wide == pytest.approx(0.3) and steady < NOISY_SPREAD < wide
    summary = frame([CaseSummary("c", "float32", "pass", speed_ratio=0.5, speed_spread=steady, jit_speed_ratio=0.5, jit_speed_spread=wide)])
    table = report.summary_table(summary)
    assert table["speed funcad/torch"][0] == "0.5 ±10%" and table["speed jit/torch"][0] == "0.5 ±30% noisy"


def test_first_divergent_step_is_defined_and_backed_by_the_per_step_table():
    assert cli.main(["run", "tutorial", "--steps", "3", "--no-timing", "--plant", "torch:param:w:4,2:1:0.5", "--out", "r"]) == 1
    md = Path("r/report.md").read_text()
    assert "First divergent step: the first training step after which the loss or any parameter differs" in md
    section = md.split("### Per-step checks (where the first divergent step comes from)\n", 1)[1].split("###", 1)[0]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines() if line.startswith("| float")]
    by_step = {(r[0], int(r[1])): r for r in rows}
    assert len(rows) == 6  # two dtypes x three steps
    for dtype in ("float32", "float64"):
        assert by_step[dtype, 0][-1] == "no"
        assert by_step[dtype, 1][4] == "w" and by_step[dtype, 1][6] == "(4, 2)" and by_step[dtype, 1][-1] == "yes"
    summary = json.loads(Path("r/metrics.json").read_text())["summary"]
    assert [row["first_divergent_step"] for row in summary] == [1, 1]
    assert "<th>diverged</th>" in Path("r/report.html").read_text()


def test_the_run_time_in_the_report_covers_writing_it(monkeypatch):
    original = plots.gradient_errors

    def slow(*args, **kwargs):
        time.sleep(1.5)
        return original(*args, **kwargs)

    monkeypatch.setattr(plots, "gradient_errors", slow)
    begun = time.perf_counter()
    assert cli.main(["run", "tutorial", *FAST, "--out", "r"]) == 0
    wall = time.perf_counter() - begun
    said = float(re.search(r"the run took ([0-9.]+) s, writing this report included", Path("r/report.md").read_text())[1])
    assert 1.5 <= said <= wall + 0.05
    assert json.loads(Path("r/metrics.json").read_text())["run"]["seconds"] >= 1.5


def test_the_legend_is_text_in_html_not_markdown_asterisks():
    assert cli.main(["run", "tutorial", *FAST, "--out", "r"]) == 0
    html = Path("r/report.html").read_text()
    legend = html.split("<p class='legend'>", 1)[1].split("</p>", 1)[0]
    assert "<em>pass</em>" in legend and "*" not in legend.replace("<em>", "").replace("</em>", "")


def _summary(cases: int) -> pd.DataFrame:
    from harness.summary import CaseSummary, frame

    return report.summary_table(frame([CaseSummary(f"case{i}", "float32", "fail" if i % 2 else "pass", worst_grad_param="conv2.weight",
                                                   worst_grad_max_abs=1.5e-3, worst_grad_tol_ratio=12.0, worst_grad_index="(3, 1, 4, 4)",
                                                   loss_max_rel_div=2e-6, first_divergent_step=3, worst_final_param="fc1.weight",
                                                   final_param_max_abs=4e-3, speed_ratio=1.3, speed_spread=0.25)
                                       for i in range(cases)]))


@pytest.mark.parametrize("width", [60, 80, 100])
def test_the_console_summary_fits_the_width_and_wraps_between_items(width):
    table = _summary(3)
    text = console.render_summary(table, colour=False, width=width)
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines)
    assert [line.split() for line in lines if not line.startswith(" ")] == [["case0", "float32", "pass"], ["case1", "float32", "FAIL"],
                                                                            ["case2", "float32", "pass"]]
    first_block = " ".join(" ".join(lines[1:lines.index(next(x for x in lines[1:] if not x.startswith(" ")))]).split())
    for column, value in zip(table.columns[3:], table.iloc[0, 3:]):
        assert f"{column}: {value}" in first_block  # every item whole, an element index such as (3, 1, 4, 4) included


def test_the_console_summary_is_a_table_when_it_fits_and_width_is_100_when_unknown(monkeypatch):
    table = _summary(2)
    wide = console.render_summary(table, colour=False, width=400)
    assert wide == console.render_table(table, colour=False)
    monkeypatch.delenv("COLUMNS", raising=False)
    assert console.terminal_width(open("/dev/null", "w")) == console.DEFAULT_WIDTH == 100
    monkeypatch.setenv("COLUMNS", "72")
    assert console.terminal_width() == 72


def test_testing_submodules_are_reachable_after_a_plain_import(tmp_path):
    import subprocess
    import sys

    from cli_process import env

    code = "import funcad, harness; print(funcad.testing.check_grads.__name__, harness.testing.assert_parity.__name__)"
    done = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["check_grads", "assert_parity"]
