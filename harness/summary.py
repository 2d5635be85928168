"""One line per case and dtype: the verdict and where the worst difference is (``CaseSummary``), and the per-step
table the "first divergent step" comes from.

The first divergent step of a dtype is the first training step after which the loss or a parameter fails its check:
``|funcad - torch| > atol + rtol * |torch|`` with that dtype's tolerance and, where a float64 truth runs beside a
float32 comparison, also more than ``NOISE_FACTOR`` times PyTorch's own float32 error so far. ``step_table`` computes
it the same way for every dtype; the summary and both reports read it from there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import pandas as pd

from harness.metrics import NOISE_FACTOR
from harness.timing import spread

VERDICT_TEXT = {"pass": "pass", "noise": "pass (noise floor)", "fail": "FAIL", "error": "ERROR"}

STEP_LEGEND = (f"First divergent step: the first training step after which the loss or any parameter differs between "
               f"funcad and PyTorch by more than the dtype's tolerance (|funcad - torch| > atol + rtol |torch|) and, for "
               f"float32 beside a float64 truth, by more than {NOISE_FACTOR:g}x PyTorch's own float32 error so far; the "
               f"per-step table shows each step's check.")


@dataclass(frozen=True)
class CaseSummary:
    """The summary of one case in one dtype: what ``funcad-compare`` prints and ``metrics.json`` saves as a row."""

    case: str
    dtype: str
    verdict: str  # a VERDICT_TEXT key
    forward_max_abs: float | None = None
    worst_grad_param: str | None = None
    worst_grad_max_abs: float | None = None
    worst_grad_max_rel: float | None = None
    worst_grad_tol_ratio: float | None = None
    worst_grad_index: str | None = None
    loss_max_rel_div: float | None = None
    first_divergent_step: int | None = None
    worst_final_param: str | None = None
    final_param_max_abs: float | None = None
    nonfinite_events: int = 0
    f32_error_ratio: float | None = None
    speed_ratio: float | None = None
    speed_spread: float | None = None
    jit_speed_ratio: float | None = None
    jit_speed_spread: float | None = None
    offender: str | None = None  # where it fails first: "parameter fc1.weight, element (3, 5), step 0"
    error: str | None = None  # the one-line message of an internal error (verdict "error")

    @classmethod
    def columns(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def required(cls) -> list[str]:
        """The fields every saved summary row holds (reports written before the optional ones existed included)."""
        return ["case", "dtype", "verdict", "worst_grad_param", "worst_grad_max_abs", "worst_grad_tol_ratio", "worst_grad_index",
                "loss_max_rel_div", "first_divergent_step", "worst_final_param", "final_param_max_abs", "speed_ratio", "jit_speed_ratio"]

    def record(self) -> dict:
        return asdict(self)


def frame(summaries: list[CaseSummary]) -> pd.DataFrame:
    """The summaries as a DataFrame with one column per field (also when empty)."""
    return pd.DataFrame([s.record() for s in summaries], columns=CaseSummary.columns())


def _worst(table: pd.DataFrame):
    """Index label of the worst row: failing first, then the largest difference relative to its tolerance."""
    rank = table["verdict"].map({"fail": 2, "noise": 1, "pass": 0}).astype(float)
    return pd.DataFrame({"rank": rank, "ratio": table["tol_ratio"].astype(float)}).sort_values(["rank", "ratio"]).index[-1]


def step_table(losses: pd.DataFrame, params: pd.DataFrame) -> pd.DataFrame:
    """Per dtype and step: the loss check, the worst parameter's check after the update, and whether the step diverged."""
    rows = []
    dtypes = list(dict.fromkeys(losses["dtype"])) if len(losses) else []
    for (dtype, step), loss in sorted(losses.groupby(["dtype", "step"], sort=False), key=lambda g: (dtypes.index(g[0][0]), g[0][1])):
        loss = loss.iloc[0]
        at = params[(params["dtype"] == dtype) & (params["step"] == step)]
        worst = at.loc[_worst(at)] if len(at) else None
        param_verdict = worst["verdict"] if worst is not None else "pass"
        rows.append({"dtype": dtype, "step": int(step), "loss_abs_div": loss["abs_div"], "loss_verdict": loss["verdict"],
                     "worst_param": None if worst is None else worst["parameter"],
                     "param_max_abs": None if worst is None else worst["max_abs"],
                     "param_index": None if worst is None else worst["worst_index"],
                     "param_tol_ratio": None if worst is None else worst["tol_ratio"], "param_verdict": param_verdict,
                     "diverged": "fail" in (loss["verdict"], param_verdict)})
    return pd.DataFrame(rows, columns=["dtype", "step", "loss_abs_div", "loss_verdict", "worst_param", "param_max_abs", "param_index",
                                       "param_tol_ratio", "param_verdict", "diverged"])


