"""Scratch memory for the convolution and pooling kernels.

The kernels' temporaries (im2col columns, padded inputs, pool taps) are large and short-lived: glibc's malloc gives
such blocks back to the system on free, so each call would fault their pages in afresh. A kernel instead leases them
from its thread's free list and returns them on exit, so the next kernel reuses the same (cache-warm) memory.
"""

from __future__ import annotations

import functools
import threading

import numpy as np

# At most SCRATCH_BYTES stay on a thread's free list.
SCRATCH_BYTES = 1 << 26
_scratch = threading.local()


def _scratch_state():
    state = _scratch.__dict__
    state.setdefault("free", [])  # raw byte buffers, smallest first
    state.setdefault("leased", None)  # buffers the running kernel holds; None outside a kernel
    return state


def with_scratch(impl):
    """Wraps a kernel so the scratch buffers it leases go back to the free list when it returns."""

    @functools.wraps(impl)
    def run(*args, **kwargs):
        state = _scratch_state()
        outer, state["leased"] = state["leased"], []
        try:
            return impl(*args, **kwargs)
        finally:
            leased, state["leased"] = state["leased"], outer
            if outer is not None:
                outer.extend(leased)
            else:
                free = sorted(state["free"] + leased, key=lambda b: b.nbytes)
                while free and sum(b.nbytes for b in free) > SCRATCH_BYTES:
                    free.pop()
                state["free"] = free

    return run


def scratch(shape: tuple, dtype) -> np.ndarray:
    """An uninitialised buffer for a temporary that never leaves its kernel (see ``with_scratch``); a new array outside one."""
    state = _scratch_state()
    if state["leased"] is None:
        return np.empty(shape, dtype=dtype)
    dtype = np.dtype(dtype)
    need = int(np.prod(shape)) * dtype.itemsize
    free = state["free"]
    fits = next((i for i, b in enumerate(free) if b.nbytes >= need), None)  # the smallest that fits
    raw = np.empty(max(need, 1), dtype=np.uint8) if fits is None else free.pop(fits)
    state["leased"].append(raw)
    return raw[:need].view(dtype).reshape(shape)
