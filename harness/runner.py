"""Run one case in both engines and measure where they agree: forward, gradients, training, speed.

Every dtype asked for gets its own pair of engines, all stepped in one loop so the float64 pair can serve as
ground truth for the float32 one at every step: PyTorch's own float32 error against float64 is the noise floor
a float32 cross-engine difference is judged against (``metrics.judge``).

Modes: ``free`` lets each side follow its own trajectory (errors accumulate); ``lockstep`` copies the parameters
and buffers of the first dtype's funcad side into every engine before each step, so each step shows only its own
local error (optimizer state such as Adam moments still follows each side).
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from harness import guards, nanwatch, optstate, timing
from harness.cases import Batches, Case, Pair
from harness.engines import begin_dropout_watch, device_sync, jit_callables, unaligned_dropout
from harness.environment import environment
from harness.faults import Fault
from harness.layers.compare import LayerComparison, compare_for_run
from harness.metrics import (
    Tolerance,
    diff_stats,
    judge,
    judged_ratio,
    layer_tolerance,
    loss_within,
    max_abs_diff,
    noise_factor,
    relative_divergence,
    tolerance_for,
    ulp_floor,
    update_floor,
)
from harness.mixed import MIXED, storage_dtype
from harness.per_sample import PerSampleComparison, fail_summary
from harness.per_sample import compare_for_run as per_sample_for_run
from harness.settings import SharedSettings
from harness.summary import VERDICT_TEXT, CaseSummary, frame, summarize

__all__ = ["VERDICT_TEXT", "Fault", "RunOptions", "CaseResult", "RunResult", "run_case", "run_cases", "prepare_batches", "environment"]

# every low-precision choice runs a float64 pair beside it: its truth, and so its tolerance (``metrics.noise_factor``)
DTYPE_CHOICES = {"float32": ("float32",), "float64": ("float64",), "both": ("float32", "float64"), "float16": ("float16", "float64"),
                 "bfloat16": ("bfloat16", "float64"), "all": ("float32", "float16", "bfloat16", "float64"), MIXED: (MIXED, "float64")}
SEED_MAX = 2**63 - 1  # every generator seeded from it (numpy, torch, funcad's key, seed + epoch for shuffling) takes it


@dataclass(frozen=True)
class RunOptions(SharedSettings):
    """What ``run_case`` does; the CLI's flags map one to one onto these fields (and ``SharedSettings``')."""

    dtype: str = "both"
    seed: int = 0
    batch_size: int | None = None
    device: str | None = None
    timing: bool = True
    time_budget_s: float = 1.0
    faults: tuple[Fault, ...] = ()
    layers: str | None = None  # None: no layer comparison; 'leaves', 'depth=N' or comma-separated Cell paths
    at_step: int = 0  # the step the layer comparison looks at
    per_sample: bool = False  # compare per-sample gradients at step 0 too (harness.per_sample)

    def __post_init__(self):
        if self.dtype not in DTYPE_CHOICES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPE_CHOICES)}, got {self.dtype!r}")
        if self.mode not in ("free", "lockstep"):
            raise ValueError(f"mode must be free or lockstep, got {self.mode!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= SEED_MAX:
            raise ValueError(f"seed (--seed) must be an integer from 0 to 2**63 - 1 = {SEED_MAX}, got {self.seed!r}")
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps} (--steps)")
        if not 0 <= self.at_step < self.steps:
            raise ValueError(f"--at-step must be from 0 to --steps - 1 = {self.steps - 1}, got {self.at_step}")
        if self.layers is not None and self.layers.startswith("depth=") and not (self.layers[6:].isdigit() and int(self.layers[6:]) > 0):
            raise ValueError(f"--layers {self.layers}: expected depth=N with N a positive integer")
        if self.layers is None and self.at_step:
            raise ValueError(f"--at-step {self.at_step} without --layers: it is the step the layer comparison looks at; add --layers")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.batch_size} (--batch-size)")
        for name, tolerance in (("rtol", self.rtol), ("atol", self.atol)):
            if tolerance is not None and not 0 <= tolerance < math.inf:  # NaN fails too
                raise ValueError(f"{name} must be a finite number >= 0, got {tolerance} (--{name})")

    @property
    def dtypes(self) -> tuple[str, ...]:
        return DTYPE_CHOICES[self.dtype]


@dataclass
class CaseResult:
    """Everything measured for one case; tables are tidy pandas DataFrames with a ``dtype`` column."""

    case: str
    description: str
    optimizer: str
    mode: str
    known_differences: list[str]
    tolerances: dict[str, Tolerance]
    summary: pd.DataFrame
    forward: pd.DataFrame
    grads: pd.DataFrame
    losses: pd.DataFrame
    params: pd.DataFrame
    final_params: pd.DataFrame
    events: pd.DataFrame
    timings: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    data: str = ""
    error: str | None = None  # the one-line message of an internal error that stopped this case
    guards: list[str] = field(default_factory=list)  # warnings of harness.guards (both sides wrong together)
    nonfinite_origin: pd.DataFrame = field(default_factory=pd.DataFrame)  # where the first NaN/Inf came from (harness.nanwatch)
    optimizer_state: pd.DataFrame = field(default_factory=pd.DataFrame)  # per step and state slot: funcad vs torch
    layers: LayerComparison | None = None  # the per-layer comparison, when asked for (``RunOptions.layers``)
    per_sample: PerSampleComparison | None = None  # when asked for (``RunOptions.per_sample``)

    @property
    def passed(self) -> bool:
        return bool(self.summary["verdict"].isin(["pass", "noise"]).all())

    @classmethod
    def failed(cls, case: Case, options: RunOptions, error: str, seconds: float = 0.0) -> CaseResult:
        """The result of a case stopped by an internal error: verdict ``error`` in every dtype, no tables."""
        empty = pd.DataFrame()
        summary = frame([CaseSummary(case.name, d, "error", error=error) for d in options.dtypes])
        return cls(case.name, case.description, case.optimizer.describe(options.torch_optimizer or case.torch_optimizer), options.mode,
                   [], {}, summary, empty, empty, empty, empty, empty, empty, empty, seconds=seconds, error=error)


def _truth_noise(values: dict[str, dict], name, dtype: str, truth: str | None):
    """(torch float32 error vs float64 torch, funcad float32 error vs float64 torch) for one named value, or Nones."""
    if truth is None or dtype == truth:
        return None, None
    ref = values[truth]["torch"][name]
    return max(max_abs_diff(values[dtype]["torch"][name], ref), ulp_floor(ref, dtype)), max_abs_diff(values[dtype]["funcad"][name], ref)


def _recording(into: dict, side: str, edit: Callable | None) -> Callable[[dict], dict]:
    """A gradient edit that applies ``edit`` (a planted fault, the guards' observer) and keeps the gradients the update
    will use in ``into[side]``."""
    def record(named: dict) -> dict:
        named = edit(named) if edit is not None else named
        into[side] = {n: np.array(g, copy=True) for n, g in named.items()}
        return named
    return record


def fault_edit(faults: Sequence[Fault], side: str, kind: str, step: int) -> Callable | None:
    """The edit ``side``'s ``kind`` faults of ``step`` make to a dict of named arrays, or None without any."""
    mine = [f for f in faults if f.side == side and f.kind == kind and f.step == step]
    if not mine:
        return None

    def edit(named):
        for f in mine:
            named = f.apply(named)
        return named

    return edit


def plant_params(pair: Pair, faults: Sequence[Fault], step: int) -> None:
    """Add the parameter faults of ``step`` to both engines of ``pair``."""
    for side in ("funcad", "torch"):
        edit = fault_edit(faults, side, "param", step)
        if edit is not None:
            engine = getattr(pair, side)
            engine.load_state(edit(engine.state()))


def _nonfinite(named: dict[str, np.ndarray], before: dict[str, np.ndarray] | None = None) -> list[str]:
    """The names whose values hold a non-finite element, one that was finite in ``before`` where given (a buffer holding
    -inf from the start, an attention mask, is no event)."""
    def became(name, value) -> bool:
        bad = ~np.isfinite(value)
        earlier = None if before is None else before.get(name)
        if earlier is None or np.shape(earlier) != np.shape(value):
            return bool(bad.any())
        return bool((bad & np.isfinite(earlier)).any())

    return [n for n, v in named.items() if became(n, v)]


class _Run:
    """The state of one case run: its engines per dtype, and the rows of every table as they are measured."""

    def __init__(self, case: Case, options: RunOptions, tick: Callable[[str], None], batches: Batches):
        self.dtypes = options.dtypes
        self.case, self.options, self.tick, self.batches = case.for_dtypes(self.dtypes), options, tick, batches
        self.truth = "float64" if len(self.dtypes) > 1 else None
        self.tol = {d: tolerance_for(d, dict(case.tolerances), options.rtol, options.atol) for d in self.dtypes}
        self.pairs = {d: self.case.build(d, options.seed, options.device, options.torch_optimizer) for d in self.dtypes}
        names = self.pairs[self.dtypes[0]].funcad.state()
        # a fault applies where its parameter is (an optimizer-state fault names it after the slot)
        self.faults = tuple(f for f in options.faults if (f.param.split(".", 1)[-1] if f.kind == "state" else f.param) in names)
        self.rows = {k: [] for k in ("forward", "grads", "losses", "params", "final_params", "events", "optimizer")}
        self.monitor, self.guards = guards.GuardMonitor(), []
        self.origins: dict[str, list[dict]] = {}  # dtype -> where its first NaN/Inf came from, per side
        self.seen_events: set = set()

    def layer_tolerance(self) -> Tolerance:
        """The layer comparison's tolerance: its dtype is the run's first, float32 for a mixed run (its weights' dtype)."""
        dtype = storage_dtype(self.dtypes[0])
        tol = self.tol.get(dtype) or tolerance_for(dtype, dict(self.case.tolerances), self.options.rtol, self.options.atol)
        return layer_tolerance(dtype, tol)

    def event(self, dtype: str, step: int, side: str, where: str, what: str) -> None:
        key = (dtype, side, where)
        if key not in self.seen_events:
            self.seen_events.add(key)
            self.rows["events"].append({"dtype": dtype, "step": step, "side": side, "where": where, "what": what})

    def _stat_rows(self, table: str, values: dict, names: Sequence) -> None:
        """One row per dtype and name: diff statistics of funcad against torch, their float32 errors, the verdict."""
        for d in self.dtypes:
            for name in names:
                self.rows[table].append(self._stat_row(values, d, name))

    def _stat_row(self, values: dict, d: str, name: str, step: int = 0) -> dict:
        stats = diff_stats(values[d]["funcad"][name], values[d]["torch"][name], self.tol[d])
        noise, funcad_err = _truth_noise(values, name, d, self.truth)
        verdict = judge(stats["passed"], stats["max_abs"], noise, noise_factor(d))
        return {"dtype": d, "step": step, "parameter": name, "shape": str(tuple(np.shape(values[d]["funcad"][name]))), **stats,
                "tol_ratio": judged_ratio(stats, self.tol[d], noise, d), "torch_f32_err": noise, "funcad_f32_err": funcad_err,
                "verdict": verdict}

    def _keep_worse_gradients(self, grads: dict, step: int) -> None:
        """Lockstep: every side starts each step from the same parameters, so each step's gradients are judged as step
        0's are. A parameter's row in ``grads`` becomes the step's when that one fails first, or is further from its
        tolerance while nothing has failed: the table shows each parameter's first failure, else its worst step."""
        index = {(r["dtype"], r["parameter"]): i for i, r in enumerate(self.rows["grads"])}
        for d in self.dtypes:
            for name in grads[self.dtypes[0]]["funcad"]:
                new, i = self._stat_row(grads, d, name, step), index[d, name]
                old = self.rows["grads"][i]
                if old["verdict"] != "fail" and (new["verdict"] == "fail" or float(new["tol_ratio"]) > float(old["tol_ratio"])):
                    self.rows["grads"][i] = new

    def probe_step0(self) -> None:
        """Forward logits and gradients on the first batch, without updating anything."""
        x, y = self.batches[0]
        logits, grads = {}, {}
        for d, pair in self.pairs.items():
            plant_params(pair, self.faults, 0)
            saved = pair.funcad.state(), pair.torch.state()
            logits[d] = {"funcad": {"logits": pair.funcad.forward(x)}, "torch": {"logits": pair.torch.forward(x)}}
            grads[d] = {}
            for side in ("funcad", "torch"):
                engine = getattr(pair, side)
                _, g = engine.loss_and_grads(x, y)
                edit = fault_edit(self.faults, side, "grad", 0)
                grads[d][side] = edit(g) if edit else g
                for name in _nonfinite(grads[d][side]):
                    self.event(d, 0, side, name, "non-finite gradient")
            pair.funcad.load_state(saved[0])
            pair.torch.load_state(saved[1])
        self._stat_rows("forward", logits, ["logits"])
        self._stat_rows("grads", grads, list(grads[self.dtypes[0]]["funcad"]))

    def _sync(self) -> None:
        """Lockstep: every engine takes funcad's first-dtype parameters, buffers and optimizer state."""
        first = self.pairs[self.dtypes[0]].funcad
        source, slots = first.state(), optstate.funcad_state(first.optimizer)
        for d, pair in self.pairs.items():
            stored = storage_dtype(d)
            cast = {n: v.astype(stored) for n, v in source.items()}
            cast_slots = {n: v if v.dtype.kind == "i" else v.astype(stored) for n, v in slots.items()}
            if d != self.dtypes[0]:
                pair.funcad.load_state(cast)
                optstate.load_funcad(pair.funcad.optimizer, cast_slots)
            pair.torch.load_state(cast)
            optstate.load_torch(pair.torch.trainer, pair.torch.to_funcad, cast_slots)

    def train(self) -> None:
        states = {}
        noise_so_far: dict = {}
        first_pair = self.pairs[self.dtypes[0]]
        before = {d: {side: getattr(pair, side).state() for side in ("funcad", "torch")} for d, pair in self.pairs.items()}
        first_states = before[self.dtypes[0]]
        for step, (x, y) in enumerate(self.batches):
            judged = self.options.mode == "lockstep" and step > 0
            if judged:
                self._sync()
            losses, opt_states, grads = {}, {}, {}
            for d, pair in self.pairs.items():
                if step > 0:
                    plant_params(pair, self.faults, step)
                losses[d], grads[d] = {}, {}
                for side in ("funcad", "torch"):
                    engine = getattr(pair, side)
                    edit = fault_edit(self.faults, side, "grad", step)
                    if pair is first_pair:  # the guards watch the first dtype's gradients
                        edit = self.monitor.observer(side, edit)
                    if judged:
                        edit = _recording(grads[d], side, edit)
                    losses[d][side] = engine.step(x, y, edit)
                    if not np.isfinite(losses[d][side]):
                        self.event(d, step, side, "loss", f"non-finite loss {losses[d][side]}")
                found = optstate.planted_states(pair, self.faults, step)
                if found is not None:
                    opt_states[d] = found
                states[d] = {"funcad": pair.funcad.state(), "torch": pair.torch.state()}
                for side in ("funcad", "torch"):
                    for name in _nonfinite(states[d][side], before[d][side]):
                        self.event(d, step, side, name, "non-finite value after the update")
                if d not in self.origins and any(e["dtype"] == d for e in self.rows["events"]):
                    self.origins[d] = nanwatch.locate_step(self.case, self.options, d, step, before[d], x, y)
            if judged:
                self._keep_worse_gradients(grads, step)
            self._optimizer_rows(step, opt_states, noise_so_far)
            self._record_step(step, losses, states, noise_so_far, before)
            before = {d: dict(v) for d, v in states.items()}
            self.tick(f"step {step + 1}/{len(self.batches)}")
        self._stat_rows("final_params", states, list(states[self.dtypes[0]]["funcad"]))
        side_losses = {side: [r[f"{side}_loss"] for r in self.rows["losses"] if r["dtype"] == self.dtypes[0]] for side in ("funcad", "torch")}
        trainer = first_pair.torch.trainer
        dead = guards.dead_relu_fractions(trainer.model, trainer.inputs(self.batches[-1][0]), trainer.forward_context())
        self.guards = guards.warnings(self.monitor, side_losses, first_states, states[self.dtypes[0]], dead)

    def _optimizer_rows(self, step: int, found: dict, noise_so_far: dict) -> None:
        """Both optimizers' state after ``step`` (``found``: dtype -> (funcad's, torch's)), compared by name, judged like
        the parameters against PyTorch's own error so far (float64 state as truth)."""
        truth = found.get(self.truth) if self.truth else None
        for d, (f_state, t_state) in found.items():
            for name, fv in f_state.items():
                stats = diff_stats(fv, t_state[name], self.tol[d])
                noise = None
                if truth is not None and d != self.truth:
                    key = (d, "state", name)
                    floor = max(max_abs_diff(t_state[name], truth[1][name]), ulp_floor(truth[1][name], d))
                    noise = noise_so_far[key] = max(noise_so_far.get(key, 0.0), floor)
                self.rows["optimizer"].append({"dtype": d, "step": step, "state": name, "max_abs": stats["max_abs"],
                                               "tol_ratio": judged_ratio(stats, self.tol[d], noise, d), "worst_index": stats["worst_index"],
                                               "verdict": judge(stats["passed"], stats["max_abs"], noise, noise_factor(d))})

    def _record_step(self, step: int, losses: dict, states: dict, noise_so_far: dict, before: dict) -> None:
        """The loss and parameter rows of ``step``; ``noise_so_far`` keeps each dtype's noise floors, ``before`` the states
        before the step (a sign-like optimizer's floor in 16 bits includes its step: ``metrics.update_floor``)."""
        sign_like = self.case.optimizer.kind == "adam"
        for d in self.dtypes:
            tol = self.tol[d]
            lf, lt = losses[d]["funcad"], losses[d]["torch"]
            noise = None
            if self.truth and d != self.truth:
                truth_loss = losses[self.truth]["torch"]
                noise = noise_so_far[d, "loss"] = max(noise_so_far.get((d, "loss"), 0.0), abs(lt - truth_loss), ulp_floor(truth_loss, d))
            cross = abs(lf - lt) if np.isfinite(lf) and np.isfinite(lt) else float("inf")
            self.rows["losses"].append({"dtype": d, "step": step, "funcad_loss": lf, "torch_loss": lt, "abs_div": cross,
                                        "rel_div": relative_divergence(lf, lt), "torch_f32_err": noise,
                                        "verdict": judge(loss_within(lf, lt, tol), cross, noise, noise_factor(d))})
            for name, fv in states[d]["funcad"].items():
                tv = states[d]["torch"][name]
                stats = diff_stats(fv, tv, tol)
                noise = None
                if self.truth and d != self.truth:
                    truth = states[self.truth]["torch"][name]
                    floor = max(max_abs_diff(tv, truth), update_floor(d, sign_like, tv, before[d]["torch"][name]), ulp_floor(truth, d))
                    noise = noise_so_far[d, name] = max(noise_so_far.get((d, name), 0.0), floor)
                self.rows["params"].append({"dtype": d, "step": step, "parameter": name, "max_abs": stats["max_abs"],
                                            "tol_ratio": judged_ratio(stats, tol, noise, d), "worst_index": stats["worst_index"],
                                            "torch_f32_err": noise,
                                            "verdict": judge(stats["passed"], stats["max_abs"], noise, noise_factor(d))})

    def time(self) -> tuple[pd.DataFrame, list[str]]:
        threads = torch.get_num_threads()  # numpy's BLAS runs with the same count under the CLI's fixed_threads
        pair = self.pairs[self.dtypes[0]]
        rows, notes = [], []
        f, t = pair.funcad, pair.torch
        xf, yf = f.prepare(*self.batches[0])
        xt, yt = t.prepare(*self.batches[0])
        sync = device_sync(t)
        phases = {
            "forward": {"funcad": lambda: f.time_forward(xf, yf), "torch": lambda: sync(t.time_forward(xt, yt))},
            "forward+backward": {"funcad": lambda: f.time_backward(xf, yf), "torch": lambda: sync(t.time_backward(xt, yt))},
            "train step": {"funcad": lambda: f.time_step(xf, yf), "torch": lambda: sync(t.time_step(xt, yt))},
        }
        jitted, why = jit_callables(f, xf, yf)
        if why:
            notes.append(why)
        for phase, callables in phases.items():
            if phase in jitted:
                callables["funcad jit"] = jitted[phase]
            measured = timing.interleaved(callables, budget_s=self.options.time_budget_s)
            torch_median = measured["torch"]["median_s"]
            for engine, m in measured.items():
                rows.append({"dtype": pair.dtype, "phase": phase, "engine": engine, **m, "ratio_vs_torch": m["median_s"] / torch_median,
                             "threads": threads})
            self.tick(f"timed {phase}")
        return pd.DataFrame(rows), notes


def run_case(case: Case, options: RunOptions = RunOptions(), tick: Callable[[str], None] = lambda msg: None,
             batches: Batches | None = None) -> CaseResult:
    """Build, probe, train and time ``case`` in every dtype of ``options``; never raises for NaN/Inf (they fail the verdict).

    ``batches`` are the case's batches when already made (``prepare_batches``); otherwise they are made here."""
    start = time.perf_counter()
    if batches is None:
        batches = case.batches(options.steps, options.seed, options.batch_size, options.data_dir)
    begin_dropout_watch()
    with np.errstate(all="ignore"):
        run = _Run(case, options, tick, batches)
        run.probe_step0()
        run.train()
        timings, notes = run.time() if options.timing else (pd.DataFrame(), [])
    frames = {k: pd.DataFrame(v) for k, v in run.rows.items()}
    if not len(frames["events"]):
        frames["events"] = pd.DataFrame(columns=["dtype", "step", "side", "where", "what"])
    summary = frame([summarize(case.name, d, frames, timings) for d in run.dtypes])
    layers = compare_for_run(run.case, options, batches, run.layer_tolerance()) if options.layers else None
    per_sample = per_sample_for_run(case, options.faults, batches, options.seed, options.rtol, options.atol) if options.per_sample else None
    summary = fail_summary(summary, per_sample) if per_sample is not None else summary
    first = run.pairs[run.dtypes[0]]
    differences = run.case.known_differences(options.torch_optimizer, list(first.funcad.state())) + unaligned_dropout(first.torch.trainer.model)
    return CaseResult(case.name, case.description, run.case.optimizer.describe(options.torch_optimizer or case.torch_optimizer), options.mode,
                      differences, run.tol, summary, frames["forward"], frames["grads"], frames["losses"], frames["params"],
                      frames["final_params"], frames["events"], timings, notes, time.perf_counter() - start,
                      data=case.describe_data(batches, options.data_dir), layers=layers, per_sample=per_sample, guards=run.guards,
                      nonfinite_origin=pd.DataFrame([o for found in run.origins.values() for o in found]),
                      optimizer_state=frames["optimizer"])


def ticks_per_case(options: RunOptions) -> int:
    """How many times ``run_case`` calls ``tick`` (for a progress bar)."""
    return options.steps + (3 if options.timing else 0)


@dataclass
class RunResult:
    """All cases of one run, the options they ran with and the machine they ran on.

    ``started`` is the ``time.perf_counter()`` of the run's start, so a report can say how long the whole run took,
    writing included; ``tracebacks`` holds the traceback of each case stopped by an internal error."""

    cases: list[CaseResult]
    options: RunOptions
    environment: dict
    seconds: float = 0.0
    started: float | None = None
    tracebacks: dict[str, str] = field(default_factory=dict)
    model: dict | None = None  # the --model flags of a user-model run (``harness.usermodel.flags``), so explain can rebuild it

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.cases)

    @property
    def errors(self) -> dict[str, str]:
        """The one-line message of each case stopped by an internal error."""
        return {r.case: r.error for r in self.cases if r.error}

    def summary(self) -> pd.DataFrame:
        return pd.concat([r.summary for r in self.cases], ignore_index=True) if self.cases else frame([])


def prepare_batches(cases: Sequence[Case], options: RunOptions) -> dict[str, Batches]:
    """Every case's batches, made before any case runs so bad data is a DataError up front, not after some cases."""
    return {case.name: case.batches(options.steps, options.seed, options.batch_size, options.data_dir) for case in cases}


def run_cases(cases: Sequence[Case], options: RunOptions = RunOptions(), tick: Callable[[str], None] = lambda msg: None,
              batches: dict[str, Batches] | None = None) -> RunResult:
    """Run every case; an unforeseen exception in one case marks it ``error`` (its traceback kept in the result) and the
    others still run, so no finished case is lost."""
    start = time.perf_counter()
    batches = batches if batches is not None else prepare_batches(cases, options)
    env = environment(options.device)
    results, tracebacks = [], {}
    for case in cases:
        case_start = time.perf_counter()
        try:
            results.append(run_case(case, options, lambda msg, name=case.name: tick(f"{name}: {msg}"), batches[case.name]))
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}".splitlines()[0]
            tracebacks[case.name] = traceback.format_exc()
            results.append(CaseResult.failed(case, options, message, time.perf_counter() - case_start))
    return RunResult(results, options, env, time.perf_counter() - start, start, tracebacks)