def first_divergent(steps: pd.DataFrame, dtype: str) -> pd.Series | None:
    """The ``step_table`` row of ``dtype``'s first divergent step, or None."""
    bad = steps[(steps["dtype"] == dtype) & steps["diverged"]]
    return bad.iloc[0] if len(bad) else None


def _error_ratio(grads: pd.DataFrame) -> float | None:
    """funcad's float32 gradient error against the float64 truth, over PyTorch's (max over parameters); None without a truth."""
    if not len(grads) or grads["torch_f32_err"].isna().all():
        return None
    torch_err = float(grads["torch_f32_err"].astype(float).max())
    return float(grads["funcad_f32_err"].astype(float).max()) / torch_err if torch_err > 0 else None


def _offender(grads, forward, first, final, events) -> str | None:
    """Where a failing dtype goes wrong first: a step-0 gradient, the first divergent step, the logits, the end, a NaN."""
    if (grads["verdict"] == "fail").any():
        g = grads.loc[_worst(grads)]
        return f"gradient of {g['parameter']}, element {g['worst_index']}, step {int(g.get('step', 0))}"
    if first is not None:
        if first["param_verdict"] == "fail":
            return f"parameter {first['worst_param']}, element {first['param_index']}, step {int(first['step'])}"
        return f"loss, step {int(first['step'])}"
    if (forward["verdict"] == "fail").any():
        return f"logits, element {forward.loc[_worst(forward), 'worst_index']}, step 0"
    if len(final) and (final["verdict"] == "fail").any():
        f = final.loc[_worst(final)]
        return f"parameter {f['parameter']}, element {f['worst_index']}, after the last step"
    if len(events):
        e = events.iloc[0]
        return f"{e['where']} on the {e['side']} side: {e['what']}, step {int(e['step'])}"
    return None


def summarize(case: str, dtype: str, tables: dict[str, pd.DataFrame], timings: pd.DataFrame) -> CaseSummary:
    """The summary of ``case`` in ``dtype`` from its tables (forward, grads, losses, params, final_params, events)."""
    sub = {k: v[v["dtype"] == dtype] if len(v) else v for k, v in tables.items()}
    grads, losses, forward, final, events = sub["grads"], sub["losses"], sub["forward"], sub["final_params"], sub["events"]
    steps = step_table(losses, sub["params"])
    verdicts = pd.concat([grads["verdict"], forward["verdict"], steps["loss_verdict"], steps["param_verdict"], final["verdict"]])
    verdict = "fail" if (verdicts == "fail").any() or len(events) else ("noise" if (verdicts == "noise").any() else "pass")
    first = first_divergent(steps, dtype)
    worst_grad = grads.loc[_worst(grads)]
    worst_final = final.loc[_worst(final)]
    speed = {}
    step_times = timings[(timings["dtype"] == dtype) & (timings["phase"] == "train step")].set_index("engine") if len(timings) else None
    if step_times is not None and len(step_times):
        for key, engine in (("speed", "funcad"), ("jit_speed", "funcad jit")):
            if engine in step_times.index:
                speed[f"{key}_ratio"] = float(step_times.loc[engine, "ratio_vs_torch"])
                speed[f"{key}_spread"] = spread(step_times.loc[engine], step_times.loc["torch"])
    return CaseSummary(
        case=case, dtype=dtype, verdict=verdict, forward_max_abs=float(forward["max_abs"].iloc[0]),
        worst_grad_param=worst_grad["parameter"], worst_grad_max_abs=worst_grad["max_abs"], worst_grad_max_rel=worst_grad["max_rel"],
        worst_grad_tol_ratio=worst_grad["tol_ratio"], worst_grad_index=worst_grad["worst_index"],
        loss_max_rel_div=float(losses["rel_div"].max()), first_divergent_step=None if first is None else int(first["step"]),
        worst_final_param=worst_final["parameter"], final_param_max_abs=worst_final["max_abs"], nonfinite_events=len(events),
        f32_error_ratio=_error_ratio(grads), offender=_offender(grads, forward, first, final, events) if verdict == "fail" else None,
        **speed)
