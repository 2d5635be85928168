"""Write a run's report directory: report.md, report.html (plots embedded), metrics.csv and metrics.json.

A report is written whole or not at all, through ``harness.files.publish``: everything goes to a staging folder
beside the target, renamed into place at the end; a ``latest`` symlink beside it is then switched to it (not for a
run with planted faults). The Markdown and the HTML come from one list of blocks (``harness.document``), so they
always say the same thing; both open with a banner saying PASS, FAIL or ERROR and where the worst failure is.

metrics.csv holds the tidy rows (``TIDY_COLUMNS``); metrics.json holds the run's options, environment and
verdict (``run``), the summary rows (``summary``, one ``CaseSummary`` record per case and dtype) and the same tidy
rows as ``{"columns": [...], "rows": [[...], ...]}``: ``pd.DataFrame(m["rows"], columns=m["columns"])`` rebuilds them.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from harness import files, per_sample, plots
from harness.document import to_html, to_markdown
from harness.faults import PLANT_BANNER
from harness.layers import report as layer_report
from harness.metrics import describe_tolerance
from harness.runner import CaseResult, RunResult
from harness.summary import STEP_LEGEND, VERDICT_TEXT, CaseSummary, first_divergent, step_table
from harness.timing import NOISY_SPREAD

#: One row per measured quantity; ``value`` holds numbers (booleans as 0/1), ``text`` the non-numeric ones
#: (verdicts, shapes, element indices, parameter names), so ``value`` parses as a float column.
TIDY_COLUMNS = ["case", "dtype", "section", "item", "step", "metric", "value", "text"]


class ReportError(OSError):
    """The report could not be written; nothing was left behind."""


# -- tidy metrics -------------------------------------------------------------------------------------------------

def _melt(frame: pd.DataFrame, case: str, section: str, item: str | None) -> pd.DataFrame:
    if frame is None or not len(frame):
        return pd.DataFrame(columns=TIDY_COLUMNS)
    df = frame.copy()
    if "dtype" not in df:
        df["dtype"] = ""
    df["case"], df["section"] = case, section
    if item is not None:
        df["item"] = item
    if "step" not in df:
        df["step"] = None
    keep = ["case", "dtype", "section", "item", "step"]
    values = [c for c in df.columns if c not in keep]
    long = df.melt(id_vars=keep, value_vars=values, var_name="metric", value_name="raw")
    numeric = long["raw"].map(lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, str))
    long["value"] = long["raw"].where(numeric).astype(float)
    long["text"] = long["raw"].where(~numeric & long["raw"].notna()).astype(object)
    return long.loc[long["value"].notna() | long["text"].notna(), TIDY_COLUMNS]  # no row for what was not measured


def tidy(run: RunResult) -> pd.DataFrame:
    """Every number of the run as rows (case, dtype, section, item, step, metric, value)."""
    parts = []
    for r in run.cases:
        timings = r.timings.assign(item=r.timings["phase"] + "/" + r.timings["engine"]) if len(r.timings) else r.timings
        parts += [
            _melt(r.summary.drop(columns=["case"]), r.case, "summary", ""),
            _melt(r.forward.rename(columns={"parameter": "item"}), r.case, "forward", None),
            _melt(r.grads.rename(columns={"parameter": "item"}), r.case, "gradient", None),
            _melt(r.losses, r.case, "loss", "loss"),
            _melt(r.params.rename(columns={"parameter": "item"}), r.case, "parameter_step", None),
            _melt(r.final_params.rename(columns={"parameter": "item"}), r.case, "final_parameter", None),
            _melt(r.events.rename(columns={"where": "item"}), r.case, "nonfinite", None),
            _melt(timings.drop(columns=["phase", "engine"]) if len(timings) else timings, r.case, "speed", None),
        ]
        if r.layers is not None:
            parts.append(layer_report.tidy_rows(r.layers)[TIDY_COLUMNS])
        if r.per_sample is not None:
            parts.append(per_sample.tidy_rows(r.per_sample)[TIDY_COLUMNS])
        if len(r.optimizer_state):
            parts.append(_melt(r.optimizer_state.rename(columns={"state": "item"}), r.case, "optimizer_state", None))
        if len(r.nonfinite_origin):
            parts.append(_melt(r.nonfinite_origin.rename(columns={"side": "item"}), r.case, "nonfinite_origin", None))
        if r.guards:
            parts.append(pd.DataFrame({"case": r.case, "dtype": "", "section": "guard", "item": "", "step": None, "metric": "warning",
                                       "value": np.nan, "text": r.guards}))
    parts = [p for p in parts if len(p)]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=TIDY_COLUMNS)
    out["step"] = pd.to_numeric(out["step"]).astype("Int64")
    return out


# -- formatting ---------------------------------------------------------------------------------------------------------

def fmt(value) -> str:
    """Short human form of a table cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value == 0 or math.isinf(value):
            return str(value)
        return f"{value:.3g}" if 1e-3 <= abs(value) < 1e4 else f"{value:.2e}"
    return str(value)


