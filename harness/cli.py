"""``funcad-compare``: run the built-in comparisons, show saved reports, and dispatch to the benchmark.

Exit status (``EXIT_CODES``): 0 every verdict passes; 1 a verdict fails; 2 usage or input error (bad flag, bad
data, unusable path), reported before any case runs; 3 internal error (an exception the harness did not foresee, or
one a ``--model`` raised mid-run): one line on stderr naming the case, the error and the line that raised it, the
traceback in a log file whose path is printed. The cases
that finished are still reported. SIGINT and SIGTERM end the run with one line on stderr and 130 / 143, leaving
no half-written report and ``latest`` as it was. torch is imported only after ``OMP_WAIT_POLICY=PASSIVE`` is set:
torch's spinning OpenMP workers would otherwise steal the cores numpy's BLAS needs in interleaved timings.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from harness import files
from harness.datasets import DataError, check_data_dir
from harness.sweep import cli as sweep_cli
from harness.timing import fixed_threads

REPORTS_ROOT = Path("reports")
EXIT_CODES = {0: "every verdict passes", 1: "a verdict fails", 2: "usage or input error (bad flag, bad data, unusable path)",
              3: "internal error, or an exception raised in your --model (one line here naming where it was raised, the traceback "
                 "in a log file whose path is printed)",
              130: "interrupted (Ctrl-C)", 143: "terminated (SIGTERM)"}
PLANT_EXAMPLE = "funcad-compare run lenet --steps 3 --no-timing --plant funcad:grad:fc1.weight:3,5:0:1e-3"
_EPILOG = (f"example, a planted fault the report must catch (exit status 1):\n  {PLANT_EXAMPLE}\n\n"
           "exit status:\n" + "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items())
           + "\n\nreports go to ./reports/<UTC time>-<cases>/ (or --out); reports/latest points at the newest, except "
             "runs with --plant")


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that every ``finally`` and cleanup runs."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="funcad-compare", description="Run identical models in funcad and PyTorch and report where they differ.",
                                     epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the built-in cases")
    run = sub.add_parser("run", help="compare cases (default: all) and write a report", epilog=_EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("cases", nargs="*", metavar="CASE", help="case names (see `list`); default: all")
    run.add_argument("--steps", type=int, default=20, help="training steps (default 20)")
    run.add_argument("--dtype", choices=["float32", "float64", "both", "float16", "bfloat16", "all", "mixed"], default="both",
                     help="both (default): float32 judged against a float64 ground truth, plus the float64 comparison; float16 and "
                          "bfloat16 run beside float64 and are judged by PyTorch's own error in that dtype (its noise floor); all: "
                          "float32, float16, bfloat16 and float64; mixed: float16 compute over float32 weights with loss scaling "
                          "(funcad.amp O1 vs torch.autocast + GradScaler) beside float64")
    run.add_argument("--seed", type=int, default=0, help="seed of initial parameters and batch order, 0 to 2**63 - 1 (default 0)")
    run.add_argument("--batch-size", type=int, default=None, help="override every case's batch size")
    run.add_argument("--data-dir", default=None, help="directory with MNIST-format IDX files (default: digits upscaled to 28x28)")
    run.add_argument("--mode", choices=["free", "lockstep"], default="free",
                     help="free: each side follows its own trajectory; lockstep: both restart from the same parameters every step")
    run.add_argument("--rtol", type=float, default=None, help="relative tolerance (default per dtype: float32 1.3e-6, float64 1e-7, "
                                                                       "float16/bfloat16 0: noise floor only)")
    run.add_argument("--atol", type=float, default=None, help="absolute tolerance (default per dtype: float32 1e-5, float64 1e-7, "
                                                                       "float16/bfloat16 0: noise floor only)")
    run.add_argument("--torch-optimizer", choices=["exact", "stock"], default=None,
                     help="torch side's optimizer: exact = funcad's formula (default), stock = torch.optim as shipped")
    run.add_argument("--threads", type=int, default=1, help="torch and numpy BLAS threads (default 1: stable, comparable timings)")
    run.add_argument("--no-timing", action="store_true", help="skip the speed measurements")
    run.add_argument("--device", default=None, help="torch device (default: cuda when present, else cpu)")
    run.add_argument("--plant", action="append", default=[], metavar="FAULT",
                     help="self-check: plant a fault, side:kind:param:i,j:step[:delta] (step below --steps; applied in every "
                          "case with that parameter; the report says so and never becomes latest); see the example below")
    run.add_argument("--strict", action="store_true", help="guard warnings (zero gradients, flat loss, dead ReLUs, "
                     "collapsing or exploding gradient norms, frozen parameters) fail the run (exit 1)")
    run.add_argument("--layers", nargs="?", const="leaves", default=None, metavar="WHICH",
                     help="compare layer by layer too, chained and isolated: every leaf layer (no value), depth=N, or Cell "
                          "paths separated by commas")
    run.add_argument("--per-sample", action="store_true", help="compare per-sample gradients at step 0 too (funcad vmap(grad) "
                     "vs torch.func, float64; built-in cases logreg, mlp, lenet, and a --model without batch-coupled layers such as "
                     "BatchNorm); a failing parameter fails the run")
    run.add_argument("--at-step", type=int, default=0, metavar="N", help="the step the layer comparison looks at (default 0)")
    run.add_argument("--out", default=None, help="report directory (default: reports/<timestamp>-<cases>); an earlier report there "
                     "is replaced whole, anything else there (your files) is refused, never overwritten")
    from harness import usermodel  # imports torch: only after main() has set OMP_WAIT_POLICY

    usermodel.add_arguments(run)
    show = sub.add_parser("show", help="print the summary of a saved report",
                          description="Print the summary of a saved report. Exit status: 0 when every verdict of that run passed, "
                                      "1 when one failed or a case stopped on an error, 2 when DIR holds no readable report.")
    show.add_argument("dir", help="report directory (e.g. reports/latest)")
    explain = sub.add_parser("explain", help="one parameter (or element) of a saved run across its steps, both sides",
                             description="One parameter (or element) of a saved run across its steps, on both sides. The values are "
                                         "recomputed: the run is trained again from the options its metrics.json keeps (a --model "
                                         "run from its flags: the factory must still import), then the report's per-step rows and "
                                         "the parameter's layer row are printed.")
    explain.add_argument("dir", help="report directory (e.g. reports/latest)")
    explain.add_argument("--param", required=True, help="parameter name, funcad's (bn1.gamma) or torch's (bn1.weight), e.g. fc1.weight")
    explain.add_argument("--element", default=None, help="an element, e.g. 3,5 (default: the whole parameter's max)")
    sweep_cli.add_parser(sub)
    sub.add_parser("bench", help="speed benchmark (funcad eager, funcad jit, PyTorch, peers); see `bench --help`", add_help=False)
    return parser


def _error(message: str) -> int:
    print(f"funcad-compare: error: {message}", file=sys.stderr)
    return 2


def _list(args) -> int:
    from harness.cases import CASES  # imports torch: only after main() has set OMP_WAIT_POLICY

    width = max(len(n) for n in CASES)
    for name, case in CASES.items():
        print(f"{name.ljust(width)}  {case.description}")
    return 0


def _check_device(name: str) -> None:
    """Raise ValueError unless torch can use device ``name`` here."""
    import torch  # only after main() has set OMP_WAIT_POLICY

    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"--device {name}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {name}: only cpu and cuda are supported")


def _run(args) -> int:
    from harness import usermodel  # imports torch: only after main() has set OMP_WAIT_POLICY
    from harness.cases import CASES

    known = CASES
    try:
        usermodel.check_flag_use(args)
        if args.model is not None:
            user = usermodel.case_from_args(args)
            known = {user.name: user}
    except usermodel.UserModelError as exc:
        return _error(str(exc))
    names = args.cases or list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        return _error(f"unknown case{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; known cases: {', '.join(known)}")
    if args.threads < 1:
        return _error("--threads must be >= 1")

    from harness import console, report  # imports torch: only after main() has set OMP_WAIT_POLICY
    from harness.engines import unaligned_notes
    from harness.faults import check_faults
    from harness.layers.compare import check_layer_calls, check_layer_paths
    from harness.runner import Fault, RunOptions, prepare_batches, run_cases, ticks_per_case

    cases = [known[n] for n in names]
    try:
        faults = tuple(Fault.parse(text) for text in args.plant)
        options = RunOptions(steps=args.steps, dtype=args.dtype, seed=args.seed, batch_size=args.batch_size, data_dir=args.data_dir,
                             mode=args.mode, rtol=args.rtol, atol=args.atol, torch_optimizer=args.torch_optimizer, device=args.device,
                             timing=not args.no_timing, faults=faults,
                             layers=args.layers, at_step=args.at_step, per_sample=args.per_sample)
        if args.data_dir is not None:
            check_data_dir(args.data_dir)
        if args.device is not None:
            _check_device(args.device)
        check_faults(faults, cases, options.steps, options.seed)
        check_layer_paths(cases, options.layers, options.seed)
    except (ValueError, DataError) as exc:
        return _error(str(exc))
    exclusive = args.out is None  # a default name is a new folder; an --out folder holding an earlier report is replaced
    if args.out is not None and not args.out.strip():
        return _error("--out: the path is empty; give a report directory, or leave --out out for reports/<timestamp>-<cases>")
    where = f"--out {args.out}: " if args.out is not None else ""
    try:
        target = report.check_target(Path(args.out) if args.out is not None else report.default_dir(REPORTS_ROOT, names))
    except report.ReportError as exc:
        return _error(f"{where}{exc}")
    try:
        files.check_writable(target.parent)
    except OSError as exc:
        return _error(f"{where}cannot write a report in {target.parent}: {files.why_unwritable(target.parent, exc)}")
    try:
        batches = prepare_batches(cases, options)  # bad data fails here, before any case runs
        check_layer_calls(cases, options.layers, batches, options.seed)
    except (DataError, ValueError) as exc:
        return _error(str(exc))

    progress = console.Progress(len(cases) * ticks_per_case(options))
    try:
        with fixed_threads(args.threads):
            result = run_cases(cases, options, progress.tick, batches)
    finally:
        progress.close()
    result.started = args.started
    result.model = usermodel.flags(args) if args.model is not None else None
    try:
        path = report.write(result, target, exclusive=exclusive)
    except report.ReportError as exc:
        return _error(str(exc))
    colour = sys.stdout.isatty()
    notice = report.plant_notice(result)
    if notice:
        print(notice)
    print(console.render_summary(report.summary_table(result.summary()), colour, console.terminal_width()))
    for case in result.cases:
        for warning in case.guards:
            print(f"{case.case} WARNING: {warning}")
        for note in unaligned_notes(case.known_differences):
            print(f"{case.case} note: {note}")
        if case.layers is not None:
            print(f"{case.case} layers at step {case.layers.step} ({case.layers.dtype}): {case.layers.verdict()}")
        if case.per_sample is not None:
            print(f"{case.case} per-sample gradients at step 0: {case.per_sample.verdict()}")
    print(f"{console.outcome_line(*report.banner(result.summary()), colour)}; {report.elapsed(result):.1f} s; report: {path}")
    if result.tracebacks:
        log = _log("".join(f"case {case}:\n{text}\n" for case, text in result.tracebacks.items()))
        for case, message in result.errors.items():
            print(f"funcad-compare: internal error in case {case}: {message}{_raised_at(result.tracebacks.get(case, ''))}; "
                  f"traceback in {log}", file=sys.stderr)
        return 3
    if args.strict and any(case.guards for case in result.cases):
        print("funcad-compare: --strict: guard warnings fail the run", file=sys.stderr)
        return 1
    return 0 if result.passed else 1


def _raised_at(traceback_text: str) -> str:
    """`` (raised in FUNCTION at FILE:LINE)``, the innermost frame of a formatted traceback, so that an exception of the
    user's own model is seen as theirs at once; empty when the text names no frame."""
    frames = re.findall(r'File "([^"]+)", line (\d+), in (\S+)', traceback_text)
    return f" (raised in {frames[-1][2]} at {frames[-1][0]}:{frames[-1][1]})" if frames else ""


