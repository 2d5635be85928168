"""Random ops with explicit seeds: the same seed gives the same mask, so runs are reproducible."""

from __future__ import annotations

import numpy as np

from funcad.core.dtypes import global_rng
from funcad.core.tensor import Tensor
from funcad.ops.shape import _shape_of


def dropout(x, p: float = 0.5, training: bool = True, seed: int | None = None):
    """Zero each element with probability ``p`` and scale the survivors by 1 / (1 - p) (inverted dropout).

    Identity when ``training`` is False or ``p`` is 0. ``seed`` fixes the mask; without it the mask is
    drawn from funcad's global generator (``funcad.set_seed``). The mask is a constant: gradients
    pass through the kept elements, scaled the same way.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"funcad.ops.dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    dtype = x.dtype if hasattr(x, "dtype") else np.dtype(np.float32)
    rng = global_rng() if seed is None else np.random.default_rng(seed)
    shape = _shape_of(x)
    if p == 1.0:
        return x * Tensor._wrap(np.zeros(shape, dtype=dtype))
    keep = rng.random(shape) >= p
    return x * Tensor._wrap(keep.astype(dtype) * dtype.type(1.0 / (1.0 - p)))
