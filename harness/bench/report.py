"""The bench report: bench.md (tables, targets, memory, environment, notes), bench.csv and bench.png, written whole or not at all."""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

from harness import files
from harness.bench.memory import MEMORY_STEPS
from harness.bench.plot import plot
from harness.bench.records import BenchRun, Record, records_csv
from harness.bench.tables import best_table, build_table, standalone_table, thread_notes
from harness.bench.targets import target_lines
from harness.markdown import markdown_table


def document(run: BenchRun) -> tuple[str, list[Record]]:
    """bench.md's text and bench.csv's records (interleaved, then standalone)."""
    header, rows, records = build_table(run.interleaved)
    setting_text = " and ".join(str(t) for t in run.settings)
    lines = ["# funcad-compare bench", "",
             f"Median train-step time in ms (interquartile range) over interleaved rounds (each round times every engine at "
             f"every thread setting), float32; threads {setting_text} (torch intra-op = numpy BLAS), "
             f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}; each sample times consecutive steps of one engine "
             f"for at least {run.sample_ms:g} ms (steps per sample in bench.csv).", "",
             markdown_table(header, rows), "",
             "## Each engine at its best thread setting", "", markdown_table(*best_table(run.interleaved)), ""]
    if run.standalone:
        records += build_table(run.standalone, "standalone")[2]
        lines += ["## Standalone: each engine alone in a fresh process, library defaults", "",
                  f"Median train-step time in ms (interquartile range) of each engine timed alone for about {run.standalone_budget_s:g} s "
                  "in a fresh process per case and thread setting, with its libraries' default environment (no OMP_WAIT_POLICY, glibc "
                  "malloc defaults; OMP_NUM_THREADS and OPENBLAS_NUM_THREADS set to the setting; funcad's processes load torch too, as the "
                  "case definitions build both models, but run no torch op while timed). Bold: each engine's best setting, which the "
                  "ratios compare.", "", markdown_table(*standalone_table(run.standalone)), "",
                  "It differs from the interleaved tables because there all engines share one process run with OMP_WAIT_POLICY=PASSIVE "
                  "(which slows torch's multi-threaded ops) and with glibc malloc keeping freed memory (which spares funcad page faults), "
                  "while here each library runs alone with its own defaults: read the interleaved ratios as same-process, these as each "
                  "engine's standalone best.", ""]
    lines += ["## Targets", "", "Judged on the interleaved, one-process measurement, as the issue defines them; the standalone ratio at "
              "each engine's standalone best follows each line." if run.standalone else "Judged on the interleaved, one-process measurement.",
              "", *target_lines(run.interleaved, run.memory, run.standalone), ""]
    if run.memory:
        threads = run.settings[-1]
        lines += [f"## Memory (peak RSS, fresh process each, {threads} thread{'s' * (threads > 1)})", ""]
        lines += [f"- {e}: {after:.0f} MiB after {MEMORY_STEPS} steps of mlp b256 ({before:.0f} MiB after imports and setup)"
                  for e, (before, after) in run.memory.items()]
        lines.append("")
    lines += ["## Compile times", ""] + [f"- {c}: " + ", ".join(f"{k} {v:.2f}" for k, v in f.items()) for c, f in run.compile_facts.items()]
    lines += ["", "## Environment", ""] + [f"- {k}: {v}" for k, v in run.environment.items()] + [""]
    lines += ["## Notes", ""] + [f"- {n}" for n in thread_notes(run.interleaved, run.settings) + run.notes] + [
        "- BLAS floor: the numpy.matmul calls of one jitted step (im2col products of convolutions included), replayed alone.",
        "- conv floor: the part of those calls the convolution kernels make (the GEMMs of the chosen algorithms), replayed alone: "
        "the least the step's convolutions cost in NumPy.",
        f"- total benchmark time {run.seconds:.0f} s", ""]
    return "\n".join(lines), records


def write_report(out_root: Path, markdown: str, records: list[Record]) -> Path:
    """``out_root/bench-<UTC timestamp>/`` holding bench.md, bench.csv and bench.png, written whole through
    ``harness.files.publish`` (a benchmark does not become the run reports' ``latest``)."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")

    def fill(staging: Path) -> None:
        (staging / "bench.md").write_text(markdown)
        (staging / "bench.csv").write_text(records_csv(records))
        plot([r for r in records if r.measurement == "interleaved"], staging / "bench.png")

    return files.publish(out_root / f"bench-{stamp}", fill, latest=False)
