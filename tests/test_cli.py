"""funcad-compare: exit codes (0 pass, 1 fail, 2 usage), reports written or not at all, show, bench dispatch."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from idx_files import write_idx

import harness
from harness import cli
from harness.console import Progress, render_table

FAST = ["--steps", "2", "--no-timing"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_list_names_every_case(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("tutorial", "logreg", "mlp", "lenet", "mlp_bn"):
        assert f"\n{name} " in "\n" + out


def test_unknown_case_exits_2_and_lists_cases(capsys):
    assert cli.main(["run", "nosuchcase"]) == 2
    err = capsys.readouterr().err
    assert "unknown case nosuchcase" in err and "tutorial, logreg, mlp, lenet, mlp_bn" in err
    assert not Path("reports").exists()


def test_bad_flags_exit_2(capsys):
    assert cli.main(["run", "--dtype", "float8"]) == 2
    assert cli.main(["frobnicate"]) == 2
    assert cli.main(["run", "tutorial", "--plant", "funcad:grad"]) == 2
    assert cli.main(["run", "tutorial", "--batch-size", "0"]) == 2
    assert "batch size must be >= 1, got 0" in capsys.readouterr().err
    assert cli.main(["run", "tutorial", "--rtol=-1e-6"]) == 2
    assert "rtol must be a finite number >= 0, got -1e-06" in capsys.readouterr().err
    assert cli.main(["run", "tutorial", "--atol", "nan"]) == 2
    assert "atol must be a finite number >= 0, got nan" in capsys.readouterr().err
    assert not Path("reports").exists()


def test_passing_run_exits_0_and_writes_a_report(capsys):
    assert cli.main(["run", "tutorial", *FAST]) == 0
    reports = [p for p in Path("reports").iterdir() if not p.name.startswith(".") and p.name != "latest"]
    assert len(reports) == 1 and reports[0].name.endswith("-tutorial")
    assert Path("reports/latest").resolve() == reports[0].resolve()
    out = capsys.readouterr().out
    assert "all verdicts pass" in out and "\033[" not in out  # no colour when stdout is not a tty


def test_planted_fault_exits_1_and_the_report_names_it(capsys):
    assert cli.main(["run", "tutorial", *FAST, "--plant", "torch:param:w:4,2:1:0.5", "--out", "reports/faulty"]) == 1
    md = Path("reports/faulty/report.md").read_text()
    assert "FAIL" in md
    summary_rows = [line for line in md.splitlines() if line.startswith("| tutorial |")]
    assert all("| FAIL |" in row and "| 1 |" in row for row in summary_rows)  # first divergent step 1
    assert "| w | (5, 3) |" in md and "(4, 2)" in md


def test_show_prints_a_saved_report(capsys):
    assert cli.main(["run", "tutorial", *FAST, "--out", "reports/one"]) == 0
    capsys.readouterr()
    assert cli.main(["show", "reports/latest"]) == 0
    assert "tutorial  float32  pass" in capsys.readouterr().out
    assert cli.main(["show", "reports/none"]) == 2


def test_unreadable_data_dir_exits_2_without_a_report(capsys):
    assert cli.main(["run", "mlp", *FAST, "--data-dir", "no/such/dir"]) == 2
    assert "data dir no/such/dir does not exist" in capsys.readouterr().err
    assert not Path("reports").exists()
    Path("empty").mkdir()
    assert cli.main(["run", "mlp", *FAST, "--data-dir", "empty"]) == 2
    assert "train-images-idx3-ubyte" in capsys.readouterr().err
    assert [p for p in Path("reports").iterdir() if p.name != "latest"] == [] if Path("reports").exists() else True


def test_unwritable_out_dir_exits_2_and_leaves_nothing(capsys):
    Path("blocker").write_text("a file, not a directory")
    assert cli.main(["run", "tutorial", *FAST, "--out", "blocker/report"]) == 2
    err = capsys.readouterr().err
    assert "cannot write a report in" in err and "blocker" in err
    assert sorted(os.listdir(".")) == ["blocker"]


def test_out_never_replaces_something_that_is_not_a_report(capsys):
    Path("mine").mkdir()
    Path("mine/notes.txt").write_text("keep me")
    Path("afile").write_text("keep me too")
    for out in ("mine", "afile"):
        assert cli.main(["run", "tutorial", *FAST, "--out", out]) == 2
        assert "exists and is not a report directory" in capsys.readouterr().err
    assert Path("mine/notes.txt").read_text() == "keep me" and Path("afile").read_text() == "keep me too"
    assert sorted(os.listdir(".")) == ["afile", "mine"]


def test_bench_dispatches_to_harness_bench(monkeypatch, capsys):
    seen = []

    monkeypatch.delattr(harness, "bench", raising=False)  # once imported (by another test), the package attribute would win
    monkeypatch.setitem(sys.modules, "harness.bench", types.SimpleNamespace(main=lambda argv: seen.append(argv) or 7))
    assert cli.main(["bench", "--rounds", "3"]) == 7 and seen == [["--rounds", "3"]]
    monkeypatch.setitem(sys.modules, "harness.bench", None)
    assert cli.main(["bench"]) == 2
    assert "harness.bench" in capsys.readouterr().err


def test_python_dash_m_harness_runs_the_cli():
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-m", "harness", "run", "nope"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2 and "known cases: tutorial" in done.stderr


def test_tolerance_flags_override_the_defaults(capsys):
    small = ["--dtype", "float64", "--plant", "funcad:grad:w:0,0:0:1e-6"]  # inside float32's atol 1e-5, outside float64's 1e-7
    assert cli.main(["run", "tutorial", *FAST, *small]) == 1
    assert cli.main(["run", "tutorial", *FAST, *small, "--atol", "1e-5"]) == 0
    assert cli.main(["run", "tutorial", *FAST, *small, "--atol", "1e-5", "--rtol", "0"]) == 0
    assert cli.main(["run", "tutorial", *FAST, *small, "--atol", "1e-7", "--rtol", "1"]) == 0  # rtol 1 covers any same-sign pair


def test_idx_data_dir_is_used(capsys):
    rng = np.random.default_rng(0)
    Path("mnist").mkdir()
    write_idx(Path("mnist/train-images-idx3-ubyte"), rng.integers(0, 256, (40, 28, 28), dtype=np.uint8))
    write_idx(Path("mnist/train-labels-idx1-ubyte"), rng.integers(0, 10, 40, dtype=np.uint8))
    assert cli.main(["run", "mlp", *FAST, "--batch-size", "8", "--data-dir", "mnist", "--out", "reports/idx"]) == 0
    assert "data mnist" in Path("reports/idx/report.md").read_text()
    assert cli.main(["run", "mlp", *FAST, "--batch-size", "64", "--data-dir", "mnist"]) == 2  # 40 samples cannot make a batch of 64
    assert "batch size 64" in capsys.readouterr().err


def test_nan_still_writes_the_report_and_fails(capsys):
    assert cli.main(["run", "tutorial", *FAST, "--plant", "funcad:param:b:1:1:nan", "--out", "reports/nan"]) == 1
    md = Path("reports/nan/report.md").read_text()
    assert "### Non-finite values (NaN/Inf)" in md and "| float32 | 1 | funcad | b | non-finite value after the update |" in md
    out = capsys.readouterr().out
    assert "NaN/Inf" in out and "some verdicts FAIL" in out  # the console summary counts them too


def test_progress_bar_redraws_in_place_on_a_tty():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    bar = Progress(4, stream)
    bar.tick("mlp: step 1/4")
    bar.tick("mlp: step 2/4")
    assert stream.getvalue().count("\r") == 2 and "[###############...............] 2/4 mlp: step 2/4" in stream.getvalue()

    coloured = render_table(pd.DataFrame({"case": ["a", "b"], "verdict": ["pass", "FAIL"]}), colour=True)
    assert "\033[32mpass" in coloured and "\033[1;31mFAIL" in coloured


def test_unusable_device_exits_2(capsys):
    assert cli.main(["run", "tutorial", *FAST, "--device", "tpu:0"]) == 2
    assert "--device tpu:0" in capsys.readouterr().err
