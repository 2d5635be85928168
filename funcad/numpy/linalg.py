"""``funcad.numpy.linalg``: numpy.linalg's names, differentiable in both modes (rules in funcad.ops.decompositions)."""

from __future__ import annotations

import numpy as np

from funcad.ops.decompositions import cholesky, det, eigh, eigvalsh, inv, qr, slogdet, solve, svd
from funcad.ops.linalg_functions import matrix_power_of, pinv_from_svd
from funcad.ops.reduce import norm
from funcad.ops.shape import cast

__all__ = ["cholesky", "det", "eigh", "eigvalsh", "inv", "matrix_power", "norm", "pinv", "qr", "slogdet", "solve", "svd"]


def pinv(a, rcond: float = 1e-15):
    """The Moore-Penrose pseudo-inverse V diag(1/s) U^T, singular values at or below rcond * max(s) counted as zero;
    integers become float64 first, as numpy's."""
    a = a if np.dtype(a.dtype).kind in "fc" else cast(a, np.float64)
    return pinv_from_svd("numpy.linalg.pinv", a, 0.0, rcond)


def matrix_power(a, n: int):
    """a @ a @ ... (n times) by repeated squaring; n = 0 gives identities, a negative n powers the inverse."""
    return matrix_power_of("numpy.linalg.matrix_power", a, n)
