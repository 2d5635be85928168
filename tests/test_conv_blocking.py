"""conv2d computed a block of samples at a time, on one thread or several, equals the whole batch at once, bit for bit
(values and both gradients)."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import funcad
from funcad import ops
from funcad.ops import batch_threads, conv

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


# (the last is large enough that two threads' blocks overlap in time: a shared buffer between slots fails it)
THREAD_CASES = CASES + [((7, 20, 6, 6), (24, 20, 3, 3), {"padding": 1}), ((48, 16, 24, 24), (16, 16, 3, 3), {"padding": 1})]


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("x_shape, w_shape, kwargs", THREAD_CASES)
def test_blocks_on_several_threads_equal_one_thread(monkeypatch, x_shape, w_shape, kwargs, threads):
    """Every kernel path split over threads (forward, both input-gradient paths, both weight-gradient paths, eager and
    jitted with fused epilogues) gives one thread's bits."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    step = funcad.jit(lambda x, w: funcad.value_and_grad(lambda x, w: (ops.relu(ops.conv2d(x, w, **kwargs)) ** 2).sum(), (0, 1))(x, w))
    monkeypatch.setattr(conv, "BLOCK_BYTES", 1 << 10)
    monkeypatch.setattr(batch_threads, "PARALLEL_MIN_FLOPS", 0)
    with threadpool_limits(1):
        one = _value_and_grads(x, w, kwargs), step(x, w)
    monkeypatch.setattr(batch_threads, "threads", lambda: threads)
    several = _value_and_grads(x, w, kwargs), step(x, w)
    for a, b in zip(one[0] + [one[1][0], *one[1][1]], several[0] + [several[1][0], *several[1][1]]):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
