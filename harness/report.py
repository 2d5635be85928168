"""Write a run's report directory: report.md, report.html (plots embedded), metrics.csv and metrics.json.

A report is written whole or not at all: everything goes to a temporary directory next to the target, which is
renamed into place at the end; a ``latest`` symlink beside it is then switched atomically to the new report.
The Markdown and the HTML come from one list of blocks, so they always say the same thing.

metrics.csv holds the tidy rows (``TIDY_COLUMNS``); metrics.json holds the run's options, environment and
verdict (``run``), the summary rows (``summary``, one record per case and dtype) and the same tidy rows as
``{"columns": [...], "rows": [[...], ...]}``: ``pd.DataFrame(m["rows"], columns=m["columns"])`` rebuilds them.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from harness import plots
from harness.markdown import frame_table
from harness.runner import VERDICT_TEXT, CaseResult, RunResult

#: One row per measured quantity; ``value`` holds numbers (booleans as 0/1), ``text`` the non-numeric ones
#: (verdicts, shapes, element indices, parameter names), so ``value`` parses as a float column.
TIDY_COLUMNS = ["case", "dtype", "section", "item", "step", "metric", "value", "text"]


class ReportError(OSError):
    """The report could not be written; nothing was left behind."""


# -- tidy metrics -------------------------------------------------------------------------------------------------

def _melt(frame: pd.DataFrame, case: str, section: str, item: str | None, ids: list[str]) -> pd.DataFrame:
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
    values = [c for c in df.columns if c not in keep + ids]
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
            _melt(r.summary.drop(columns=["case"]), r.case, "summary", "", []),
            _melt(r.forward.rename(columns={"parameter": "item"}), r.case, "forward", None, []),
            _melt(r.grads.rename(columns={"parameter": "item"}), r.case, "gradient", None, []),
            _melt(r.losses, r.case, "loss", "loss", []),
            _melt(r.params.rename(columns={"parameter": "item"}), r.case, "parameter_step", None, []),
            _melt(r.final_params.rename(columns={"parameter": "item"}), r.case, "final_parameter", None, []),
            _melt(r.events.rename(columns={"where": "item"}), r.case, "nonfinite", None, []),
            _melt(timings.drop(columns=["phase", "engine"]) if len(timings) else timings, r.case, "speed", None, []),
        ]
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
            return str(value).replace("inf", "inf")
        return f"{value:.3g}" if 1e-3 <= abs(value) < 1e4 else f"{value:.2e}"
    return str(value)


def summary_table(s: pd.DataFrame) -> pd.DataFrame:
    """The report's first table, from ``RunResult.summary()`` or a saved report's summary (``funcad-compare show``)."""
    if not len(s):
        return s
    return pd.DataFrame({
        "case": s["case"], "dtype": s["dtype"], "verdict": s["verdict"].map(VERDICT_TEXT),
        "worst gradient diff": s["worst_grad_max_abs"].map(fmt) + " (" + s["worst_grad_param"].astype(str) + " "
                               + s["worst_grad_index"].astype(str) + ")",
        "grad diff / tol": s["worst_grad_tol_ratio"].map(fmt),
        "f32 err funcad/torch": s["f32_error_ratio"].map(fmt) if "f32_error_ratio" in s else "-",
        "loss divergence (max rel)": s["loss_max_rel_div"].map(fmt),
        "first divergent step": s["first_divergent_step"].map(lambda v: "-" if v is None or pd.isna(v) else str(int(v))),
        "final param diff": s["final_param_max_abs"].map(fmt) + " (" + s["worst_final_param"].astype(str) + ")",
        "NaN/Inf": s["nonfinite_events"].map(lambda v: str(int(v)) if v else "-") if "nonfinite_events" in s else "-",
        "speed funcad/torch": s["speed_ratio"].map(fmt),
        "speed jit/torch": s["jit_speed_ratio"].map(fmt),
    })


def _table(df: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    present = {k: v for k, v in columns.items() if k in df}
    out = df[list(present)].rename(columns=present).copy()
    if "verdict" in present:
        out[present["verdict"]] = df["verdict"].map(VERDICT_TEXT)
    return out.map(fmt)


GRAD_COLUMNS = {"dtype": "dtype", "parameter": "parameter", "shape": "shape", "max_abs": "max abs", "max_rel": "max rel", "tol_ratio": "diff / tol",
                "cosine": "cosine", "worst_index": "worst element", "funcad_value": "funcad", "torch_value": "torch",
                "funcad_f32_err": "funcad f32 err", "torch_f32_err": "torch f32 err", "verdict": "verdict"}


# -- the document -----------------------------------------------------------------------------------------------------------

def blocks(run: RunResult) -> list[tuple]:
    """The report as ('h1'|'h2'|'h3'|'p'|'ul'|'table'|'image', content) blocks."""
    opts, env = run.options, run.environment
    out: list[tuple] = [
        ("h1", "funcad vs PyTorch: " + ", ".join(r.case for r in run.cases)),
        ("p", f"{'All verdicts pass.' if run.passed else 'Some verdicts FAIL.'} Mode {opts.mode}, {opts.steps} steps, dtype {opts.dtype}, "
              f"seed {opts.seed}, batch size {opts.batch_size or 'case default'}, data {opts.data_dir or 'built-in (digits upscaled to 28x28)'}; "
              f"run took {run.seconds:.1f} s."),
        ("table", summary_table(run.summary())),
        ("p", "Verdicts: *pass* = every compared value within tolerance (|funcad - torch| <= atol + rtol |torch|); *pass (noise floor)* = "
              "some float32 difference exceeds the fixed tolerance but is within 10x of PyTorch's own float32 error against the float64 "
              "run (the noise floor); *FAIL* otherwise, or when NaN/Inf appeared. *grad diff / tol*: the worst gradient element's "
              "difference over its tolerance (at most 1 passes). *f32 err funcad/torch*: funcad's float32 gradient error against the "
              "float64 truth over PyTorch's (about 1: equally accurate). Speed ratios are median train-step times, funcad / torch "
              "(below 1: funcad faster)."),
        ("h3", "Environment"),
        ("ul", [f"{k}: {v}" for k, v in env.items()]),
    ]
    for r in run.cases:
        out += _case_blocks(r)
    return out


def _case_blocks(r: CaseResult) -> list[tuple]:
    out: list[tuple] = [("h2", f"{r.case}"), ("p", f"{r.description}. Optimizer: {r.optimizer}. Mode {r.mode}; took {r.seconds:.1f} s."),
                        ("p", "Tolerances: " + "; ".join(f"{d} {t}" for d, t in r.tolerances.items()) + ".")]
    out.append(("h3", "Known semantic differences in play"))
    out.append(("ul", r.known_differences or ["none: both sides implement the same formulas"]))
    if len(r.events):
        out.append(("h3", "Non-finite values (NaN/Inf)"))
        out.append(("table", r.events.map(fmt)))
    out.append(("h3", "Forward logits at step 0"))
    out.append(("table", _table(r.forward, {k: v for k, v in GRAD_COLUMNS.items() if k not in ("parameter", "shape")})))
    out.append(("h3", "Gradients at step 0"))
    out.append(("table", _table(r.grads, GRAD_COLUMNS)))
    out.append(("image", ("gradient errors", plots.gradient_errors(r.grads, r.case))))
    out.append(("h3", f"Training ({len(r.losses) // max(r.losses['dtype'].nunique(), 1)} steps, {r.mode})"))
    out.append(("table", _training_table(r)))
    out.append(("table", _loss_curves_table(r.losses)))
    out.append(("image", ("loss curves", plots.loss_curves(r.losses, r.case))))
    out.append(("h3", "Parameters after the last step"))
    out.append(("table", _table(r.final_params, GRAD_COLUMNS)))
    if len(r.timings):
        threads = int(r.timings["threads"].iloc[0]) if "threads" in r.timings else None
        out.append(("h3", f"Speed ({r.timings['dtype'].iloc[0]}, median of interleaved rounds after warm-up"
                          + (f", torch intra-op threads {threads})" if threads else ")")))
        ms = r.timings.assign(median_ms=r.timings["median_s"] * 1e3, iqr_ms=r.timings["iqr_s"] * 1e3)
        out.append(("table", _table(ms, {"phase": "phase", "engine": "engine", "median_ms": "median ms", "iqr_ms": "IQR ms", "rounds": "rounds",
                                         "number": "calls/sample", "ratio_vs_torch": "ratio vs torch"})))
        out.append(("image", ("speed", plots.speed_bars(r.timings, r.case))))
    if r.notes:
        out.append(("ul", r.notes))
    return out


def _training_table(r: CaseResult) -> pd.DataFrame:
    rows = []
    for dtype, sub in r.losses.groupby("dtype", sort=False):
        params = r.params[r.params["dtype"] == dtype]
        bad = sorted(set(sub.loc[sub["verdict"] == "fail", "step"]) | set(params.loc[params["verdict"] == "fail", "step"]))
        first_bad_params = params[(params["step"] == bad[0]) & (params["verdict"] == "fail")]["parameter"].tolist() if bad else []
        last = sub.iloc[-1]
        worst_step = int(sub["step"].iloc[int(np.argmax(sub["rel_div"].astype(float)))])
        rows.append({"dtype": dtype, "final loss funcad": fmt(last["funcad_loss"]), "final loss torch": fmt(last["torch_loss"]),
                     "max rel divergence": fmt(float(sub["rel_div"].max())), "at step": worst_step,
                     "first divergent step": "-" if not bad else str(int(bad[0])),
                     "diverging there": ", ".join(first_bad_params) or ("loss" if bad else "-")})
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


def to_markdown(doc: list[tuple]) -> str:
    parts = []
    for kind, content in doc:
        if kind in ("h1", "h2", "h3"):
            parts.append("#" * int(kind[1]) + " " + content + "\n")
        elif kind == "p":
            parts.append(content + "\n")
        elif kind == "ul":
            parts.append("\n".join(f"- {item}" for item in content) + "\n")
        elif kind == "table":
            parts.append(frame_table(content))
        elif kind == "image":
            parts.append(f"*({content[0]}: see report.html)*\n")
    return "\n".join(parts)


_CSS = ("body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}table{border-collapse:collapse;font-size:12px;margin:.5em 0}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#eee}td:first-child{text-align:left}"
        "td.fail{background:#fcc}td.pass{background:#dfd}td.noise{background:#ffd}img{max-width:100%}")


def _html_table(df: pd.DataFrame) -> str:
    if not len(df):
        return "<p>(none)</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        cells = []
        for v in row:
            text = str(v)
            cls = {"FAIL": "fail", "pass": "pass", "pass (noise floor)": "noise"}.get(text)
            cells.append(f"<td class='{cls}'>{html.escape(text)}</td>" if cls else f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def to_html(doc: list[tuple]) -> str:
    parts = []
    for kind, content in doc:
        if kind in ("h1", "h2", "h3"):
            parts.append(f"<{kind}>{html.escape(content)}</{kind}>")
        elif kind == "p":
            parts.append(f"<p>{html.escape(content)}</p>")
        elif kind == "ul":
            parts.append("<ul>" + "".join(f"<li>{html.escape(str(i))}</li>" for i in content) + "</ul>")
        elif kind == "table":
            parts.append(_html_table(content))
        elif kind == "image":
            alt, png = content
            parts.append(f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
    title = html.escape(doc[0][1]) if doc else "report"
    head = f"<head><meta charset='utf-8'><title>{title}</title><style>{_CSS}</style></head>"
    return f"<!DOCTYPE html><html>{head}<body>{''.join(parts)}</body></html>\n"


# -- writing ---------------------------------------------------------------------------------------------------------------------

def default_dir(root: Path, cases: list[str]) -> Path:
    return Path(root) / (time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + "-".join(cases))


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


def check_target(target: Path) -> Path:
    """``target`` made absolute; ReportError unless it is new, empty or an earlier report (which a rewrite replaces whole).

    Anything else (a file, a link, a directory without report.md and metrics.json) would be deleted by the
    replacement, so it is refused.
    """
    target = Path(os.path.abspath(target))
    if target.is_symlink():
        raise ReportError(f"{target} is a symbolic link; give the report directory itself")
    earlier_report = target.is_dir() and (not os.listdir(target) or {"report.md", "metrics.json"} <= set(os.listdir(target)))
    if target.exists() and not earlier_report:
        raise ReportError(f"{target} exists and is not a report directory (writing the report would replace it); choose another directory")
    return target


def write(run: RunResult, target: Path) -> Path:
    """Write the report into ``target`` (replacing an earlier report there whole) and point ``latest`` beside it; raises ReportError."""
    target = check_target(target)
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
    except OSError as exc:
        raise ReportError(f"cannot write a report under {parent}: {exc.strerror or exc}") from None
    try:
        doc = blocks(run)
        (tmp / "report.md").write_text(to_markdown(doc))
        (tmp / "report.html").write_text(to_html(doc))
        metrics = tidy(run)
        metrics.to_csv(tmp / "metrics.csv", index=False, float_format="%.9g")
        payload = {"run": {"options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(run.options).items() if k != "faults"}
                           | {"faults": [vars(f) for f in run.options.faults]},
                           "environment": run.environment, "seconds": run.seconds, "passed": run.passed},
                   "summary": [{k: _json_safe(v) for k, v in row.items()} for row in run.summary().to_dict(orient="records")],
                   "metrics": {"columns": list(metrics.columns),
                               "rows": [[_json_safe(v) for v in row] for row in metrics.itertuples(index=False)]}}
        (tmp / "metrics.json").write_text(json.dumps(payload, default=str, separators=(",", ":")))
        os.chmod(tmp, 0o755)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=parent))
            os.replace(target, old / target.name)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise ReportError(f"cannot write the report {target}: {exc.strerror or exc}") from None
        raise
    _point_latest(target)
    return target


def _point_latest(target: Path) -> None:
    """``latest`` next to the report names it: a symlink swapped in by rename (readers never see it missing), or,
    where symlinks are not allowed, a text file holding the directory name."""
    link = target.parent / "latest"
    tmp_link = target.parent / f".latest.{os.getpid()}"
    try:
        if tmp_link.is_symlink() or tmp_link.exists():
            tmp_link.unlink()
        os.symlink(target.name, tmp_link)
    except OSError:
        tmp_link.write_text(target.name + "\n")
    try:
        os.replace(tmp_link, link)
    except OSError:  # e.g. a directory named latest: leave it, the report itself is complete
        tmp_link.unlink()


def read_summary(directory: Path) -> dict:
    """The ``metrics.json`` of a saved report; raises ReportError if missing or unreadable."""
    directory = Path(directory)
    if directory.is_file():  # a ``latest`` file naming the report directory
        directory = directory.parent / directory.read_text().strip()
    path = directory / "metrics.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read a report from {directory}: {exc}") from None
