"""funcad-compare sweep: the grid, exit codes 0/1/2/3, resuming, the sweep report, and each point equal to a plain run."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness import cli
from harness.cases import CASES
from harness.runner import RunOptions, run_cases
from harness.sweep import report as sweep_report
from harness.sweep.driver import Progress
from harness.sweep.grid import Grid, GridError, parse_seeds

FAST = ["--steps", "2", "--executor", "serial"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _points(folder) -> pd.DataFrame:
    return pd.read_csv(Path(folder) / "metrics.csv").set_index("key").sort_index()


# -- the grid -------------------------------------------------------------------------------------------------------

def test_seed_ranges_are_inclusive_and_mix_with_single_seeds():
    assert parse_seeds(["0-3", 9, "12"]) == [0, 1, 2, 3, 9, 12]
    with pytest.raises(GridError, match="seed range 5-2 is empty"):
        parse_seeds(["5-2"])
    with pytest.raises(GridError, match="a seed must be an integer or a range A-B, got 'x'"):
        parse_seeds(["x"])


def test_grid_points_are_the_product_of_the_axes_with_distinct_keys():
    grid = Grid(cases=("tutorial", "mlp"), dtypes=("float32", "float64"), seeds=(0, 1, 2), batch_sizes=(16, 64), lr=(1e-3, 1e-2))
    points = grid.points()
    assert len(points) == 2 * 2 * 3 * 2 * 2 and len({p.key for p in points}) == len(points)
    assert points[0].key == "tutorial-float32-bs16-lr0.001-seed0"
    assert grid.run_options(points[0]).dtype == "both"  # float32 with its float64 truth
    assert grid.run_options(Grid(cases=("mlp",), dtypes=("float64",)).points()[0]).dtype == "float64"


def test_grid_file_in_toml_with_flags_on_top(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text('cases = ["logreg"]\ndtypes = ["float64"]\nseeds = "0-2"\nbatch_sizes = [8, 16]\nlr = [0.1]\nsteps = 3\n')
    grid = Grid.from_toml(path)
    assert (grid.cases, grid.dtypes, grid.seeds, grid.batch_sizes, grid.lr, grid.steps) == (("logreg",), ("float64",), (0, 1, 2), (8, 16), (0.1,), 3)
    assert grid.overridden(seeds=(7,), steps=None).seeds == (7,)
    assert Grid.from_dict(grid.to_dict()) == grid


@pytest.mark.parametrize("text, message", [
    ('cases = ["nosuchcase"]', "unknown case nosuchcase; known cases: tutorial, logreg, mlp, lenet, mlp_bn, resnet, conv1d, lstm, transformer"),
    ("seed = 3", "unknown key seed; known keys: cases, dtypes, seeds"),
    ('[[model]]\nname = "mine"', "mine: key factory must be a non-empty string, got None"),
    ('dtypes = ["float16"]', "dtype float16 is not one of float32, float64"),
    ("batch_sizes = [0]", "batch size must be >= 1, got 0"),
    ("lr = [-1.0]", "a learning rate must be a finite number > 0, got -1.0"),
    ("seeds = [1, 1]", "seeds lists 1 more than once"),
    ('batch_sizes = ["big"]', "batch_sizes holds 'big'"),
    ("cases = [", "not valid TOML"),
])
def test_bad_grid_files_name_the_key_at_fault(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    with pytest.raises(GridError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Grid.from_toml(path)


# -- exit codes -----------------------------------------------------------------------------------------------------

def test_usage_errors_exit_2_and_leave_nothing_behind(tmp_path, capsys):
    assert cli.main(["sweep", "--cases", "nosuchcase"]) == 2
    assert "unknown case nosuchcase" in capsys.readouterr().err
    assert cli.main(["sweep", "--seeds", "3-1"]) == 2
    assert "seed range 3-1 is empty" in capsys.readouterr().err
    assert cli.main(["sweep", "--grid", "missing.toml"]) == 2
    assert "--grid missing.toml: cannot read it" in capsys.readouterr().err
    assert cli.main(["sweep", "--retry-errors"]) == 2
    assert "--retry-errors goes with --resume DIR" in capsys.readouterr().err
    assert cli.main(["sweep", "--executor", "serial", "--workers", "2"]) == 2
    assert cli.main(["sweep", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "--scheduler goes with --executor dask" in capsys.readouterr().err
    assert cli.main(["sweep", "--resume", str(tmp_path)]) == 2
    assert "not a sweep folder (cannot read sweep.json" in capsys.readouterr().err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    assert cli.main(["sweep", "--cases", "tutorial", *FAST, "--out", "full"]) == 2
    assert "full exists and is not an empty folder" in capsys.readouterr().err
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine" and not Path("reports").exists()


def test_dask_executor_without_dask_is_a_usage_error_saying_how_to_install(monkeypatch, capsys):
    for name in [n for n in sys.modules if n == "distributed" or n.startswith(("distributed.", "dask"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now raises ImportError
    monkeypatch.setitem(sys.modules, "dask", None)
    assert cli.main(["sweep", "--cases", "tutorial", "--executor", "dask"]) == 2
    err = capsys.readouterr().err
    assert "--executor dask needs dask.distributed" in err and 'pip install -e ".[sweep]"' in err
    assert not Path("reports").exists()


def test_passing_sweep_exits_0_and_each_point_equals_a_plain_run(capsys):
    assert cli.main(["sweep", "--cases", "tutorial", "logreg", "--seeds", "0-1", *FAST, "--out", "s"]) == 0
    assert "all points pass" in capsys.readouterr().out
    points = _points("s")
    assert list(points["status"]) == ["pass"] * 4 and set(points["dtype"]) == {"float32"}
    for case, seed in (("logreg", 1), ("tutorial", 0)):
        plain = run_cases([CASES[case]], RunOptions(steps=2, seed=seed, timing=False)).summary().set_index("dtype").loc["float32"]
        row = points.loc[f"{case}-float32-bsdefault-lrdefault-seed{seed}"]
        assert row["worst_grad_tol_ratio"] == pytest.approx(plain["worst_grad_tol_ratio"], rel=1e-8)
        assert row["loss_max_rel_div"] == pytest.approx(plain["loss_max_rel_div"], rel=1e-8, abs=1e-300)
        assert row["worst_grad_param"] == plain["worst_grad_param"] and row["status"] == plain["verdict"]
        point_report = json.loads(Path("s", row["report"]).with_name("metrics.json").read_text())
        assert point_report["summary"][0]["case"] == case and point_report["run"]["options"]["seed"] == seed
    html = Path("s/report.html").read_text()
    assert "<a href='points/logreg-float32-bsdefault-lrdefault-seed0/report/report.html'>" in html and "data:image/png" in html


def test_learning_rate_axis_sets_the_optimizer_of_both_engines():
    """tutorial's own lr is 0.1: the lr 0.1 point is the default point exactly; another lr trains differently."""
    assert cli.main(["sweep", "--cases", "tutorial", "--dtypes", "float64", "--lr", "0.1", "2.5", *FAST, "--out", "a"]) == 0
    assert cli.main(["sweep", "--cases", "tutorial", "--dtypes", "float64", *FAST, "--out", "b"]) == 0

    def losses(folder, key):
        rows = pd.read_csv(Path(folder, "points", key, "report", "metrics.csv"))
        return rows[(rows["section"] == "loss") & (rows["metric"].isin(["funcad_loss", "torch_loss"]))].sort_values(["step", "metric"])["value"]

    default = losses("b", "tutorial-float64-bsdefault-lrdefault-seed0").to_numpy()
    assert (losses("a", "tutorial-float64-bsdefault-lr0.1-seed0").to_numpy() == default).all()
    fast = losses("a", "tutorial-float64-bsdefault-lr2.5-seed0").to_numpy()
    assert fast[0] == default[0] and fast[2] < default[2]  # same start; a larger SGD step lowers this convex loss further


