"""Copy parameters and buffers between a funcad Cell and a torch Module, by name, checking everything first.

A copy is all-or-nothing: names missing on either side, shapes or dtypes that differ are collected and
raised together in one ``BridgeError`` before any value is written. Names are funcad's; a ``name_map``
(a dict or a callable, funcad name -> torch name) covers models whose names differ, e.g. MindSpore's
BatchNorm ``gamma``/``beta``/``moving_mean``/``moving_variance`` against torch's
``weight``/``bias``/``running_mean``/``running_var``. Without one, the Cell's own
``torch_parameter_names()`` is used (funcad layers with MindSpore names declare their torch names).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch

from torch_ref.arrays import from_numpy, numpy_dtype, to_numpy

NameMap = Mapping[str, str] | Callable[[str], str] | None

class BridgeError(ValueError):
    """The two models' parameters do not correspond; the message lists every mismatch."""


def name_mapper(name_map: NameMap) -> Callable[[str], str]:
    if name_map is None:
        return lambda n: n
    if callable(name_map):
        return name_map
    return lambda n: name_map.get(n, n)


def default_name_map(cell) -> dict[str, str]:
    """The Cell's own funcad -> torch name map (identity for a Cell that does not declare one)."""
    names = getattr(cell, "torch_parameter_names", None)
    return dict(names()) if names is not None else {n: n for n, _ in cell.parameters_and_names()}


def funcad_state(cell) -> dict:
    """Every Parameter of a funcad Cell (trainable or not, e.g. BatchNorm statistics) by its name."""
    return {name: p for name, p in cell.parameters_and_names()}


def torch_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and floating-point buffers of a torch Module by name (``num_batches_tracked`` has no funcad twin)."""
    state = dict(module.named_parameters())
    state.update((n, b) for n, b in module.named_buffers() if b.is_floating_point())
    return state


def match_names(funcad_params: Mapping[str, object], torch_params: Mapping[str, torch.Tensor], name_map: NameMap = None) -> list[tuple[str, str]]:
    """Pairs (funcad name, torch name); raises ``BridgeError`` listing every missing, unexpected, shape and dtype mismatch."""
    to_torch = name_mapper(name_map)
    pairs, missing, problems = [], [], []
    claimed = set()
    for fname, fp in funcad_params.items():
        tname = to_torch(fname)
        if tname not in torch_params:
            missing.append(f"{fname}" + (f" (as {tname})" if tname != fname else ""))
            continue
        claimed.add(tname)
        tp = torch_params[tname]
        fshape, tshape = tuple(np.shape(fp)), tuple(tp.shape)
        if fshape != tshape:
            problems.append(f"shape of {fname}: funcad {fshape} vs torch {tname} {tshape}")
        fdtype, tdtype = np.dtype(fp.dtype), numpy_dtype(tp.dtype)
        if fdtype != tdtype:
            problems.append(f"dtype of {fname}: funcad {fdtype} vs torch {tname} {tdtype}")
        pairs.append((fname, tname))
    unexpected = [t for t in torch_params if t not in claimed]
    lines = []
    if missing:
        lines.append("in funcad but not in torch: " + ", ".join(missing))
    if unexpected:
        lines.append("in torch but not in funcad: " + ", ".join(unexpected))
    lines.extend(problems)
    if lines:
        raise BridgeError("parameters do not match between the funcad and torch models:\n  " + "\n  ".join(lines))
    return pairs


def copy_funcad_to_torch(cell, module: torch.nn.Module, name_map: NameMap = None) -> None:
    """Overwrite the torch module's parameters and buffers with the funcad cell's values."""
    fstate, tstate = funcad_state(cell), torch_state(module)
    pairs = match_names(fstate, tstate, default_name_map(cell) if name_map is None else name_map)
    with torch.no_grad():
        for fname, tname in pairs:
            target = tstate[tname]
            target.copy_(from_numpy(np.array(fstate[fname])).to(target.device))


def copy_torch_to_funcad(module: torch.nn.Module, cell, name_map: NameMap = None) -> None:
    """Overwrite the funcad cell's parameters with the torch module's values."""
    fstate, tstate = funcad_state(cell), torch_state(module)
    pairs = match_names(fstate, tstate, default_name_map(cell) if name_map is None else name_map)
    for fname, tname in pairs:
        fstate[fname].set_data(to_numpy(tstate[tname]))
