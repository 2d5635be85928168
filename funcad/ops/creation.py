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
    """numpy.arange; float ranges default to float32 (MindSpore's default float)."""
    arr = np.arange(start, stop, step) if stop is not None else np.arange(start)
    if dtype is None:
        dtype = np.float32 if arr.dtype == np.float64 else arr.dtype
    return _wrap(arr.astype(dtype))


def eye(n: int, m: int | None = None, dtype=None, *, k: int = 0) -> Tensor:
    """An n x m identity (ones on diagonal ``k``); MindSpore's argument order, dtype third."""
    if isinstance(dtype, (int, np.integer)) and not isinstance(dtype, bool):
        raise TypeError(f"funcad.ops.eye: the third argument is the dtype (MindSpore's order), got {dtype!r}; pass k= by keyword")
    return _wrap(np.eye(n, m, k, dtype=_dtype(dtype)))


def linspace(start, stop, num: int = 50, endpoint: bool = True, dtype=None) -> Tensor:
    """Evenly spaced values (numpy.linspace), float32 unless a dtype is given."""
    return _wrap(np.linspace(float(start), float(stop), num, endpoint=endpoint).astype(_dtype(dtype)))
