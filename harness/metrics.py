"""How two arrays are compared: tolerances, difference statistics, and the float64 noise-floor judgement.

All functions take numpy arrays: the funcad value first ("actual"), the torch value second ("expected").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from funcad.testing import DEFAULT_TOLERANCES as TESTING_TOLERANCES

#: Accept a float32 cross-engine difference up to this multiple of PyTorch's own float32 error against float64.
NOISE_FACTOR = 10.0
#: The same multiple for the 16-bit dtypes, where it is the whole tolerance (``LOW_PRECISION``): a planted difference of
#: 10x the noise floor must fail, so it sits below 10.
LOW_NOISE_FACTOR = 5.0
#: Dtypes judged by the noise floor alone: their fixed tolerance is exact equality, anything else must stay within
#: ``LOW_NOISE_FACTOR`` x PyTorch's own error in that dtype against the float64 run (``mixed``: float16 compute over
#: float32 parameters, ``harness.mixed``).
LOW_PRECISION = ("float16", "bfloat16", "mixed")


@dataclass(frozen=True)
class Tolerance:
    """``|actual - expected| <= atol + rtol * |expected|`` elementwise, as ``torch.testing.assert_close``."""

    rtol: float
    atol: float

    def __str__(self) -> str:
        return f"rtol {self.rtol:.3g}, atol {self.atol:.3g}"


# funcad.testing's table (torch.testing.assert_close's defaults), keyed by the dtype names the harness runs in; the
# 16-bit dtypes have no fixed tolerance (exact), only their noise floor.
DEFAULT_TOLERANCES = {name: Tolerance(*TESTING_TOLERANCES[np.dtype(name)]) for name in ("float32", "float64")} | {
    name: Tolerance(0.0, 0.0) for name in LOW_PRECISION}


def noise_factor(dtype: str) -> float:
    """How many times PyTorch's own error against float64 a cross-engine difference in ``dtype`` may reach."""
    return LOW_NOISE_FACTOR if dtype in LOW_PRECISION else NOISE_FACTOR


#: Units in the last place a 16-bit layer may differ by in the layer comparison, which measures no floor of its own.
LAYER_ULPS = 4


def layer_tolerance(dtype: str, tol: Tolerance) -> Tolerance:
    """The run's tolerance, or for a 16-bit run (judged by its noise floor, which the per-layer comparison does not
    measure) ``LAYER_ULPS`` units in the last place of float16 or bfloat16, relative and, as at magnitude 1, absolute:
    torch's CPU kernels round intermediate terms (BatchNorm's x * scale + shift), so values near zero differ by units
    of the terms' magnitude, not their own."""
    if dtype not in LOW_PRECISION or tol.rtol or tol.atol:
        return tol
    ulps = LAYER_ULPS * (2.0**-7 if dtype == "bfloat16" else 2.0**-10)
    return Tolerance(ulps, ulps)


def describe_tolerance(dtype: str, tol: Tolerance, truth: bool = True) -> str:
    """What a dtype's values are judged by, and why, for the report (``truth``: a float64 run beside it)."""
    if dtype in LOW_PRECISION and tol.rtol == tol.atol == 0:
        return (f"{dtype} within {LOW_NOISE_FACTOR:g}x PyTorch's own {dtype} error against the float64 run, per value and step (no "
                "fixed tolerance: 16-bit results depend on the order of roundings, so the floor is measured; after an Adam step it "
                "also allows twice PyTorch's step, the move a gradient's sign within rounding noise of zero decides)")
    floor = f", or within {noise_factor(dtype):g}x PyTorch's own {dtype} error against float64" if truth and dtype != "float64" else ""
    return f"{dtype} {tol}{floor}"


def tolerance_for(dtype: str, overrides: dict | None = None, rtol: float | None = None, atol: float | None = None) -> Tolerance:
    """The default for ``dtype``, replaced by a case's override, replaced field by field by explicit rtol/atol."""
    tol = (overrides or {}).get(dtype, DEFAULT_TOLERANCES[dtype])
    return Tolerance(tol.rtol if rtol is None else rtol, tol.atol if atol is None else atol)


