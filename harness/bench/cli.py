"""``funcad-compare bench``'s command line: flags, the process environment it measures in, and the order of the measurements."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from harness import files
from harness.bench.engines import CASES, case_budget, case_engines
from harness.bench.fresh import RETAIN_MALLOC, importable_env
from harness.bench.memory import MEMORY_ENGINES, peak_memory
from harness.bench.records import BenchRun
from harness.bench.report import document, write_report
from harness.bench.standalone import time_alone
from harness.bench.tables import ms
from harness.environment import environment
from harness.timing import interleaved_settings, thread_switch


def _threads_arg(text: str) -> str | int:
    if text == "both":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of threads or 'both', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"threads must be >= 1, got {value}")
    return value


def thread_settings(requested: str | int | None, cores: int, crowded: bool) -> list[int]:
    """The thread counts to measure: ``both`` -> [1, cores]; a number -> [it]; default: both, or [1] on a crowded machine."""
    if requested is None:
        requested = 1 if crowded else "both"
    if requested == "both":
        return sorted({1, cores})
    return [int(requested)]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="funcad-compare bench", description="Train-step speed: funcad eager and jit vs PyTorch eager and peers")
    p.add_argument("--cases", nargs="+", default=[c[0] for c in CASES], metavar="CASE",
                   help=f"case labels, or case names for all their batch sizes (default: all of {', '.join(c[0] for c in CASES)})")
    p.add_argument("--budget", type=float, default=12.0,
                   help="seconds of timing per case and thread setting (default 12; a quarter of it for resnet, conv1d, lstm, transformer)")
    p.add_argument("--sample-ms", type=float, default=20.0,
                   help="least duration of one timed sample of consecutive steps of an engine (default 20; 0: one step per sample)")
    p.add_argument("--threads", type=_threads_arg, default=None, metavar="N|both",
                   help="threads for torch and numpy's BLAS: a number, or both (1 and all cores; each engine's best is judged). "
                        "Default: both on several cores, 1 when the load average reaches the core count")
    p.add_argument("--out", default="reports", help="directory receiving bench-<timestamp>/ (default reports)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--standalone-budget", type=float, default=1.0,
                   help="seconds of timing per engine, case and thread setting in the standalone fresh processes (default 1)")
    p.add_argument("--no-standalone", action="store_true", help="skip the standalone fresh-process timings")
    p.add_argument("--torch-compile", action="store_true", help="also time torch.compile (compiles each case first: slow)")
    p.add_argument("--malloc", choices=("retain", "default"), default="retain",
                   help="glibc malloc settings of the benchmark process: keep freed memory (default) or glibc's defaults")
    return p


def _usage_error(message: str) -> int:
    print(f"funcad-compare bench: {message}", file=sys.stderr)
    return 2


def _parse(argv: list[str]) -> argparse.Namespace | int:
    """The parsed flags with ``cases`` resolved to labels, or the exit code of a usage error (0 after ``--help``)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:
        return 0 if stop.code == 0 else 2
    labels = [c[0] for c in CASES]
    unknown = [c for c in args.cases if c not in labels and not any(c == name for _, name, _ in CASES)]
    if unknown:
        return _usage_error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(labels)}")
    for flag, value in (("--sample-ms", args.sample_ms), ("--budget", args.budget), ("--standalone-budget", args.standalone_budget)):
        if not value >= 0:  # NaN fails too
            return _usage_error(f"{flag} must be 0 or more, got {value:g}")
    args.cases = [c for c in CASES if c[0] in args.cases or c[1] in args.cases]
    return args


def _rerun_with_settings(argv: list[str], malloc: str) -> int | None:
    """Run again in a process started with OMP_WAIT_POLICY=PASSIVE and the malloc settings asked for, unless this one has them:
    libgomp and glibc read them once, at load. The child's exit code, or None when this process is already right."""
    wanted = {"OMP_WAIT_POLICY": "PASSIVE"} | (RETAIN_MALLOC if malloc == "retain" else {})
    unwanted = [k for k in RETAIN_MALLOC if malloc == "default" and k in os.environ]
    if all(os.environ.get(k) == v for k, v in wanted.items()) and not unwanted:
        return None
    env = {k: v for k, v in os.environ.items() if k not in unwanted} | wanted
    return subprocess.run([sys.executable, "-m", "harness.bench", *argv], env=importable_env(env)).returncode


def _settings_for_load(threads: str | int | None) -> tuple[list[int], list[str]]:
    """The thread settings to measure, and a note when the machine is already busy (also printed)."""
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    crowded = load >= cores  # as many runnable tasks as cores already: a BLAS thread waiting for its peer stalls every product
    notes = []
    if load > 0.5 * cores:
        busy = f"machine busy at the start (load average {load:.2f} on {cores} cores): every engine is slowed"
        if crowded:
            busy += ", and multi-threaded BLAS collapses when one of its threads is descheduled"
            if threads is None:
                busy += "; so one thread per engine was used (pass --threads to choose)"
        notes.append(busy)
        print("warning: " + busy, file=sys.stderr)
    return thread_settings(threads, cores, crowded), notes


def measure_interleaved(cases: list[tuple], settings: list[int], args: argparse.Namespace, run: BenchRun) -> None:
    """Time every engine of every case at every thread setting, round by round in this process, into ``run``."""
    thread_lines = {}
    for label, case_name, batch in cases:
        engines, facts, notes = case_engines(case_name, batch, args.torch_compile)
        run.notes += [n for n in notes if n not in run.notes]
        run.compile_facts[label] = facts
        with thread_switch() as use:  # entered after the build, so it covers every library loaded by then
            timed = interleaved_settings(engines, settings, use, budget_s=case_budget(label, args.budget) * len(settings), warmup=3,
                                         max_rounds=200, min_sample_s=args.sample_ms / 1e3)
            for threads in settings:
                use(threads)
                run.environment = environment(threads=threads)
                thread_lines[threads] = run.environment.pop("threads")
        for threads in settings:
            run.interleaved[(label, threads)] = timed[threads]
            print(f"  {label} @ {threads} thread{'s' * (threads > 1)}: "
                  + ", ".join(f"{e} {ms(t['median_s'])} ms" for e, t in timed[threads].items()), flush=True)
    run.environment |= {f"threads, setting {t}": line for t, line in thread_lines.items()}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parse(argv)
    if isinstance(args, int):
        return args
    rerun = _rerun_with_settings(argv, args.malloc)
    if rerun is not None:
        return rerun
    started = time.perf_counter()
    out_root = Path(args.out)
    try:  # fail before the long measurements, not after them
        files.check_writable(out_root)
    except OSError as err:
        return _usage_error(f"--out {args.out}: cannot write a report in {out_root}: {files.why_unwritable(out_root, err)}")
    settings, notes = _settings_for_load(args.threads)
    if not args.torch_compile:
        notes.append("torch.compile not timed (pass --torch-compile; it compiles every case first)")
    run = BenchRun({}, settings, args.sample_ms, {}, notes=notes, standalone_budget_s=args.standalone_budget)
    measure_interleaved(args.cases, settings, args, run)
    if not args.no_memory:
        run.memory = {e: peak_memory(e, settings[-1]) for e in MEMORY_ENGINES}
    if not args.no_standalone:
        run.standalone = time_alone(args.cases, settings, args.standalone_budget)
    run.seconds = time.perf_counter() - started
    markdown, records = document(run)
    folder = write_report(out_root, markdown, records)
    print(markdown)
    print(f"report: {folder}")
    return 0
