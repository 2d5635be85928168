"""bench.png: each engine's median train-step time over torch eager's, per case and thread setting."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the file-only backend

from harness.bench.records import Record  # noqa: E402


def plot(records: list[Record], path: Path) -> None:
    groups = list(dict.fromkeys((r.case, r.threads) for r in records))
    engines = [e for e in dict.fromkeys(r.engine for r in records) if e != "torch eager"]
    fig, ax = plt.subplots(figsize=(max(9, 1.2 * len(groups)), 4.5))
    width = 0.8 / max(len(engines), 1)
    for i, engine in enumerate(engines):
        values = [next((r.ratio_to_torch_eager for r in records if (r.case, r.threads) == g and r.engine == engine), np.nan)
                  for g in groups]
        ax.bar(np.arange(len(groups)) + i * width, values, width, label=engine)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(groups)) + width * (len(engines) - 1) / 2, [f"{c}\n{t} thr" for c, t in groups], fontsize=8)
    ax.set_ylabel("median train-step time / torch eager (log)")
    ax.set_title("train step, float32, ratio to PyTorch eager at the same thread count (lower is faster)")
    ax.legend(fontsize=8, ncol=len(engines), loc="upper center", bbox_to_anchor=(0.5, -0.12))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
