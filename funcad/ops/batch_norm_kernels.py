"""Training-mode BatchNorm's four kernels as single loops over the activations (compiled by numba), for float32 and
float64 arrays.

Written in NumPy, the moments, the normalisation, the per-channel sums and the input gradient take about fourteen
passes over an (N, C, *) array, each reading and writing all of it; here each kernel is one loop nest over the
array viewed as (N, C, S), so the moments take two passes (the mean, then the centred squares) and the other three
one each. Sums accumulate in float64 whatever the input's dtype (as torch's CPU kernels do), in an order LLVM may
vectorise (``reassoc``): deterministic for a given machine, within a few ulps of float64 in float32. The elementwise
kernels evaluate the same expressions, in the same order and dtype, as the NumPy forms they replace, so their
results are bitwise those given the same operands.

Kernels compile on first use and are cached on disk next to this module (or in numba's user cache when that is not
writable; where neither is, they compile once per process). Other dtypes (float16, bfloat16) take the NumPy forms in ``funcad.ops.batch_norm_train``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_REDUCTION = {"reassoc"}  # lets sums vectorise; NaN and inf still propagate (no nnan/ninf)

KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def applies(*arrays: np.ndarray) -> bool:
    """Whether the fused kernels take these operands (the full-size one first): all of one dtype the kernels are
    compiled for, with axes after the channels. An (N, C) array has one element per (sample, channel) row, where the
    row loops cost more than NumPy's whole-array passes."""
    return arrays[0].ndim > 2 and arrays[0].dtype in KERNEL_DTYPES and all(a.dtype == arrays[0].dtype for a in arrays)


def _compiled(**flags):
    """numba's ``njit`` with an on-disk cache where numba finds a writable place for one."""

    def compile_(fn):
        try:
            return njit(cache=True, nogil=True, **flags)(fn)
        except RuntimeError:  # numba's "cannot cache function ...: no locator available"
            return njit(nogil=True, **flags)(fn)

    return compile_


def _planes(a: np.ndarray) -> np.ndarray:
    """An (N, C, *) array viewed (or copied, when its strides do not allow a view) as (N, C, S)."""
    return a.reshape(a.shape[0], a.shape[1], math.prod(a.shape[2:]))


@_compiled(fastmath=_REDUCTION)
def _sum_and_centred_squares(x):
    n, c, s = x.shape
    total = np.zeros(c)
    for i in range(n):
        for j in range(c):
            acc = 0.0
            for k in range(s):
                acc += x[i, j, k]
            total[j] += acc
    mean = total / max(n * s, 1)
    squares = np.zeros(c)
    for i in range(n):
        for j in range(c):
            m = mean[j]
            acc = 0.0
            for k in range(s):
                d = x[i, j, k] - m
                acc += d * d
            squares[j] += acc
    return total, squares


@_compiled()
def _scale_shift(x, scale, shift, out):
    n, c, s = x.shape
    for i in range(n):
        for j in range(c):
            a, b = scale[j], shift[j]
            for k in range(s):
                out[i, j, k] = x[i, j, k] * a + b


@_compiled(fastmath=_REDUCTION)
def _dot_centred_and_sum(g, x, mean):
    n, c, s = x.shape
    dots, totals = np.zeros(c), np.zeros(c)
    for i in range(n):
        for j in range(c):
            m = np.float64(mean[j])
            dot, total = 0.0, 0.0
            for k in range(s):
                gk = np.float64(g[i, j, k])
                dot += gk * (x[i, j, k] - m)
                total += gk
            dots[j] += dot
            totals[j] += total
    return dots, totals


@_compiled()
def _input_grad(g, x, mean, xhat_coef, shift, scale, out):
    n, c, s = x.shape
    for i in range(n):
        for j in range(c):
            m, a, b, d = mean[j], xhat_coef[j], shift[j], scale[j]
            for k in range(s):
                out[i, j, k] = ((g[i, j, k] - (x[i, j, k] - m) * a) - b) * d


def moments(x: np.ndarray) -> np.ndarray:
    """(2, C) in ``x``'s dtype: each channel's mean and biased variance over all axes but 1."""
    planes = _planes(x)
    count = planes.shape[0] * planes.shape[2]
    total, squares = _sum_and_centred_squares(planes)
    with np.errstate(invalid="ignore", divide="ignore"):  # an empty batch gives NaN statistics, as numpy's mean does
        return np.stack([total / count, squares / count]).astype(x.dtype)


def scale_shift(x: np.ndarray, scale: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``x * scale + shift`` with (C,) ``scale`` and ``shift`` broadcast over channel axis 1."""
    out = np.empty(x.shape, x.dtype)
    _scale_shift(_planes(x), scale, shift, _planes(out))
    return out


def centred_dots_and_sums(g: np.ndarray, x: np.ndarray, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per channel ``sum(g * (x - mean))`` and ``sum(g)``, in float64."""
    return _dot_centred_and_sum(_planes(g), _planes(x), mean)


def input_grad(g: np.ndarray, x: np.ndarray, mean: np.ndarray, xhat_coef: np.ndarray, shift: np.ndarray,
               scale: np.ndarray) -> np.ndarray:
    """``((g - (x - mean) * xhat_coef) - shift) * scale``, the coefficients (C,) per channel."""
    out = np.empty(x.shape, x.dtype)
    _input_grad(_planes(g), _planes(x), mean, xhat_coef, shift, scale, _planes(out))
    return out
