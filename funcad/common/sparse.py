"""COOTensor and CSRTensor: MindSpore's sparse 2-D tensors, as containers of their index and value Tensors.

They hold and convert data (``astype``, ``to_dense``, ``abs``); funcad has no sparse kernels, so computing with
one means ``to_dense()`` first. The dense result comes from the values through ops, so gradients reach them.
"""

from __future__ import annotations

import numpy as np

from funcad import ops
from funcad.core.dtypes import DType
from funcad.core.tensor import Tensor


def _as_tensor(value, name: str, owner: str, ndim: int, integer: bool) -> Tensor:
    t = value if isinstance(value, Tensor) else Tensor(value)
    if t.ndim != ndim:
        raise ValueError(f"{owner}: {name} must be {ndim}-D, got shape {t.shape}")
    if integer and np.dtype(t.dtype).kind not in "iu":
        raise TypeError(f"{owner}: {name} must hold integers, got {t.dtype}")
    return t


def _shape(shape, owner: str) -> tuple:
    shape = tuple(int(n) for n in shape)
    if len(shape) != 2 or min(shape) < 0:
        raise ValueError(f"{owner}: shape must be 2-D and non-negative, got {shape}")
    return shape


class COOTensor:
    """Non-zero ``values`` (N,) at ``indices`` (N, 2) of a dense ``shape`` (coordinate format)."""

    def __init__(self, indices=None, values=None, shape=None):
        self.indices = _as_tensor(indices, "indices", "COOTensor", 2, integer=True)
        self.values = _as_tensor(values, "values", "COOTensor", 1, integer=False)
        self.shape = _shape(shape, "COOTensor")
        n = self.values.shape[0]
        if self.indices.shape != (n, 2):
            raise ValueError(f"COOTensor: indices must have shape ({n}, 2) for {n} values, got {self.indices.shape}")
        idx = self.indices.asnumpy()
        if n and (idx.min() < 0 or np.any(idx.max(axis=0) >= np.array(self.shape))):
            raise ValueError(f"COOTensor: indices out of range for shape {self.shape}")

    @property
    def dtype(self) -> DType:
        return self.values.dtype

    def astype(self, dtype) -> COOTensor:
        return COOTensor(self.indices, self.values.astype(dtype), self.shape)

    def abs(self) -> COOTensor:
        return COOTensor(self.indices, ops.abs(self.values), self.shape)

    def to_dense(self) -> Tensor:
        """The dense (rows, cols) Tensor; repeated indices add up, as in MindSpore."""
        rows, cols = self.shape
        if self.values.shape[0] == 0:
            return ops.zeros(self.shape, self.dtype)
        flat = self.indices.asnumpy() @ np.array([cols, 1])
        picks = ops.one_hot(flat, rows * cols, dtype=np.dtype(self.dtype))  # (values, rows * cols)
        return ops.reshape(ops.matmul(self.values, picks), self.shape)

    def __repr__(self) -> str:
        return f"COOTensor(shape={list(self.shape)}, dtype={self.dtype}, indices={self.indices}, values={self.values})"


class CSRTensor:
    """Compressed sparse rows: row r's values are ``values[indptr[r]:indptr[r+1]]`` at columns ``indices[...]``."""

    def __init__(self, indptr=None, indices=None, values=None, shape=None):
        self.indptr = _as_tensor(indptr, "indptr", "CSRTensor", 1, integer=True)
        self.indices = _as_tensor(indices, "indices", "CSRTensor", 1, integer=True)
        self.values = _as_tensor(values, "values", "CSRTensor", 1, integer=False)
        self.shape = _shape(shape, "CSRTensor")
        ptr = self.indptr.asnumpy()
        n = self.values.shape[0]
        if ptr.shape[0] != self.shape[0] + 1 or ptr[0] != 0 or ptr[-1] != n or np.any(np.diff(ptr) < 0):
            raise ValueError(f"CSRTensor: indptr must rise from 0 to {n} (the number of values) in {self.shape[0] + 1} "
                             f"entries, got {ptr.tolist()}")
        if self.indices.shape != (n,):
            raise ValueError(f"CSRTensor: indices must have one column per value ({n}), got shape {self.indices.shape}")
        if n and (self.indices.asnumpy().min() < 0 or self.indices.asnumpy().max() >= self.shape[1]):
            raise ValueError(f"CSRTensor: column indices out of range for shape {self.shape}")

    @property
    def dtype(self) -> DType:
        return self.values.dtype

    def astype(self, dtype) -> CSRTensor:
        return CSRTensor(self.indptr, self.indices, self.values.astype(dtype), self.shape)

    def abs(self) -> CSRTensor:
        return CSRTensor(self.indptr, self.indices, ops.abs(self.values), self.shape)

    def to_coo(self) -> COOTensor:
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr.asnumpy()))
        return COOTensor(np.stack([rows, self.indices.asnumpy()], axis=1), self.values, self.shape)

    def to_dense(self) -> Tensor:
        return self.to_coo().to_dense()

    def __repr__(self) -> str:
        return (f"CSRTensor(shape={list(self.shape)}, dtype={self.dtype}, indptr={self.indptr}, indices={self.indices}, "
                f"values={self.values})")
