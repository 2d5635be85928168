"""Nothing lost: a user's ``latest`` is left alone, two runs in one second both keep their report, a signal leaves no
half-written report and ``latest`` as it was, and what a killed writer left behind is removed by the next run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_process import FAST, SLOW_WRITE, start

from harness import cli, files

#: Every run of these processes believes it is 2026-01-02 03:04:05 UTC, so their default folder names collide.
SAME_SECOND = "import time\n_fixed = time.struct_time((2026, 1, 2, 3, 4, 5, 4, 2, 0))\ntime.gmtime = lambda *args: _fixed\n"


def _visible(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir())


def test_a_latest_the_harness_did_not_make_is_left_alone_with_a_warning(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("ckpt/epoch10").mkdir(parents=True)
    Path("ckpt/epoch10/weights.bin").write_text("the user's")
    os.symlink("epoch10", "ckpt/latest")
    assert cli.main(["run", "tutorial", *FAST, "--out", "ckpt/r1"]) == 0
    assert os.readlink("ckpt/latest") == "epoch10" and Path("ckpt/r1/report.md").exists()
    assert "ckpt/latest as it is: it is not a link the harness made" in capsys.readouterr().err
    Path("own").mkdir()
    Path("own/latest").write_text("my notes")
    assert cli.main(["run", "tutorial", *FAST, "--out", "own/r1"]) == 0
    assert Path("own/latest").read_text() == "my notes"
    assert "own/latest as it is" in capsys.readouterr().err
    assert cli.main(["run", "tutorial", *FAST, "--out", "own/r2"]) == 0  # and again: never replaced
    assert Path("own/latest").read_text() == "my notes"


def test_a_latest_the_harness_made_follows_each_new_report(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "tutorial", *FAST, "--out", "reports/a"]) == 0
    assert os.readlink("reports/latest") == "a"
    assert cli.main(["run", "tutorial", *FAST, "--out", "reports/b"]) == 0
    assert os.readlink("reports/latest") == "b"


def test_two_runs_started_in_the_same_second_keep_both_reports(tmp_path):
    runs = [start(["run", "tutorial", "--no-timing", "--steps", str(steps)], tmp_path, SAME_SECOND) for steps in (3, 7)]
    for process in runs:
        process.communicate(timeout=300)
        assert process.returncode == 0
    folders = [p for p in (tmp_path / "reports").iterdir() if p.name != "latest"]
    assert sorted(p.name for p in folders) == ["20260102-030405-tutorial", "20260102-030405-tutorial-2"]
    steps = sorted(json.loads((p / "metrics.json").read_text())["run"]["options"]["steps"] for p in folders)
    assert steps == [3, 7]  # both complete, neither replaced by the other
    for folder in folders:
        assert sorted(os.listdir(folder)) == ["metrics.csv", "metrics.json", "report.html", "report.md"]
    assert os.readlink(tmp_path / "reports/latest") in {p.name for p in folders}


def _earlier_report(root: Path, monkeypatch) -> str:
    """A finished report under root/reports, which ``latest`` names; return its folder name."""
    monkeypatch.chdir(root)
    assert cli.main(["run", "tutorial", *FAST, "--out", "reports/earlier"]) == 0
    return os.readlink(root / "reports/latest")


def _while_writing(root: Path) -> subprocess.Popen:
    process = start(["run", "tutorial", *FAST], root, SLOW_WRITE)
    deadline = time.monotonic() + 240
    while not (root / "writing").exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.1)
    return process


@pytest.mark.parametrize(("signum", "status", "name"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT")])
def test_a_signal_while_writing_leaves_nothing_half_written_and_latest_unchanged(tmp_path, monkeypatch, signum, status, name):
    latest = _earlier_report(tmp_path, monkeypatch)
    before = _visible(tmp_path / "reports")
    process = _while_writing(tmp_path)
    assert [p for p in os.listdir(tmp_path / "reports") if p.startswith(".")]  # the staging folder exists meanwhile
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == status
    messages = [line for line in err.strip().splitlines() if not line.startswith("[")]
    assert messages == [f"funcad-compare: {'terminated' if name == 'SIGTERM' else 'interrupted'} ({name}); no partial report left behind"]
    assert _visible(tmp_path / "reports") == before and os.readlink(tmp_path / "reports/latest") == latest


def test_a_killed_writers_leftovers_go_with_the_next_run_but_a_live_writers_stay(tmp_path, monkeypatch):
    process = _while_writing(tmp_path)
    process.kill()
    process.communicate(timeout=60)
    [leftover] = [p for p in (tmp_path / "reports").iterdir() if p.name.startswith(".")]
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        start_time = files._start_time(sleeper.pid)
        live = tmp_path / "reports" / f".other.w{sleeper.pid}-{start_time}.abcd1234"
        live.mkdir()
        (live / "report.md").write_text("being written")
        monkeypatch.chdir(tmp_path)
        assert cli.main(["run", "tutorial", *FAST]) == 0
        assert not leftover.exists() and live.exists() and (live / "report.md").read_text() == "being written"
    finally:
        sleeper.kill()
        sleeper.wait()
    assert files.remove_leftovers(tmp_path / "reports") == [live] and not live.exists()  # its writer is gone now
