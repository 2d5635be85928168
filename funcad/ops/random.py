"""Dropout: masks drawn from an explicit seed, or from funcad's random key (``funcad.set_seed``).

Without a seed the mask is derived from ``funcad.core.seed.random_key`` inside a primitive and the key's
counter is advanced with ``set_data``: eager calls and the calls of a ``funcad.jit`` program draw the same
sequence of fresh masks, because the compiled program reads and writes the key as Parameter state.

Under vmap, JAX's semantics: an unbatched key gives every member the same draw; a batched key (a stack of keys,
shape (..., 2)) gives each member the draw of its own key, in one call of the primitive.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from funcad.core.batching import leading_axes_rule
from funcad.core.primitive import compiled_as_call, primitive
from funcad.core.seed import random_key
from funcad.core.tensor import Tensor
from funcad.ops.shape import _shape_of


def _scaled_keep_mask(rng: np.random.Generator, shape: tuple, p: float, dtype) -> np.ndarray:
    keep = rng.random(shape) >= p
    return keep.astype(dtype) * dtype.type(1.0 / (1.0 - p))


def per_key(key: np.ndarray, draw: Callable[[np.random.Generator], np.ndarray]) -> np.ndarray:
    """``draw(generator)`` for ``key`` = [seed, counter]; for a stack of keys (..., 2), one draw per key, stacked."""
    if key.ndim == 1:
        return draw(np.random.default_rng([int(k) for k in key]))
    draws = [draw(np.random.default_rng([int(k) for k in row])) for row in key.reshape(-1, key.shape[-1])]
    return np.stack(draws).reshape(key.shape[:-1] + draws[0].shape)


def _torch_mask(torch, key, shape: tuple, p: float, dtype):
    """torch's translation draws the mask from torch's own generator: dropout of ones (the key is funcad's state)."""
    return torch.nn.functional.dropout(torch.ones(shape, dtype=dtype), p)


@primitive(**compiled_as_call(torch=_torch_mask))
def _keyed_mask(key, shape: tuple, p: float, dtype):
    """The inverted-dropout mask for ``key`` = [seed, counter] (or one per key of a stack); a constant (no gradient)."""
    return per_key(key, lambda rng: _scaled_keep_mask(rng, shape, p, dtype))


@primitive(**compiled_as_call(torch=lambda torch, key: key))
def _next_key(key):
    return key + np.array([0, 1], dtype=key.dtype)


_keyed_mask.nondifferentiable()
_next_key.nondifferentiable()
for _prim in (_keyed_mask, _next_key):
    _prim.declare(batch=leading_axes_rule(_prim))


def dropout(x, p: float = 0.5, training: bool = True, seed: int | None = None):
    """Zero each element with probability ``p`` and scale the survivors by 1 / (1 - p) (inverted dropout).

    Identity when ``training`` is False or ``p`` is 0. ``seed`` fixes the mask; without it each call draws a
    fresh mask from funcad's random key (reset by ``funcad.set_seed``), under ``funcad.jit`` as eagerly.
    The mask is a constant: gradients pass through the kept elements, scaled the same way.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"funcad.ops.dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    dtype = np.dtype(x.dtype) if hasattr(x, "dtype") else np.dtype(np.float32)
    shape = _shape_of(x)
    if p == 1.0:
        return x * Tensor._wrap(np.zeros(shape, dtype=dtype))
    if seed is not None:
        return x * Tensor._wrap(_scaled_keep_mask(np.random.default_rng(seed), shape, p, dtype))
    mask = _keyed_mask(random_key, shape=shape, p=float(p), dtype=dtype)
    random_key.set_data(_next_key(random_key))
    return x * mask
