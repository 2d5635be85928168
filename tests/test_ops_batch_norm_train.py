"""BatchNorm with batch statistics (funcad.ops.batch_norm_train): its gradient primitives against torch autograd,
derivatives of every order against finite differences, float32 running statistics and gradients against torch's
error, vmap of its gradients against a loop, and the torch translations the mirror reads."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import funcad
from funcad import ops
from funcad.ops import batch_norm_train as bnt
from funcad.ops.norm import batch_norm_with_stats
from funcad.testing import assert_close, check_grads
from torch_ref.torch_translation import torch_callable

RNG = np.random.default_rng(11)
EPS = 1e-3


def _inputs(shape, affine: bool = True):
    c = shape[1]
    x = RNG.standard_normal(shape) * 2.0 + 0.5
    w = RNG.uniform(0.5, 1.5, c) if affine else None
    b = RNG.standard_normal(c) if affine else None
    return x, w, b


def _train(x, w, b):
    return ops.batch_norm(x, None, None, w, b, training=True, eps=EPS)


def _torch_grads(x, w, b, g):
    leaves = [None if a is None else torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    F.batch_norm(leaves[0], None, None, leaves[1], leaves[2], True, 0.0, EPS).backward(torch.tensor(g))
    return [None if t is None else t.grad.numpy() for t in leaves]


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (3, 2, 4, 5)])
@pytest.mark.parametrize("affine", [True, False])
def test_gradient_primitives_match_torch_autograd(shape, affine):
    x, w, b = _inputs(shape, affine)
    g = RNG.standard_normal(shape)
    dx, dw, db = _torch_grads(x, w, b, g)
    stats = bnt._batch_moments(x)
    sums = bnt._batch_norm_sums(g, x, stats, eps=EPS)
    assert_close(bnt._batch_norm_input_grad(g, x, stats, sums, np.stack([w, b]) if affine else None, eps=EPS), dx, rtol=1e-10,
                 atol=1e-12)
    if affine:
        assert_close(sums[0], dw, rtol=1e-10, atol=1e-12)
        assert_close(sums[1], db, rtol=1e-12, atol=1e-12)
    args = tuple(a for a in (x, w, b) if a is not None)
    grads = funcad.grad(lambda *a: ops.sum(_train(*a, *(None,) * (3 - len(a))) * g), tuple(range(len(args))))(*args)
    for got, want in zip(grads if affine else (grads,), (dx, dw, db)):
        assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_nodes_sharing_one_cotangent_get_their_own_sums():
    """Two BatchNorms whose outputs are added receive the same cotangent; the affine gradient of one reuses sums only
    from its own node's input gradient (here the first node's input takes no gradient, the second's affine none)."""
    (x1, w1, b1), (x2, w2, b2) = _inputs((4, 3, 5)), _inputs((4, 3, 5))
    g = RNG.standard_normal(x1.shape)
    got = funcad.grad(lambda w, x: ops.sum((_train(x1, w, b1) + _train(x, w2, b2)) * g), (0, 1))(w1, x2)
    assert_close(got[0], _torch_grads(x1, w1, b1, g)[1], rtol=1e-10, atol=1e-12)
    assert_close(got[1], _torch_grads(x2, w2, b2, g)[0], rtol=1e-10, atol=1e-12)
    shared = funcad.grad(lambda x, y, w, b: ops.sum((_train(x, w, b) + _train(y, w, b)) * g), (0, 1, 2, 3))(x1, x2, w1, b1)
    first, second = _torch_grads(x1, w1, b1, g), _torch_grads(x2, w1, b1, g)
    for got, want in zip(shared, (first[0], second[0], first[1] + second[1], first[2] + second[2])):
        assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("given", ["weight", "bias"])
def test_weight_or_bias_alone_match_torch(given):
    x, w, b = _inputs((5, 3, 4))
    w, b = (w, None) if given == "weight" else (None, b)
    g = RNG.standard_normal(x.shape)
    dx, dw, db = _torch_grads(x, w, b, g)
    param = w if given == "weight" else b
    got = funcad.grad(lambda x, p: ops.sum(_train(x, *((p, None) if given == "weight" else (None, p))) * g), (0, 1))(x, param)
    assert_close(got[0], dx, rtol=1e-10, atol=1e-12)
    assert_close(got[1], dw if given == "weight" else db, rtol=1e-10, atol=1e-12)


def test_derivatives_of_every_order_match_finite_differences():
    x, w, b = _inputs((3, 2, 2, 3))
    check_grads(_train, (x, w, b), order=2, modes=("rev", "fwd"))
    check_grads(lambda x: _train(x, None, None) * x, (x[:2, :, :1],), order=3, modes=("rev", "fwd"))


