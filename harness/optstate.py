"""Optimizer state of both engines under one set of names, to compare it per step and re-sync it in lockstep mode.

funcad's (MindSpore's) slots are Parameters named ``<slot>.<parameter>``: Adam's ``moment1``/``moment2``, Momentum's
``moments``, SGD's ``accum``, and one ``global_step``. torch keeps ``exp_avg``/``exp_avg_sq``, ``momentum_buffer`` and a
``step`` per parameter. Both are named here as funcad names them, with ``step.<parameter>`` for the step counts.
"""

from __future__ import annotations

import numpy as np
import torch

from funcad import Parameter
from torch_ref.arrays import numpy_dtype, to_numpy

#: funcad slot -> torch state key
TORCH_KEYS = {"moment1": "exp_avg", "moment2": "exp_avg_sq", "moments": "momentum_buffer", "accum": "momentum_buffer"}


def _funcad_slots(optimizer) -> dict[str, Parameter]:
    return {name: p for name, p in optimizer.parameters_and_names() if name.split(".", 1)[0] in TORCH_KEYS}


def funcad_state(optimizer) -> dict[str, np.ndarray]:
    """funcad's optimizer state by name; Adam's global step repeated as ``step.<parameter>`` (torch counts per parameter)."""
    slots = {name: np.asarray(p).copy() for name, p in _funcad_slots(optimizer).items()}
    if any(n.split(".", 1)[0] in ("moment1", "moment2") for n in slots):  # Adam's step count enters its formula
        step = np.asarray(optimizer.global_step).astype(np.int64)
        slots |= {f"step.{p.name}": step.copy() for p in optimizer.parameters}
    return slots


def _torch_params(trainer, to_funcad: dict[str, str]) -> dict[str, torch.nn.Parameter]:
    return {to_funcad.get(n, n): p for n, p in trainer.model.named_parameters()}


def torch_state(trainer, to_funcad: dict[str, str], names: list[str]) -> dict[str, np.ndarray]:
    """torch's optimizer state under funcad's ``names`` (those missing before its first step read as zeros)."""
    params = _torch_params(trainer, to_funcad)
    out = {}
    for name in names:
        slot, pname = name.split(".", 1)
        state = trainer.optimizer.state.get(params[pname], {})
        if slot == "step":
            out[name] = np.asarray(int(state.get("step", 0)), np.int64)
        else:
            value = state.get(TORCH_KEYS[slot])
            out[name] = np.zeros(tuple(params[pname].shape), numpy_dtype(params[pname].dtype)) if value is None else \
                to_numpy(value)
    return out


def load_funcad(optimizer, state: dict[str, np.ndarray]) -> None:
    slots = _funcad_slots(optimizer)
    for name, value in state.items():
        if name in slots:
            slots[name].set_data(np.asarray(value).astype(slots[name].dtype))
        elif name.startswith("step."):
            optimizer.global_step.set_data(np.asarray(value).astype(np.int32))


def load_torch(trainer, to_funcad: dict[str, str], state: dict[str, np.ndarray]) -> None:
    params = _torch_params(trainer, to_funcad)
    for name, value in state.items():
        slot, pname = name.split(".", 1)
        entry = trainer.optimizer.state[params[pname]]
        if slot == "step":
            entry["step"] = torch.tensor(float(value)) if isinstance(entry.get("step"), torch.Tensor) else int(value)
        else:
            entry[TORCH_KEYS[slot]] = trainer.tensor(value).clone()


def planted_states(pair, faults, step: int) -> tuple[dict, dict] | None:
    """Both optimizers' state after ``step``'s update by funcad's names, with the step's optimizer-state faults planted
    (and loaded back into that side); None when the optimizer keeps no state."""
    f_state = funcad_state(pair.funcad.optimizer)
    if not f_state:
        return None
    t_state = torch_state(pair.torch.trainer, pair.torch.to_funcad, list(f_state))
    for fault in (f for f in faults if f.kind == "state" and f.step == step):
        if fault.side == "funcad":
            f_state = fault.apply(f_state)
            load_funcad(pair.funcad.optimizer, f_state)
        else:
            t_state = fault.apply(t_state)
            load_torch(pair.torch.trainer, pair.torch.to_funcad, t_state)
    return f_state, t_state
