"""funcad's global seed: the generator initialisers draw from, and the key random ops read and advance.

Random ops (``ops.dropout`` without a seed) do not draw from a Python-side generator: they read
``random_key`` (a Parameter holding ``[seed, counter]``) through ops, derive their numbers from it inside
a primitive, and advance the counter with ``set_data``. A ``funcad.jit`` program therefore reads and
writes the key as state like any other Parameter, and draws a fresh mask on every call, the same
sequence eager execution draws after the same ``set_seed``.
"""

from __future__ import annotations

import numbers

import numpy as np

from funcad.core.tensor import Parameter

_rng = np.random.default_rng(0)
_seed = 0
random_key = Parameter(np.zeros(2, np.uint64), name="funcad.random_key", requires_grad=False)


def set_seed(seed: int) -> None:
    """Reset the generator used by initialisers and shuffling, and the key random ops draw from."""
    global _rng, _seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"funcad.set_seed: seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"funcad.set_seed: seed must be a non-negative integer, got {seed}")
    _seed = int(seed)
    _rng = np.random.default_rng(_seed)
    random_key.set_data(np.array([_seed, 0], np.uint64))


def get_seed() -> int:
    return _seed


def global_rng() -> np.random.Generator:
    return _rng
