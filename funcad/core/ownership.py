"""Whether an array may be overwritten in place: nothing but its owner and the caller's own names can see it.

Eager in-place Parameter updates and a compiled program's spare arrays both ask this, with one convention: the
caller says how many references it knows of (the owner's slot plus each of its own local names holding the array),
and a reference count taken here, calibrated once, tells whether anything else holds the array.
"""

from __future__ import annotations

import sys

import numpy as np


class _Slot:
    __slots__ = ("array",)


def _refcount(array) -> int:
    return sys.getrefcount(array)


def _call_overhead() -> int:
    """The references a call shaped like ``sole_owner``'s adds to what its caller holds."""
    slot = _Slot()
    slot.array = np.zeros(1)
    return _refcount(slot.array) - 1  # minus the slot


_OVERHEAD = _call_overhead()


def sole_owner(array: np.ndarray, holders: int) -> bool:
    """Whether ``array`` is neither a view nor read-only and is held by exactly ``holders`` references: its owner's
    slot and the caller's local names (a call ``sole_owner(p._data, 1)`` passes the slot alone)."""
    return sys.getrefcount(array) == _OVERHEAD + holders and array.base is None and array.flags.writeable
