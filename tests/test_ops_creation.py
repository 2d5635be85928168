"""Creation ops against numpy, with MindSpore's float32 default for Python floats."""

from __future__ import annotations

import numpy as np
import pytest

import funcad
from funcad import ops
from funcad.testing import assert_close


def test_creation_matches_numpy():
    assert_close(ops.zeros((2, 3)), np.zeros((2, 3), np.float32))
    assert_close(ops.ones(4, dtype="float64"), np.ones(4))
    assert_close(ops.full((2,), 3.5), np.full(2, 3.5, np.float32))
    assert ops.full((2,), 3).dtype == np.int64
    x = np.arange(6.0).reshape(2, 3)
    assert_close(ops.zeros_like(x), np.zeros_like(x))
    assert_close(ops.ones_like(x, dtype=np.float32), np.ones((2, 3), np.float32))
    assert_close(ops.full_like(x, 7.0), np.full_like(x, 7.0))
    assert_close(ops.arange(5), np.arange(5))
    assert_close(ops.arange(0.0, 1.0, 0.25), np.arange(0.0, 1.0, 0.25).astype(np.float32))
    assert_close(ops.eye(3, 4, k=1), np.eye(3, 4, 1, dtype=np.float32))
    eye = ops.eye(2, 3, funcad.int32)  # MindSpore's order: the dtype third
    assert eye.dtype == np.int32 and np.array_equal(eye.asnumpy(), np.eye(2, 3, dtype=np.int32))
    with pytest.raises(TypeError, match="funcad.ops.eye: the third argument is the dtype"):
        ops.eye(3, 4, 1)
    assert_close(ops.linspace(-1, 2, 7), np.linspace(-1, 2, 7).astype(np.float32))
    assert_close(ops.linspace(0, 1, 4, endpoint=False, dtype="float64"), np.linspace(0, 1, 4, endpoint=False))
    assert ops.linspace(0, 1).shape == (50,)
    assert ops.tensor([1.0, 2.0]).dtype == np.float32 and ops.tensor([1, 2]).dtype == np.int64
