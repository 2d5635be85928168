"""The one range check for integer indices (class targets, embedding rows, one-hot classes).

numpy would wrap a negative index around silently, and an index past the end fails deep inside an op with
numpy's own words; every op taking indices checks them here instead, with an error naming the op.
"""

from __future__ import annotations

import numpy as np


def check_index_range(op: str, indices: np.ndarray, size: int, what: str = "indices", detail: str = "", ignore_index: int | None = None,
                      error: type = IndexError) -> tuple | None:
    """Raise ``error`` unless every index lies in [0, size) or equals ``ignore_index`` (when given); return the
    indices' (min, max), None when there are none.

    Costs two reductions when every index is in range. The message names the op, the range and the offending
    values: their overall range, or with ``ignore_index`` the first few out-of-range values that are not ignored.
    """
    if not indices.size:
        return None
    lo, hi = np.minimum.reduce(indices, axis=None), np.maximum.reduce(indices, axis=None)
    if 0 <= lo and hi < size:
        return lo, hi
    if ignore_index is None:
        raise error(f"funcad.ops.{op}: {what} must lie in [0, {size}){detail}, got values in [{lo}, {hi}]")
    bad = indices[((indices < 0) | (indices >= size)) & (indices != ignore_index)]
    if bad.size:
        raise error(f"funcad.ops.{op}: {what} must lie in [0, {size}) or equal ignore_index={ignore_index}, got {bad[:5].tolist()}")
    return lo, hi
