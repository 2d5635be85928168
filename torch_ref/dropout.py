"""Dropout with the same masks in both engines: the torch side draws funcad's masks from a copy of funcad's key.

funcad's ``ops.dropout`` derives each mask from its random key ``[seed, counter]`` and advances the counter.
``AlignedDropout`` (a ``torch.nn.Dropout``) derives its masks the same way from ``TORCH_KEY``, so after
``set_mask_key(seed, counter)`` the k-th dropout call on either side draws the same mask. The harness sets the key
before each forward, gradient and training step of each engine (``harness.engines``), so the masks of step n are the
same for funcad and torch, in float32 and in float64. Dropout torch draws inside its own kernels (the attention
weights of ``torch.nn.MultiheadAttention``, between the layers of ``torch.nn.LSTM``) cannot be aligned this way.
"""

from __future__ import annotations

import numpy as np
import torch

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


class AlignedDropout(torch.nn.Dropout):
    """``torch.nn.Dropout`` whose masks are funcad's (see the module docstring)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        rng = np.random.default_rng([int(k) for k in TORCH_KEY])
        TORCH_KEY[1] += 1
        mask = _scaled_keep_mask(rng, tuple(x.shape), float(self.p), numpy_dtype(x.dtype))
        return x * from_numpy(mask).to(x.device)


def align_dropout(module: torch.nn.Module) -> int:
    """Replace every ``torch.nn.Dropout`` below ``module`` by an ``AlignedDropout`` of the same ``p``; returns how many."""
    replaced = 0
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is torch.nn.Dropout:
                setattr(parent, name, AlignedDropout(child.p))
                replaced += 1
    return replaced
