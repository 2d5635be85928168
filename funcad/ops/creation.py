"""Creation ops: constants, ranges and identity matrices (all without gradient)."""

from __future__ import annotations

import numpy as np

from funcad.core.dtypes import default_array
from funcad.core.tensor import Tensor

_wrap = Tensor._wrap


def _dtype(dtype, fallback=np.float32):
    return np.dtype(fallback if dtype is None else dtype)


def tensor(data, dtype=None) -> Tensor:
    return Tensor(data, dtype)


def ones(shape, dtype=None) -> Tensor:
    return _wrap(np.ones(shape, dtype=_dtype(dtype)))


def zeros(shape, dtype=None) -> Tensor:
    return _wrap(np.zeros(shape, dtype=_dtype(dtype)))


def full(shape, fill_value, dtype=None) -> Tensor:
    return _wrap(np.full(shape, fill_value, dtype=None if dtype is None and not isinstance(fill_value, float) else _dtype(dtype)))


def ones_like(x, dtype=None) -> Tensor:
    return _wrap(np.ones(tuple(x.shape) if hasattr(x, "shape") else (), dtype=dtype or _like_dtype(x)))


def zeros_like(x, dtype=None) -> Tensor:
    return _wrap(np.zeros(tuple(x.shape) if hasattr(x, "shape") else (), dtype=dtype or _like_dtype(x)))


def full_like(x, fill_value, dtype=None) -> Tensor:
    return _wrap(np.full(tuple(x.shape), fill_value, dtype=dtype or _like_dtype(x)))


def _like_dtype(x):
    return x.dtype if hasattr(x, "dtype") else default_array(x).dtype


def arange(start=0, end=None, step=1, dtype=None, *, stop=None) -> Tensor:
    """Values from ``start`` up to ``end`` (excluded) by ``step``, or from 0 up to ``start`` given one bound: MindSpore's
    names (``stop`` is numpy's for ``end``); integer ranges are int64, float ranges float32 (MindSpore's default float)."""
    end = stop if end is None else end
    arr = np.arange(start, end, step) if end is not None else np.arange(start)
    if dtype is None:
        dtype = np.float32 if arr.dtype == np.float64 else arr.dtype
    return _wrap(arr.astype(dtype))


def eye(n: int, m: int | None = None, dtype=None, *, k: int = 0) -> Tensor:
    """An n x m identity (ones on diagonal ``k``); MindSpore's argument order, dtype third."""
    if isinstance(dtype, (int, np.integer)) and not isinstance(dtype, bool):
        raise TypeError(f"funcad.ops.eye: the third argument is the dtype (MindSpore's order), got {dtype!r}; pass k= by keyword")
    return _wrap(np.eye(n, m, k, dtype=_dtype(dtype)))


def linspace(start, end=None, steps: int | None = None, endpoint: bool = True, dtype=None, *, stop=None, num: int | None = None) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, float32 unless a dtype is given: MindSpore's names
    (numpy's ``stop`` and ``num`` name the same; 50 values when neither count is given, as numpy)."""
    end = stop if end is None else end
    if end is None:
        raise TypeError("funcad.ops.linspace: missing the end value (end=, or numpy's stop=)")
    steps = num if steps is None else steps
    return _wrap(np.linspace(float(start), float(end), 50 if steps is None else int(steps), endpoint=endpoint).astype(_dtype(dtype)))
