"""``harness.compare``: the built-in comparison applied to a user's own pair of models.

Call it with OMP_WAIT_POLICY=PASSIVE in the environment (set before torch is imported) for fair timings: torch's
spinning OpenMP workers otherwise slow numpy's BLAS in the same process.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path

import pandas as pd
import torch

from harness import report
from harness.cases import OptimizerSpec, user_batches, user_case
from harness.layers.compare import check_layer_calls, check_layer_paths
from harness.metrics import Tolerance
from harness.runner import CaseResult, RunOptions, RunResult, environment, prepare_batches, run_case
from harness.timing import fixed_threads
from harness.usermodel import check_model_inputs, per_input_dtypes, synthetic_batches
from torch_ref.bridge import default_name_map, funcad_state, match_names, torch_state
from torch_ref.to_funcad import to_funcad


def _of_result(name: str, doc: str) -> property:
    """A read-only attribute of ``Comparison`` answered by its ``result``'s attribute ``name``."""
    return property(attrgetter(f"result.{name}"), doc=doc)


@dataclass
class Comparison:
    """The outcome of ``compare``: pandas tables and an overall ``passed``."""

    result: CaseResult
    options: RunOptions
    environment: dict = field(default_factory=dict)  # as it was while the case ran and was timed

    passed = _of_result("passed", "Whether every check of every dtype passed.")
    layers = _of_result("layers", "The per-layer comparison (``harness.layers.compare.LayerComparison``), when "
                        "``compare(..., layers=...)``.")
    summary = _of_result("summary", "A row per dtype: the verdict of each check.")
    grads = _of_result("grads", "Step-0 gradients per dtype and parameter: max abs/rel difference, cosine, worst element, "
                       "verdict.")
    losses = _of_result("losses", "Per dtype and step: both losses, their divergence and the step's verdict.")
    params = _of_result("final_params", "Parameters after the last step, compared per dtype.")
    timings = _of_result("timings", "Median and IQR per phase and engine (empty when timing was off).")

    @property
    def per_sample(self) -> pd.DataFrame:
        """Per-sample gradients at step 0 (float64, ``compare(..., per_sample=True)``): a row per parameter with the
        worst difference over every sample's gradient and its verdict; empty when not asked for or not computed
        (``result.per_sample.skipped`` says why)."""
        return pd.DataFrame() if self.result.per_sample is None else self.result.per_sample.table

    def failures(self) -> pd.DataFrame:
        """The failing rows of every table, with where they are (parameter, element, step)."""
        r = self.result
        parts = []
        tables = {"forward": r.forward, "gradient": r.grads, "loss": r.losses, "parameter_step": r.params, "final_parameter": r.final_params,
                  "per_sample_gradient": self.per_sample}
        for table, frame in tables.items():
            if len(frame):
                parts.append(frame[frame["verdict"] == "fail"].assign(table=table))
        if len(r.events):
            parts.append(r.events.assign(table="nonfinite"))
        parts = [p for p in parts if len(p)]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def write_report(self, directory: str | Path) -> Path:
        env = self.environment or environment(self.options.device)
        return report.write(RunResult([self.result], self.options, env, self.result.seconds), Path(directory))


