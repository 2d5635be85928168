"""Sweep executors: a local pool and a Dask LocalCluster give the serial metrics; dying workers and a killed driver
lose no point, and a resumed sweep recomputes none of the finished ones."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import distributed  # the sweep extra, part of the dev install
import pandas as pd
import psutil
import pytest

from harness import cli
from harness.sweep.executors import MAX_DEATHS, DaskExecutor, Failure, LocalExecutor

ROOT = Path(__file__).resolve().parents[1]
GRID = ["--cases", "tutorial", "--dtypes", "float32", "float64", "--seeds", "0-3", "--steps", "2"]  # 8 points
WHERE_AND_WHEN = ["seconds", "host", "pid", "session", "started", "report"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _metrics(folder) -> pd.DataFrame:
    table = pd.read_csv(Path(folder) / "metrics.csv").set_index("key").sort_index()
    return table.drop(columns=[c for c in WHERE_AND_WHEN if c in table])


# -- functions run by pool workers (module level, so spawned workers can import them) -----------------------------------

def square_or_die(item):
    """``item`` is (n, marker, deaths): SIGKILL this worker the first ``deaths`` times (counted in the marker file)."""
    n, marker, deaths = item
    if marker is not None:
        seen = int(Path(marker).read_text()) if Path(marker).exists() else 0
        if seen < deaths:
            Path(marker).write_text(str(seen + 1))
            os.kill(os.getpid(), signal.SIGKILL)
    return n * n


def timed_nap(item):
    start = time.time()
    time.sleep(0.4)
    return start, time.time()


def test_local_pool_retries_a_point_whose_worker_died_and_gives_up_on_one_that_always_kills_it(tmp_path):
    once, always = str(tmp_path / "once"), str(tmp_path / "always")
    items = [(n, None, 0) for n in range(6)] + [(10, once, 1), (11, always, 99)]
    executor = LocalExecutor(2)
    try:
        answers = dict(executor.map_unordered(square_or_die, items))
    finally:
        executor.close()
    assert set(answers) == set(items)  # nothing lost
    assert {item[0]: answers[item] for item in items if item[0] != 11} == {0: 0, 1: 1, 2: 4, 3: 9, 4: 16, 5: 25, 10: 100}
    # the killer may first have run beside other points (that death breaks the pool), then it runs alone MAX_DEATHS times
    assert Path(once).read_text() == "1" and MAX_DEATHS <= int(Path(always).read_text()) <= MAX_DEATHS + 1
    assert isinstance(answers[items[-1]], Failure) and f"died each of the {MAX_DEATHS} times it ran alone" in answers[items[-1]].message


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_sigkilled_sweep_resumes_without_recomputing_finished_points(tmp_path, executor):
    """SIGKILL the driver once a point is saved (a local pool, or the LocalCluster it started), then resume locally."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-m", "harness", "sweep", *GRID, "--executor", executor, "--workers", "1", "--out", "s"]
    driver = subprocess.Popen(command, env=env, cwd=tmp_path, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 240
        while not list(Path(tmp_path, "s", "points").glob("*/metrics.json")):
            assert driver.poll() is None and time.time() < deadline, driver.stderr.read().decode()
            time.sleep(0.05)
        workers = psutil.Process(driver.pid).children(recursive=True)
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
        _, alive = psutil.wait_procs(workers, timeout=15)  # the pool's workers notice and exit
        assert not alive
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
        driver.stderr.close()
    finished = {p.parent.name: p.read_bytes() for p in Path(tmp_path, "s", "points").glob("*/metrics.json")}
    assert 1 <= len(finished) < 8

    assert cli.main(["sweep", "--resume", "s", "--workers", "1"]) == 0
    sessions = json.loads(Path("s/sweep.json").read_text())["sessions"]
    assert "points_computed" not in sessions[0]  # killed before it could say
    assert sessions[1]["points_to_run"] == sessions[1]["points_computed"] == 8 - len(finished)
    table = pd.read_csv("s/metrics.csv")
    assert len(table) == 8 and set(table["status"]) == {"pass"}
    assert (table["session"] == 1).sum() == len(finished) and (table["session"] == 2).sum() == 8 - len(finished)
    for key, data in finished.items():  # finished points were not touched
        assert Path("s/points", key, "metrics.json").read_bytes() == data


def test_a_local_pool_and_a_dask_local_cluster_of_2_workers_give_the_serial_metrics_of_8_points(capsys):
    assert cli.main(["sweep", *GRID, "--executor", "serial", "--out", "serial"]) == 0
    assert cli.main(["sweep", *GRID, "--executor", "local", "--workers", "2", "--out", "local"]) == 0
    assert cli.main(["sweep", *GRID, "--executor", "dask", "--workers", "2", "--out", "dask"]) == 0
    assert "dask, a LocalCluster started for the sweep, 2 workers" in capsys.readouterr().out
    for parallel in ("local", "dask"):
        table = pd.read_csv(f"{parallel}/metrics.csv")
        assert len(table) == 8 and table["pid"].nunique() == 2 and os.getpid() not in set(table["pid"])
        pd.testing.assert_frame_equal(_metrics(parallel), _metrics("serial"))


@pytest.fixture(scope="module")
def cluster():
    import cloudpickle
    import dask

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import this test module
    # one task per worker thread at a time, so a dying worker takes only the task it was running down with it
    with dask.config.set({"distributed.scheduler.allowed-failures": 1, "distributed.scheduler.worker-saturation": 1.0}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                      silence_logs=40) as local_cluster:
            yield local_cluster


def test_dask_reruns_a_task_whose_worker_died_and_reports_one_that_keeps_killing_it(cluster, tmp_path):
    once, always = str(tmp_path / "once"), str(tmp_path / "always")
    items = [(n, None, 0) for n in range(4)] + [(10, once, 1), (11, always, 99)]
    executor = DaskExecutor(scheduler=cluster.scheduler_address)
    try:
        assert executor.describe() == f"dask, the cluster at {cluster.scheduler_address}, 2 workers"
        answers = dict(executor.map_unordered(square_or_die, items))
    finally:
        executor.close()
    assert set(answers) == set(items)
    assert {item[0]: answers[item] for item in items if item[0] != 11} == {0: 0, 1: 1, 2: 4, 3: 9, 10: 100}
    assert Path(once).read_text() == "1" and Path(always).read_text() == "2"  # allowed-failures 1: two deaths, then given up
    assert isinstance(answers[items[-1]], Failure) and "KilledWorker" in answers[items[-1]].message


def test_timed_dask_points_never_share_a_machine(cluster):
    executor = DaskExecutor(scheduler=cluster.scheduler_address, one_per_host=True)
    try:
        spans = sorted(span for _, span in executor.map_unordered(timed_nap, list(range(4))))
    finally:
        executor.close()
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:]))


def test_an_unreachable_dask_scheduler_is_a_usage_error_and_leaves_nothing_behind(capsys):
    assert cli.main(["sweep", "--cases", "tutorial", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:1", "--out", "s"]) == 2
    assert "cannot reach the Dask scheduler tcp://127.0.0.1:1" in capsys.readouterr().err
    assert not Path("s").exists()
