"""Mini-batches over in-memory arrays."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from funcad.core.seed import global_rng


def batches(x, y, batch_size: int, shuffle: bool = False, seed: int | None = None, drop_remainder: bool = False) -> Iterator[tuple]:
    """Yield ``(x_batch, y_batch)`` numpy slices covering every sample once per pass.

    ``shuffle`` permutes the order with ``seed`` (or funcad's global generator, see ``funcad.set_seed``);
    ``drop_remainder`` skips a last, smaller batch.
    """
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"batches: x has {len(x)} samples but y has {len(y)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batches: batch_size must be a positive int, got {batch_size!r}")
    n = len(x)
    if shuffle:
        order = (np.random.default_rng(seed) if seed is not None else global_rng()).permutation(n)
    else:
        order = None
    stop = n - n % batch_size if drop_remainder else n
    for start in range(0, stop, batch_size):
        if order is None:
            yield x[start:start + batch_size], y[start:start + batch_size]
        else:
            index = order[start:start + batch_size]
            yield x[index], y[index]
