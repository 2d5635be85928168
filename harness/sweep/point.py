"""One grid point, run wherever an executor puts it: the comparison, its summary metrics and its full report.

``run_point`` never raises for a point that crashes: the crash becomes an ERROR record with its message, so one
bad point cannot take a sweep down. The full report comes back as bytes rather than being written where the point
ran, so a point computed on another machine of a Dask cluster still lands in the sweep folder.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness import report
from harness.cases import CASES, Case
from harness.runner import run_cases
from harness.sweep.grid import Grid, Point
from harness.timing import fixed_threads

#: The summary columns of ``funcad-compare run`` kept for each point (one row: the point's dtype).
SUMMARY_METRICS = ("verdict", "worst_grad_tol_ratio", "worst_grad_max_abs", "worst_grad_max_rel", "worst_grad_param", "worst_grad_index",
                   "forward_max_abs", "loss_max_rel_div", "first_divergent_step", "final_param_max_abs", "worst_final_param",
                   "nonfinite_events", "f32_error_ratio", "speed_ratio", "jit_speed_ratio")
ERROR = "ERROR"


@dataclass(frozen=True)
class Outcome:
    """What a point gives back: its record (keys, status, metrics) and its full report's files by relative path."""

    record: dict
    files: dict[str, bytes]


def case_for(grid: Grid, point: Point) -> Case:
    """The case of ``point`` (built-in, or a user model built as ``run --model`` builds it), at the point's learning rate."""
    user = grid.user_model(point.case)
    if user is not None:
        return user.case(point.seed, grid.steps, point.lr)
    case = CASES[point.case]
    if point.lr is None:
        return case
    return dataclasses.replace(case, optimizer=dataclasses.replace(case.optimizer, learning_rate=float(point.lr)))


def run_point(grid: Grid, point: Point) -> Outcome:
    """Run one point single-threaded (torch and BLAS at one thread, as ``run`` does by default) and summarise it."""
    started = time.time()
    record = {"key": point.key, **dataclasses.asdict(point), "host": socket.gethostname(), "pid": os.getpid(), "started": started}
    try:
        with fixed_threads(1):
            result = run_cases([case_for(grid, point)], grid.run_options(point))
        row = result.summary().set_index("dtype").loc[point.dtype]
        record |= {"status": str(row["verdict"]), **{name: _plain(row[name]) for name in SUMMARY_METRICS[1:]}, "error": None}
        files = _report_files(result)
    except Exception as exc:  # any crash of the comparison is this point's ERROR, never the sweep's
        record |= {"status": ERROR, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(limit=-8)}
        files = {}
    record["seconds"] = time.time() - started
    return Outcome(record, files)


def unanswered(point: Point, message: str) -> Outcome:
    """The ERROR record of a point whose worker gave no answer (it died, or the call could not be sent)."""
    return Outcome({"key": point.key, **dataclasses.asdict(point), "status": ERROR, "error": message, "seconds": None}, {})


def _plain(value):
    """A JSON-able Python scalar (numpy scalars unwrapped; pandas' missing values as None)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _report_files(result) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory(prefix="funcad-sweep-point-") as tmp:
        written = report.write(result, Path(tmp) / "report")
        return {str(p.relative_to(written)): p.read_bytes() for p in sorted(written.rglob("*")) if p.is_file()}
