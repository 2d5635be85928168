"""Dispatch overhead of funcad's train steps, compared across source trees.

The overhead-bound cases (tutorial, mlp_bn at batch 64) spend most of a step in Python, so an added check on the hot
path shows there first. For each tree given, a fresh process imports that tree's funcad and reports, per case and
engine (eager, jit), the median step time and the number of Python and C calls one step makes (deterministic, so
unaffected by a loaded machine). Trees take turns, round after round, so load drifts hit all of them alike.

    PYTHONPATH=$PWD python benchmarks/bench_dispatch.py --trees /path/to/old/tree . --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

CASES = (("tutorial", None, 200), ("mlp_bn", 64, 20))  # (case, batch size, steps per timed repeat)


def _steps(case_name: str, batch_size) -> dict:
    from funcad.jit import jit
    from harness.cases import get_case

    case = get_case(case_name)
    x, y = case.batches(1, seed=0, batch_size=batch_size)[0]
    steps = {}
    for engine in ("eager", "jit"):
        pair = case.build("float32", seed=0)
        step = jit(pair.funcad.train_step) if engine == "jit" else pair.funcad.train_step
        steps[engine] = partial(step, *pair.funcad.prepare(x, y))
    return steps


def _count_calls(step) -> int:
    count = 0

    def profile(frame, event, arg):
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        step()
    finally:
        sys.setprofile(None)
    return count


def measure() -> dict:
    """{case/engine: {"ms": median ms per step, "calls": calls per step}} for the funcad on this process's path."""
    results = {}
    for case_name, batch_size, reps in CASES:
        for engine, step in _steps(case_name, batch_size).items():
            for _ in range(5):  # warm: the jit traces and compiles, buffers settle
                step()
            times = []
            for _ in range(7):
                start = time.perf_counter()
                for _ in range(reps):
                    step()
                times.append((time.perf_counter() - start) / reps)
            results[f"{case_name}/{engine}"] = {"ms": statistics.median(times) * 1e3, "calls": _count_calls(step)}
    return results


def _in_fresh_process(tree: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(Path(tree).resolve()), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    done = subprocess.run([sys.executable, __file__, "--child"], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", nargs="+", default=["."], help="source trees to compare (each holds funcad/, harness/)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure()))
        return
    runs: dict[str, list[dict]] = {tree: [] for tree in args.trees}
    for _ in range(args.rounds):
        for tree in args.trees:
            runs[tree].append(_in_fresh_process(tree))
    print(f"{'tree':40s} {'case/engine':16s} {'median ms/step':>15s} {'calls/step':>11s}")
    for tree, results in runs.items():
        for key in results[0]:
            ms = statistics.median(r[key]["ms"] for r in results)
            print(f"{tree:40s} {key:16s} {ms:15.4f} {results[0][key]['calls']:11d}")


if __name__ == "__main__":
    main()
