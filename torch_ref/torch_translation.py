"""Reads a primitive's ``torch`` declaration (``funcad.core.primitive``): the torch callable an fx node runs for it.

A declared name is looked up in torch's namespace (``"nn.functional.silu"`` -> ``torch.nn.functional.silu``) and called
as it is, so the emitted code reads ``torch.matmul(x, w)``; a recipe ``f(torch, *args, **kwargs)`` (alone or beside a
name) is wrapped once into a function named after the primitive, which is the name the generated code shows. Constants of a traced graph become
torch values here too: numpy dtypes torch dtypes, numpy scalars Python numbers, arrays tensors.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from funcad.core.dtypes import DType
from funcad.core.primitive import Primitive
from torch_ref.arrays import from_numpy, torch_dtype

_RECIPES: dict[str, Callable] = {}


def torch_name(prim: Primitive) -> str | None:
    """The torch function ``prim`` declares itself to be (``"matmul"``, ``"nn.functional.silu"``); None for a recipe alone."""
    declared = prim.torch
    if isinstance(declared, tuple):
        return declared[0]
    return declared if isinstance(declared, str) else None


def torch_function(name: str) -> Callable:
    """``torch.<name>``, the name dotted below torch's namespace."""
    target = torch
    for part in name.split("."):
        target = getattr(target, part)
    return target


def torch_callable(prim: Primitive) -> Callable | None:
    """What torch runs for ``prim``; None when the primitive declares no translation."""
    declared = prim.torch[1] if isinstance(prim.torch, tuple) else prim.torch
    if not declared:
        return None
    if isinstance(declared, str):
        return torch_function(declared)
    wrapped = _RECIPES.get(prim.name)
    if wrapped is None or wrapped.recipe is not declared:
        wrapped = _RECIPES[prim.name] = _wrap(prim.name, declared)
    return wrapped


def _wrap(name: str, recipe: Callable) -> Callable:
    def run(*args, **kwargs):
        return recipe(torch, *args, **kwargs)

    run.__name__ = run.__qualname__ = name
    run.recipe = recipe
    return run


def torch_value(value, tensor: Callable[[torch.Tensor], object]):
    """``value`` (a constant of the traced graph) for torch code; ``tensor(t)`` places an array constant in the module."""
    if isinstance(value, (np.dtype, DType)) or (isinstance(value, type) and issubclass(value, np.generic)):
        return torch_dtype(value)  # a constant tensor's dtype is funcad's DType (Tensor.dtype), a traced one's numpy's
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return tensor(from_numpy(value.copy()))
    if isinstance(value, (tuple, list)):  # a NamedTuple (a convolution's Geometry) becomes a plain tuple
        return (list if isinstance(value, list) else tuple)(torch_value(v, tensor) for v in value)
    if isinstance(value, dict):
        return {k: torch_value(v, tensor) for k, v in value.items()}
    if isinstance(value, slice):
        return slice(*(torch_value(v, tensor) for v in (value.start, value.stop, value.step)))
    return value
