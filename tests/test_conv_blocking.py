"""conv2d computed a block of samples at a time equals the whole batch at once, bit for bit (values and both gradients)."""

import numpy as np
import pytest

import funcad
from funcad import ops
from funcad.ops import conv

CASES = [
    ((5, 3, 9, 8), (4, 3, 3, 3), {}),
    ((5, 3, 9, 8), (4, 3, 3, 2), {"stride": 2, "padding": 1}),
    ((5, 4, 9, 8), (6, 2, 3, 3), {"groups": 2, "padding": (1, 2, 0, 1)}),
    ((5, 3, 10, 11), (4, 3, 3, 3), {"dilation": 2, "padding": 2}),
    ((5, 2, 7, 7), (2, 2, 2, 2), {"stride": (2, 1)}),
]


def _value_and_grads(x, w, kwargs):
    loss = lambda x, w: (ops.conv2d(x, w, **kwargs) ** 3).sum()  # noqa: E731
    value, grads = funcad.value_and_grad(loss, (0, 1))(x, w)
    return [np.asarray(value), *(np.asarray(g) for g in grads)]


@pytest.mark.parametrize("block_bytes", [1, 1 << 12, 1 << 14])  # one sample per block, a few, most of the batch
@pytest.mark.parametrize("x_shape, w_shape, kwargs", CASES)
def test_blocks_of_samples_equal_the_whole_batch(monkeypatch, x_shape, w_shape, kwargs, block_bytes):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    whole = _value_and_grads(x, w, kwargs)
    monkeypatch.setattr(conv, "BLOCK_BYTES", block_bytes)
    blocked = _value_and_grads(x, w, kwargs)
    for a, b in zip(whole, blocked):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()
