"""Random draws with MindSpore's names: randn, rand, randint, uniform, normal, multinomial.

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
from funcad.core.trace import Tracer
from funcad.ops.math import add, divide, greater, less_equal, log, multiply, subtract, where
from funcad.ops.random import _next_key, per_key


def _draw(rng: np.random.Generator, kind: str, shape: tuple, dtype: np.dtype, low: int, high: int) -> np.ndarray:
    if kind == "normal":
        return rng.standard_normal(shape).astype(dtype)
    if kind == "uniform":
        return rng.random(shape).astype(dtype)
    return rng.integers(low, high, shape).astype(dtype)


def _torch_draw(torch, key, kind: str, shape: tuple, dtype, low: int, high: int):
    """torch's translation draws from torch's own generator (the key is funcad's state); ``torch_ref.dropout.aligned_masks``
    makes torch.rand and torch.randn draw funcad's numbers."""
    if kind == "normal":
        return torch.randn(shape, dtype=dtype)
    if kind == "uniform":
        return torch.rand(shape, dtype=dtype)
    return torch.randint(low, high, shape, dtype=dtype)


@primitive(**compiled_as_call(torch=_torch_draw))
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
    """minval + (maxval - minval) * U[0, 1) of ``shape``, broadcast with the bounds' shapes. With an integer ``dtype``
    (MindSpore's int32) the draw is discrete, as MindSpore's: integers uniform in [minval, maxval), the bounds scalars
    known before the draw."""
    if np.issubdtype(np.dtype(dtype), np.integer):
        low, high = (_integer_bound(name, bound) for name, bound in (("minval", minval), ("maxval", maxval)))
        if not low < high:
            raise ValueError(f"funcad.ops.uniform: minval must be below maxval for integers, got {low} and {high}")
        return _sample("uniform", "integers", (tuple(shape),), dtype, seed, low, high)
    u = _sample("uniform", "uniform", (tuple(shape),), dtype, seed)
    return add(minval, multiply(subtract(maxval, minval), u))


def _integer_bound(name: str, bound) -> int:
    """A bound of the integer uniform draw as a Python int: a concrete scalar integer (a Tensor or a number)."""
    if isinstance(bound, Tracer):
        raise TypeError(f"funcad.ops.uniform: an integer draw needs {name} known before it runs, got a traced value")
    value = np.asarray(bound._concrete() if isinstance(bound, Tensor) else bound)
    if value.size != 1 or not np.issubdtype(value.dtype, np.integer):
        raise ValueError(f"funcad.ops.uniform: with an integer dtype, {name} must be one integer, got {value.tolist()!r}")
    return int(value.reshape(()))


def normal(shape, mean, stddev, seed: int | None = None):
    """mean + stddev * N(0, 1) of ``shape``, broadcast with the shapes of mean and stddev."""
    return add(mean, multiply(stddev, _sample("normal", "normal", (tuple(shape),), np.float32, seed)))


def multinomial(input, num_samples: int, replacement: bool = True, seed: int | None = None) -> Tensor:  # noqa: A002
    """Category indices (int32) drawn from each row of ``input`` (1-D or 2-D non-negative weights, not necessarily
    summing to one): ``num_samples`` per row, with or without replacement. For sampling tokens or classes by their
    probabilities; the draw comes from funcad's key (``seed`` fixes it), so it repeats after ``funcad.set_seed``
    and runs under ``funcad.jit``."""
    from funcad.ops.indexing import topk
    from funcad.ops.reduce import cumsum
    from funcad.ops.reduce import sum as total
    from funcad.ops.shape import cast, expand_dims

    if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral) or num_samples < 1:
        raise ValueError(f"funcad.ops.multinomial: num_samples must be a positive int, got {num_samples!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise ValueError(f"funcad.ops.multinomial: seed must be a non-negative int or None, got {seed!r}")
    dims = tuple(input.shape) if hasattr(input, "shape") else np.shape(input)
    if len(dims) not in (1, 2) or dims[-1] < 1:
        raise ValueError(f"funcad.ops.multinomial: input must be 1-D or 2-D weights, got shape {dims}")
    if not replacement and num_samples > dims[-1]:
        raise ValueError(f"funcad.ops.multinomial: num_samples {num_samples} exceeds the {dims[-1]} categories without replacement")
    if not isinstance(input, Tracer):  # concrete weights can be checked
        raw = np.asarray(input._data if isinstance(input, Tensor) else input, np.float64)
        if not np.all(np.isfinite(raw)) or np.any(raw < 0) or np.any(raw.sum(axis=-1) <= 0):
            raise ValueError(f"funcad.ops.multinomial: input rows must be finite, non-negative and have a positive sum, got {raw.tolist()}")
    weights = input if isinstance(input, Tensor) else Tensor(np.asarray(input, np.float32))
    rows = weights if len(dims) == 2 else expand_dims(weights, 0)
    n_rows = 1 if len(dims) == 1 else dims[0]
    rows = cast(rows, np.float64)
    if replacement:
        # inverse CDF: the index of a draw is the number of cumulative weights (but the total) at or below u * total
        u = _sample("multinomial", "uniform", ((n_rows, num_samples),), np.float64, seed)
        cdf = cumsum(rows, axis=-1)
        target = multiply(u, cdf[:, -1:])
        below = cast(less_equal(expand_dims(cdf[:, :-1], 1), expand_dims(target, 2)), np.int32)
        out = total(below, -1)
    else:  # exponential races: the num_samples categories that finish first (a zero weight never finishes)
        u = _sample("multinomial", "uniform", ((n_rows, dims[-1]),), np.float64, seed)
        weighted = greater(rows, 0.0)
        finish = where(weighted, divide(log(subtract(1.0, u)), where(weighted, rows, 1.0)), -np.inf)  # minus the time -log(1 - u) / w
        out = topk(finish, num_samples)[1]
    out = cast(out, np.int32)
    return out if len(dims) == 2 else out[0]

