"""The report's figures (matplotlib, Agg backend), returned as PNG bytes so the HTML can embed them.

Text is at least 11 pt at 80 dpi (12 px), so it reads at 100% zoom in a browser.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

_COLOURS = {"funcad": "#1f77b4", "torch": "#d62728", "funcad jit": "#2ca02c"}
#: One colour per dtype in the gradient plot, so the bars of a run of several dtypes tell them apart.
_DTYPE_COLOURS = {"float32": "#1f77b4", "float16": "#2ca02c", "bfloat16": "#8c564b", "float64": "#9467bd", "mixed": "#e377c2"}
_DPI = 80
_STYLE = {"font.size": 11, "legend.fontsize": 11, "axes.titlesize": 12, "axes.labelsize": 11, "xtick.labelsize": 11,
          "ytick.labelsize": 11}


def _png(fig) -> bytes:
    """PNG bytes of ``fig``, reduced to a 256-colour palette: line plots lose nothing and the HTML halves in size."""
    from PIL import Image  # matplotlib's own dependency

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight")
    plt.close(fig)
    out = io.BytesIO()
    Image.open(buf).convert("RGB").quantize(256).save(out, format="PNG", optimize=True)
    return out.getvalue()


def loss_curves(losses: pd.DataFrame, steps: pd.DataFrame, tolerances: dict, title: str) -> bytes:
    """Left: both engines' loss per step, per dtype, overlaid. Right: their relative divergence (log scale) against the
    tolerance, with the steps that diverged (``summary.step_table``) marked."""
    with plt.rc_context(_STYLE):
        fig, (ax, ax_div) = plt.subplots(1, 2, figsize=(12, 4.4))
        for dtype, sub in losses.groupby("dtype", sort=False):
            style = "-" if dtype == "float32" else ":"
            ax.plot(sub["step"], sub["funcad_loss"], style, color=_COLOURS["funcad"], label=f"funcad {dtype}")
            ax.plot(sub["step"], sub["torch_loss"], style, color=_COLOURS["torch"], marker=".", markersize=4, alpha=0.7, label=f"torch {dtype}")
            rel = np.maximum(sub["rel_div"].astype(float).to_numpy(), 1e-18)
            ax_div.semilogy(sub["step"], rel, style, marker=".", label=f"{dtype} |funcad - torch| / |torch|")
            tol = tolerances.get(dtype)
            if tol is not None:
                scale = np.maximum(sub["torch_loss"].abs().astype(float).to_numpy(), np.finfo(float).tiny)
                ax_div.semilogy(sub["step"], tol.rtol + tol.atol / scale, "--", color="black", linewidth=1,
                                label=f"{dtype} tolerance (atol + rtol |torch|) / |torch|")
            if sub["torch_f32_err"].notna().any():
                floor = sub["torch_f32_err"].astype(float) / sub["torch_loss"].abs().astype(float)
                ax_div.semilogy(sub["step"], np.maximum(floor, 1e-18), "--", color="grey", label=f"{dtype} noise floor (torch vs float64)")
            bad = steps[(steps["dtype"] == dtype) & steps["diverged"]]["step"].to_numpy()
            if len(bad):
                ax_div.semilogy(bad, rel[np.searchsorted(sub["step"].to_numpy(), bad)], "x", color="#d62728", markersize=10,
                                markeredgewidth=2, label=f"{dtype} diverged (loss or a parameter fails)")
        ax.set(xlabel="step", ylabel="loss", title=f"{title}: loss")
        ax.legend()
        ax_div.set(xlabel="step", ylabel="relative loss difference", title="loss divergence (1e-18 = identical)")
        ax_div.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
        return _png(fig)


def gradient_errors(grads: pd.DataFrame, title: str, when: str = "at step 0") -> bytes:
    """Per-parameter max |funcad - torch| of the gradient (bars, log scale; ``when`` says at which step) against the
    tolerance at that element (ticks), the parameters sorted by difference over tolerance so a failing one comes first,
    in red."""
    dtypes = list(dict.fromkeys(grads["dtype"]))
    order = grads.assign(ratio=grads["tol_ratio"].astype(float)).groupby("parameter", sort=False)["ratio"].max()
    params = list(order.sort_values(ascending=False, kind="stable").index)
    failing = set(grads.loc[grads["verdict"] == "fail", "parameter"])
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(11, 1.4 + 0.4 * len(params) * len(dtypes)))
        height, handles = 0.8 / len(dtypes), []
        for k, dtype in enumerate(dtypes):
            sub = grads[grads["dtype"] == dtype].set_index("parameter").reindex(params)
            y = np.arange(len(params)) + k * height
            err = np.maximum(sub["max_abs"].astype(float).replace(np.inf, 1e10).to_numpy(), 1e-20)
            allowed = np.where(sub["tol_ratio"].astype(float) > 0, err / sub["tol_ratio"].astype(float).replace(0, np.nan), np.nan)
            own = _DTYPE_COLOURS.get(dtype, "#7f7f7f")
            verdicts = list(sub["verdict"])
            ax.barh(y, err, height=height, color=["#d62728" if v == "fail" else own for v in verdicts],
                    hatch=["///" if v == "noise" else "" for v in verdicts], edgecolor=["#ff7f0e" if v == "noise" else own for v in verdicts])
            handles.append(Patch(color=own, label=f"{dtype} max |diff|"))
            tick = ax.scatter(allowed, y, marker="|", s=200, color="black", label="tolerance")
        noise = (grads["verdict"] == "noise").any()
        handles += [Patch(facecolor="white", hatch="///", edgecolor="#ff7f0e", label="pass (noise floor)")] if noise else []
        handles += [Patch(color="#d62728", label="fails")] if failing else []
        ax.set_xscale("log")
        ax.set_yticks(np.arange(len(params)) + height * (len(dtypes) - 1) / 2, [f"{p}  FAIL" if p in failing else p for p in params])
        for label in ax.get_yticklabels():
            if label.get_text().endswith("FAIL"):
                label.set_color("#d62728")
                label.set_fontweight("bold")
        ax.invert_yaxis()
        ax.set(xlabel=f"max |funcad - torch| of the gradient {when} (red: fail, orange hatching: noise floor)",
               title=f"{title}: gradients, worst first")
        ax.legend(handles=[*handles, tick], loc="upper left", bbox_to_anchor=(1.01, 1.0))
        return _png(fig)


def speed_bars(timings: pd.DataFrame, title: str) -> bytes:
    """Median time per phase and engine (ms), with the interquartile range as error bars."""
    phases = list(dict.fromkeys(timings["phase"]))
    engines = list(dict.fromkeys(timings["engine"]))
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(8, 3.6))
        width = 0.8 / len(engines)
        for k, engine in enumerate(engines):
            sub = timings[timings["engine"] == engine].set_index("phase").reindex(phases)
            x = np.arange(len(phases)) + k * width
            med = sub["median_s"].to_numpy() * 1e3
            err = np.vstack([med - sub["q1_s"].to_numpy() * 1e3, sub["q3_s"].to_numpy() * 1e3 - med])
            ax.bar(x, med, width=width, yerr=err, capsize=3, color=_COLOURS.get(engine, "grey"), label=engine)
        ax.set_xticks(np.arange(len(phases)) + width * (len(engines) - 1) / 2, phases)
        ax.set(ylabel="median ms (IQR bars)", title=f"{title}: speed")
        ax.legend()
        return _png(fig)
