"""The layer comparison in a report: a layers x {forward, output grad, param grads} table per mode, a heatmap of
error / tolerance on a log scale, and tidy rows for metrics.csv/json."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.layers.compare import MODES, QUANTITIES, LayerComparison
from harness.plots import _STYLE, _png, plt

_COLUMNS = [f"{mode}_{q}" for mode in MODES for q in QUANTITIES]


def _cell(value: float) -> str:
    if value != value:
        return "-"
    return f"{value:.3g}" + ("  FAIL" if value > 1 else "")


def table(comparison: LayerComparison) -> pd.DataFrame:
    """One row per layer call, the ratios as text with FAIL above 1 ('-': nothing to compare)."""
    t = comparison.table
    out = pd.DataFrame({"layer": t["layer"], "type": t["type"], "torch module": t["torch_module"]})
    for column in _COLUMNS:
        out[column.replace("_", " ")] = t[column].map(_cell)
    return out


def tick_label(column: str) -> str:
    """A heatmap column's label, a word a line (``chained\noutput\ngrad``): two words a line overran the next column's."""
    return column.replace("_", "\n")


def heatmap(comparison: LayerComparison) -> bytes:
    """log10(error / tolerance) per layer and quantity, chained and isolated side by side; red above 0 (beyond tolerance)."""
    t = comparison.table
    values = np.log10(np.maximum(t[_COLUMNS].astype(float).to_numpy(), 1e-6))
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(9, 1.5 + 0.35 * len(t)))
        image = ax.imshow(np.ma.masked_invalid(values), cmap="RdYlGn_r", vmin=-4, vmax=4, aspect="auto")
        ax.set_xticks(range(len(_COLUMNS)), [tick_label(c) for c in _COLUMNS])
        ax.set_yticks(range(len(t)), list(t["layer"]))
        for (i, j), v in np.ndenumerate(values):
            if v == v:
                ax.text(j, i, f"{v:+.1f}", ha="center", va="center", fontsize=9)
        fig.colorbar(image, ax=ax, label="log10(error / tolerance)")
        ax.set_title(f"{comparison.case}: layers at step {comparison.step} ({comparison.dtype}), above 0 exceeds {comparison.tolerance}")
        return _png(fig)


def blocks(comparison: LayerComparison) -> list[tuple]:
    return [("h3", f"Layers at step {comparison.step} ({comparison.dtype}): {comparison.verdict()}"),
            ("p", "Each cell is the worst element's error / tolerance (" + str(comparison.tolerance) + "). chained: each engine on "
                  "its own activations, so a difference shows where it appears and how it grows; isolated: each layer alone on "
                  "torch's input and, backward, torch's gradient of its output, so the error is that layer's own. Isolated "
                  "output grad compares the gradient each layer passes back to its inputs."),
            ("ul", comparison.notes),
            ("table", table(comparison))] + ([("image", ("layer errors", heatmap(comparison)))] if len(comparison.table) else [])


def tidy_rows(comparison: LayerComparison) -> pd.DataFrame:
    """metrics rows: section ``layer``, item the layer, metric ``<mode>_<quantity>`` (error / tolerance), step the step."""
    t = comparison.table
    long = t.melt(id_vars=["layer"], value_vars=_COLUMNS, var_name="metric", value_name="value").dropna(subset=["value"])
    verdict = comparison.first_fault()
    first = pd.DataFrame([{"layer": "", "metric": "first_fault", "value": np.nan,
                           "text": "none" if verdict is None else f"{verdict[0]} {verdict[1]}"}])
    long = pd.concat([long.assign(text=None), first], ignore_index=True)
    return long.rename(columns={"layer": "item"}).assign(case=comparison.case, dtype=comparison.dtype, section="layer",
                                                         step=comparison.step)
