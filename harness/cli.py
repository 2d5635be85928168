"""``funcad-compare``: run the built-in comparisons, show saved reports, and dispatch to the benchmark.

Exit status: 0 when every verdict passes, 1 when any fails, 2 for usage errors (unknown case, bad flag,
unreadable data dir, unwritable output dir). torch is imported only after ``OMP_WAIT_POLICY=PASSIVE`` is set:
torch's spinning OpenMP workers would otherwise steal the cores numpy's BLAS needs in interleaved timings.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPORTS_ROOT = Path("reports")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="funcad-compare", description="Run identical models in funcad and PyTorch and report where they differ.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the built-in cases")
    run = sub.add_parser("run", help="compare cases (default: all) and write a report")
    run.add_argument("cases", nargs="*", metavar="CASE", help="case names (see `list`); default: all")
    run.add_argument("--steps", type=int, default=20, help="training steps (default 20)")
    run.add_argument("--dtype", choices=["float32", "float64", "both"], default="both",
                     help="both (default): float32 judged against a float64 ground truth, plus the float64 comparison")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--batch-size", type=int, default=None, help="override every case's batch size")
    run.add_argument("--data-dir", default=None, help="directory with MNIST-format IDX files (default: digits upscaled to 28x28)")
    run.add_argument("--mode", choices=["free", "lockstep"], default="free",
                     help="free: each side follows its own trajectory; lockstep: both restart from the same parameters every step")
    run.add_argument("--rtol", type=float, default=None, help="relative tolerance (default per dtype: float32 1.3e-6, float64 1e-7)")
    run.add_argument("--atol", type=float, default=None, help="absolute tolerance (default per dtype: float32 1e-5, float64 1e-7)")
    run.add_argument("--torch-optimizer", choices=["exact", "stock"], default=None,
                     help="torch side's optimizer: exact = funcad's formula (default), stock = torch.optim as shipped")
    run.add_argument("--threads", type=int, default=1, help="torch and numpy BLAS threads (default 1: stable, comparable timings)")
    run.add_argument("--no-timing", action="store_true", help="skip the speed measurements")
    run.add_argument("--device", default=None, help="torch device (default: cuda when present, else cpu)")
    run.add_argument("--plant", action="append", default=[], metavar="FAULT",
                     help="self-check: plant a fault, side:kind:param:i,j:step[:delta], e.g. funcad:grad:fc1.weight:3,5:0:1e-3")
    run.add_argument("--out", default=None, help="report directory (default: reports/<timestamp>-<cases>)")
    from harness import usermodel  # imports torch: only after main() has set OMP_WAIT_POLICY

    usermodel.add_arguments(run)
    show = sub.add_parser("show", help="print the summary of a saved report")
    show.add_argument("dir", help="report directory (e.g. reports/latest)")
    sub.add_parser("bench", help="speed benchmark (funcad eager, funcad jit, PyTorch, peers); see `bench --help`", add_help=False)
    return parser


def _error(message: str) -> int:
    print(f"funcad-compare: error: {message}", file=sys.stderr)
    return 2


def _list(args) -> int:
    from harness.cases import CASES

    width = max(len(n) for n in CASES)
    for name, case in CASES.items():
        print(f"{name.ljust(width)}  {case.description}")
    return 0


def _check_writable(directory: Path) -> None:
    """Raise OSError unless a report can be created in ``directory`` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    probe = tempfile.mkdtemp(prefix=".probe.", dir=directory)
    os.rmdir(probe)


def _check_device(name: str) -> None:
    """Raise ValueError unless torch can use device ``name`` here."""
    import torch

    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"--device {name}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {name}: only cpu and cuda are supported")


def _run(args) -> int:
    from harness import usermodel
    from harness.cases import CASES

    known = CASES
    if args.model is not None:
        try:
            user = usermodel.case_from_args(args)
        except usermodel.UserModelError as exc:
            return _error(str(exc))
        known = {user.name: user}
    names = args.cases or list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        return _error(f"unknown case{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; known cases: {', '.join(known)}")
    if args.threads < 1:
        return _error("--threads must be >= 1")

    from harness import console, report
    from harness.datasets import DataError, check_data_dir
    from harness.runner import Fault, RunOptions, run_cases, ticks_per_case
    from harness.timing import fixed_threads

    try:
        faults = tuple(Fault.parse(text) for text in args.plant)
        options = RunOptions(steps=args.steps, dtype=args.dtype, seed=args.seed, batch_size=args.batch_size, data_dir=args.data_dir,
                             mode=args.mode, rtol=args.rtol, atol=args.atol, torch_optimizer=args.torch_optimizer, device=args.device,
                             timing=not args.no_timing, faults=faults)
        if args.data_dir is not None:
            check_data_dir(args.data_dir)
        if args.device is not None:
            _check_device(args.device)
    except (ValueError, DataError) as exc:
        return _error(str(exc))
    try:
        target = report.check_target(Path(args.out) if args.out else report.default_dir(REPORTS_ROOT, names))
    except report.ReportError as exc:
        return _error(f"--out {args.out}: {exc}")
    try:
        _check_writable(target.parent)
    except OSError as exc:
        return _error(f"cannot write a report in {target.parent}: {exc.strerror or exc}")

    cases = [known[n] for n in names]
    progress = console.Progress(len(cases) * ticks_per_case(options))
    start = time.perf_counter()
    try:
        with fixed_threads(args.threads):
            result = run_cases(cases, options, progress.tick)
    except (DataError, ValueError) as exc:
        progress.close()
        return _error(str(exc))
    progress.close()
    try:
        path = report.write(result, target)
    except report.ReportError as exc:
        return _error(str(exc))
    colour = sys.stdout.isatty()
    print(console.render_table(report.summary_table(result.summary()), colour))
    print(f"{console.verdict_line(result.passed, colour)}; {time.perf_counter() - start:.1f} s; report: {path}")
    return 0 if result.passed else 1


def _show(args) -> int:
    import pandas as pd

    from harness import console, report

    try:
        saved = report.read_summary(Path(args.dir))
    except report.ReportError as exc:
        return _error(str(exc))
    summary = pd.DataFrame(saved.get("summary", []))
    if not len(summary):
        return _error(f"{args.dir}: the report holds no summary rows")
    passed = bool(saved.get("run", {}).get("passed", False))
    colour = sys.stdout.isatty()
    print(console.render_table(report.summary_table(summary), colour))
    print(console.verdict_line(passed, colour))
    return 0 if passed else 1


def _bench(argv: list[str]) -> int:
    try:
        from harness import bench
    except ModuleNotFoundError as exc:
        if exc.name == "harness.bench":
            return _error("the benchmark (harness.bench) is not part of this installation yet")
        raise
    return bench.main(argv)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench":
        return _bench(argv[1:])
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return {"list": _list, "run": _run, "show": _show}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
