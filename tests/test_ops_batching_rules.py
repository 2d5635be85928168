"""Batching rules written beside their ops (linear algebra, argsort, the embedding table's gradient, random keys):
vmap equals a loop over the members with in_axes at each position and None, and runs without the loop fallback."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import funcad
from funcad import ops
from funcad.numpy import linalg
from funcad.ops.embedding import _scatter_rows
from funcad.ops.random import _keyed_mask, _next_key
from funcad.ops.sampling import _keyed_draw
from funcad.testing import assert_close

RNG = np.random.default_rng(0)
B = 3


def _spd(n: int, lead: tuple = ()) -> np.ndarray:
    m = RNG.standard_normal(lead + (n, n))
    return m @ np.swapaxes(m, -1, -2) + n * np.eye(n)


def _vmap_no_loop(fn, in_axes, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the loop fallback warns: a real rule must not
        return funcad.vmap(fn, in_axes=in_axes)(*args)


def _loop(fn, in_axes, *args):
    members = [fn(*(a if ax is None else np.take(a, b, axis=ax) for a, ax in zip(args, in_axes))) for b in range(B)]
    return np.stack([np.asarray(m) for m in members])


UNARY = {
    "inv": (linalg.inv, _spd(3)), "det": (linalg.det, _spd(3)), "cholesky": (linalg.cholesky, _spd(3)),
    "slogdet": (lambda a: linalg.slogdet(a)[1] * linalg.slogdet(a)[0], _spd(3)),
    "qr": (lambda a: linalg.qr(a)[1], RNG.standard_normal((4, 3))),
    "eigh": (lambda a: linalg.eigh(a)[0], _spd(3)),
    "eigh_vectors": (lambda a: ops.abs(linalg.eigh(a)[1]), _spd(3)),  # signs are numpy's choice per call; sizes are not
    "svd": (lambda a: linalg.svd(a, compute_uv=False), RNG.standard_normal((4, 3))),
    "svd_uv": (lambda a: ops.abs(linalg.svd(a)[0]) + ops.abs(linalg.svd(a)[2]).sum(), RNG.standard_normal((3, 3))),
    "stack_of_inv": (linalg.inv, _spd(2, (2,))),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("axis", [0, -1])
def test_linear_algebra_batches_like_a_loop(name, axis):
    fn, a = UNARY[name]
    members = np.stack([a * s for s in (1.0, 1.3, 0.8)])
    stacked = np.moveaxis(members, 0, axis)
    assert_close(_vmap_no_loop(fn, (axis,), stacked), _loop(fn, (axis % stacked.ndim,), stacked), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("a_lead, b_shape", [((), (3,)), ((), (3, 2)), ((2,), (3,)), ((2,), (3, 2)), ((), (2, 3, 2))])
@pytest.mark.parametrize("in_axes", [(0, None), (None, 0), (0, 0), (-1, -1)])
def test_solve_batches_like_a_loop_with_stacks_and_vectors(a_lead, b_shape, in_axes):
    a = np.stack([_spd(3, a_lead) for _ in range(B)])
    b = RNG.standard_normal((B,) + b_shape)
    args = [x if ax is None else np.moveaxis(x, 0, ax) for x, ax in zip((a, b), in_axes)]
    args = [x[0] if ax is None else x for x, ax in zip(args, in_axes)]
    axes = tuple(None if ax is None else ax % x.ndim for x, ax in zip(args, in_axes))
    assert_close(_vmap_no_loop(linalg.solve, in_axes, *args), _loop(linalg.solve, axes, *args), rtol=1e-10, atol=1e-12)


def test_per_sample_gradients_through_linear_algebra_match_a_loop():
    a = np.stack([_spd(3) * s for s in (1.0, 1.2, 0.9)])
    loss = funcad.grad(lambda m: linalg.slogdet(m)[1] + ops.sum(linalg.inv(m)) + ops.sum(linalg.cholesky(m)))
    assert_close(_vmap_no_loop(loss, (0,), a), _loop(loss, (0,), a), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("axis", [0, 1, -1, None])
@pytest.mark.parametrize("descending", [False, True])
def test_argsort_batches_like_a_loop(axis, descending):
    x = RNG.standard_normal((B, 4, 5)).round(1)  # ties included
    fn = lambda v: ops.argsort(v, axis, descending) if axis is not None else ops.argsort(ops.reshape(v, (-1,)), 0, descending)  # noqa: E731
    for in_axis in (0, 2):
        stacked = np.moveaxis(x, 0, in_axis)
        assert_close(_vmap_no_loop(fn, (in_axis,), stacked), _loop(fn, (in_axis,), stacked))


@pytest.mark.parametrize("padding_idx", [None, 1])
def test_embedding_table_gradients_batch_like_a_loop(padding_idx):
    table = RNG.standard_normal((5, 2))
    shared = np.array([[0, 1, 1], [4, 0, 2]])
    per_member = RNG.integers(0, 5, (B, 2, 3))
    grad_of = lambda w, i: funcad.grad(lambda v: ops.sum(ops.embedding(i, v, padding_idx) ** 2))(w)  # noqa: E731
    # per-sample gradients of a shared table (the lookup of a batched table itself still loops)
    assert_close(_vmap_no_loop(grad_of, (None, 0), table, per_member), _loop(grad_of, (None, 0), table, per_member))
    cotangents = RNG.standard_normal((B, 2, 3, 2))
    scaled = lambda c, i: funcad.vjp(lambda v: ops.embedding(i, v, padding_idx), table)[1](c)[0]  # noqa: E731
    assert_close(_vmap_no_loop(scaled, (0, None), cotangents, shared), _loop(scaled, (0, None), cotangents, shared))
    g = RNG.standard_normal((B, 2, 3, 2))
    rows = lambda c, i: _scatter_rows(c, i, num_rows=5, padding_idx=padding_idx)  # noqa: E731
    assert_close(_vmap_no_loop(rows, (0, None), g, shared), _loop(rows, (0, None), g, shared))
    assert_close(_vmap_no_loop(rows, (2, 0), np.moveaxis(g, 0, 2), per_member), _loop(rows, (0, 0), g, per_member))


def test_random_draws_follow_jax_semantics_under_vmap():
    keys = np.array([[7, 0], [7, 1], [8, 5]], dtype=np.int64)
    mask = lambda k: _keyed_mask(k, shape=(4, 5), p=0.5, dtype=np.dtype(np.float32))  # noqa: E731
    draw = lambda k: _keyed_draw(k, kind="normal", shape=(2, 3), dtype=np.dtype(np.float64), low=0, high=0)  # noqa: E731
    for fn in (mask, draw, _next_key):
        assert_close(_vmap_no_loop(fn, (0,), keys), _loop(fn, (0,), keys))  # a batched key: each member its own draw
        assert_close(_vmap_no_loop(fn, (1,), keys.T), _loop(fn, (0,), keys))
    members = _vmap_no_loop(lambda x, k: x * draw(k), (0, None), np.ones((B, 2, 3)), keys[0])
    assert_close(members, np.broadcast_to(np.asarray(draw(keys[0])), (B, 2, 3)))  # an unbatched key: the same draw
    assert not np.allclose(np.asarray(members[0]), np.asarray(draw(keys[1])))
    funcad.set_seed(3)
    dropped = funcad.vmap(lambda x: ops.dropout(x, 0.5))(np.ones((B, 40)))
    assert (np.asarray(dropped) == np.asarray(dropped)[:1]).all()  # the global key is unbatched: one mask for all