def test_failing_points_exit_1_and_the_report_lists_the_failing_seeds(capsys):
    """float64 has no noise floor: with zero tolerances any rounding difference between the engines fails."""
    assert cli.main(["sweep", "--cases", "logreg", "--dtypes", "float64", "--seeds", "0-1", "--rtol", "0", "--atol", "0", *FAST,
                     "--out", "s"]) == 1
    assert "some points FAIL" in capsys.readouterr().out
    assert list(_points("s")["status"]) == ["fail", "fail"]
    assert "| logreg | float64 | default | default | 2 | 0 | 0 | 2 | 0 | 0% | 0, 1 |" in Path("s/report.md").read_text()


def test_crashing_point_exits_3_is_kept_as_error_and_rerun_only_with_retry_errors(capsys):
    """logreg has 569 samples: batch size 1000 crashes in the batching, batch size 8 runs."""
    assert cli.main(["sweep", "--cases", "logreg", "--batch-sizes", "8", "1000", *FAST, "--out", "s"]) == 3
    assert "some points crashed (ERROR)" in capsys.readouterr().out
    points = _points("s")
    error = points.loc["logreg-float32-bs1000-lrdefault-seed0"]
    assert error["status"] == "ERROR" and "batch size 1000 must be between 1 and the number of samples (569)" in error["error"]
    assert points.loc["logreg-float32-bs8-lrdefault-seed0", "status"] == "pass"
    assert "Points that crashed (ERROR" in Path("s/report.md").read_text()

    assert cli.main(["sweep", "--resume", "s"]) == 3  # nothing missing: nothing recomputed
    assert cli.main(["sweep", "--resume", "s", "--retry-errors"]) == 3
    sessions = json.loads(Path("s/sweep.json").read_text())["sessions"]
    assert [s["points_computed"] for s in sessions] == [2, 0, 1]
    assert _points("s").loc["logreg-float32-bs8-lrdefault-seed0", "session"] == 1
    assert _points("s").loc["logreg-float32-bs1000-lrdefault-seed0", "session"] == 3


