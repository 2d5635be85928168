"""Guards against both sides being wrong together: parity passes trivially when both engines produce zero gradients or
a flat loss. Independently of parity, a run is flagged for gradients exactly zero at every step, a loss that never
moves, dead ReLU units, gradient norms collapsing or exploding across steps, and parameters that never change.
Flags are warnings; ``--strict`` makes them fail the run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from harness.inputs import call_model

#: A loss whose every step is within this relative distance of the first step's is flat.
FLAT_LOSS_RTOL = 1e-7
#: The last step's gradient norm over the first's beyond these bounds is a collapse / an explosion.
NORM_COLLAPSE, NORM_EXPLOSION = 1e-3, 1e3
#: Warn when more than this fraction of a ReLU layer's units is zero for every sample of a batch.
DEAD_RELU_FRACTION = 0.5


@dataclass
class GuardMonitor:
    """Collects, per side, each step's gradient norms and which parameters ever had a non-zero gradient."""

    norms: dict[str, list[float]] = field(default_factory=lambda: {"funcad": [], "torch": []})
    nonzero: dict[str, set[str]] = field(default_factory=lambda: {"funcad": set(), "torch": set()})
    names: list[str] = field(default_factory=list)

    def observer(self, side: str, edit: Callable | None) -> Callable[[dict], dict]:
        """A gradient edit that records ``side``'s gradients, then applies ``edit`` (a planted fault) if any."""
        def observe(named: dict) -> dict:
            self.names = list(named)
            total = 0.0
            for name, g in named.items():
                g = np.asarray(g, np.float64)
                total += float(np.sum(g * g))
                if np.any(g != 0):
                    self.nonzero[side].add(name)
            self.norms[side].append(float(np.sqrt(total)))
            return edit(named) if edit is not None else named
        return observe


def dead_relu_fractions(module: torch.nn.Module, x, context: contextlib.AbstractContextManager | None = None) -> dict[str, float]:
    """Per torch ReLU module: the fraction of its output units that are zero for every sample of ``x`` (its inputs: a
    tensor, or a tuple of them for a forward taking several), the module still training, its buffers (BatchNorm's
    running statistics, spectral normalisation's vectors) put back afterwards so the model's state is untouched (a
    deep copy would not do: torch's weight-norm and spectral-norm hooks leave tensors no copy can take), the forward
    run inside ``context`` as its trainer runs it (autocast for mixed precision)."""
    saved = [(buffer, buffer.detach().clone()) for buffer in module.buffers()]
    seen: dict[str, list] = {}
    handles = [m.register_forward_hook(lambda mod, args, out, name=name: seen.setdefault(name, []).append(out.detach()))
               for name, m in module.named_modules() if isinstance(m, torch.nn.ReLU)]
    try:
        with torch.no_grad(), context or contextlib.nullcontext():
            call_model(module, x)
    finally:
        for handle in handles:
            handle.remove()
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)
    return {name: float(np.mean([(o == 0).all(dim=0).float().mean().item() for o in outs])) for name, outs in seen.items()}


def warnings(monitor: GuardMonitor, losses: dict[str, list[float]], first: dict[str, dict], last: dict[str, dict],
             dead: dict[str, float]) -> list[str]:
    """The guard warnings of one run: ``losses`` per side by step, ``first``/``last`` the states before the first step and
    after the last (per side, by name), ``dead`` the dead ReLU fractions."""
    out = []
    zero = [n for n in monitor.names if n not in monitor.nonzero["funcad"] and n not in monitor.nonzero["torch"]]
    if zero:
        out.append(f"gradient exactly zero at every step on both sides: {', '.join(zero)}")
    for side, values in losses.items():
        v = np.asarray(values, np.float64)
        if len(v) > 1 and np.all(np.isfinite(v)) and np.max(np.abs(v - v[0])) <= FLAT_LOSS_RTOL * max(abs(v[0]), 1e-30):
            out.append(f"flat loss: {side}'s loss stays at {v[0]:.9g} over all {len(v)} steps")
    for side, norms in monitor.norms.items():
        if len(norms) > 1 and norms[0] > 0:
            ratio = norms[-1] / norms[0]
            if ratio < NORM_COLLAPSE or ratio > NORM_EXPLOSION or not np.isfinite(ratio):
                what = "collapses" if ratio < NORM_COLLAPSE else "explodes"
                out.append(f"gradient norm {what} on {side}: {norms[0]:.3g} at step 0, {norms[-1]:.3g} at step {len(norms) - 1}")
    frozen = {side: [n for n in monitor.names if n in first[side] and np.array_equal(first[side][n], last[side][n])] for side in first}
    both = [n for n in frozen.get("funcad", []) if n in frozen.get("torch", [])]
    if both:
        out.append(f"parameters never change on either side: {', '.join(both)}")
    for name, fraction in dead.items():
        if fraction > DEAD_RELU_FRACTION:
            out.append(f"dead ReLU: {fraction:.0%} of the units of {name} are zero for every sample")
    return out
