"""A funcad Cell and its torch twin, with the maps between them, and the weight copy both translations end with."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from funcad.core.dtypes import is_floating
from funcad.nn.cell import Cell
from torch_ref.arrays import from_numpy, numpy_dtype, to_numpy
from torch_ref.bridge import funcad_state, match_names, torch_state
from torch_ref.layer_rule import TranslationError, Untranslatable, where


@dataclass
class Twin:
    """One model in both engines.

    ``parameter_names``: funcad parameter name -> torch parameter or buffer name (BatchNorm's ``gamma`` ->
    ``weight``, ``moving_mean`` -> ``running_mean``), for every funcad parameter with a torch counterpart.
    ``module_paths``: Cell path -> module path of the layer computing the same output ('' is the root).
    """

    cell: Cell
    module: torch.nn.Module
    parameter_names: dict[str, str]
    module_paths: dict[str, str]


def joined(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class Translation:
    """What one translation has made: the layer paths, and each funcad parameter's torch name (None: no counterpart)."""

    def __init__(self):
        self.module_paths: dict[str, str] = {}
        self.names: dict[str, str | None] = {}

    def layer(self, path: str, names: Mapping[str, str | None]) -> None:
        """A layer translated by its rule at ``path``, with its parameters' names relative to it."""
        self.module_paths[path] = path
        for fname, tname in names.items():
            self.names[joined(path, fname)] = None if tname is None else joined(path, tname)

    def container(self, path: str, own: Iterable[str]) -> None:
        """A container, sequence or traced model at ``path``; its own parameters keep their names."""
        self.module_paths[path] = path
        self.layer(path, {name: name for name in own})

    def translate(self, source, path: str):
        raise NotImplementedError

    def by_rule(self, build: Callable, source, path: str):
        """``build`` (a rule's ``to_torch`` or ``to_funcad``) on ``source`` at ``path``; its children are translated here too."""
        try:
            return build(source, lambda child, name: self.translate(child, joined(path, name)))
        except Untranslatable as exc:
            raise TranslationError(f"{where(path, source)}: {exc}") from None

    def parameter_names(self, cell: Cell) -> dict[str, str]:
        pairs = ((name, self.names[name]) for name, _ in cell.parameters_and_names())
        return {fname: tname for fname, tname in pairs if tname is not None}


def float_dtype(values) -> np.dtype | None:
    """The dtype of the first floating-point array among ``values`` (None when there is none)."""
    for value in values:
        dtype = np.dtype(value.dtype) if not isinstance(value, torch.Tensor) else numpy_dtype(value.dtype)
        if is_floating(dtype):
            return dtype
    return None


def copy_weights(twin: Twin, to_torch: bool) -> None:
    """Copy every mapped parameter one way (checked first, all or nothing, by ``torch_ref.bridge.match_names``), with
    whether it is trained: a frozen parameter (``requires_grad=False``) stays frozen in the twin."""
    fstate = {name: p for name, p in funcad_state(twin.cell).items() if name in twin.parameter_names}
    tstate = torch_state(twin.module)
    trained = dict(twin.module.named_parameters())  # torch's parameters, not its buffers
    pairs = match_names(fstate, tstate, twin.parameter_names)
    with torch.no_grad():
        for fname, tname in pairs:
            if to_torch:
                tstate[tname].copy_(from_numpy(np.array(fstate[fname])))
                if tname in trained:
                    trained[tname].requires_grad_(fstate[fname].requires_grad)
            else:
                fstate[fname].set_data(to_numpy(tstate[tname]))
                if tname in trained:
                    fstate[fname].requires_grad = trained[tname].requires_grad