def test_resume_refuses_grid_flags_and_out(capsys):
    assert cli.main(["sweep", "--cases", "tutorial", *FAST, "--out", "s"]) == 0
    assert cli.main(["sweep", "--resume", "s", "--seeds", "4", "--out", "t"]) == 2
    assert "--resume takes the grid and the folder from s; drop --seeds, --out" in capsys.readouterr().err
    assert cli.main(["sweep", "--cases", "tutorial", *FAST, "--out", "s"]) == 2
    assert "s already holds a sweep; continue it with --resume s" in capsys.readouterr().err


# -- report and progress ------------------------------------------------------------------------------------------

def _table(statuses: list[str], ratios: list[float], case: str = "mlp") -> pd.DataFrame:
    rows = [{"key": f"{case}-{i}", "case": case, "dtype": "float32", "seed": i, "batch_size": 16.0, "lr": float("nan"), "status": s,
             "worst_grad_tol_ratio": r, "first_divergent_step": None, "report": None, "worst_grad_param": "w", "worst_grad_index": "(0,)",
             "loss_max_rel_div": 0.0, "error": None} for i, (s, r) in enumerate(zip(statuses, ratios))]
    return pd.DataFrame(rows)


def test_pass_rates_count_noise_floor_as_pass_and_name_failing_seeds():
    rates = sweep_report.pass_rates(_table(["pass", "noise", "fail", "pass", "ERROR"], [0.1, 2.0, 30.0, 0.5, None]))
    row = rates.iloc[0]
    assert (row["seeds"], row["pass"], row["noise floor"], row["FAIL"], row["ERROR"]) == (5, 2, 1, 1, 1)
    assert row["pass rate"] == "60%" and row["failing seeds"] == "2, 4" and row["batch size"] == "16" and row["lr"] == "default"


