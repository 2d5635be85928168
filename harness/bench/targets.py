"""The speed and memory targets the issues set, each judged on the interleaved, one-process measurement."""

from __future__ import annotations

from harness.bench.memory import MEMORY_STEPS
from harness.bench.tables import best_ratio, best_settings
from harness.timing import NOISY_SPREAD, spread

TARGETS = [  # (label, numerator, denominator, case label, bound)
    ("jit / torch", "funcad jit", "torch eager", "mlp-b64", 0.7),
    ("jit / torch", "funcad jit", "torch eager", "tutorial", 0.5),
    ("jit / torch", "funcad jit", "torch eager", "lenet-b64", 1.0),
    ("jit / BLAS floor", "funcad jit", "BLAS floor", "mlp-b256", 1.15),
    ("eager / autograd", "funcad eager", "HIPS autograd", "mlp-b64", 0.5),
    ("jit / JAX jit", "funcad jit", "JAX jit", "mlp-b64", 1.0),
    ("jit / torch", "funcad jit", "torch eager", "lstm-b16", 1.0),
    ("jit / torch", "funcad jit", "torch eager", "transformer-b16", 1.0),
    ("jit / torch", "funcad jit", "torch eager", "resnet-b16", 1.2),  # convolution-bound
    ("jit / conv floor", "funcad jit", "conv floor", "resnet-b16", 1.5),
    ("jit / conv floor", "funcad jit", "conv floor", "lenet-b64", 1.5),
] + [("eager / torch", "funcad eager", "torch eager", case, 1.5) for case in ("resnet-b16", "conv1d-b32", "lstm-b16", "transformer-b16")]
MEMORY_BOUND = 1.2  # funcad jit's peak RSS over torch eager's


def _threads(n: int) -> str:
    return f"{n} thread{'s' * (n > 1)}"


def target_lines(results: dict, memory: dict | None, alone: dict | None = None) -> list[str]:
    """The issue's targets, each engine taken at its best measured thread setting (named in the line), judged on the
    interleaved measurement; with ``alone`` (standalone results) each line also gives the standalone ratio."""
    best = best_settings(results)
    alone_best = best_settings(alone) if alone else None
    alone_engines = {e for timings in (alone or {}).values() for e in timings}
    lines = []
    for label, num, den, case, bound in TARGETS:
        held = best.get(case, {})
        if num in held and den in held:
            (tn, n_threads), (td, d_threads) = held[num], held[den]
            value = tn["median_s"] / td["median_s"]
            line = (f"- {label} on {case}: {value:.2f} (target <= {bound}) {'met' if value <= bound else 'NOT met'} "
                    f"({num} at {_threads(n_threads)}, {den} at {_threads(d_threads)})")
            width = spread(tn, td)
            if width > NOISY_SPREAD:
                line += (f"; noisy: an interquartile range of {width:.0%} of the median (the machine's speed changed while "
                         "measuring), so a rerun may land on the other side of the target")
            if alone_best is not None:
                ratio, n_alone, d_alone = best_ratio(alone_best.get(case, {}), num, den)
                line += (f"; standalone {ratio:.2f} ({num} at {n_alone}, {den} at {d_alone})" if ratio else
                         f"; standalone not measured ({den if den not in alone_engines else num} runs in-process only)")
            lines.append(line)
        else:
            lines.append(f"- {label} on {case}: not measured")
    if memory:
        jit_peak, torch_peak = memory["funcad jit"][1], memory["torch eager"][1]
        ratio = jit_peak / torch_peak
        lines.append(f"- peak RSS of {MEMORY_STEPS} steps, mlp b256: funcad jit {jit_peak:.0f} MiB, torch eager {torch_peak:.0f} MiB, "
                     f"ratio {ratio:.2f} (target <= {MEMORY_BOUND}) {'met' if ratio <= MEMORY_BOUND else 'NOT met'}")
    return lines