def compare(funcad_cell, torch_module=None, data: Iterable | None = None, loss: str | tuple[Callable, Callable] = "cross_entropy",
            optimizer: OptimizerSpec | str = "sgd", steps: int = 20, *, learning_rate: float = 1e-2, has_aux: bool = False,
            dtype: str = "both", mode: str = "free", rtol: float | None = None, atol: float | None = None, timing: bool = True,
            torch_optimizer: str = "exact", tolerances: dict[str, Tolerance] | None = None, seed: int = 0,
            threads: int | None = 1, input_shape: Sequence[int] | Sequence[Sequence[int]] | None = None,
            input_dtype: str | Sequence[str] = "float32",
            classes: int | None = None, layers: bool | str = False, at_step: int = 0, per_sample: bool = False) -> Comparison:
    """Compare a funcad Cell with a torch Module over ``steps`` training steps on ``data`` (a list of numpy (x, y) batches, cycled;
    for a model taking several inputs, x is a tuple of arrays, one per argument in order: ``((ids, mask), y)``, run as
    ``cell(*x)`` and ``module(*x)``; floating inputs take the run's dtype, integer and boolean ones keep theirs).

    Parameters are copied funcad -> torch by name first (``torch_ref.bridge``; a ``BridgeError`` lists any mismatch);
    both models are deep-copied, so the originals are left as they were. Without ``torch_module`` the other side is
    built: the Cell's torch twin by ``torch_ref.mirror``, or, when ``funcad_cell`` is itself a torch module, its funcad
    twin by ``torch_ref.to_funcad``. Without ``data``, ``steps`` batches are drawn for an input of ``input_shape``
    (batch axis first) and ``input_dtype`` (several inputs: a list of shapes and one dtype per shape, or one for all;
    'float32', 'float64', 'int32', 'int64' in [0, 10), 'bool'), with labels in [0, ``classes``) (default: the output width) for
    cross-entropy, or uniform [0, 1) targets of the output's shape for the other losses. ``loss`` is a name ('cross_entropy',
    'bce_with_logits', 'mse') or a (funcad loss class, torch loss class) pair; ``optimizer`` an ``OptimizerSpec`` or
    a kind ('sgd', 'momentum', 'adam') used with ``learning_rate``. ``dtype='both'`` adds a float64 run as ground truth.
    ``threads`` fixes torch's intra-op and numpy's BLAS threads during the run, as ``funcad-compare run --threads``
    does (default 1, so speed ratios compare the engines on equal terms); None leaves both as they are.
    ``layers`` (True, 'depth=N' or comma-separated Cell paths) adds the per-layer comparison at step ``at_step``
    (``harness.layers``): the result's ``layers`` per case. ``per_sample`` adds the per-sample gradient comparison
    (``funcad-compare run --per-sample``; ``harness.per_sample``): at step 0 on the first batch in float64, funcad's
    vmap(grad) against torch.func's; a failing parameter fails the comparison; the result's ``per_sample`` table.
    """
    if torch_module is None and isinstance(funcad_cell, torch.nn.Module):
        funcad_cell, torch_module = to_funcad(copy.deepcopy(funcad_cell)), funcad_cell
    input_flags = None  # drawn inputs, several: each one's flag in errors
    if data is not None and input_shape is not None:
        raise ValueError("compare: give data (the batches) or input_shape (to draw them), not both")
    if data is None:
        if input_shape is None or not isinstance(loss, str):
            raise ValueError("compare: give data (a list of (x, y) batches), or input_shape with a loss name to draw them")
        several = len(input_shape) > 0 and all(isinstance(s, Sequence) for s in input_shape)
        shapes = [tuple(s) for s in input_shape] if several else [tuple(input_shape)]
        input_flags = [f"input_shape {s}" for s in shapes] if several else None
        data = synthetic_batches(funcad_cell, shapes, per_input_dtypes(input_dtype, len(shapes), "input_dtype"), loss, classes, steps=steps,
                                 seed=seed, flag="input_shape", input_flags=input_flags, module=torch_module)
    data = user_batches(data)
    if not isinstance(optimizer, OptimizerSpec):
        optimizer = OptimizerSpec(optimizer, learning_rate, momentum=0.9 if optimizer == "momentum" else 0.0)
    case = user_case(funcad_cell, torch_module, loss, optimizer, data, has_aux=has_aux, tolerances=tolerances, torch_optimizer=torch_optimizer)
    if torch_module is not None:
        match_names(funcad_state(funcad_cell), torch_state(torch_module), default_name_map(funcad_cell))  # a BridgeError when they do not pair
    if data:
        check_model_inputs(funcad_cell, torch_module, data, loss, "data" if input_shape is None else "input_shape", "funcad_cell", input_flags)
    options = RunOptions(steps=steps, dtype=dtype, seed=seed, mode=mode, rtol=rtol, atol=atol, timing=timing,
                         layers=("leaves" if layers is True else layers) or None, at_step=at_step, per_sample=per_sample)
    check_layer_paths([case], options.layers, seed, flag="compare: layers=")
    batches = prepare_batches([case], options)
    check_layer_calls([case], options.layers, batches, seed, flag="compare: layers=")
    with fixed_threads(threads) if threads is not None else nullcontext():
        return Comparison(run_case(case, options, batches=batches[case.name]), options, environment(options.device))
