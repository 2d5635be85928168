"""Random draws with MindSpore's names: randn, rand, randint, uniform, normal.

As dropout's masks, a draw without ``seed`` comes from funcad's random key (``funcad.set_seed``) inside a
primitive that advances the key, so a ``funcad.jit`` program draws the same fresh numbers as eager code;
``seed`` fixes the draw. ``uniform`` and ``normal`` scale a standard draw by their Tensor arguments, so
gradients reach ``minval``/``maxval`` and ``mean``/``stddev``.
"""

from __future__ import annotations

import numbers

import numpy as np

from funcad.core.batching import leading_axes_rule
from funcad.core.primitive import compiled_as_call, primitive
from funcad.core.seed import random_key
from funcad.core.tensor import Tensor
from funcad.ops.math import add, multiply, subtract
from funcad.ops.random import _next_key, per_key


def _draw(rng: np.random.Generator, kind: str, shape: tuple, dtype: np.dtype, low: int, high: int) -> np.ndarray:
    if kind == "normal":
        return rng.standard_normal(shape).astype(dtype)
    if kind == "uniform":
        return rng.random(shape).astype(dtype)
    return rng.integers(low, high, shape).astype(dtype)


@primitive(**compiled_as_call())
def _keyed_draw(key, kind: str, shape: tuple, dtype, low: int, high: int):
    """A draw for ``key`` = [seed, counter] (or one per key of a stack, as dropout's masks); a constant (no gradient)."""
    return per_key(key, lambda rng: _draw(rng, kind, shape, dtype, low, high))


_keyed_draw.nondifferentiable()
_keyed_draw.declare(batch=leading_axes_rule(_keyed_draw))


def _sample(op: str, kind: str, shape, dtype, seed, low: int = 0, high: int = 0) -> Tensor:
    shape = _checked_shape(op, shape)
    dtype = np.dtype(dtype)
    if seed is not None:
        return Tensor._wrap(_draw(np.random.default_rng(seed), kind, shape, dtype, low, high))
    out = _keyed_draw(random_key, kind=kind, shape=shape, dtype=dtype, low=low, high=high)
    random_key.set_data(_next_key(random_key))
    return out


def _checked_shape(op: str, shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shape = tuple(shape)
    if not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise ValueError(f"funcad.ops.{op}: the shape must be non-negative ints, got {shape}")
    return tuple(int(n) for n in shape)


def randn(*size, dtype=None, seed: int | None = None) -> Tensor:
    """Standard normal numbers of shape ``size`` (float32 unless ``dtype``)."""
    return _sample("randn", "normal", size, dtype or np.float32, seed)


def standard_normal(shape, seed: int = 0, seed2: int = 0) -> Tensor:
    """Standard normal float32 numbers of ``shape`` (MindSpore's form: seeds 0 and 0 draw from funcad's key)."""
    return normal_draw(tuple(shape), np.float32, None if seed == seed2 == 0 else (seed, seed2))


def normal_draw(shape: tuple, dtype, seed) -> Tensor:
    """Standard normal numbers of ``shape`` and ``dtype``: from ``seed`` (any numpy seed), or from funcad's key for None."""
    return _sample("StandardNormal", "normal", (shape,), dtype, seed)


def rand(*size, dtype=None, seed: int | None = None) -> Tensor:
    """Uniform numbers in [0, 1) of shape ``size`` (float32 unless ``dtype``)."""
    return _sample("rand", "uniform", size, dtype or np.float32, seed)


def randint(low: int, high: int, size, seed: int | None = None, *, dtype=None) -> Tensor:
    """Integers drawn uniformly from [low, high) (int64 unless ``dtype``)."""
    if not low < high:
        raise ValueError(f"funcad.ops.randint: low must be below high, got low={low}, high={high}")
    return _sample("randint", "integers", (tuple(size),), dtype or np.int64, seed, int(low), int(high))


def uniform(shape, minval, maxval, seed: int | None = None, dtype=np.float32):
    """minval + (maxval - minval) * U[0, 1) of ``shape``, broadcast with the bounds' shapes."""
    u = _sample("uniform", "uniform", (tuple(shape),), dtype, seed)
    return add(minval, multiply(subtract(maxval, minval), u))


def normal(shape, mean, stddev, seed: int | None = None):
    """mean + stddev * N(0, 1) of ``shape``, broadcast with the shapes of mean and stddev."""
    return add(mean, multiply(stddev, _sample("normal", "normal", (tuple(shape),), np.float32, seed)))
