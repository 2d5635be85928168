"""``mirror(cell)``: the torch twin of a funcad Cell, with torch's layer classes and names and the same weights.

Layers translate class by class through ``torch_ref.layer_table`` (Dense -> Linear, BatchNorm2d's momentum 0.9 ->
0.1, ...); ``SequentialCell`` becomes ``nn.Sequential``, ``CellList`` ``nn.ModuleList`` and ``CellDict`` ``nn.ModuleDict`` under the same child
names. A user's Cell becomes a ``torch_ref.traced.TracedConstruct`` holding its mirrored children under the same
names: its ``construct`` is traced by funcad.jit's tracer and emitted as a ``torch.fx.GraphModule`` from each
primitive's declared torch translation. A Cell used twice is one module, and a Parameter shared by two layers is one
torch parameter (tied weights).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import fx

from funcad.nn.cell import Cell, CellDict, CellList, SequentialCell
from torch_ref import layer_table, spectral_norm
from torch_ref.arrays import torch_dtype
from torch_ref.layer_table import TranslationError, where
from torch_ref.to_funcad import TracedCell
from torch_ref.traced import TracedConstruct, attach
from torch_ref.twin import Translation, Twin, copy_weights, float_dtype, joined


def mirror(cell: Cell) -> torch.nn.Module:
    """The torch twin of ``cell``, holding a copy of its current weights (see ``mirror_twin`` for the name maps)."""
    return mirror_twin(cell).module


def mirror_twin(cell: Cell) -> Twin:
    """``cell``, its torch twin (in the same training mode) and the maps between their parameter names and layer paths."""
    if not isinstance(cell, Cell):
        raise TypeError(f"mirror: expected a funcad Cell, got {type(cell).__name__}")
    _refuse_hooks(cell)
    builder = _Mirror()
    module = builder.translate(cell, "")
    _tie(cell, module, builder.names)
    dtype = float_dtype(p for _, p in cell.parameters_and_names())
    if dtype is not None:
        module.to(torch_dtype(dtype))
    module.train(cell.training)
    twin = Twin(cell, module, builder.parameter_names(cell), builder.module_paths)
    copy_weights(twin, to_torch=True)
    return twin


def _refuse_hooks(cell: Cell) -> None:
    """A hook on a Cell (``register_forward_hook`` and its kin) changes what the Cell computes or records, and the torch
    twin would run without it: refused, naming the Cell, unless it is ``funcad.nn.spectral_norm``'s, which mirrors."""
    for path, owner in cell.cells_and_names():
        known = spectral_norm.spectral_norm_hooks(owner)
        for kind, hooks in (owner.__dict__.get("_cell_hooks") or {}).items():
            for fn in hooks.values():
                if not any(fn is hook or getattr(fn, "__self__", None) is hook for hook in known):
                    raise TranslationError(f"{where(path, owner)}: its {kind} hook {getattr(fn, '__name__', type(fn).__name__)!r} would not run "
                                           "in the torch twin; remove the hook before mirroring (and register torch's on the twin)")


def _tie(cell: Cell, module: torch.nn.Module, names: dict[str, str | None]) -> None:
    """Every funcad Parameter held under several names becomes one torch parameter (the one of its first name)."""
    first: dict[int, str] = {}
    for path, owner in cell.cells_and_names():
        for name, p in owner._params.items():
            torch_name = names.get(joined(path, name)) if p is not None else None
            if torch_name is None:
                continue
            if id(p) not in first:
                first[id(p)] = torch_name
                continue
            shared = module.get_parameter(first[id(p)])
            parent, _, attribute = torch_name.rpartition(".")
            target = module.get_submodule(parent)
            if getattr(target, attribute).shape != shared.shape:
                raise TranslationError(f"Parameter {p.name!r} is tied as {first[id(p)]!r} {tuple(shared.shape)} and {torch_name!r} "
                                       f"{tuple(getattr(target, attribute).shape)} in torch, whose layouts differ")
            setattr(target, attribute, shared)


class _Mirror(Translation):
    """One translation, funcad -> torch."""

    def __init__(self):
        super().__init__()
        self.done: dict[int, torch.nn.Module] = {}

    def translate(self, cell: Cell, path: str) -> torch.nn.Module:
        """``cell``'s twin; a Cell met again (used twice) is the same module."""
        if id(cell) not in self.done:
            self.done[id(cell)] = self.build(cell, path)
        return self.done[id(cell)]

    def build(self, cell: Cell, path: str) -> torch.nn.Module:
        rule = layer_table.BY_FUNCAD_TYPE.get(type(cell))
        if rule is not None:
            module = self.by_rule(rule.to_torch, cell, path)
            self.layer(path, spectral_norm.normalize_torch_layer(cell, module, rule.torch_names(cell)))
            return module
        if spectral_norm.spectral_norm_hooks(cell):
            raise TranslationError(f"{where(path, cell)}: funcad.nn.spectral_norm is mirrored on the layers of torch_ref.layer_table only; "
                                   "call an nn.SpectralNorm Cell on the weight in construct instead")
        self.container(path, [name for name, p in cell._params.items() if p is not None])
        children = OrderedDict((name, self.translate(child, joined(path, name))) for name, child in cell._cells.items() if child is not None)
        if isinstance(cell, SequentialCell) and type(cell).construct is SequentialCell.construct:
            return torch.nn.Sequential(children)
        if isinstance(cell, CellList) and type(cell).construct is Cell.construct:
            return torch.nn.ModuleList(children.values())
        if isinstance(cell, CellDict) and type(cell).construct is Cell.construct:
            return torch.nn.ModuleDict(children)
        graph = cell.single_graph() if isinstance(cell, TracedCell) else None
        if type(cell).construct is Cell.construct or graph is not None:
            holder = torch.nn.Module()
            attach(holder, children, cell._params)
            return holder if graph is None else fx.GraphModule(holder, graph, cell.traced_name)
        prefix = joined(path, "")  # names and paths below this Cell, made relative to it
        names = {name[len(prefix):]: tname and tname[len(prefix):] for name, tname in self.names.items() if name.startswith(prefix)}
        return TracedConstruct(cell, path, children, names, [p[len(prefix):] for p in self.module_paths if p != path and p.startswith(prefix)])
