"""Convolution by FFT (scipy.fft): for stride 1 and dilation 1, worth it for large kernels, whose cost it does not grow with.

The padded input plane (Hp x Wp) sets the transform size; a correlation of length Hp computed
circularly wraps nothing into the outputs kept, so forward, input gradient and weight gradient are
each one product per frequency, summed over channels as a batched complex GEMM:

    forward      Y[n, o]  = sum_c X[n, c] conj(W[o, c])     -> top-left (OH, OW)
    input grad   dX[n, c] = sum_o G[n, o] W[o, c]           -> the unpadded window of the plane
    weight grad  dW[o, c] = sum_n conj(G[n, o]) X[n, c]     -> top-left (kh, kw)

Single precision stays single (complex64). Rounding grows with log(Hp * Wp) rather than with the
kernel size, and is measured against torch in the tests.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as _fft


def _spectrum(a, size: tuple[int, int], conjugate: bool = False):
    """rfft2 of the last two axes at the transform size, frequencies moved to the front: (A, B, h, w) -> (F, A, B)."""
    spec = _fft.rfft2(a, s=size, axes=(2, 3))
    if conjugate:
        np.conjugate(spec, out=spec)
    a, b, h, w = spec.shape
    return spec.reshape(a, b, h * w).transpose(2, 0, 1)


def _grouped(spec, groups: int, split_rows: bool):
    """(F, A, B) -> (F, groups, A, B/groups), or with ``split_rows`` (F, groups, A/groups, B): contiguous GEMM operands."""
    f, a, b = spec.shape
    if split_rows:
        return np.ascontiguousarray(spec.reshape(f, groups, a // groups, b))
    return np.ascontiguousarray(spec.reshape(f, a, groups, b // groups).transpose(0, 2, 1, 3))


def _planes(spec, size: tuple[int, int], dtype):
    """(A, B, F) complex -> (A, B, Hp, Wp) real planes."""
    a, b, _ = spec.shape
    return _fft.irfft2(spec.reshape(a, b, size[0], size[1] // 2 + 1), s=size, axes=(2, 3)).astype(dtype, copy=False)


def _padded(x, padding):
    pt, pb, pl, pr = padding
    n, c, h, w = x.shape
    out = np.zeros((n, c, h + pt + pb, w + pl + pr), dtype=x.dtype)
    out[:, :, pt : pt + h, pl : pl + w] = x
    return out


def _kernels(w, size, groups: int, conjugate: bool = False):
    """(O, C/groups, kh, kw) -> (F, groups, O/groups, C/groups)."""
    return _grouped(_spectrum(w, size, conjugate), groups, split_rows=True)


def forward(x, w, padding, groups: int):
    dtype = np.result_type(x.dtype, w.dtype)
    padded = _padded(x, padding)
    size = padded.shape[2:]
    product = np.matmul(_grouped(_spectrum(padded, size), groups, False), _kernels(w, size, groups, True).transpose(0, 1, 3, 2))
    f, n, o = product.shape[0], x.shape[0], w.shape[0]
    planes = _planes(product.transpose(2, 1, 3, 0).reshape(n, o, f), size, dtype)  # (F, groups, N, O/groups) -> (N, O, F)
    return np.ascontiguousarray(planes[:, :, : size[0] - w.shape[2] + 1, : size[1] - w.shape[3] + 1])


def input_grad(g, w, padding, groups: int, x_shape: tuple):
    pt, pb, pl, pr = padding
    n, c, h, wd = x_shape
    size = (h + pt + pb, wd + pl + pr)
    product = np.matmul(_grouped(_spectrum(g, size), groups, False), _kernels(w, size, groups))  # (F, groups, N, C/groups)
    planes = _planes(product.transpose(2, 1, 3, 0).reshape(n, c, product.shape[0]), size, np.result_type(g.dtype, w.dtype))
    return np.ascontiguousarray(planes[:, :, pt : pt + h, pl : pl + wd])


def weight_grad(x, g, padding, groups: int, w_shape: tuple):
    padded = _padded(x, padding)
    size = padded.shape[2:]
    cotangents = _grouped(_spectrum(g, size, conjugate=True), groups, False).transpose(0, 1, 3, 2)  # (F, groups, O/groups, N)
    product = np.matmul(cotangents, _grouped(_spectrum(padded, size), groups, False))  # (F, groups, O/groups, C/groups)
    planes = _planes(product.transpose(1, 2, 3, 0).reshape(w_shape[0], w_shape[1], product.shape[0]), size,
                     np.result_type(x.dtype, g.dtype))
    return np.ascontiguousarray(planes[:, :, : w_shape[2], : w_shape[3]])