def speed(ratio, spread) -> str:
    """A speed ratio with its spread (the larger interquartile range of the two times over its median), marked noisy
    over ``NOISY_SPREAD``, the benchmark's rule."""
    if ratio is None or pd.isna(ratio):
        return "-"
    if spread is None or pd.isna(spread):
        return fmt(float(ratio))
    return f"{fmt(float(ratio))} ±{spread:.0%}" + (" noisy" if spread > NOISY_SPREAD else "")


def _column(s: pd.DataFrame, name: str) -> pd.Series:
    return s[name] if name in s else pd.Series([None] * len(s), index=s.index, dtype=object)


def summary_table(s: pd.DataFrame) -> pd.DataFrame:
    """The report's first table, from ``RunResult.summary()`` or a saved report's summary (``funcad-compare show``)."""
    if not len(s):
        return s
    error = _column(s, "error")
    grad = s["worst_grad_max_abs"].map(fmt) + " (" + s["worst_grad_param"].astype(str) + " " + s["worst_grad_index"].astype(str) + ")"
    failed = {"error": error.fillna("-")} if error.notna().any() else {}
    return pd.DataFrame({
        "case": s["case"], "dtype": s["dtype"], "verdict": s["verdict"].map(VERDICT_TEXT), **failed,
        "worst gradient diff": grad.where(error.isna(), "-"),
        "grad diff / tol": s["worst_grad_tol_ratio"].map(fmt),
        "f32 err funcad/torch": _column(s, "f32_error_ratio").map(fmt),
        "loss divergence (max rel)": s["loss_max_rel_div"].map(fmt),
        "first divergent step": s["first_divergent_step"].map(lambda v: "-" if v is None or pd.isna(v) else str(int(v))),
        "final param diff": (s["final_param_max_abs"].map(fmt) + " (" + s["worst_final_param"].astype(str) + ")").where(error.isna(), "-"),
        "NaN/Inf": _column(s, "nonfinite_events").map(lambda v: str(int(v)) if v and not pd.isna(v) else "-"),
        "speed funcad/torch": [speed(r, d) for r, d in zip(s["speed_ratio"], _column(s, "speed_spread"))],
        "speed jit/torch": [speed(r, d) for r, d in zip(s["jit_speed_ratio"], _column(s, "jit_speed_spread"))],
    })


def banner(summary: pd.DataFrame) -> tuple[str, str]:
    """(kind, text) of the verdict banner: ``pass``, ``fail`` (how many verdicts fail, the worst one and where) or
    ``error`` (which cases stopped, and why)."""
    total = len(summary)
    errors = summary[summary["verdict"] == "error"] if total else summary
    failing = summary[summary["verdict"] == "fail"] if total else summary
    if len(errors):
        stopped = "; ".join(f"{r['case']}: {r['error']}" for _, r in errors.drop_duplicates("case").iterrows())
        more = f"; {len(failing)} of {total} verdicts fail" if len(failing) else ""
        return "error", f"ERROR: internal error in {stopped}{more}"
    if not len(failing):
        return "pass", f"PASS: all {total} verdicts pass"
    order = failing.assign(_first=failing["first_divergent_step"].astype(float).fillna(math.inf),
                           _ratio=-failing["worst_grad_tol_ratio"].astype(float).fillna(0.0)).sort_values(["_first", "_ratio"], kind="stable")
    worst = order.iloc[0]
    where = worst["offender"] if "offender" in worst and isinstance(worst["offender"], str) else f"gradient of {worst['worst_grad_param']}"
    return "fail", f"FAIL: {len(failing)} of {total} verdicts fail; worst: {worst['case']} {worst['dtype']}, {where}"