def diff_stats(actual, expected, tol: Tolerance) -> dict:
    """Max abs and guarded max rel difference, cosine similarity, pass/fail, and the worst element with both values.

    ``tol_ratio`` is the worst element's ``|a - e| / (atol + rtol * |e|)``: at most 1 within tolerance.
    The worst element is the one exceeding its tolerance by the largest factor (the first non-finite one if any; the
    same infinity on both sides agrees);
    relative differences divide by ``max(|expected|, 1e-3 * max|expected|, tiny)`` so near-zero entries do not explode.
    """
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        raise ValueError(f"cannot compare arrays of shapes {a.shape} (funcad) and {e.shape} (torch)")
    finite_a, finite_e = np.isfinite(a), np.isfinite(e)
    same_infinity = np.isinf(a) & (a == e)  # both sides hold the same infinity there (a -inf mask entry): they agree
    mismatched = int((~(finite_a & finite_e) & ~same_infinity).sum())
    out = {"size": int(a.size), "nonfinite_funcad": int((~finite_a).sum()), "nonfinite_torch": int((~finite_e).sum())}
    if a.size == 0:
        return out | {"max_abs": 0.0, "max_rel": 0.0, "tol_ratio": 0.0, "cosine": 1.0, "passed": True, "worst_index": "()",
                      "funcad_value": 0.0, "torch_value": 0.0}
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.where(same_infinity, 0.0, np.abs(a - e))
        scale = np.where(same_infinity, 0.0, np.abs(e))
        guard = max(1e-3 * float(np.nanmax(np.where(finite_e, scale, 0.0))), np.finfo(np.float64).tiny)
        rel = diff / np.maximum(scale, guard)
        excess = diff / (tol.atol + tol.rtol * scale) if tol.atol + tol.rtol > 0 else diff
    if mismatched:
        flat = int(np.flatnonzero(~(finite_a & finite_e) & ~same_infinity)[0])
        max_abs = max_rel = tol_ratio = float("inf")
        passed = False
    else:
        flat = int(np.argmax(excess))
        max_abs, max_rel, tol_ratio = float(diff.max()), float(rel.max()), float(excess.reshape(-1)[flat])
        passed = bool(np.all(diff <= tol.atol + tol.rtol * scale))
    index = np.unravel_index(flat, a.shape) if a.ndim else ()
    return out | {
        "max_abs": max_abs,
        "max_rel": max_rel,
        "tol_ratio": tol_ratio,
        "cosine": cosine(a, e),
        "passed": passed,
        "worst_index": str(tuple(int(i) for i in index)),
        "funcad_value": float(a.reshape(-1)[flat]),
        "torch_value": float(e.reshape(-1)[flat]),
    }


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of the flattened arrays; 1.0 when both are zero, NaN when either holds NaN/Inf."""
    a, b = a.reshape(-1), b.reshape(-1)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("nan")
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 and nb == 0.0:
        return 1.0
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))


def max_abs_diff(a, b) -> float:
    """max |a - b| in float64 (inf when either side is not finite)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size == 0:
        return 0.0
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("inf")
    return float(np.max(np.abs(a - b)))


def ulp_floor(truth, dtype: str) -> float:
    """In float16 or bfloat16, one unit in the last place at the largest magnitude of ``truth`` (the float64 values):
    rounding them to the dtype alone errs by half of one, so a noise floor is never below it (PyTorch landing closer by
    chance must not make one rounding step a failure); 0 for any other dtype."""
    if dtype not in ("float16", "bfloat16"):
        return 0.0
    magnitude = float(np.max(np.abs(truth))) if np.size(truth) else 0.0
    if not np.isfinite(magnitude) or magnitude == 0.0:
        return 0.0
    return (2.0**-7 if dtype == "bfloat16" else 2.0**-10) * 2.0 ** np.floor(np.log2(magnitude))


def judge(passed_tolerance: bool, cross: float, noise: float | None, factor: float = NOISE_FACTOR) -> str:
    """'pass' within tolerance; 'noise' when outside it but within ``factor`` x the noise floor (PyTorch's own error
    in this dtype against float64); else 'fail'."""
    if not np.isfinite(cross):
        return "fail"
    if passed_tolerance:
        return "pass"
    if noise is not None and np.isfinite(noise) and cross <= factor * noise:
        return "noise"
    return "fail"


def judged_ratio(stats: dict, tol: Tolerance, noise: float | None, dtype: str) -> float:
    """``stats``' tol_ratio, or, where ``tol`` is zero (16-bit and mixed runs, judged by their noise floor alone), the
    worst difference over ``noise_factor(dtype)`` x the floor ``noise``: at most 1 passes in either case, where the
    raw ratio would be the difference itself."""
    if tol.atol + tol.rtol > 0 or noise is None or not np.isfinite(stats["tol_ratio"]):
        return stats["tol_ratio"]
    allowed = noise_factor(dtype) * noise
    if allowed > 0:
        return stats["max_abs"] / allowed
    return 0.0 if stats["max_abs"] == 0 else float("inf")


def update_floor(dtype: str, sign_like: bool, after, before) -> float:
    """The part of a parameter's noise floor one optimizer step adds: in a 16-bit dtype, an optimizer that moves by the
    sign of the gradient (Adam's m / sqrt(v) is +-1 on its first steps) turns a gradient within rounding noise of zero
    into a full step either way, so two correct engines may differ there by twice the step PyTorch took; 0 otherwise."""
    if dtype not in LOW_PRECISION or not sign_like:
        return 0.0
    return 2.0 * max_abs_diff(after, before)


def loss_within(funcad_loss: float, torch_loss: float, tol: Tolerance) -> bool:
    if not (np.isfinite(funcad_loss) and np.isfinite(torch_loss)):
        return False
    return abs(funcad_loss - torch_loss) <= tol.atol + tol.rtol * abs(torch_loss)


def relative_divergence(funcad_loss: float, torch_loss: float) -> float:
    if not (np.isfinite(funcad_loss) and np.isfinite(torch_loss)):
        return float("inf")
    return abs(funcad_loss - torch_loss) / max(abs(torch_loss), np.finfo(np.float64).tiny)
