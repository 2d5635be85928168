"""Per-layer comparison at one step, chained and isolated, as a table of error / tolerance per layer and quantity.

chained: each engine runs on its own activations, so a difference shows where it appears and how it grows;
isolated: each layer of both engines runs alone on torch's input activation and, backward, on torch's gradient of
its output, so each layer's own error is measured without what came before. A ratio above 1 exceeds the tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

import funcad
from funcad.nn.cell import Cell
from harness.cases import Batches, Case
from harness.engines import _inputs_as_funcad
from harness.faults import Fault
from harness.inputs import call_model
from harness.layers.capture import FuncadLayers, LayerCall, TorchLayers, float_inputs, isolated_funcad, map_leaves, with_floats, without_dropout
from harness.layers.faults import layer_edits
from harness.metrics import Tolerance, tolerance_for
from harness.mixed import storage_dtype
from torch_ref.arrays import to_numpy

#: The table's quantities: (column, what it compares).
QUANTITIES = {"forward": "forward output", "output_grad": "gradient of the output (isolated: of the input, from torch's output gradient)",
              "param_grads": "parameter gradients"}
MODES = ("chained", "isolated")


@dataclass
class LayerComparison:
    """The layers of one case at one step; ``table`` has one row per layer call with ``<mode>_<quantity>`` ratios."""

    case: str
    step: int
    dtype: str
    tolerance: Tolerance
    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    empty: str = "no layer runs on both sides (the model computes in its own construct)"  # the verdict when the table is empty

    def first_fault(self) -> tuple[str, str] | None:
        """(layer, 'forward' | 'backward') of the first layer whose isolated error exceeds the tolerance: forward in
        execution order, else backward in the order backpropagation reaches the layers."""
        t = self.table
        fwd = t[t["isolated_forward"] > 1]
        if len(fwd):
            return str(fwd["layer"].iloc[0]), "forward"
        bwd = t[(t["isolated_output_grad"] > 1) | (t["isolated_param_grads"] > 1)]
        if len(bwd):
            return str(bwd["layer"].iloc[-1]), "backward"
        return None

    def verdict(self) -> str:
        found = self.first_fault()
        if not len(self.table):
            return self.empty
        if found is None:
            return f"every layer's isolated error is within {self.tolerance}"
        layer, where = found
        kind = self.table.set_index("layer").loc[layer, "type"]
        return f"first layer beyond tolerance in isolation: {layer} ({kind}), {where}"


def ratio(actual: Sequence[np.ndarray], expected: Sequence[np.ndarray], tol: Tolerance) -> float:
    """The worst ``|a - e| / (atol + rtol |e|)`` over paired arrays (inf where one side is not finite or shapes differ)."""
    worst = float("nan")  # nothing to compare
    for a, e in zip(actual, expected):
        if a is None or e is None:
            continue
        worst = 0.0 if worst != worst else worst
        a, e = np.asarray(a, np.float64), np.asarray(e, np.float64)
        if a.shape != e.shape:
            return float("inf")
        if a.size:
            with np.errstate(invalid="ignore"):
                r = np.abs(a - e) / (tol.atol + tol.rtol * np.abs(e))
            worst = max(worst, float(np.nanmax(np.where(np.isfinite(r), r, np.inf))))
    return worst


def _units(funcad_keys: Sequence[tuple[str, int]], torch_keys: set, select: str | Sequence[str] | None) -> tuple[list[tuple[str, int]], list[str]]:
    """The layer calls to compare, in execution order: those recorded on both sides that are leaves (no recorded layer
    below them), or those at ``depth=N``, or the paths listed; and notes on listed paths that did not run on both sides."""
    both = [k for k in funcad_keys if k in torch_keys]
    paths = {p for p, _ in both}
    if isinstance(select, str) and select.startswith("depth="):
        depth = int(select.split("=", 1)[1])
        keep = [k for k in both if k[0].count(".") + 1 <= depth]
        return [k for k in keep if k[0].count(".") + 1 == depth or not any(q.startswith(k[0] + ".") for q, _ in keep)], []
    if select:
        wanted = [select] if isinstance(select, str) else list(select)
        ran = {p for p, _ in funcad_keys}
        notes = [f"layer {p} is not compared: {'its torch counterpart never ran' if p in ran else 'the model never called it'} at this step; "
                 f"layers that ran on both sides: {', '.join(sorted(paths)) or 'none'}" for p in wanted if p not in paths]
        return [k for k in both if k[0] in wanted], notes
    return [k for k in both if not any(q.startswith(k[0] + ".") for q in paths)], []


def _empty_reason(net: Cell, selected: bool) -> str:
    """Why a comparison has no rows: the layers asked for did not run, the model is one library layer (nothing inside
    it to tell apart), or it computes in its own construct."""
    if selected:
        return "none of the layers asked for ran on both sides (see the notes)"
    if len(list(net.cells_and_names())) == 1 and type(net).__module__.startswith("funcad.nn."):
        return (f"the model is a single layer ({type(net).__name__}): there are no layers inside it to compare apart; "
                "the run's output and gradient comparison is its comparison")
    return "no layer runs on both sides (the model computes in its own construct)"


def check_layer_calls(cases: Sequence[Case], select: str | None, batches: dict[str, Batches], seed: int = 0, flag: str = "--layers ") -> None:
    """Before any case runs, once its batches are made: a ValueError naming ``flag`` (followed by the selection) and the
    case for a listed path that is a Cell of the model but that the model's forward on the first batch never calls,
    so no comparison could hold it."""
    if not select or select == "leaves" or select.startswith("depth="):
        return
    wanted = select.split(",")
    for case in cases:
        funcad.set_seed(seed)
        net = case.funcad_model()
        recorder = FuncadLayers(net, wanted)
        with np.errstate(all="ignore"):
            call_model(net, _inputs_as_funcad(batches[case.name][0][0], np.float32))
        idle = [p for p in wanted if not any(path == p for path, _ in recorder.records)]
        if idle:
            raise ValueError(f"{flag}{select}: {case.name}'s forward never calls {', '.join(idle)}, so it cannot be compared; "
                             f"layers it calls: {', '.join(sorted({p for p, _ in recorder.records})) or 'none of those listed'}")


def check_layer_paths(cases: Sequence[Case], select: str | None, seed: int = 0, flag: str = "--layers ") -> None:
    """Before any case runs: a ValueError naming ``flag`` (followed by the selection) and the case for a listed path
    that is no Cell of the case's funcad model (a path that is one but does not run on both sides is found while
    capturing)."""
    if not select or select == "leaves" or select.startswith("depth="):
        return
    for case in cases:
        funcad.set_seed(seed)
        paths = {name for name, _ in case.funcad_model().cells_and_names() if name}
        missing = [p for p in select.split(",") if p not in paths]
        if missing:
            raise ValueError(f"{flag}{select}: {case.name} has no layer {', '.join(missing)}; its layers: {', '.join(sorted(paths))}")


def _torch_isolated(module: torch.nn.Module, call: LayerCall, trainer) -> tuple[list, list, dict]:
    """The torch layer alone on its recorded input: input and parameter gradients from its recorded output gradient."""
    xs = [trainer.tensor(a).requires_grad_() for a in float_inputs(call)]
    args, kwargs = with_floats(call, xs)
    def as_tensor(a):  # integer and boolean arrays (ids, masks) keep their dtype
        return torch.as_tensor(a).to(trainer.device) if isinstance(a, np.ndarray) else a

    args, kwargs = map_leaves(as_tensor, args), {k: map_leaves(as_tensor, v) for k, v in kwargs.items()}
    params = dict(module.named_parameters())
    out = [o for o in _torch_leaves(module(*args, **kwargs)) if o.is_floating_point()]
    pairs = [(o, trainer.tensor(g)) for o, g in zip(out, call.output_grads) if g is not None and o.requires_grad]
    wrt = xs + list(params.values())
    if not wrt or not pairs:
        return [to_numpy(o) for o in out], [], {}
    grads = torch.autograd.grad([o for o, _ in pairs], wrt, [g for _, g in pairs], allow_unused=True)
    grads = [np.zeros(tuple(w.shape)) if g is None else to_numpy(g) for g, w in zip(grads, wrt)]
    return [to_numpy(o) for o in out], grads[:len(xs)], dict(zip(params, grads[len(xs):]))


def _torch_leaves(value) -> list:
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in _torch_leaves(item)]
    return [value] if isinstance(value, torch.Tensor) else []


def module_paths(net, module: torch.nn.Module, to_torch: dict[str, str]) -> dict[str, str]:
    """Cell path -> torch module path: where the Cell's own parameters went (``dense1`` -> ``linear1`` in a Transformer
    layer), else the same path when torch has it."""
    modules = {p for p, _ in module.named_modules() if p}
    paths = {}
    for path, cell in net.cells_and_names():
        own = [to_torch[f"{path}.{n}"] for n, _ in cell.parameters_and_names(expand=False) if f"{path}.{n}" in to_torch]
        moved = {t.rsplit(".", 1)[0] for t in own if "." in t}
        if len(moved) == 1 and next(iter(moved)) in modules:
            paths[path] = moved.pop()
        elif path in modules:
            paths[path] = path
    return paths


def compare_layers(case: Case, batches: Batches, step: int = 0, dtype: str = "float32", seed: int = 0, device: str | None = None,
                   torch_optimizer: str | None = None, tolerance: Tolerance | None = None, select: str | Sequence[str] | None = None,
                   faults: Sequence[Fault] = ()) -> LayerComparison:
    """Train a fresh pair ``step`` steps on ``batches``, then compare every layer on batch ``step`` (see the module docstring)."""
    if not 0 <= step < len(batches):
        raise ValueError(f"--at-step {step}: the run has batches for steps 0..{len(batches) - 1}")
    tol = tolerance or tolerance_for(dtype, dict(case.tolerances))
    pair = case.build(dtype, seed, device, torch_optimizer)
    for x, y in batches[:step]:
        pair.funcad.step(x, y)
        pair.torch.step(x, y)
    net, module = without_dropout(pair.funcad.net, pair.torch.trainer.model)
    listed = [select] if isinstance(select, str) and not select.startswith("depth=") else [] if isinstance(select, str) else list(select or ())
    unknown = [p for p in listed if p not in dict(net.cells_and_names()) or not p]
    if unknown:
        raise ValueError(f"--layers: no layer {', '.join(unknown)} in {case.name}; its layers: "
                         f"{', '.join(sorted(p for p, _ in net.cells_and_names() if p))}")
    to_module = module_paths(net, module, pair.torch.to_torch)
    paths = list(to_module)
    f_side = FuncadLayers(net, paths, layer_edits(faults, "funcad", step, paths))
    t_side = TorchLayers(module, to_module, {to_module[p]: e for p, e in layer_edits(faults, "torch", step, paths).items()})
    engine, trainer = pair.funcad, pair.torch.trainer
    x, y = batches[step]
    f_loss, f_grads = f_side.capture(lambda a, b: engine.loss_fn(call_model(net, a), b), *engine.prepare(x, y))
    t_loss, t_grads = t_side.capture(trainer.loss_fn, trainer.inputs(x), trainer.tensor(y))
    t_grads = {pair.torch.to_funcad.get(n, n): g for n, g in t_grads.items()}
    f_records, t_records = dict(f_side.records), dict(t_side.records)
    t_side.edits_only = True
    cells, modules = dict(net.cells_and_names()), {p: m for p, m in module.named_modules() if p}
    rows = []
    units, unit_notes = _units(list(f_records), set(t_records), select)
    for key in units:
        path = key[0]
        fr, tr = f_records[key], t_records[key]
        mpath = to_module[path]
        own = [n for n in f_grads if n.startswith(path + ".") and n in t_grads]
        fi_out, fi_in, fi_params = isolated_funcad(cells[path], fr, float_inputs(tr), tr.output_grads, engine.dtype)
        ti_out, ti_in, ti_params = _torch_isolated(modules[mpath], tr, trainer)
        ti_params = {pair.torch.to_funcad.get(f"{mpath}.{n}", f"{mpath}.{n}"): g for n, g in ti_params.items()}
        shared = [n for n in fi_params if n in ti_params]
        rows.append({"layer": fr.key, "type": type(cells[path]).__name__, "torch_module": f"{type(modules[mpath]).__name__} '{mpath}'",
                     "chained_forward": ratio(fr.outputs, tr.outputs, tol),
                     "chained_output_grad": ratio(fr.output_grads, tr.output_grads, tol),
                     "chained_param_grads": ratio([f_grads[n] for n in own], [t_grads[n] for n in own], tol),
                     "isolated_forward": ratio(fi_out, tr.outputs, tol),
                     "isolated_output_grad": ratio(fi_in, ti_in[:len(fi_in)], tol),
                     "isolated_param_grads": ratio([fi_params[n] for n in shared], [ti_params[n] for n in shared], tol),
                     "params": ", ".join(shared)})
    t_side.remove()
    notes = [f"loss at step {step}: funcad {f_loss:.9g}, torch {t_loss:.9g}; dropout off on both sides while capturing",
             "ratios are the worst element's |funcad - torch| / (atol + rtol |torch|): above 1 exceeds the tolerance", *unit_notes]
    columns = ["layer", "type", "torch_module", *(f"{m}_{q}" for m in MODES for q in QUANTITIES), "params"]
    return LayerComparison(case.name, step, dtype, tol, pd.DataFrame(rows, columns=columns), notes, _empty_reason(net, bool(unit_notes)))


def compare_for_run(case: Case, options, batches: Batches, tol: Tolerance) -> LayerComparison:
    """The layer comparison a run asks for (``RunOptions.layers``: 'leaves', 'depth=N' or comma-separated paths) in its
    first dtype (float32 for a mixed run: each layer alone is compared in its weights' dtype, not under autocast)."""
    select = None if options.layers == "leaves" else options.layers if options.layers.startswith("depth=") else options.layers.split(",")
    with np.errstate(all="ignore"):
        return compare_layers(case, batches, options.at_step, storage_dtype(options.dtypes[0]), options.seed, options.device, options.torch_optimizer,
                              tol, select, options.faults)