def test_distribution_tells_one_unlucky_seed_from_a_systematic_failure():
    unlucky = sweep_report.distribution(_table(["pass"] * 7 + ["fail"], [0.1] * 7 + [50.0])).iloc[0]
    systematic = sweep_report.distribution(_table(["fail"] * 6 + ["pass"] * 2, [5.0] * 6 + [0.2] * 2)).iloc[0]
    noise_only = sweep_report.distribution(_table(["noise"] * 3, [4.0] * 3)).iloc[0]
    assert (unlucky["FAIL"], unlucky["reading"], unlucky["max"], unlucky["median"]) == (1, "isolated points", "50", "0.1")
    assert (systematic["FAIL"], systematic["over tolerance"], systematic["reading"]) == (6, 6, "systematic")
    assert (noise_only["FAIL"], noise_only["over tolerance"], noise_only["reading"]) == (0, 3, "no failure")


def test_worst_points_rank_by_gradient_difference_then_earliest_divergence():
    table = _table(["pass", "fail", "fail", "ERROR"], [0.2, 40.0, 40.0, None])
    table["first_divergent_step"] = [None, 7, 3, None]
    worst = sweep_report.worst_points(table)
    assert list(worst["point"]) == ["mlp-2", "mlp-1", "mlp-0"]  # the ERROR point is listed with the crashes, not here
    assert list(worst["first divergent step"]) == ["3", "7", "-"]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_tty_counts_failures_and_what_remains_and_is_quiet_otherwise():
    tty, pipe = _Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = Progress(total=5, done=1, stream=stream)
        bar.update({"status": "fail"})
        bar.update({"status": "ERROR"})
        bar.close()
    assert "3/5" in tty.getvalue() and "failed 1, errors 1, remaining 2" in tty.getvalue()
    assert pipe.getvalue() == ""


def test_timed_sweep_runs_one_point_at_a_time_and_says_so(capsys):
    assert cli.main(["sweep", "--cases", "tutorial", "--dtypes", "float64", "--steps", "2", "--timing", "--workers", "2", "--out", "s"]) == 0
    assert "by local process pool, 1 worker;" in capsys.readouterr().out
    row = _points("s").iloc[0]
    assert row["speed_ratio"] > 0 and row["jit_speed_ratio"] > 0
    assert "Timings on (--timing): points ran one at a time per machine" in Path("s/report.md").read_text()
    assert cli.main(["sweep", "--cases", "tutorial", "--dtypes", "float64", *FAST, "--out", "untimed"]) == 0
    assert _points("untimed")["speed_ratio"].isna().all()


def test_default_folder_is_reports_sweep_timestamp_and_holds_the_grid():
    assert cli.main(["sweep", "--cases", "tutorial", "--dtypes", "float64", *FAST]) == 0
    (folder,) = Path("reports").iterdir()
    assert folder.name.startswith("sweep-20") and {"report.md", "report.html", "metrics.csv", "sweep.json", "points"} <= {
        p.name for p in folder.iterdir()}
    saved = json.loads((folder / "sweep.json").read_text())
    assert saved["grid"]["cases"] == ["tutorial"] and saved["grid"]["steps"] == 2 and saved["grid"]["timing"] is False


def test_metrics_parquet_reads_back_equal_to_metrics_csv():
    assert cli.main(["sweep", "--cases", "tutorial", "logreg", "--dtypes", "float32", "float64", *FAST, "--out", "s"]) == 0
    csv = pd.read_csv("s/metrics.csv")
    parquet = pd.read_parquet("s/metrics.parquet")
    assert list(parquet.columns) == list(csv.columns) and len(parquet) == len(csv) == 4
    for name in csv.columns:  # the CSV keeps 9 significant digits; the parquet file keeps every bit
        if pd.api.types.is_numeric_dtype(csv[name]) and not pd.api.types.is_bool_dtype(csv[name]):
            expected = pd.to_numeric(parquet[name], errors="coerce").astype(float)
            assert csv[name].astype(float).to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-8, nan_ok=True), name
        else:
            assert _cells(csv[name]) == _cells(parquet[name]), name


def _cells(column: pd.Series) -> list:
    """A column's values as Python objects, missing ones (NaN, None, NA) as None."""
    return list(column.astype(object).where(column.notna(), None))