def test_grad_of_grad_compiled_equals_eager_and_finite_differences():
    x, w, b = _inputs((4, 3, 2, 2))

    def gradient_norm(x, w):
        gx = funcad.grad(lambda x, w: ops.sum(ops.tanh(_train(x, w, b))), (0, 1))(x, w)
        return ops.sum(gx[0] * gx[0]) + ops.sum(gx[1] * gx[1])

    hess = funcad.grad(gradient_norm, (0, 1))
    eager = hess(x, w)
    for got, want in zip(funcad.jit(hess)(x, w), eager):
        assert_close(got, want, rtol=1e-12, atol=1e-12)
    check_grads(gradient_norm, (x, w), order=1, modes=("rev", "fwd"))


@pytest.mark.parametrize("offset", [0.0, 20.0])
def test_float32_batch_statistics_are_within_a_few_ulps(offset):
    """momentum 1: the new running statistics are the batch's own (unbiased variance). Torch sums in double and
    rounds once; float32 sums err by a few ulps, where E[x^2] - E[x]^2 would lose digits to the offset."""
    x = (np.random.default_rng(5).standard_normal((8, 5, 6, 7)) * 3.0 + offset).astype(np.float32)
    _, new_mean, new_var = batch_norm_with_stats(x, np.zeros(5, np.float32), np.ones(5, np.float32), training=True, momentum=1.0)
    torch_mean, torch_var = torch.zeros(5), torch.ones(5)
    F.batch_norm(torch.from_numpy(x), torch_mean, torch_var, None, None, True, 1.0)
    exact = x.astype(np.float64)
    for got, theirs, want in ((new_mean, torch_mean, exact.mean(axis=(0, 2, 3))), (new_var, torch_var, exact.var(axis=(0, 2, 3), ddof=1))):
        err, torch_err = np.abs(np.asarray(got) - want).max(), np.abs(theirs.numpy() - want).max()
        assert err <= max(2 * torch_err, 4 * np.spacing(np.float32(np.abs(want).max()))), (err, torch_err)


@pytest.mark.parametrize("batched_weight", [False, True])
def test_vmap_of_the_gradient_batches_like_a_loop(batched_weight):
    xs = RNG.standard_normal((3, 4, 2, 3, 3))
    ws = RNG.uniform(0.5, 1.5, (3, 2)) if batched_weight else RNG.uniform(0.5, 1.5, 2)
    b = RNG.standard_normal(2)

    def member(x, w):
        return funcad.grad(lambda x, w: ops.sum(ops.sin(_train(x, w, b))), (0, 1))(x, w)

    got = funcad.vmap(member, in_axes=(0, 0 if batched_weight else None))(xs, ws)
    for i in range(3):
        want = member(xs[i], ws[i] if batched_weight else ws)
        assert_close(got[0][i], want[0], rtol=1e-12, atol=1e-12)
        assert_close(got[1][i], want[1], rtol=1e-12, atol=1e-12)


