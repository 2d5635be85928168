"""The sweep report: how often each case passes over seeds, where the worst points are, and whether failures are
one unlucky seed or systematic.

Written into the sweep folder after each session (each file atomically): ``report.md`` and ``report.html`` from one
list of blocks (``harness.report``'s renderers), ``metrics.csv`` (and ``metrics.parquet`` where pandas has a parquet
engine) with one row per finished grid point. The worst points link to the full reports of those points.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from harness import report
from harness.plots import _png, plt
from harness.sweep.point import ERROR, SUMMARY_METRICS
from harness.sweep.store import SweepStore, write_atomic

KEY_COLUMNS = ["key", "case", "dtype", "seed", "batch_size", "lr", "status"]
STATUS_TEXT = {**report.VERDICT_TEXT, ERROR: ERROR}
GROUP = ["case", "dtype", "batch_size", "lr"]
WORST_SHOWN = 10
_STATUS_COLOURS = {"pass": "#1f77b4", "noise": "#ff7f0e", "fail": "#d62728"}


def points_table(store: SweepStore) -> pd.DataFrame:
    """One row per finished point: its keys, status, summary metrics, error, time, where it ran and its report."""
    records = list(store.records().values())
    columns = KEY_COLUMNS + list(SUMMARY_METRICS[1:]) + ["error", "seconds", "started", "host", "pid", "session", "report"]
    table = pd.DataFrame(records, columns=columns)
    for name in ("worst_grad_tol_ratio", "worst_grad_max_abs", "loss_max_rel_div", "first_divergent_step", "lr", "batch_size", "seconds"):
        table[name] = pd.to_numeric(table[name], errors="coerce")
    return table


def exit_status(table: pd.DataFrame, expected: int) -> int:
    """3 when a point is ERROR or missing, else 1 when a point fails, else 0 (the codes of ``funcad-compare run``)."""
    if (table["status"] == ERROR).any() or len(table) < expected:
        return 3
    return 1 if (table["status"] == "fail").any() else 0


def _label(value, default: str = "default") -> str:
    return default if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:g}"


def pass_rates(table: pd.DataFrame) -> pd.DataFrame:
    """Per case, dtype, batch size and learning rate over seeds: counts by status and the pass rate (noise floor passes)."""
    rows = []
    for (case, dtype, batch, lr), sub in table.groupby(GROUP, sort=False, dropna=False):
        counts = sub["status"].value_counts()
        passed = int(counts.get("pass", 0) + counts.get("noise", 0))
        failing = sorted(sub.loc[sub["status"].isin(["fail", ERROR]), "seed"].astype(int))
        rows.append({"case": case, "dtype": dtype, "batch size": _label(batch), "lr": _label(lr), "seeds": len(sub),
                     "pass": int(counts.get("pass", 0)), "noise floor": int(counts.get("noise", 0)), "FAIL": int(counts.get("fail", 0)),
                     "ERROR": int(counts.get(ERROR, 0)), "pass rate": f"{passed / len(sub):.0%}",
                     "failing seeds": _seed_list(failing)})
    return pd.DataFrame(rows)


def _seed_list(seeds: list[int], shown: int = 12) -> str:
    if not seeds:
        return "-"
    return ", ".join(map(str, seeds[:shown])) + (f" (+{len(seeds) - shown} more)" if len(seeds) > shown else "")


def worst_points(table: pd.DataFrame, n: int = WORST_SHOWN) -> pd.DataFrame:
    """The ``n`` points with the largest gradient difference over tolerance, ties broken by the earliest divergent step."""
    ran = table[table["status"] != ERROR].assign(_ratio=lambda t: t["worst_grad_tol_ratio"].fillna(-1.0),
                                                 _step=lambda t: t["first_divergent_step"].fillna(np.inf))
    ran = ran.sort_values(["_ratio", "_step"], ascending=[False, True], kind="stable").head(n)
    return pd.DataFrame({
        "point": [f"[{k}]({r.replace('.html', '.md')})" if isinstance(r, str) else k for k, r in zip(ran["key"], ran["report"])],
        "verdict": ran["status"].map(STATUS_TEXT), "grad diff / tol": ran["worst_grad_tol_ratio"].map(report.fmt),
        "worst gradient": ran["worst_grad_param"].astype(str) + " " + ran["worst_grad_index"].astype(str),
        "first divergent step": ran["first_divergent_step"].map(lambda v: "-" if pd.isna(v) else str(int(v))),
        "loss divergence (max rel)": ran["loss_max_rel_div"].map(report.fmt),
    })


def distribution(table: pd.DataFrame) -> pd.DataFrame:
    """Per case and dtype, the spread over points of the worst gradient difference over its tolerance."""
    rows = []
    for (case, dtype), sub in table[table["status"] != ERROR].groupby(["case", "dtype"], sort=False):
        ratio = sub["worst_grad_tol_ratio"].astype(float)
        finite = ratio[np.isfinite(ratio)]
        failing = int((sub["status"] == "fail").sum())
        rows.append({"case": case, "dtype": dtype, "points": len(sub), "min": report.fmt(finite.min()), "median": report.fmt(finite.median()),
                     "90%": report.fmt(finite.quantile(0.9)), "max": report.fmt(ratio.max()), "over tolerance": int((ratio > 1).sum()),
                     "non-finite": int((~np.isfinite(ratio)).sum()), "FAIL": failing,
                     "reading": "no failure" if not failing else ("systematic" if failing > len(sub) / 2 else "isolated points")})
    return pd.DataFrame(rows)


def heatmap(rates: pd.DataFrame) -> bytes:
    """Pass rate over seeds: one row per case and dtype (and learning rate), one column per batch size."""
    rows = rates.assign(row=rates["case"] + " " + rates["dtype"] + np.where(rates["lr"].nunique() > 1, " lr " + rates["lr"], ""))
    rate = rows.assign(value=(rows["pass"] + rows["noise floor"]) / rows["seeds"])
    grid = rate.pivot(index="row", columns="batch size", values="value").reindex(index=list(dict.fromkeys(rate["row"])),
                                                                                 columns=list(dict.fromkeys(rate["batch size"])))
    label = rate.assign(text=(rate["pass"] + rate["noise floor"]).astype(str) + "/" + rate["seeds"].astype(str)).pivot(
        index="row", columns="batch size", values="text").reindex(index=grid.index, columns=grid.columns)
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * len(grid.columns), 0.9 + 0.45 * len(grid)))
    image = ax.imshow(grid.to_numpy(dtype=float), cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    for (i, j), text in np.ndenumerate(label.to_numpy()):
        ax.text(j, i, "" if pd.isna(text) else text, ha="center", va="center", fontsize=9)
    ax.set_xticks(range(len(grid.columns)), [f"batch {c}" for c in grid.columns])
    ax.set_yticks(range(len(grid)), grid.index)
    ax.set_title("pass rate over seeds")
    fig.colorbar(image, ax=ax, fraction=0.05)
    return _png(fig)


def spread_plot(table: pd.DataFrame) -> bytes:
    """Each point's worst gradient difference over tolerance (log scale), one column per case and dtype; 1 is the tolerance."""
    ran = table[table["status"] != ERROR]
    groups = list(ran.groupby(["case", "dtype"], sort=False))
    fig, ax = plt.subplots(figsize=(1.5 + 1.2 * len(groups), 3.4))
    jitter = np.random.default_rng(0)
    for i, (_, sub) in enumerate(groups):
        ratio = sub["worst_grad_tol_ratio"].astype(float).to_numpy()
        shown = np.where(np.isfinite(ratio), np.maximum(ratio, 1e-10), np.nan)
        colours = sub["status"].map(_STATUS_COLOURS).fillna("grey").to_list()
        ax.scatter(i + jitter.uniform(-0.2, 0.2, len(shown)), shown, s=12, c=colours, alpha=0.7)
    ax.axhline(1.0, color="grey", linestyle="--", label="tolerance")
    ax.set_yscale("log")
    ax.set_xticks(range(len(groups)), [f"{c}\n{d}" for (c, d), _ in groups])
    ax.set(ylabel="worst grad diff / tol", title="worst gradient difference per point (red FAIL, orange noise floor, blue pass)")
    ax.legend(loc="best", fontsize=8)
    return _png(fig)


