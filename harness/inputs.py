"""A batch's inputs: one array, or a tuple of arrays for a model whose forward takes several.

The convention, for ``harness.compare(data=...)``, ``--data`` and drawn batches alike: a batch is ``(inputs, target)``,
``inputs`` one array or a tuple (or list) of arrays, one per argument of ``construct``/``forward`` in order
(``((input_ids, attention_mask), labels)``); each side runs ``model(*inputs)``. Floating inputs take the run's dtype,
integer ones (token ids) and boolean ones (masks) keep their kind. The target is always one array.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np

from torch_ref.pipeline import call_model

Inputs = np.ndarray | tuple[np.ndarray, ...]

__all__ = ["Inputs", "call_model", "parts", "as_inputs", "map_inputs", "describe", "arity"]


def parts(x) -> tuple:
    """The inputs of a batch as a tuple, one entry per forward argument."""
    return x if isinstance(x, tuple) else (x,)


def as_inputs(value) -> Inputs:
    """A batch's inputs as given: a tuple or list of arrays (several inputs) becomes a tuple of numpy arrays, anything
    else one numpy array; a tuple of one is that array."""
    if isinstance(value, (tuple, list)) and value and all(hasattr(v, "shape") for v in value):
        arrays = tuple(np.asarray(v) for v in value)
        return arrays if len(arrays) > 1 else arrays[0]
    return np.asarray(value)


def map_inputs(fn: Callable, x):
    """``fn`` applied to each input, the result shaped as ``x`` (one value or a tuple)."""
    return tuple(fn(a) for a in x) if isinstance(x, tuple) else fn(x)


def describe(x) -> str:
    """``float32[32, 784]``, or ``(int64[8, 16], bool[8, 16])`` for several inputs."""
    def one(a) -> str:
        return f"{np.asarray(a).dtype}[{', '.join(map(str, np.shape(a)))}]"

    return f"({', '.join(map(one, x))})" if isinstance(x, tuple) else one(x)


def arity(*models) -> tuple[str, int, int, list[str]] | None:
    """(what, fewest, most, argument names) of the first of ``models`` whose ``construct``/``forward`` takes a fixed list
    of positional arguments (``*args``, as a traced twin's, says nothing), or None when none does."""
    for model in models:
        method = getattr(model, "construct", None) or getattr(model, "forward", None)
        if method is None:  # None: no model given
            continue
        try:
            params = list(inspect.signature(method).parameters.values())
        except (TypeError, ValueError):  # a builtin or a callable without a readable signature
            continue
        if any(p.kind is p.VAR_POSITIONAL for p in params):
            continue
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        required = [p for p in positional if p.default is p.empty]
        what = f"{type(model).__name__}.{method.__name__}"
        return what, len(required), len(positional), [p.name for p in positional]
    return None
