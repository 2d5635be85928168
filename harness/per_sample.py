"""Per-sample gradients compared: funcad's ``nn.per_sample_grads`` (vmap of grad) against torch.func's
``vmap(grad(functional_call(...)))`` on a case's first batch, both engines starting from the same parameters.

    per_sample_differences("lenet", batch_size=8)   # {funcad parameter name: largest |funcad - torch| per sample}

A run asks for it with ``RunOptions(per_sample=True)`` (``funcad-compare run --per-sample``): ``compare_for_run``
judges each parameter's (batch, *shape) gradients at step 0 in float64 against the run's float64 tolerance, and a
failing parameter fails the case (``fail_summary``). A funcad or torch ``grad`` fault planted at step 0 is added to
every sample's gradient, as the batch gradient's plant shifts the mean of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from torch.func import functional_call, grad, vmap

from funcad import nn
from harness.cases import CASES, Case, get_case
from harness.faults import Fault
from harness.inputs import parts
from harness.metrics import Tolerance, diff_stats, tolerance_for

#: The cases whose every sample's loss depends on that sample alone (no batch norm, no batch-coupled layer), so a
#: per-sample gradient is defined and both engines' vmap can compute it.
SUPPORTED = ("logreg", "mlp", "lenet")
#: Layers of a user's model (by class name prefix) that make a sample's loss depend on the batch or on random draws.
COUPLED = {"BatchNorm": "makes a sample's loss depend on more than that sample (its batch statistics)",
           "Dropout": "draws its masks for the whole batch, so a sample's loss alone would draw others"}
DTYPE = "float64"  # both engines' rounding stays far below the tolerance, so any difference is a real one
COLUMNS = {"parameter": "parameter", "shape": "shape", "max_abs": "max abs diff", "max_rel": "max rel diff",
           "tolerance": "tolerance", "worst_index": "worst element (sample, ...)", "verdict": "verdict"}


class TorchVmapError(RuntimeError):
    """torch.func's vmap cannot run the torch model (torch's recurrent layers create their hidden state unbatched and
    write it in place, which vmap refuses): the comparison is not computed, the rest of the run goes on."""


def per_sample_gradients(case: Case, x, y, dtype: str = DTYPE, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{funcad parameter name: (funcad's, torch's) gradients, each shaped (batch, *parameter shape)} on ``x, y``; a
    ``TorchVmapError`` when torch.func cannot vmap the torch model."""
    pair = case.build(dtype=dtype, seed=seed)
    engine, trainer = pair.funcad, pair.torch.trainer
    weights = engine.optimizer.parameters
    ours = nn.per_sample_grads(engine.net, engine.loss_fn, *engine.prepare(x, y), weights=weights)

    model, loss_fn = trainer.model, trainer.loss_fn
    params = {name: p.detach() for name, p in model.named_parameters()}

    def sample_loss(p, xi, yi):
        return loss_fn(functional_call(model, p, tuple(a[None] for a in parts(xi))), yi[None])

    try:
        theirs = vmap(grad(sample_loss), in_dims=(None, 0, 0))(params, trainer.inputs(x), trainer.tensor(y))
    except RuntimeError as exc:  # torch's own limits under vmap, on a model that runs unvmapped (the run checked it)
        raise TorchVmapError(f"torch.func's vmap cannot run the torch model ({str(exc).splitlines()[0]})") from None
    return {w.name: (np.asarray(g), theirs[pair.torch.to_torch[w.name]].cpu().numpy()) for w, g in zip(weights, ours)}


def per_sample_differences(case_name: str, batch_size: int = 8, dtype: str = DTYPE, seed: int = 0,
                           data_dir: str | Path | None = None) -> dict[str, float]:
    """The largest absolute difference, per parameter, between the two engines' per-sample gradients."""
    case = get_case(case_name)
    x, y = case.batches(1, seed, batch_size, data_dir)[0]
    return {name: float(np.max(np.abs(ours - theirs))) for name, (ours, theirs) in per_sample_gradients(case, x, y, dtype, seed).items()}


def _plant(grads: dict[str, np.ndarray], faults: Sequence[Fault], side: str) -> dict[str, np.ndarray]:
    """Step-0 ``grad`` faults of ``side`` added to every sample's gradient."""
    mine = [f for f in faults if f.side == side and f.kind == "grad" and f.step == 0 and f.param in grads]
    out = dict(grads)
    for f in mine:
        value = np.array(out[f.param])
        value[(slice(None), *f.index)] += f.delta
        out[f.param] = value
    return out


@dataclass
class PerSampleComparison:
    """One case's per-sample gradient comparison at step 0: a row per parameter, or why it was not computed."""

    case: str
    tolerance: Tolerance
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    skipped: str | None = None  # the reason nothing was computed

    @property
    def failing(self) -> list[str]:
        return [] if self.skipped else list(self.table.loc[self.table["verdict"] == "fail", "parameter"])

    def verdict(self) -> str:
        if self.skipped:
            return f"not computed: {self.skipped}"
        if self.failing:
            return f"FAIL in {len(self.failing)} of {len(self.table)} parameters: {', '.join(self.failing)}"
        return f"all {len(self.table)} parameters within {self.tolerance}"