def test_torch_translations_compute_the_primitives():
    x, w, b = _inputs((4, 3, 2, 5))
    g = RNG.standard_normal(x.shape)
    stats = bnt._batch_moments(x)
    sums = bnt._batch_norm_sums(g, x, stats, eps=EPS)
    affine = np.stack([w, b])
    cases = [(bnt._batch_moments, (x,), {}), (bnt._batch_norm_train, (x, stats, affine), {"eps": EPS}),
             (bnt._batch_norm_sums, (g, x, stats), {"eps": EPS}), (bnt._batch_norm_input_grad, (g, x, stats, sums, affine), {"eps": EPS})]
    for prim, args, kwargs in cases:
        torch_args = [torch.from_numpy(np.asarray(a)) for a in args]
        assert_close(torch_callable(prim)(*torch_args, **kwargs).numpy(), prim(*args, **kwargs), rtol=1e-10, atol=1e-12,
                     msg=prim.name)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_float32_gradients_err_as_float32_sums_may(seed):
    """Against a float64 reference: the input gradient errs no more than twice as much as torch's; the weight and bias
    gradients (per-channel sums, which torch accumulates in double) by less than float32's epsilon times the sum of
    the terms' magnitudes."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, 4, 6, 6)) * 2.0 + 3.5  # an offset mean: the centring's rounding shows
    w, b, g = rng.uniform(0.5, 1.5, 4), rng.standard_normal(4), rng.standard_normal(x.shape)
    ref = _torch_grads(x, w, b, g)
    f32 = [a.astype(np.float32) for a in (x, w, b, g)]
    dx, dw, db = (np.asarray(a) for a in funcad.vjp(_train, *f32[:3])[1](f32[3]))
    assert np.abs(dx - ref[0]).max() <= 2 * np.abs(_torch_grads(*f32)[0] - ref[0]).max()
    xhat = (x - x.mean(axis=(0, 2, 3), keepdims=True)) / np.sqrt(x.var(axis=(0, 2, 3), keepdims=True) + EPS)
    eps32 = np.finfo(np.float32).eps
    assert np.all(np.abs(dw - ref[1]) <= eps32 * np.abs(g * xhat).sum(axis=(0, 2, 3)))
    assert np.all(np.abs(db - ref[2]) <= eps32 * np.abs(g).sum(axis=(0, 2, 3)))


def _array(t) -> np.ndarray:
    return np.asarray(t.asnumpy() if hasattr(t, "asnumpy") else t)


def _numpy_forms(monkeypatch):
    """Make the primitives take their NumPy forms instead of ``batch_norm_kernels``."""
    monkeypatch.setattr(bnt.fused, "applies", lambda *arrays: False)


@pytest.mark.parametrize("layout", ["contiguous", "channels_last_view", "sequence"])
def test_fused_kernels_agree_with_the_numpy_forms(layout, monkeypatch):
    """The elementwise kernels are bitwise the NumPy forms given the same operands; the reductions (float64
    accumulation) are at least as close to a float64 reference as the NumPy forms' float32 BLAS sums."""
    rng = np.random.default_rng(3)
    shape = {"contiguous": (6, 4, 5, 7), "channels_last_view": (6, 5, 7, 4), "sequence": (33, 4, 3)}[layout]
    x = (rng.standard_normal(shape) * 2.0 + 3.0).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    if layout == "channels_last_view":
        x, g = x.transpose(0, 3, 1, 2), g.transpose(0, 3, 1, 2)
    affine = np.stack([rng.uniform(0.5, 1.5, 4), rng.standard_normal(4)]).astype(np.float32)
    stats = _array(bnt._batch_moments(x))
    sums = _array(bnt._batch_norm_sums(g, x, stats, eps=EPS))

    def the_four():
        return [_array(a) for a in (bnt._batch_moments(x), bnt._batch_norm_sums(g, x, stats, eps=EPS),
                                    bnt._batch_norm_train(x, stats, affine, eps=EPS), bnt._batch_norm_input_grad(g, x, stats, sums, affine, eps=EPS))]

    fused = the_four()
    _numpy_forms(monkeypatch)
    plain = the_four()
    for got, want in zip(fused[2:], plain[2:]):
        assert got.dtype == np.float32 and np.array_equal(got, want)
    axes = (0,) + tuple(range(2, x.ndim))
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    exact_stats = np.stack([x64.mean(axis=axes), x64.var(axis=axes)])
    centred = x64 - x64.mean(axis=axes, keepdims=True)
    invstd = 1.0 / np.sqrt(stats[1].astype(np.float64) + EPS)
    exact_sums = np.stack([(g64 * centred).sum(axis=axes) * invstd, g64.sum(axis=axes)])
    for got, numpy_form, exact in ((fused[0], plain[0], exact_stats), (fused[1], plain[1], exact_sums)):
        assert got.dtype == np.float32
        ulps = 2 * np.spacing(np.abs(exact).astype(np.float32))
        assert np.all(np.abs(got - exact) <= np.maximum(np.abs(numpy_form - exact), ulps)), (got - exact, numpy_form - exact)


def test_fused_kernels_propagate_nan_and_give_nan_statistics_for_an_empty_batch():
    x = np.random.default_rng(4).standard_normal((4, 3, 5)).astype(np.float32)
    x[2, 1, 3] = np.nan
    stats = _array(bnt._batch_moments(x))
    assert np.isnan(stats[:, 1]).all() and np.isfinite(stats[:, [0, 2]]).all()
    dots_and_sums = _array(bnt._batch_norm_sums(np.ones_like(x), x, stats, eps=EPS))
    assert np.isnan(dots_and_sums[0, 1]) and np.isfinite(dots_and_sums[0, [0, 2]]).all()
    assert np.array_equal(dots_and_sums[1], [20.0, 20.0, 20.0])  # sum(g) does not read x
    empty = np.zeros((0, 3, 5), np.float32)
    stats = _array(bnt._batch_moments(empty))  # numpy's mean of an empty slice is NaN too
    assert stats.shape == (2, 3) and stats.dtype == np.float32 and np.isnan(stats).all()


def test_two_dimensional_and_half_precision_inputs_take_the_numpy_forms():
    assert not bnt.fused.applies(np.zeros((8, 3), np.float32)) and bnt.fused.applies(np.zeros((8, 3, 1), np.float32))
    x = np.random.default_rng(6).standard_normal((4, 3, 5)).astype(np.float16)
    stats = _array(bnt._batch_moments(x))
    assert stats.dtype == np.float16
    assert_close(stats.astype(np.float64), np.stack([x.astype(np.float64).mean(axis=(0, 2)), x.astype(np.float64).var(axis=(0, 2))]),
                 rtol=2e-3, atol=2e-3)


def test_kernels_compile_without_a_disk_cache_where_numba_has_no_place_for_one(monkeypatch):
    from funcad.ops import batch_norm_kernels

    real_njit = batch_norm_kernels.njit

    def njit_without_locator(**flags):
        if flags.get("cache"):
            raise RuntimeError("cannot cache function 'f': no locator available for file 'f.py'")
        return real_njit(**flags)

    monkeypatch.setattr(batch_norm_kernels, "njit", njit_without_locator)

    def total(a):
        acc = 0.0
        for v in a:
            acc += v
        return acc

    assert batch_norm_kernels._compiled()(total)(np.arange(5.0)) == 10.0
