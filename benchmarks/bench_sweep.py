"""Sweep wall time by executor, and what each executor adds per point.

1. One grid of tiny points (tutorial, float64, 2 steps, seeds 0..N-1, each with its full report) run by
   ``funcad-compare sweep`` in a fresh process with ``--executor serial``, ``local`` and ``dask`` (a LocalCluster):
   wall time from start to exit (imports, pool or cluster start-up and the report included) and the sum of the
   points' own seconds; with ``--sweep-rounds`` the three alternate and medians are kept.
2. Dispatch overhead alone: ``--dispatch`` no-op items through the local pool and a LocalCluster of the same size,
   after a warm-up, so start-up is excluded; rounds alternate the two executors and the median is kept.

    PYTHONPATH=. python benchmarks/bench_sweep.py [--points 32] [--workers 2] [--dispatch 200] [--rounds 3] [--sweep-rounds 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from harness.sweep.executors import DaskExecutor, LocalExecutor


def sweep_wall(executor: str, points: int, workers: int, root: Path) -> tuple[float, float]:
    """(wall s of a whole ``funcad-compare sweep`` process, sum of its points' own seconds)."""
    out = root / f"{executor}-{time.monotonic_ns()}"
    command = [sys.executable, "-m", "harness", "sweep", "--cases", "tutorial", "--dtypes", "float64", "--steps", "2",
               "--seeds", f"0-{points - 1}", "--executor", executor, "--out", str(out)]
    if executor != "serial":
        command += ["--workers", str(workers)]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    wall = time.perf_counter() - start
    return wall, float(pd.read_csv(out / "metrics.csv")["seconds"].sum())


def nothing(item):
    return item


def dispatch_seconds(executor, items: int) -> float:
    list(executor.map_unordered(nothing, range(8)))  # workers started and warm
    start = time.perf_counter()
    answers = list(executor.map_unordered(nothing, range(items)))
    assert len(answers) == items
    return (time.perf_counter() - start) / items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dispatch", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the dispatch measurement")
    parser.add_argument("--sweep-rounds", type=int, default=1, help="rounds of the three sweeps, alternating executors")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    walls: dict[str, list[tuple[float, float]]] = {"serial": [], "local": [], "dask": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.sweep_rounds):
            for executor, runs in walls.items():
                runs.append(sweep_wall(executor, args.points, args.workers, Path(tmp)))
    for executor, runs in walls.items():
        wall, own = statistics.median(w for w, _ in runs), statistics.median(o for _, o in runs)
        print(f"{args.points}-point sweep, {executor:6s}: median wall {wall:6.1f} s of {[round(w, 1) for w, _ in runs]}, points' own "
              f"time {own:6.1f} s, {wall / args.points:.2f} s per point")
    local, dask = LocalExecutor(args.workers), DaskExecutor(workers=args.workers)
    try:
        samples = {"local": [], "dask": []}
        for _ in range(args.rounds):
            samples["local"].append(dispatch_seconds(local, args.dispatch))
            samples["dask"].append(dispatch_seconds(dask, args.dispatch))
    finally:
        local.close()
        dask.close()
    for name, values in samples.items():
        print(f"dispatch overhead per point, {name:5s}: median {statistics.median(values) * 1e3:.2f} ms over {args.rounds} rounds "
              f"of {args.dispatch} no-op points")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
