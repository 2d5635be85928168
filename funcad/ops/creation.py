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


def arange(start, stop=None, step=1, dtype=None) -> Tensor:
    arr = np.arange(start, stop, step) if stop is not None else np.arange(start)
    return _wrap(arr.astype(dtype) if dtype is not None else default_array(arr))


def eye(n: int, m: int | None = None, dtype=None) -> Tensor:
    return _wrap(np.eye(n, m, dtype=_dtype(dtype)))


def linspace(start, stop, num: int, dtype=None) -> Tensor:
    return _wrap(np.linspace(start, stop, num, dtype=_dtype(dtype)))