def _log(text: str) -> Path:
    """Write ``text`` (tracebacks) to a new log file in the temporary directory and return its path."""
    handle, name = tempfile.mkstemp(prefix=time.strftime("funcad-compare-%Y%m%d-%H%M%S-", time.gmtime()), suffix=".log")
    with os.fdopen(handle, "w") as log:
        log.write(text)
    return Path(name)


def _explain(args) -> int:
    from harness.explain import ExplainError, explain

    try:
        element = None if args.element is None else tuple(int(i) for i in args.element.split(","))
    except ValueError:
        return _error(f"--element {args.element}: expected integers separated by commas, e.g. 3,5")
    try:
        print(explain(Path(args.dir), args.param, element))
    except ExplainError as exc:
        return _error(str(exc))
    return 0


def _show(args) -> int:
    import pandas as pd

    from harness import console, report  # imports torch: only after main() has set OMP_WAIT_POLICY
    from harness.faults import PLANT_BANNER
    from harness.summary import CaseSummary

    try:
        saved = report.read_summary(Path(args.dir))
    except report.ReportError as exc:
        return _error(str(exc))
    summary = pd.DataFrame(saved["summary"])
    if not len(summary):
        return _error(f"{args.dir}: the report holds no summary rows")
    summary = summary.reindex(columns=list(dict.fromkeys(CaseSummary.columns() + list(summary.columns))))
    colour = sys.stdout.isatty()
    if saved.get("run", {}).get("options", {}).get("faults"):
        print(f"{PLANT_BANNER} (see the report)")
    print(console.render_summary(report.summary_table(summary), colour, console.terminal_width()))
    print(console.outcome_line(*report.banner(summary), colour))
    return 0 if summary["verdict"].isin(["pass", "noise"]).all() else 1


