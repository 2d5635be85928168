"""Drive one session of a sweep: run the points still missing on an executor and save each as it finishes."""

from __future__ import annotations

import sys
import time
from functools import partial
from typing import TextIO

from harness.sweep.point import ERROR, Outcome, run_point, unanswered
from harness.sweep.store import SweepStore


class Progress:
    """A tqdm bar (points done, failed, errors, remaining, time left) on a tty; silent otherwise or without tqdm."""

    def __init__(self, total: int, done: int, stream: TextIO | None = None):
        stream = stream or sys.stderr
        self.total, self.failed, self.errors, self.bar = total, 0, 0, None
        if stream.isatty():
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=total, initial=done, file=stream, unit="point", dynamic_ncols=True, desc="sweep")

    def update(self, record: dict) -> None:
        self.failed += record["status"] == "fail"
        self.errors += record["status"] == ERROR
        if self.bar is not None:
            self.bar.update()
            self.bar.set_postfix_str(f"failed {self.failed}, errors {self.errors}, remaining {self.total - self.bar.n}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_sweep(store: SweepStore, executor, retry_errors: bool = False, stream: TextIO | None = None) -> dict:
    """Run every point of ``store`` not yet finished (and its ERROR points when ``retry_errors``); returns the session's entry."""
    todo = store.todo(retry_errors)
    total = len(store.grid.points())
    session = store.begin_session(executor=executor.describe(), workers=executor.workers, timing=store.grid.timing,
                                  points_to_run=len(todo))
    progress = Progress(total, total - len(todo), stream)
    start, computed = time.perf_counter(), 0
    try:
        for point, result in executor.map_unordered(partial(run_point, store.grid), todo):
            outcome = result if isinstance(result, Outcome) else unanswered(point, result.message)
            progress.update(store.save(outcome, session))
            computed += 1
    finally:
        progress.close()
        store.end_session(points_computed=computed, wall_s=round(time.perf_counter() - start, 3))
    return store.sessions[-1]
