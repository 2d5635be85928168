"""The sweep folder, written point by point as points finish, so an interrupted sweep loses no finished point::

    reports/sweep-<timestamp>/
      sweep.json                 the grid, and one entry per session (executor, workers, timing, points computed, wall time)
      points/<key>/report/       a point's full report (report.md, report.html, metrics.csv, metrics.json), as ``run`` writes it
      points/<key>/metrics.json  the point's record, written last: a point is finished exactly when this file exists
      report.md, report.html, metrics.csv, metrics.parquet   the sweep report (``harness.sweep.report``)

Every file is written to a temporary name beside its target and renamed into place, so a reader (or a resumed
sweep) sees each file whole or not at all. Only the process driving the sweep writes here.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from harness.files import publish
from harness.sweep.grid import Grid, GridError, Point
from harness.sweep.point import ERROR, Outcome

SWEEP_FILE = "sweep.json"


class StoreError(ValueError):
    """A folder that is not a sweep (for ``--resume``) or cannot hold a new one."""


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data.encode() if isinstance(data, str) else data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def new_sweep_dir(root: Path) -> Path:
    """``root/sweep-<UTC timestamp>``, created; a suffix keeps two sweeps started in the same second apart."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    for n in range(1, 1000):
        path = root / (f"sweep-{stamp}" + (f"-{n}" if n > 1 else ""))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise StoreError(f"cannot create a sweep folder under {root}: sweep-{stamp} and its suffixed names exist")


class SweepStore:
    """A sweep folder: its grid, its sessions and its finished points (see the module docstring for the layout)."""

    def __init__(self, directory: Path, grid: Grid, sessions: list[dict]):
        self.directory, self.grid, self.sessions = Path(directory), grid, sessions

    @staticmethod
    def check_new(directory: Path) -> None:
        """Raise StoreError unless ``directory`` is missing or an empty folder."""
        if (directory / SWEEP_FILE).exists():
            raise StoreError(f"{directory} already holds a sweep; continue it with --resume {directory}")
        if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
            raise StoreError(f"{directory} exists and is not an empty folder; choose another --out")

    @classmethod
    def create(cls, directory: Path, grid: Grid) -> SweepStore:
        """A new sweep in ``directory``, which must be missing or empty."""
        directory = Path(directory)
        cls.check_new(directory)
        try:
            (directory / "points").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the sweep folder {directory}: {exc.strerror or exc}") from None
        store = cls(directory, grid, [])
        store._save_sweep_file()
        return store

    @classmethod
    def open(cls, directory: Path) -> SweepStore:
        """The sweep saved in ``directory`` (for ``--resume``)."""
        directory = Path(directory)
        try:
            saved = json.loads((directory / SWEEP_FILE).read_text())
            grid = Grid.from_dict(saved["grid"], f"{directory / SWEEP_FILE}")
        except (OSError, ValueError, KeyError) as exc:
            if isinstance(exc, GridError):
                raise StoreError(str(exc)) from None
            raise StoreError(f"--resume {directory}: not a sweep folder (cannot read {SWEEP_FILE}: {exc})") from None
        (directory / "points").mkdir(exist_ok=True)
        return cls(directory, grid, list(saved.get("sessions", [])))

    def _save_sweep_file(self) -> None:
        write_atomic(self.directory / SWEEP_FILE, json.dumps({"grid": self.grid.to_dict(), "sessions": self.sessions}, indent=1))

    def records(self) -> dict[str, dict]:
        """The record of every finished point of the grid, by key (points whose metrics.json is missing are not finished)."""
        out = {}
        for point in self.grid.points():
            try:
                out[point.key] = json.loads((self.directory / "points" / point.key / "metrics.json").read_text())
            except FileNotFoundError:
                continue
        return out

    def todo(self, retry_errors: bool) -> list[Point]:
        """The points still to run: those not finished, and those recorded as ERROR when ``retry_errors``."""
        done = self.records()
        return [p for p in self.grid.points() if p.key not in done or (retry_errors and done[p.key]["status"] == ERROR)]

    def begin_session(self, **description) -> int:
        """Record a new session (how this invocation runs the points); returns its number, counted from 1."""
        number = len(self.sessions) + 1
        self.sessions.append({"session": number, "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), **description})
        self._save_sweep_file()
        return number

    def end_session(self, **results) -> None:
        self.sessions[-1].update(results)
        self._save_sweep_file()

    def save(self, outcome: Outcome, session: int) -> dict:
        """Write one finished point: its full report folder first, then its record; returns the record as written."""
        folder = self.directory / "points" / outcome.record["key"]
        folder.mkdir(exist_ok=True)
        record = {**outcome.record, "session": session, "report": None}
        if outcome.files:
            self._replace_report(folder, outcome.files)
            record["report"] = f"points/{record['key']}/report/report.html"
        write_atomic(folder / "metrics.json", json.dumps(record, indent=1))
        return record

    @staticmethod
    def _replace_report(folder: Path, files: dict[str, bytes]) -> None:
        """The point's ``report`` folder written whole; one left by a session killed between the report and the
        record, or by an earlier try, is replaced."""
        def fill(staging: Path) -> None:
            for name, data in files.items():
                (staging / name).parent.mkdir(parents=True, exist_ok=True)
                (staging / name).write_bytes(data)

        publish(folder / "report", fill, exclusive=False, latest=False)
