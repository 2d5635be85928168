"""The BLAS floor: the matrix products one jitted step performs, replayed alone. No engine on this machine beats it.

The products are recorded from ``numpy.matmul`` calls, so the im2col products inside the convolutions count too, and
replayed on arrays of the same shapes and memory layouts into preallocated outputs. The convolution floor is the part
of them the convolution kernels make (the GEMMs of the chosen algorithms, im2col's or Winograd's): how far a
convolution-bound step is from what its convolutions cost at the least.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np

CONV_MODULES = "funcad.ops.conv"  # the kernels' modules: conv, conv_winograd, conv_fft, conv_direct


class MatmulRecorder:
    """Records the operand shapes and layouts of every ``numpy.matmul`` call made while active."""

    def __init__(self):
        self.calls: list = []
        self.conv_calls: list = []  # those made by the convolution kernels

    def __enter__(self):
        self.original = np.matmul
        original, calls, conv_calls = self.original, self.calls, self.conv_calls

        def recording(a, b, *args, **kwargs):
            call = (_layout(a), _layout(b))
            calls.append(call)
            if sys._getframe(1).f_globals.get("__name__", "").startswith(CONV_MODULES):
                conv_calls.append(call)
            return original(a, b, *args, **kwargs)

        np.matmul = recording
        return self

    def __exit__(self, *exc):
        np.matmul = self.original
        return False


def _layout(a) -> tuple:
    """(shape, dtype, swapped): ``swapped`` when the array is its last two axes swapped over a C-contiguous one."""
    a = np.asarray(a)
    swapped = a.ndim >= 2 and not a.flags.c_contiguous and np.swapaxes(a, -1, -2).flags.c_contiguous
    return a.shape, a.dtype, swapped


def _operand(layout, rng) -> np.ndarray:
    shape, dtype, swapped = layout
    if swapped:
        return np.swapaxes(rng.standard_normal(shape[:-2] + shape[::-1][:2]).astype(dtype), -1, -2)
    return rng.standard_normal(shape).astype(dtype)


def blas_floor(calls: list) -> Callable[[], None]:
    """A callable running just the recorded products, into preallocated outputs."""
    rng = np.random.default_rng(0)
    work = []
    for la, lb in calls:
        a, b = _operand(la, rng), _operand(lb, rng)
        work.append((a, b, np.matmul(a, b)))

    def run():
        for a, b, out in work:
            np.matmul(a, b, out=out)

    return run
