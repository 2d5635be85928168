"""README's table of low-precision tolerances: every built-in case in float32, float16, bfloat16 and mixed precision,
each beside float64, printed as Markdown rows.

Per case and dtype: the verdict; for the step-0 gradients, the worst parameter relative to its floor, with PyTorch's
error against float64 (the floor), the tolerance derived from it, the cross-engine difference and funcad's own error
against float64; the largest difference / floor over every gradient, loss and parameter of the run; and the verdict on
that gradient once funcad's is pushed away from torch's by 10x the floor at its worst element (a one-step run).

    PYTHONPATH=. python benchmarks/precision_table.py [--steps 20] [--cases mlp lenet]
"""

from __future__ import annotations

import argparse
import warnings

import pandas as pd

from harness.cases import CASES
from harness.metrics import noise_factor
from harness.runner import Fault, RunOptions, run_case
from harness.summary import VERDICT_TEXT
from harness.timing import fixed_threads


def _ratio(table: pd.DataFrame, dtype: str) -> float:
    rows = table[table["dtype"] == dtype]
    floor = rows["torch_f32_err"].astype(float)
    return float((rows["max_abs"].astype(float) / floor.where(floor > 0)).max())


def _planted(name: str, dtype: str, worst: pd.Series) -> str:
    """The verdict on ``worst``'s gradient with 10x its floor added to funcad's at its worst element, away from torch."""
    index = tuple(int(i) for i in worst["worst_index"].strip("()").split(",") if i.strip())
    sign = 1.0 if worst["funcad_value"] >= worst["torch_value"] else -1.0
    fault = Fault("funcad", "grad", worst["parameter"], index, 0, sign * 10 * float(worst["torch_f32_err"]))
    planted = run_case(CASES[name], RunOptions(steps=1, dtype=dtype, timing=False, faults=(fault,)))
    grads = planted.grads[planted.grads["dtype"] == dtype].set_index("parameter")
    return VERDICT_TEXT[grads.loc[worst["parameter"], "verdict"]]


def rows_for(name: str, dtype: str, steps: int) -> list[str]:
    result = run_case(CASES[name], RunOptions(steps=steps, dtype=dtype, timing=False))
    out = []
    for d in result.summary["dtype"]:
        if d == "float64":
            continue
        grads = result.grads[result.grads["dtype"] == d].copy()
        grads["ratio"] = grads["max_abs"].astype(float) / grads["torch_f32_err"].astype(float)
        worst = grads.loc[grads["ratio"].idxmax()]
        verdict = VERDICT_TEXT[result.summary.set_index("dtype").loc[d, "verdict"]]
        losses = result.losses.rename(columns={"abs_div": "max_abs"})
        run_ratio = max(_ratio(grads, d), _ratio(losses, d), _ratio(result.params, d))
        factor = noise_factor(d)
        out.append(f"| {name} | {d} | {verdict} | {worst['parameter']} | {worst['torch_f32_err']:.2g} | {factor * worst['torch_f32_err']:.2g} | "
                   f"{worst['max_abs']:.2g} | {worst['funcad_f32_err']:.2g} | {run_ratio:.2f} | {_planted(name, d, worst)} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    parser.add_argument("--dtypes", nargs="*", default=["all", "mixed"])
    args = parser.parse_args()
    print("| case | dtype | verdict | worst step-0 gradient | torch err (floor) | tolerance | funcad - torch | funcad err | "
          "max diff / floor, whole run | with 10x floor planted |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with warnings.catch_warnings(), fixed_threads(1):
        warnings.simplefilter("ignore")
        for name in args.cases:
            for dtype in args.dtypes:
                for row in rows_for(name, dtype, args.steps):
                    print(row, flush=True)


if __name__ == "__main__":
    main()