def _table(df: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    present = {k: v for k, v in columns.items() if k in df}
    out = df[list(present)].rename(columns=present).copy()
    for key in present:
        if key.endswith("verdict"):
            out[present[key]] = df[key].map(VERDICT_TEXT)
    return out.map(fmt)


GRAD_COLUMNS = {"dtype": "dtype", "parameter": "parameter", "shape": "shape", "max_abs": "max abs", "max_rel": "max rel", "tol_ratio": "diff / tol",
                "cosine": "cosine", "worst_index": "worst element", "funcad_value": "funcad", "torch_value": "torch",
                "funcad_f32_err": "funcad err vs f64", "torch_f32_err": "torch err vs f64 (floor)", "verdict": "verdict"}


# -- the document -----------------------------------------------------------------------------------------------------------

LEGEND = ("Verdicts: *pass* = every compared value within tolerance (|funcad - torch| <= atol + rtol |torch|); *pass (noise floor)* = "
          "some float32 difference exceeds the fixed tolerance but is within 10x of PyTorch's own float32 error against the float64 "
          "run (the noise floor; float16, bfloat16 and mixed have no fixed tolerance and are judged by 5x their floor alone); "
          "*FAIL* otherwise, or when NaN/Inf appeared; *ERROR* = the case stopped on an internal error. "
          "*grad diff / tol*: the worst gradient element's difference over its tolerance (at most 1 passes; in float16, bfloat16 "
          "and mixed over 5x the noise floor). *f32 err funcad/torch*: "
          "funcad's float32 gradient error against the float64 truth over PyTorch's (about 1: equally accurate). " + STEP_LEGEND +
          " Speed ratios are median train-step times, funcad / torch (below 1: funcad faster), with ±the larger interquartile range "
          f"of the two times over its median; *noisy* above {NOISY_SPREAD:.0%}, where a rerun may differ.")


def plant_notice(run: RunResult) -> str | None:
    """The line that says a run perturbed one side on purpose, or None."""
    faults = run.options.faults
    return f"{PLANT_BANNER}: " + "; ".join(f.describe() for f in faults) + " (failures are expected)" if faults else None


def elapsed(run: RunResult) -> float:
    """Seconds since the run started (``run.started``), or the cases' time when the start is unknown."""
    return time.perf_counter() - run.started if run.started is not None else run.seconds


def blocks(run: RunResult) -> list[tuple]:
    """The report as blocks (see ``harness.document``)."""
    opts, env = run.options, run.environment
    cases = [block for r in run.cases for block in _case_blocks(r)]  # plots first, so the run's time includes them
    took = (f"the run took {elapsed(run):.1f} s, writing this report included" if run.started is not None else
            f"the comparison took {run.seconds:.1f} s, before this report was written")
    notice = plant_notice(run)
    title = "funcad vs PyTorch: " + ", ".join(r.case for r in run.cases)
    out: list[tuple] = [("h1", f"{PLANT_BANNER.split(':')[0]}: {title}" if notice else title)]
    if notice:
        out.append(("banner", ("plant", notice)))
    summary = run.summary()
    out += [
        ("banner", banner(summary)),
        ("p", f"Mode {opts.mode}, {opts.steps} steps, dtype {opts.dtype}, seed {opts.seed}, batch size "
              f"{opts.batch_size or ('that of the batches below' if run.model else 'case default')}; {took}."),
        ("table", summary_table(summary)),
        ("legend", LEGEND),
        ("h3", "Environment (as set while the cases ran and were timed)"),
        ("ul", [f"{k}: {v}" for k, v in env.items()]),
    ]
    return out + cases


def _case_blocks(r: CaseResult) -> list[tuple]:
    out: list[tuple] = [("h2", f"{r.case}"), ("p", f"{r.description}. Optimizer: {r.optimizer}. Mode {r.mode}; data {r.data}; "
                                                   f"took {r.seconds:.1f} s.")]
    if r.error:
        return out + [("banner", ("error", f"ERROR: this case stopped on an internal error: {r.error}"))]
    out.append(("p", "Tolerances: " + "; ".join(describe_tolerance(d, t, "float64" in r.tolerances) for d, t in r.tolerances.items()) + "."))
    out.append(("h3", "Known semantic differences in play"))
    out.append(("ul", r.known_differences or ["none: both sides implement the same formulas"]))
    out.append(("h3", "Guards (both sides wrong together)"))
    out.append(("ul", [f"WARNING: {w}" for w in r.guards] or ["none: gradients non-zero, loss moves, norms steady, parameters change, "
                                                             "ReLU units alive"]))
    if len(r.events):
        out.append(("h3", "Non-finite values (NaN/Inf)"))
        if len(r.nonfinite_origin):
            out.append(("p", "Where the first one came from (the step re-run from the state before it, every op watched):"))
            out.append(("table", r.nonfinite_origin.map(str)))
        out.append(("table", r.events.map(fmt)))
    out.append(("h3", "Forward logits at step 0"))
    out.append(("table", _table(r.forward, {k: v for k, v in GRAD_COLUMNS.items() if k not in ("parameter", "shape")})))
    out.append(("h3", "Gradients at step 0" if r.mode != "lockstep" else
                "Gradients at every step (lockstep: each parameter's first failing step, else its worst)"))
    lockstep = r.mode == "lockstep"
    out.append(("table", _table(r.grads, {"step": "step", **GRAD_COLUMNS} if lockstep else GRAD_COLUMNS)))
    out.append(("image", ("gradient errors", plots.gradient_errors(r.grads, r.case, "at its shown step" if lockstep else "at step 0"))))
    if len(r.optimizer_state):
        out += _optimizer_blocks(r.optimizer_state)
    if r.layers is not None:
        out += layer_report.blocks(r.layers)
    if r.per_sample is not None:
        out += per_sample.blocks(r.per_sample)
    steps = step_table(r.losses, r.params)
    out.append(("h3", f"Training ({len(r.losses) // max(r.losses['dtype'].nunique(), 1)} steps, {r.mode})"))
    out.append(("table", _training_table(r, steps)))
    out.append(("table", _loss_curves_table(r.losses)))
    out.append(("image", ("loss curves", plots.loss_curves(r.losses, steps, r.tolerances, r.case))))
    out.append(("h3", "Per-step checks (where the first divergent step comes from)"))
    out.append(("table", _table(steps, STEP_COLUMNS)))
    out.append(("h3", "Parameters after the last step"))
    out.append(("table", _table(r.final_params, GRAD_COLUMNS)))
    if len(r.timings):
        threads = int(r.timings["threads"].iloc[0]) if "threads" in r.timings else None
        out.append(("h3", f"Speed ({r.timings['dtype'].iloc[0]}, median of interleaved rounds after warm-up"
                          + (f", torch and numpy BLAS at {threads} thread{'s' * (threads > 1)} while timing)" if threads else ")")))
        ms = r.timings.assign(median_ms=r.timings["median_s"] * 1e3, iqr_ms=r.timings["iqr_s"] * 1e3)
        out.append(("table", _table(ms, {"phase": "phase", "engine": "engine", "median_ms": "median ms", "iqr_ms": "IQR ms", "rounds": "rounds",
                                         "number": "calls/sample", "ratio_vs_torch": "ratio vs torch"})))
        out.append(("image", ("speed", plots.speed_bars(r.timings, r.case))))
    if r.notes:
        out.append(("ul", r.notes))
    return out


STEP_COLUMNS = {"dtype": "dtype", "step": "step", "loss_abs_div": "loss |diff|", "loss_verdict": "loss check",
                "worst_param": "worst parameter", "param_max_abs": "its max |diff|", "param_index": "at element",
                "param_tol_ratio": "diff / tol", "param_verdict": "parameter check", "diverged": "diverged"}


def _optimizer_blocks(state: pd.DataFrame) -> list[tuple]:
    """Optimizer state (moments, momentum buffers, step counts) per slot: the worst step, and the first divergence."""
    failing = state[state["verdict"] == "fail"]
    first = ("every slot within tolerance at every step" if not len(failing) else
             f"first divergence: {failing['state'].iloc[0]} at step {int(failing['step'].iloc[0])} ({failing['dtype'].iloc[0]}), "
             f"element {failing['worst_index'].iloc[0]}")
    worst = state.loc[state.groupby(["dtype", "state"], sort=False)["tol_ratio"].idxmax()]
    return [("h3", f"Optimizer state after each update: {first}"),
            ("table", _table(worst,
                             {"dtype": "dtype", "state": "state", "step": "worst step", "max_abs": "max |diff|", "tol_ratio": "diff / tol",
                              "worst_index": "element", "verdict": "verdict"}))]


def _training_table(r: CaseResult, steps: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for dtype, sub in r.losses.groupby("dtype", sort=False):
        first = first_divergent(steps, dtype)
        last = sub.iloc[-1]
        worst_step = int(sub["step"].iloc[int(np.argmax(sub["rel_div"].astype(float)))])
        there = "-" if first is None else (first["worst_param"] if first["param_verdict"] == "fail" else "loss")
        rows.append({"dtype": dtype, "final loss funcad": fmt(last["funcad_loss"]), "final loss torch": fmt(last["torch_loss"]),
                     "max rel divergence": fmt(float(sub["rel_div"].max())), "at step": worst_step,
                     "first divergent step": "-" if first is None else str(int(first["step"])), "diverging there": there})
    return pd.DataFrame(rows)


def _loss_curves_table(losses: pd.DataFrame) -> pd.DataFrame:
    """Both loss curves step by step, one column group per dtype."""
    wide = None
    for dtype, sub in losses.groupby("dtype", sort=False):
        part = pd.DataFrame({"step": sub["step"].to_numpy(), f"funcad {dtype}": sub["funcad_loss"].map(lambda v: f"{v:.9g}").to_numpy(),
                             f"torch {dtype}": sub["torch_loss"].map(lambda v: f"{v:.9g}").to_numpy(),
                             f"rel div {dtype}": sub["rel_div"].map(fmt).to_numpy(), f"verdict {dtype}": sub["verdict"].map(VERDICT_TEXT).to_numpy()})
        wide = part if wide is None else wide.merge(part, on="step")
    return wide if wide is not None else pd.DataFrame()


# -- writing ---------------------------------------------------------------------------------------------------------------------

#: A default folder name lists the cases up to this many characters, then says how many more there are.
_NAME_CASES = 60


def default_dir(root: Path, cases: list[str]) -> Path:
    """``root/<UTC time>-<cases>``, the case list shortened (``mlp-lenet-and-12-more``) so the name stays short."""
    shown: list[str] = []
    for name in cases:
        if shown and len("-".join(shown + [name])) > _NAME_CASES:
            break
        shown.append(name)
    rest = f"-and-{len(cases) - len(shown)}-more" if len(shown) < len(cases) else ""
    return Path(root) / (time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + "-".join(shown)[:_NAME_CASES] + rest)


def _json_safe(value):
    """JSON has no NaN/Inf (NaN -> null, Inf -> "inf"); floats keep 9 significant digits, as in the CSV."""
    if value is pd.NA or value is None:
        return None
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value) or math.isinf(value):
            return None if math.isnan(value) else str(value)
        return float(f"{value:.9g}")
    return value


#: The files a ``run`` report folder holds (``_fill``); an earlier report holding nothing else may be replaced.
REPORT_FILES = ("report.md", "report.html", "metrics.csv", "metrics.json")


def check_target(target: Path) -> Path:
    """``target`` made absolute; ReportError unless it is new, empty or an earlier report holding only the report's
    own files (which a rewrite replaces whole), and its name and path are short enough to create.

    Anything else (a file, a link, a directory without report.md and metrics.json, a report beside which the user put
    files of their own) would be deleted by the replacement, so it is refused, naming what would be lost.
    """
    target = Path(os.path.abspath(target))
    try:
        files.check_name(target)
        if target.is_symlink():
            raise ReportError(f"{target} is a symbolic link; give the report directory itself")
        entries = sorted(os.listdir(target)) if target.is_dir() else []
        earlier_report = target.is_dir() and (not entries or files.is_report(target))
        exists = target.exists()
    except ReportError:
        raise
    except OSError as exc:
        raise ReportError(f"{target}: {exc.strerror or exc}") from None
    if exists and not earlier_report:
        raise ReportError(f"{target} exists and is not a report directory (writing the report would replace it); choose another directory")
    others = [name for name in entries if name not in REPORT_FILES]
    if earlier_report and others:
        listed = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise ReportError(f"{target} holds an earlier report and also {listed}, which replacing the report would delete; "
                          "move them or choose another directory")
    return target


def _fill(run: RunResult, staging: Path) -> None:
    """Write the report's four files into ``staging``; the time the run took is read after the slow parts (tables,
    plots), so it covers nearly all of the writing."""
    metrics = tidy(run)
    rows = [[_json_safe(v) for v in row] for row in metrics.itertuples(index=False)]
    doc = blocks(run)
    seconds = elapsed(run)
    metrics.to_csv(staging / "metrics.csv", index=False, float_format="%.9g")
    (staging / "report.md").write_text(to_markdown(doc))
    (staging / "report.html").write_text(to_html(doc))
    options = {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(run.options).items() if k != "faults"}
    payload = {"run": {"options": options | {"faults": [vars(f) for f in run.options.faults]},
                       "environment": run.environment, "seconds": seconds, "passed": run.passed, "errors": run.errors,
                       "model": run.model},
               "summary": [{k: _json_safe(v) for k, v in row.items()} for row in run.summary().to_dict(orient="records")],
               "metrics": {"columns": list(metrics.columns), "rows": rows}}
    (staging / "metrics.json").write_text(json.dumps(payload, default=str, separators=(",", ":")))


def write(run: RunResult, target: Path, exclusive: bool = False) -> Path:
    """Write the report into ``target`` and return where it went; raises ReportError when it cannot be written.

    Without ``exclusive`` an earlier report at ``target`` is replaced whole; with it the report gets a folder of its
    own (``target-2``, ... when ``target`` is taken). ``latest`` beside it points at it unless the run planted faults."""
    target = check_target(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot write a report under {target.parent}: {exc.strerror or exc}") from None
    try:
        return files.publish(target, lambda staging: _fill(run, staging), exclusive=exclusive, latest=not run.options.faults)
    except OSError as exc:
        raise ReportError(f"cannot write the report {target}: {exc.strerror or exc}") from None


def read_summary(directory: Path) -> dict:
    """The ``metrics.json`` of a saved report; raises ReportError if missing, unreadable or without a summary field."""
    directory = Path(directory)
    if directory.is_file():  # a ``latest`` file naming the report directory
        directory = directory.parent / directory.read_text().strip()
    path = directory / "metrics.json"
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read a report from {directory}: {exc}") from None
    rows = saved.get("summary") if isinstance(saved, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ReportError(f"{path}: no summary rows (the field 'summary' is missing or not a list of records)")
    for i, row in enumerate(rows):
        missing = [name for name in CaseSummary.required() if name not in row]
        if missing:
            raise ReportError(f"{path}: summary row {i} ({row.get('case', '?')} {row.get('dtype', '?')}) lacks the field"
                              f"{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    return saved
