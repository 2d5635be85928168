"""``funcad-compare explain REPORT_DIR --param NAME [--element i,j]``: one parameter (or element) across the steps of a
saved run, on both sides.

A report stores statistics, not every value, so the values are recomputed: the run's case is re-trained from the
options in its metrics.json (same seed, so the same numbers) and the parameter's value and gradient are read on both
sides at every step; the report's own per-step rows and the layer table row the parameter belongs to come from
metrics.csv. A ``--model`` run's case is rebuilt from the flags its metrics.json keeps (the factory must still import
and give the same model). The recomputation trains freely with the run's planted gradient and parameter faults (its
optimizer-state and layer faults and lockstep re-syncs are left out; the report's own rows show them).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from harness.cases import CASES, Case
from harness.faults import Fault
from harness.runner import RunOptions, fault_edit, plant_params


class ExplainError(ValueError):
    pass


def _report_dir(directory: Path) -> Path:
    directory = Path(directory)
    if directory.is_file():  # a ``latest`` file naming the report directory
        directory = directory.parent / directory.read_text().strip()
    if not (directory / "metrics.json").is_file():
        raise ExplainError(f"{directory}: no metrics.json (not a report folder)")
    return directory


def _pick(value: np.ndarray, element: tuple[int, ...] | None) -> np.ndarray:
    return value if element is None else np.asarray(value[element])


def trace(case: Case | str, options: RunOptions, param: str, element: tuple[int, ...] | None) -> pd.DataFrame:
    """Per step and dtype: the parameter's (element's) value before the step and its gradient, funcad and torch, with
    the gradient and parameter faults of ``options`` planted as the run planted them. ``case``: a Case or a built-in name;
    ``param``: funcad's name, or torch's (``bn1.weight`` for ``bn1.gamma``), as a user porting a torch model knows it."""
    case = (CASES[case] if isinstance(case, str) else case).for_dtypes(options.dtypes)
    faults = [f for f in options.faults if f.kind in ("grad", "param")]
    batches = case.batches(options.steps, options.seed, options.batch_size, options.data_dir)
    rows = []
    for dtype in options.dtypes:
        pair = case.build(dtype, options.seed, options.device, options.torch_optimizer)
        state = pair.funcad.state()
        param = pair.torch.to_funcad.get(param, param) if param not in state else param
        if param not in state:
            raise ExplainError(f"--param {param}: case {case.name} has no such parameter (by funcad's or torch's name); "
                               f"parameters: {', '.join(state)}")
        shape = state[param].shape
        if element is not None and (len(element) != len(shape) or not all(0 <= i < n for i, n in zip(element, shape))):
            raise ExplainError(f"--element {','.join(map(str, element))} is not an element of {param} with shape {shape}")
        for step, (x, y) in enumerate(batches):
            plant_params(pair, faults, step)
            values = {side: getattr(pair, side).state()[param] for side in ("funcad", "torch")}
            edits = {side: fault_edit(faults, side, "grad", step) for side in ("funcad", "torch")}
            grads = {side: (edits[side] or (lambda named: named))(getattr(pair, side).loss_and_grads(x, y)[1]).get(param)
                     for side in ("funcad", "torch")}
            row = {"dtype": dtype, "step": step}
            for what, pair_values in (("value", values), ("grad", grads)):
                if pair_values["funcad"] is None:
                    continue
                f, t = _pick(pair_values["funcad"], element), _pick(pair_values["torch"], element)
                diff = np.abs(f.astype(np.float64) - t.astype(np.float64))
                if element is None:
                    row |= {f"funcad {what} |max|": float(np.max(np.abs(f))), f"torch {what} |max|": float(np.max(np.abs(t))),
                            f"{what} max |diff|": float(np.max(diff))}
                else:
                    row |= {f"funcad {what}": float(f), f"torch {what}": float(t), f"{what} |diff|": float(diff)}
            rows.append(row)
            for side in ("funcad", "torch"):
                getattr(pair, side).step(x, y, edits[side])
    table = pd.DataFrame(rows)
    table.attrs["param"] = param  # funcad's name, for the report's rows
    return table


def _case(name: str, model: dict | None, options: RunOptions) -> Case | None:
    """The built-in case ``name``, or the user-model case a run's saved ``--model`` flags build (None without either)."""
    if name in CASES:
        return CASES[name]
    if model is None:
        return None
    from harness import usermodel

    try:
        return usermodel.case_from_flags(model, options.steps, options.seed)
    except usermodel.UserModelError as exc:
        raise ExplainError(f"{name}: the run's --model cannot be rebuilt: {exc}") from None


def explain(directory: Path, param: str, element: tuple[int, ...] | None = None) -> str:
    """The text ``funcad-compare explain`` prints."""
    directory = _report_dir(directory)
    saved = json.loads((directory / "metrics.json").read_text())
    raw = dict(saved["run"]["options"])
    raw["faults"] = tuple(Fault(**{**f, "index": tuple(f["index"])}) for f in raw.get("faults", ()))
    options = RunOptions(**{k: v for k, v in raw.items() if k in RunOptions.__dataclass_fields__})
    cases = list(dict.fromkeys(row["case"] for row in saved["summary"]))
    metrics = pd.read_csv(directory / "metrics.csv")
    out = []
    for case in cases:
        built = _case(case, saved["run"].get("model"), options)
        if built is None:
            out.append(f"{case}: not a built-in case, and the report keeps no --model flags to rebuild it from")
            continue
        with np.errstate(all="ignore"):  # a NaN or an overflow (a loss scaler's first steps) shows in the table itself
            table = trace(built, options, param, element)
        name = table.attrs["param"]
        where = f"{name}{list(element) if element is not None else ''}" + (f" (torch {param})" if name != param else "")
        out.append(f"== {case}: {where}, {options.steps} steps, mode {options.mode}, seed {options.seed}")
        out.append(table.to_string(index=False, float_format=lambda v: f"{v:.9g}"))
        mine = metrics[(metrics["case"] == case) & (metrics["item"] == name) & (metrics["section"] == "parameter_step")]
        if len(mine):
            out.append("report, after each step:")
            out.append(mine.astype({"step": int}).pivot_table(index=["dtype", "step"], columns="metric", values="value").to_string())
        layers = metrics[(metrics["case"] == case) & (metrics["section"] == "layer")]
        layer = name.rsplit(".", 1)[0]
        row = layers[layers["item"] == layer]
        if len(row):
            out.append(f"layer {layer} (error / tolerance):")
            out.append(row.set_index("metric")["value"].to_string())
    return "\n".join(out)
