"""Spectral normalisation both ways: torch's ``nn.utils.parametrizations.spectral_norm`` (its ``_SpectralNorm`` module, a
layer rule with ``funcad.nn.SpectralNorm``) and the older hook ``nn.utils.spectral_norm`` (``funcad.nn.spectral_norm``
on the layer's twin; ``weight_orig``, ``weight_u`` and ``weight_v`` keep torch's names, under the funcad layer's own
name for the weight: an Embedding's ``embedding_table_orig`` is torch's ``weight_orig``).

Both keep u and v as state that does not train and follow torch's power iteration (its order differs between the two
forms), so outputs, gradients and the vectors' updates agree step by step in training and evaluation modes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch.nn.utils import parametrizations
from torch.nn.utils.spectral_norm import SpectralNorm as TorchSpectralNormHook

from funcad import nn
from funcad.nn.cell import Cell
from funcad.nn.layer.spectral_norm import spectral_norm_hooks
from torch_ref.layer_rule import LayerRule, Translate

_STATE = ("_orig", "_u", "_v")


def _placeholder_shape(rows: int, columns: int, dim: int) -> tuple:
    """A weight shape that is a (rows, columns) matrix along ``dim`` (what the classes are made from; the vectors are then
    overwritten by the weight copy)."""
    return (rows, columns) if dim == 0 else (columns, *(1,) * (dim - 1), rows)


def _to_torch(cell: nn.SpectralNorm, translate: Translate) -> torch.nn.Module:
    shape = (1,) if "_u" not in cell._params else _placeholder_shape(cell._u.shape[0], cell._v.shape[0], cell.dim)
    return parametrizations._SpectralNorm(torch.zeros(shape), cell.n_power_iterations, 0 if len(shape) == 1 else cell.dim, cell.eps)


def _to_funcad(module, translate: Translate) -> Cell:
    if not hasattr(module, "_u"):  # made for a 1-D weight: unit length, no power iteration
        return nn.SpectralNorm(np.zeros(1), eps=module.eps)
    shape = _placeholder_shape(module._u.shape[0], module._v.shape[0], module.dim)
    return nn.SpectralNorm(np.zeros(shape), module.n_power_iterations, module.dim, module.eps)


RULES = [LayerRule(nn.SpectralNorm, parametrizations._SpectralNorm, _to_torch, _to_funcad)]


def torch_hooks(module: torch.nn.Module, keyed: bool = False) -> list:
    """The ``nn.utils.spectral_norm`` hooks among ``module``'s forward pre-hooks (``keyed``: as (handle id, hook) pairs)."""
    return [(key, hook) if keyed else hook for key, hook in module._forward_pre_hooks.items() if isinstance(hook, TorchSpectralNormHook)]


def normalize_funcad_layer(cell: Cell, names: dict, hooks: list[TorchSpectralNormHook]) -> dict:
    """Apply torch's spectral-norm ``hooks`` to ``cell``, the layer's funcad twin whose parameter names map to torch's by
    ``names`` (funcad -> torch, relative to the layer); the names once normalised."""
    by_torch = {tname: fname for fname, tname in names.items()}
    names = dict(names)
    for hook in hooks:
        fname = by_torch[hook.name]
        nn.spectral_norm(cell, fname, hook.n_power_iterations, hook.eps, hook.dim)
        del names[fname]
        names.update({fname + suffix: hook.name + suffix for suffix in _STATE})
    return names


def normalize_torch_layer(cell: Cell, module: torch.nn.Module, names: dict) -> dict:
    """Apply the spectral norms ``funcad.nn.spectral_norm`` put on ``cell`` to ``module``, its torch twin, whose names
    the rule gave as ``names`` (taken from the renamed Parameters: ``embedding_table_orig``); the names corrected."""
    names = dict(names)
    for hook in spectral_norm_hooks(cell):
        prefix, _, _ = names[hook.name + "_orig"].rpartition(".")
        leaf = getattr(cell, "torch_names", {}).get(hook.name, hook.name)
        owner = module.get_submodule(prefix)
        torch.nn.utils.spectral_norm(owner, leaf, hook.n_power_iterations, hook.eps, hook.dim)
        names.update({hook.name + suffix: (f"{prefix}.{leaf}" if prefix else leaf) + suffix for suffix in _STATE})
    return names


@contextlib.contextmanager
def funcad_hooks_paused(cells: list[Cell]) -> Iterator[None]:
    """``cells``' spectral-norm hooks (``funcad.nn.spectral_norm``) off while inside: a mirror trace calls their torch twins,
    which normalise their weights themselves, in their place."""
    removed = []
    for cell in cells:
        table = cell.__dict__.get("_cell_hooks")
        for hook in spectral_norm_hooks(cell):
            for kind in ("forward_pre", "forward"):
                for key, fn in list(table[kind].items()):
                    if fn is hook or getattr(fn, "__self__", None) is hook:
                        removed.append((table[kind], key, fn))
                        del table[kind][key]
    try:
        yield
    finally:
        for hooks, key, fn in removed:
            hooks[key] = fn
