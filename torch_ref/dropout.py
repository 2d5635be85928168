"""Dropout with the same masks in both engines: the torch side draws funcad's masks from a copy of funcad's key.

funcad's ``ops.dropout`` derives each mask from its random key ``[seed, counter]`` and advances the counter. Inside
``aligned_masks()``, torch's ``F.dropout`` and ``F.dropout1d/2d/3d`` derive theirs the same way from
``TORCH_KEY``, so after ``set_mask_key(seed, counter)`` the k-th dropout call on either side draws the same mask.
torch's dropout layers (``nn.Dropout``, ``nn.Dropout1d/2d/3d`` and subclasses) call these functions, as
does a user's forward calling them by ``F.<name>``, so both are aligned without touching the model. The harness
sets the key before each forward, gradient and training step of each engine and runs the torch engine's calls
inside ``aligned_masks()`` (``harness.engines``), so the masks of step n are the same for funcad and torch, in
float32 and in float64. Dropout torch draws inside its own kernels (the attention weights of
``torch.nn.MultiheadAttention``'s fused path, between the layers of ``torch.nn.LSTM``) cannot be aligned this way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from funcad.core.seed import random_key
from funcad.ops.random import _scaled_keep_mask
from torch_ref.arrays import from_numpy, numpy_dtype

TORCH_KEY = np.zeros(2, np.uint64)


def set_mask_key(seed: int, counter: int, engine: str) -> None:
    """Point ``engine``'s ('funcad' or 'torch') next dropout mask at ``[seed, counter]``."""
    key = np.array([seed, counter], np.uint64)
    if engine == "funcad":
        random_key.set_data(key)
    else:
        TORCH_KEY[:] = key


def _masked(x: torch.Tensor, p: float, training: bool, inplace: bool, spatial: int) -> torch.Tensor:
    """``x`` times funcad's next mask: one value per element, or per channel over the last ``spatial`` axes (as
    funcad's ``Dropout1d/2d/3d``)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    shape = tuple(x.shape[: x.dim() - spatial]) + (1,) * spatial
    dtype = numpy_dtype(x.dtype)
    if p == 1.0:
        mask = np.zeros(shape, dtype)
    else:
        rng = np.random.default_rng([int(k) for k in TORCH_KEY])
        TORCH_KEY[1] += 1
        mask = _scaled_keep_mask(rng, shape, float(p), dtype)
    mask_t = from_numpy(mask).to(x.device)
    return x.mul_(mask_t) if inplace else x * mask_t


def _dropout(input, p=0.5, training=True, inplace=False):  # noqa: A002 (torch's signature)
    return _masked(input, p, training, inplace, 0)


def _dropout1d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    return _masked(input, p, training, inplace, 1)


def _dropout2d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    return _masked(input, p, training, inplace, 2)


def _dropout3d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    return _masked(input, p, training, inplace, 3)


ALIGNED = {"dropout": _dropout, "dropout1d": _dropout1d, "dropout2d": _dropout2d, "dropout3d": _dropout3d}


@contextlib.contextmanager
def aligned_masks() -> Iterator[None]:
    """While inside, torch's dropout functions (and so its dropout layers) draw funcad's masks from ``TORCH_KEY``."""
    saved = {name: getattr(F, name) for name in ALIGNED}
    for name, fn in ALIGNED.items():
        setattr(F, name, fn)
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(F, name, fn)
