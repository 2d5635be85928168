"""``funcad.numpy.linalg``: numpy.linalg's names, differentiable in both modes (rules in funcad.ops.decompositions)."""

from __future__ import annotations

import numpy as np

from funcad.core.base_ops import shape_of as _shape_of
from funcad.core.tensor import Tensor
from funcad.ops.decompositions import cholesky, det, eigh, eigvalsh, inv, qr, slogdet, solve, svd
from funcad.ops.linalg import matmul
from funcad.ops.math import divide, greater, multiply, where
from funcad.ops.reduce import amax as _max
from funcad.ops.reduce import norm
from funcad.ops.shape import broadcast_to, expand_dims, swapaxes

__all__ = ["cholesky", "det", "eigh", "eigvalsh", "inv", "matrix_power", "norm", "pinv", "qr", "slogdet", "solve", "svd"]


def pinv(a, rcond: float = 1e-15):
    """The Moore-Penrose pseudo-inverse V diag(1/s) U^T, singular values at or below rcond * max(s) counted as zero."""
    u, s, vh = svd(a)
    keep = greater(s, multiply(rcond, _max(s, -1, True)))
    inv_s = where(keep, divide(1.0, where(keep, s, 1.0)), 0.0)
    return matmul(swapaxes(vh, -1, -2), multiply(expand_dims(inv_s, -1), swapaxes(u, -1, -2)))


def matrix_power(a, n: int):
    """a @ a @ ... (n times) by repeated squaring; n = 0 gives identities, a negative n powers the inverse."""
    shape = _shape_of(a)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(f"funcad.numpy.linalg.matrix_power: needs square matrices in the last two axes, got shape {shape}")
    if not isinstance(n, (int, np.integer)):
        raise TypeError(f"funcad.numpy.linalg.matrix_power: the exponent must be an int, got {n!r}")
    if n == 0:
        return broadcast_to(Tensor._wrap(np.eye(shape[-1], dtype=np.dtype(a.dtype))), shape)
    base, n = (inv(a), -n) if n < 0 else (a, n)
    result = None
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result