def _bench(argv: list[str]) -> int:
    try:
        from harness import bench
    except ModuleNotFoundError as exc:
        if exc.name == "harness.bench":
            return _error("the benchmark (harness.bench) is not part of this installation yet")
        raise
    return bench.main(argv)


def _on_sigterm(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv``; return the exit status (``EXIT_CODES``)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench":
        return _bench(argv[1:])
    started = time.perf_counter()
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    args.started = started  # the report's "run took" counts from here: imports, cases, writing
    handles_signals = threading.current_thread() is threading.main_thread()  # signal handlers live in the main thread
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if handles_signals else None
    try:
        return {"list": _list, "run": _run, "show": _show, "sweep": sweep_cli.main, "explain": _explain}[args.command](args)
    except KeyboardInterrupt:
        print("funcad-compare: interrupted (SIGINT); no partial report left behind", file=sys.stderr)
        return 130
    except Terminated:
        print("funcad-compare: terminated (SIGTERM); no partial report left behind", file=sys.stderr)
        return 143
    except Exception as exc:  # what the harness did not foresee: one line here, the traceback in a log
        text = traceback.format_exc()
        log = _log(text)
        print(f"funcad-compare: internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}{_raised_at(text)}; "
              f"traceback in {log}", file=sys.stderr)
        return 3
    finally:
        if handles_signals:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
