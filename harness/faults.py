"""Planted faults: a deliberate error on one side of a comparison, to see that the harness finds it.

A fault is checked against the cases before anything runs (``check_faults``): a fault that would never be applied
(its step not below the number of steps, its parameter in none of the cases, its element outside the parameter)
is a usage error, never a run that silently passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

import funcad
from torch_ref.bridge import funcad_state

KINDS = ("grad", "param", "output", "outgrad", "state")
LAYER_KINDS = ("output", "outgrad")  # faults in a layer, named by its path
PLANT_BANNER = "PLANTED FAULTS: this run perturbs one side on purpose"


@dataclass(frozen=True)
class Fault:
    """A deliberate error planted on one side, to check that the harness finds it.

    ``kind='grad'``: ``delta`` is added to one element of that side's gradient at ``step`` (before the update);
    ``kind='param'``: ``delta`` is added to one element of that side's parameter just before ``step``.
    ``kind='state'``: ``delta`` is added to one element of that side's optimizer state after the update of ``step``,
    ``param`` naming the slot as funcad does (``moment1.fc1.weight``, ``moments.layers.0.weight``; ``harness.optstate``).
    ``kind='output'`` / ``'outgrad'`` (``param`` names a layer path; only the layer comparison, ``--layers``, applies
    them): ``delta`` is added to one element of the layer's forward output, or that element of the gradient flowing
    back into the layer's output is multiplied by ``1 + delta`` (``harness.layers.faults``).
    Text form (``--plant``): ``side:kind:param:i,j,...:step[:delta]``, e.g. ``funcad:grad:fc1.weight:3,5:0:1e-3``.
    A fault applies to every case that has the parameter.
    """

    side: str
    kind: str
    param: str
    index: tuple[int, ...]
    step: int = 0
    delta: float = 1e-2

    def __post_init__(self):
        if self.side not in ("funcad", "torch") or self.kind not in KINDS:
            raise ValueError(f"fault: side must be funcad|torch and kind {'|'.join(KINDS)}, got {self.side!r}, {self.kind!r}")
        if self.step < 0:
            raise ValueError(f"fault: step must be >= 0, got {self.step}")

    @classmethod
    def parse(cls, text: str) -> Fault:
        parts = text.split(":")
        if len(parts) not in (5, 6):
            raise ValueError(f"fault {text!r}: expected side:kind:param:i,j,...:step[:delta]")
        try:
            index = tuple(int(i) for i in parts[3].split(",")) if parts[3] else ()
            delta = float(parts[5]) if len(parts) == 6 else cls.delta
            return cls(parts[0], parts[1], parts[2], index, int(parts[4]), delta)
        except ValueError as exc:
            raise ValueError(f"fault {text!r}: {exc}") from None

    def __str__(self) -> str:
        return f"{self.side}:{self.kind}:{self.param}:{','.join(map(str, self.index))}:{self.step}:{self.delta:g}"

    def describe(self) -> str:
        if self.kind == "state":
            return f"{self.side}'s optimizer state {self.param}{list(self.index)} + {self.delta:g} after step {self.step}"
        if self.kind in LAYER_KINDS:
            what = "forward output + " if self.kind == "output" else "output gradient x 1 + "
            return f"{self.side}'s layer {self.param} {what}{self.delta:g} at element {list(self.index)}, step {self.step} (--layers only)"
        what = "gradient" if self.kind == "grad" else "parameter"
        when = f"at step {self.step}" if self.kind == "grad" else f"before step {self.step}"
        return f"{self.side}'s {what} {self.param}{list(self.index)} + {self.delta:g} {when}"

    def apply(self, named: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.param not in named:
            raise ValueError(f"fault: no parameter {self.param!r}; parameters are {', '.join(named)}")
        value = np.array(named[self.param])
        if not self.fits(value.shape):
            raise ValueError(f"fault: index {self.index} is not an element of {self.param} with shape {value.shape}")
        value[self.index] += self.delta
        return {**named, self.param: value}

    def fits(self, shape: tuple[int, ...]) -> bool:
        return len(self.index) == len(shape) and all(0 <= i < n for i, n in zip(self.index, shape))


def parameter_shapes(case, seed: int) -> dict[str, tuple[int, ...]]:
    """The shapes of ``case``'s parameters and buffers by funcad name (what a fault can name)."""
    funcad.set_seed(seed)
    return {name: tuple(np.shape(value)) for name, value in funcad_state(case.funcad_model()).items()}


def check_faults(faults: Sequence[Fault], cases: Sequence, steps: int, seed: int = 0) -> None:
    """Raise ValueError for a fault that would never be applied: step not below ``steps``, parameter in none of
    ``cases``, or an element outside the parameter in a case that has it."""
    if not faults:
        return
    shapes = {case.name: parameter_shapes(case, seed) for case in cases}
    for fault in faults:
        if fault.kind in LAYER_KINDS:
            continue  # a layer path is checked by the layer comparison, which knows the layers
        if fault.step >= steps:
            raise ValueError(f"--plant {fault}: step {fault.step} is not below --steps {steps}, so the fault would never be applied")
        param = fault.param.split(".", 1)[1] if fault.kind == "state" and "." in fault.param else fault.param
        holders = {name: s[param] for name, s in shapes.items() if param in s}
        if not holders:
            known = "; ".join(f"{name}: {', '.join(s)}" for name, s in shapes.items())
            raise ValueError(f"--plant {fault}: no selected case has a parameter {fault.param!r} ({known})")
        for name, shape in holders.items():
            if not fault.fits(shape):
                raise ValueError(f"--plant {fault}: element {fault.index} is outside {fault.param} of shape {shape} in case {name}")