def _session_line(session: dict) -> str:
    head = f"session {session['session']} ({session['started']}): {session['executor']}; "
    if "wall_s" not in session:
        return head + f"interrupted before the end ({session['points_to_run']} points to run)"
    return head + f"{session['points_computed']} of {session['points_to_run']} points to run computed in {session['wall_s']:.1f} s"


def blocks(store: SweepStore, table: pd.DataFrame) -> list[tuple]:
    grid, total = store.grid, len(store.grid.points())
    counts = table["status"].value_counts()
    rates = pass_rates(table)
    out: list[tuple] = [
        ("h1", f"Sweep: {', '.join(grid.case_names)} ({total} points)"),
        ("p", f"{len(table)} of {total} points finished: {counts.get('pass', 0)} pass, {counts.get('noise', 0)} pass (noise floor), "
              f"{counts.get('fail', 0)} FAIL, {counts.get(ERROR, 0)} ERROR. Grid: dtypes {', '.join(grid.dtypes)}; "
              f"{len(grid.seeds)} seeds ({_seed_list(list(grid.seeds), 8)}); batch sizes {', '.join(_label(b) for b in grid.batch_sizes)}; "
              f"learning rates {', '.join(_label(lr) for lr in grid.lr)}; {grid.steps} steps, mode {grid.mode}. A float32 point is "
              "judged against a float64 run of both engines (noise floor); a float64 point runs float64 alone."),
        ("p", "Timings on (--timing): points ran one at a time per machine, so their speed ratios are not disturbed by each other."
              if grid.timing else "Timings off: points run in parallel disturb each other's timings (use --timing to run them one at a "
              "time per machine)."),
        ("ul", [_session_line(s) for s in store.sessions]),
        ("h2", "Pass rate over seeds"),
        ("table", rates),
    ]
    if len(rates):
        out.append(("image", ("pass rate heatmap", heatmap(rates))))
    out += [("h2", f"Worst points (at most {WORST_SHOWN}, largest gradient difference over tolerance, then earliest divergent step)"),
            ("table", worst_points(table)),
            ("h2", "Worst gradient difference over tolerance, per case and dtype"),
            ("p", "One failing point among many is an unlucky seed; most points failing is a systematic difference. A float32 point "
                  "over tolerance still passes when within the noise floor."),
            ("table", distribution(table))]
    if (table["status"] != ERROR).any():
        out.append(("image", ("worst gradient difference per point", spread_plot(table))))
    errors = table[table["status"] == ERROR]
    if len(errors):
        out += [("h2", "Points that crashed (ERROR; rerun them with --resume DIR --retry-errors)"),
                ("table", pd.DataFrame({"point": errors["key"], "error": errors["error"]}))]
    return out


_LINK = re.compile(r"\[([\w.\-]+)\]\(([\w./\-]+)\.md\)")


def write(store: SweepStore, table: pd.DataFrame | None = None) -> Path:
    """Write the sweep report into the sweep folder (each file atomically); returns the folder."""
    table = points_table(store) if table is None else table
    doc = blocks(store, table)
    write_atomic(store.directory / "report.md", report.to_markdown(doc))
    write_atomic(store.directory / "report.html", _LINK.sub(r"<a href='\2.html'>\1</a>", report.to_html(doc)))
    write_atomic(store.directory / "metrics.csv", table.to_csv(index=False, float_format="%.9g"))
    try:
        buffer = io.BytesIO()
        table.to_parquet(buffer, index=False)
        write_atomic(store.directory / "metrics.parquet", buffer.getvalue())
    except ImportError:  # no pyarrow or fastparquet: the CSV holds the same rows
        pass
    return store.directory
