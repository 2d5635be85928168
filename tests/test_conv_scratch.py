"""conv/pool scratch buffers: stale contents never reach a result, results never share memory with them, the free list stays bounded."""

import numpy as np
import pytest

import funcad
from funcad import ops
from funcad.ops import conv, conv_scratch

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
def test_results_do_not_depend_on_scratch_contents(monkeypatch, kind, x_shape, kwargs):
    from funcad.ops import pool

    for module in (conv, pool):
        monkeypatch.setattr(module, "scratch", lambda shape, dtype: np.zeros(shape, dtype))
    zeroed = _results(kind, x_shape, kwargs, seed=0)
    for module in (conv, pool):
        monkeypatch.setattr(module, "scratch", lambda shape, dtype: np.full(shape, np.nan, dtype))
    poisoned = _results(kind, x_shape, kwargs, seed=0)  # a read of what a buffer held on entry shows up as NaN
    monkeypatch.undo()
    conv_scratch._scratch.__dict__.pop("free", None)
    kept = _results(kind, x_shape, kwargs, seed=0)
    copies = [a.copy() for a in kept]
    _results(kind, x_shape, kwargs, seed=1)  # the same buffers, other data
    reused = _results(kind, x_shape, kwargs, seed=0)
    for a, b, c, d, e in zip(zeroed, poisoned, kept, copies, reused):
        assert a.tobytes() == b.tobytes() == d.tobytes() == e.tobytes(), "stale scratch contents reached a result"
        assert c.tobytes() == d.tobytes(), "a result changed after later calls: it shares memory with a scratch buffer"


@pytest.mark.parametrize("stride, padding", [(1, 0), (1, 1), (2, 1)])
def test_primitive_results_share_no_memory_with_scratch(stride, padding):
    from funcad.ops import pool

    conv_scratch._scratch.__dict__.pop("free", None)
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
        assert not any(np.shares_memory(out, buf) for buf in conv_scratch._scratch.free)


def test_free_list_is_bounded(monkeypatch):
    monkeypatch.setattr(conv_scratch, "SCRATCH_BYTES", 1 << 14)
    conv_scratch._scratch.__dict__.pop("free", None)
    rng = np.random.default_rng(0)
    for n in range(1, 6):
        x = rng.standard_normal((n, 3, 12, 12)).astype(np.float32)
        ops.conv2d(x, rng.standard_normal((4, 3, 3, 3)).astype(np.float32), padding=1)
        assert 0 < sum(b.nbytes for b in conv_scratch._scratch.free) <= 1 << 14
    leased = conv.with_scratch(lambda: conv.scratch((1 << 13,), np.float32).base)()  # larger than the whole list: not kept
    assert leased.nbytes > 1 << 14 and all(b is not leased for b in conv_scratch._scratch.free)