def _not_comparable(case: Case) -> str | None:
    """Why a case's per-sample gradients are not compared, or None: built-in cases outside ``SUPPORTED``, and a
    user's models (``harness.compare``) holding a layer that couples or randomises the samples."""
    if case.name in CASES:
        return None if case.name in SUPPORTED else f"compared on {', '.join(SUPPORTED)} only; {case.name} is not one of them"
    kinds = {type(c).__name__ for _, c in case.funcad_model().cells_and_names()}
    why = [f"the model's {', '.join(sorted(k for k in kinds if k.startswith(prefix)))} {reason}"
           for prefix, reason in COUPLED.items() if any(k.startswith(prefix) for k in kinds)]
    return "; ".join(why) or None


def _unbatched(x, y) -> str | None:
    """Why a batch cannot be split into samples, or None: every input and the target must share the first axis (a
    model taking an input shared by the whole batch, a (length, length) attention mask, has no per-sample split)."""
    arrays = [*parts(x), y]
    if len({np.shape(a)[0] if np.ndim(a) else None for a in arrays}) == 1:
        return None
    shapes = ", ".join(str(tuple(np.shape(a))) for a in parts(x))
    return (f"the inputs ({shapes}) and the target {tuple(np.shape(y))} do not share a batch axis, and per-sample gradients "
            "split every one of them along its first axis")


def compare_for_run(case: Case, faults: Sequence[Fault], batches, seed: int, rtol: float | None = None,
                    atol: float | None = None) -> PerSampleComparison:
    """Per-sample gradients of the run's first batch at step 0, judged per parameter in float64."""
    tol = tolerance_for(DTYPE, dict(case.tolerances), rtol, atol)
    x, y = batches[0]
    reason = _not_comparable(case) or _unbatched(x, y)
    if reason:
        return PerSampleComparison(case.name, tol, skipped=reason)
    try:
        pairs = per_sample_gradients(case, x, y, DTYPE, seed)
    except TorchVmapError as exc:
        return PerSampleComparison(case.name, tol, skipped=str(exc))
    ours = _plant({n: a for n, (a, _) in pairs.items()}, faults, "funcad")
    theirs = _plant({n: b for n, (_, b) in pairs.items()}, faults, "torch")
    rows = []
    for name in pairs:
        stats = diff_stats(ours[name], theirs[name], tol)
        rows.append({"parameter": name, "shape": str(tuple(ours[name].shape)), "max_abs": stats["max_abs"],
                     "max_rel": stats["max_rel"], "tolerance": str(tol), "worst_index": stats["worst_index"],
                     "verdict": "pass" if stats["passed"] else "fail"})
    return PerSampleComparison(case.name, tol, pd.DataFrame(rows))


def fail_summary(summary: pd.DataFrame, comparison: PerSampleComparison) -> pd.DataFrame:
    """The case's summary with every passing row turned to ``fail`` when a per-sample gradient fails."""
    failing = comparison.failing
    if not failing:
        return summary
    out = summary.copy()
    passing = out["verdict"].isin(["pass", "noise"])
    out.loc[passing, "verdict"] = "fail"
    out.loc[passing, "offender"] = f"per-sample gradient of {failing[0]}, step 0"
    return out


def blocks(comparison: PerSampleComparison) -> list[tuple]:
    """The report's section: a heading with the verdict and the per-parameter table."""
    out: list[tuple] = [("h3", f"Per-sample gradients at step 0 ({DTYPE}): {comparison.verdict()}")]
    if comparison.skipped:
        return out
    out.append(("p", "funcad's vmap(grad) against torch.func's vmap(grad(functional_call)) on the first batch; each row is the "
                     "worst over every sample's gradient of that parameter (|funcad - torch| <= atol + rtol |torch|)."))
    table = comparison.table.rename(columns=COLUMNS)
    for column in ("max abs diff", "max rel diff"):
        table[column] = table[column].map(lambda v: f"{v:.3g}")
    table["verdict"] = table["verdict"].map({"pass": "pass", "fail": "FAIL"})
    return out + [("table", table)]


def tidy_rows(comparison: PerSampleComparison) -> pd.DataFrame:
    """metrics rows: section ``per_sample``, item the parameter, metrics max_abs, max_rel (values) and verdict (text)."""
    base = {"case": comparison.case, "dtype": DTYPE, "section": "per_sample", "step": 0}
    if comparison.skipped:
        return pd.DataFrame([base | {"item": "", "metric": "verdict", "value": np.nan, "text": f"not computed: {comparison.skipped}"}])
    rows = []
    for r in comparison.table.to_dict("records"):
        rows += [base | {"item": r["parameter"], "metric": m, "value": r[m], "text": None} for m in ("max_abs", "max_rel")]
        rows += [base | {"item": r["parameter"], "metric": m, "value": np.nan, "text": r[m]} for m in ("tolerance", "verdict")]
    return pd.DataFrame(rows)
