"""conv/pool scratch buffers: stale contents never reach a result, results never share memory with them, the cache stays bounded."""

import numpy as np
import pytest

import funcad
from funcad import ops
from funcad.ops import conv

CASES = [
    ("conv", (4, 3, 9, 8), {"weight": (4, 3, 3, 3), "padding": 1}),
    ("conv", (4, 3, 9, 8), {"weight": (4, 3, 3, 2), "stride": 2, "padding": (1, 0, 1, 2)}),
    ("conv", (4, 4, 9, 8), {"weight": (6, 2, 3, 3), "groups": 2, "dilation": 2, "padding": 2}),
    ("max", (4, 3, 9, 7), {"kernel_size": 3, "stride": 2, "padding": 1}),
    ("max", (4, 3, 8, 8), {"kernel_size": 2}),
    ("avg", (4, 3, 9, 7), {"kernel_size": 3, "stride": 1, "padding": 1}),
]


def _as_tuple(grads):
    return grads if isinstance(grads, tuple) else (grads,)


def _results(kind, x, kwargs, seed):
    """Value, first-order gradients and a second-order gradient, as float64 arrays of fresh inputs drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal(x).astype(np.float32)
    if kind == "conv":
        kw = dict(kwargs)
        w = rng.standard_normal(kw.pop("weight")).astype(np.float32)
        f = lambda x, w: (ops.conv2d(x, w, **kw) ** 3).sum()  # noqa: E731
        args, pos = (xs, w), (0, 1)
    else:
        pool = ops.max_pool2d if kind == "max" else ops.avg_pool2d
        f = lambda x: (pool(x, **kwargs) ** 3).sum()  # noqa: E731
        args, pos = (xs,), 0
    value, grads = funcad.value_and_grad(f, pos)(*args)
    second = funcad.grad(lambda *a: sum((g**2).sum() for g in _as_tuple(funcad.grad(f, pos)(*a))), pos)(*args)
    return [np.asarray(v) for v in (value, *_as_tuple(grads), *_as_tuple(second))]


@pytest.mark.parametrize("kind, x_shape, kwargs", CASES)
def test_results_do_not_depend_on_or_share_scratch(kind, x_shape, kwargs):
    conv._scratch.__dict__.pop("buffers", None)
    cold = _results(kind, x_shape, kwargs, seed=0)  # empty cache: every buffer is new
    kept = [a.copy() for a in cold]
    _results(kind, x_shape, kwargs, seed=1)
    for buf in conv._scratch.buffers.values():
        buf.fill(np.nan)  # whatever a buffer holds on entry must not matter
    warm = _results(kind, x_shape, kwargs, seed=0)
    for a, b, c in zip(cold, kept, warm):
        assert a.tobytes() == b.tobytes(), "a result changed after later calls: it shares memory with a scratch buffer"
        assert b.tobytes() == c.tobytes(), "stale scratch contents reached a result"


@pytest.mark.parametrize("stride, padding", [(1, 0), (1, 1), (2, 1)])
def test_primitive_results_share_no_memory_with_scratch(stride, padding):
    from funcad.ops import pool

    conv._scratch.__dict__.pop("buffers", None)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 8, 8)).astype(np.float32)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    geo = conv.Geometry((3, 3), (stride, stride), (padding,) * 4, (1, 1))
    y = conv._conv.impl(x, w, geo=geo, groups=1)
    results = [y, conv._conv_input_grad.impl(y, w, geo=geo, groups=1, x_shape=x.shape),
               conv._conv_weight_grad.impl(x, y, geo=geo, groups=1, w_shape=w.shape)]
    sums = pool._window_sum.impl(x, geo=geo)
    results += [sums, pool._window_sum_transpose.impl(sums, geo=geo, x_shape=x.shape), pool._max_pool_argmax.impl(x, geo=geo)]
    for out in results:
        assert not any(np.shares_memory(out, buf) for buf in conv._scratch.buffers.values())


def test_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(conv, "SCRATCH_BYTES", 1 << 14)
    conv._scratch.__dict__.pop("buffers", None)
    rng = np.random.default_rng(0)
    for n in range(1, 6):
        x = rng.standard_normal((n, 3, 12, 12)).astype(np.float32)
        ops.conv2d(x, rng.standard_normal((4, 3, 3, 3)).astype(np.float32), padding=1)
        cached = conv._scratch.buffers.values()
        assert sum(b.nbytes for b in cached) <= 1 << 14
    big = conv.scratch("test", (1 << 13,), np.float32)  # larger than the whole cache: handed out, not kept
    assert big.nbytes > 1 << 14 and all(b is not big for b in conv._scratch.buffers.values())
