"""``funcad-compare sweep``: run a grid of comparisons locally or on Dask, resumably, and write the sweep report.

Exit status as ``run``: 0 every point passes, 1 some point fails, 2 usage or input error (bad grid, unknown case,
dask missing, a folder that cannot hold or resume the sweep), 3 internal error (a point crashed: ERROR).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from harness.sweep.executors import DaskExecutor, LocalExecutor, SerialExecutor, require_dask
from harness.sweep.grid import Grid, parse_seeds

REPORTS_ROOT = Path("reports")


def add_parser(sub) -> None:
    """Register ``sweep`` on the ``funcad-compare`` sub-command parser ``sub``."""
    p = sub.add_parser("sweep", help="run many comparisons (cases x dtypes x seeds x batch sizes x learning rates) and report pass rates",
                       description="Each grid point is one `run` comparison. Points finished are saved as they complete, "
                                   "so an interrupted sweep continues with --resume DIR.")
    p.add_argument("--grid", metavar="FILE", help="TOML file with the grid (keys cases, dtypes, seeds, batch_sizes, lr, steps, ..., and "
                                                  "[[model]] tables for user models); flags given here override its keys")
    p.add_argument("--cases", nargs="+", metavar="CASE", help="case names (default: all)")
    p.add_argument("--dtypes", nargs="+", choices=["float32", "float64"], help="default float32 (judged against a float64 truth)")
    p.add_argument("--seeds", nargs="+", metavar="SEED", help="seeds and inclusive ranges, e.g. 0-31 40 (default 0)")
    p.add_argument("--batch-sizes", nargs="+", type=int, metavar="N", help="batch sizes (default: each case's own)")
    p.add_argument("--lr", nargs="+", type=float, metavar="LR", help="learning rates (default: each case's own)")
    p.add_argument("--steps", type=int, help="training steps per point (default 20)")
    p.add_argument("--mode", choices=["free", "lockstep"], help="as run --mode (default free)")
    p.add_argument("--rtol", type=float, help="as run --rtol (default per dtype)")
    p.add_argument("--atol", type=float, help="as run --atol (default per dtype)")
    p.add_argument("--torch-optimizer", choices=["exact", "stock"], help="as run --torch-optimizer (default exact)")
    p.add_argument("--data-dir", help="as run --data-dir: MNIST-format IDX files (default: digits upscaled to 28x28)")
    p.add_argument("--timing", action="store_true", default=None,
                   help="measure speed too; points then run one at a time per machine (default: off, parallel points disturb timings)")
    p.add_argument("--executor", choices=["local", "dask", "serial"], default="local",
                   help="local: a process pool on this machine (default); dask: a Dask cluster (--scheduler) or a LocalCluster "
                        "started for the sweep; serial: one point after another in this process")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="address of a running Dask scheduler (with --executor dask)")
    p.add_argument("--workers", type=int, help="local pool or LocalCluster workers (default: one per core)")
    p.add_argument("--out", help="sweep folder (default: reports/sweep-<timestamp>)")
    p.add_argument("--resume", metavar="DIR", help="continue the sweep in DIR: run only the points it is missing")
    p.add_argument("--retry-errors", action="store_true", help="with --resume, also rerun the points recorded as ERROR")


def _error(message: str) -> int:
    print(f"funcad-compare sweep: error: {message}", file=sys.stderr)
    return 2


_GRID_FLAGS = ("grid", "cases", "dtypes", "seeds", "batch_sizes", "lr", "steps", "mode", "rtol", "atol", "torch_optimizer", "data_dir", "timing")


def _grid(args):
    """The grid of a new sweep: the TOML file's, with the flags given on top."""
    base = Grid.from_toml(args.grid) if args.grid else Grid.from_dict({})
    return base.overridden(cases=_tuple(args.cases), dtypes=_tuple(args.dtypes), seeds=_tuple(args.seeds and parse_seeds(args.seeds)),
                           batch_sizes=_tuple(args.batch_sizes), lr=_tuple(args.lr), steps=args.steps, mode=args.mode, rtol=args.rtol,
                           atol=args.atol, torch_optimizer=args.torch_optimizer, data_dir=args.data_dir, timing=args.timing)


def _tuple(values):
    return None if values is None else tuple(values)


def _check_flags(args) -> None:
    """Raise ValueError for flags that do not go together (before anything is started or written)."""
    if args.resume:
        given = [f"--{name.replace('_', '-')}" for name in _GRID_FLAGS if getattr(args, name) is not None] + ["--out"] * bool(args.out)
        if given:
            raise ValueError(f"--resume takes the grid and the folder from {args.resume}; drop {', '.join(given)}")
    elif args.retry_errors:
        raise ValueError("--retry-errors goes with --resume DIR")
    if args.workers is not None and (args.workers < 1 or args.executor == "serial"):
        raise ValueError(f"--workers must be >= 1 and goes with --executor local or dask, got {args.workers} with {args.executor}")
    if args.scheduler and args.executor != "dask":
        raise ValueError("--scheduler goes with --executor dask")


def _executor(args, timing: bool):
    if args.executor == "serial":
        return SerialExecutor()
    if args.executor == "local":
        return LocalExecutor(1 if timing else args.workers)
    return DaskExecutor(args.scheduler, args.workers, one_per_host=timing)


def main(args: argparse.Namespace) -> int:
    from harness.sweep.store import SweepStore, new_sweep_dir  # imports torch: only after OMP_WAIT_POLICY is set (harness.cli)

    try:
        _check_flags(args)
        if args.executor == "dask":
            require_dask()
        store = SweepStore.open(Path(args.resume)) if args.resume else None
        grid = store.grid if store else _grid(args)
        if store is None and args.out:
            SweepStore.check_new(Path(args.out))
    except (ValueError, ImportError) as exc:  # GridError, StoreError and DaskUnavailable among them
        return _error(str(exc))
    try:
        executor = _executor(args, grid.timing)
    except (OSError, TimeoutError) as exc:
        return _error(f"cannot reach the Dask scheduler {args.scheduler}: {exc}")
    try:
        return _sweep(args, store or SweepStore.create(Path(args.out) if args.out else new_sweep_dir(REPORTS_ROOT), grid), executor)
    except ValueError as exc:  # the sweep folder could not be created
        return _error(str(exc))
    finally:
        executor.close()


def _sweep(args, store, executor) -> int:
    from harness import console
    from harness.sweep import report  # imports torch, as above
    from harness.sweep.driver import run_sweep

    start = time.perf_counter()
    try:
        session = run_sweep(store, executor, args.retry_errors)
        table = report.points_table(store)
        report.write(store, table)
    except KeyboardInterrupt:
        print(f"\ninterrupted; the finished points are saved: continue with --resume {store.directory}", file=sys.stderr)
        return 130
    except Exception as exc:  # the sweep itself broke (points' own crashes are ERROR records, not exceptions)
        traceback.print_exc()
        print(f"funcad-compare sweep: internal error: {type(exc).__name__}: {exc}; finished points are saved in {store.directory}",
              file=sys.stderr)
        return 3
    status = report.exit_status(table, len(store.grid.points()))
    print(console.render_table(report.pass_rates(table), sys.stdout.isatty()))
    verdict = {0: "all points pass", 1: "some points FAIL", 3: "some points crashed (ERROR)"}[status]
    print(f"{verdict}; {session['points_computed']} points computed in this session by {executor.describe()}; "
          f"{time.perf_counter() - start:.1f} s; report: {store.directory / 'report.html'}")
    return status
