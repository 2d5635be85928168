"""Every op listed for funcad.ops exists and answers numpy-style calls (same keyword names) with numpy's values."""

from __future__ import annotations

import numpy as np
import pytest

import funcad
from funcad import ops
from funcad.testing import assert_close

LISTED = """tensor ones zeros ones_like zeros_like full full_like arange eye linspace add subtract multiply divide negative power exp
log log1p expm1 sqrt rsqrt square abs sign sin cos tan tanh sigmoid relu softplus erf maximum minimum clip where floor ceil round
equal not_equal less less_equal greater greater_equal logical_and logical_or logical_not logical_xor sum mean prod max min var std
logsumexp norm cumsum argmax argmin matmul dot tensordot einsum outer reshape transpose swapaxes expand_dims squeeze broadcast_to
concat stack split tile repeat flip pad flatten getitem take_along_axis one_hot softmax log_softmax binary_cross_entropy_with_logits
cross_entropy mse_loss l1_loss stop_gradient""".split()


def test_every_listed_op_exists():
    assert [name for name in LISTED if not callable(getattr(ops, name, None))] == []


X = np.random.default_rng(0).standard_normal((2, 3, 4))
POS = np.abs(X) + 0.1
NUMPY_CALLS = {
    "sum": (lambda m: m.sum(X, axis=(0, 2), keepdims=True), np),
    "mean": (lambda m: m.mean(X, axis=-1, keepdims=False), np),
    "prod": (lambda m: m.prod(X, axis=1, keepdims=True), np),
    "amax": (lambda m: m.amax(X, axis=(1, 2)), np),
    "amin": (lambda m: m.amin(X, axis=0, keepdims=True), np),
    "var": (lambda m: m.var(X, axis=1, ddof=1, keepdims=True), np),
    "std": (lambda m: m.std(X, axis=(0, 1), ddof=1), np),
    "argmax": (lambda m: m.argmax(X, axis=2, keepdims=True), np),
    "argmin": (lambda m: m.argmin(X, axis=1), np),
    "cumsum": (lambda m: m.cumsum(X, axis=1), np),
    "norm": (lambda m: m.norm(X, ord=3, axis=2, keepdims=True), np.linalg),
    "clip": (lambda m: m.clip(X, -0.5, 0.5), np),
    "where": (lambda m: m.where(X > 0, X, -X), np),
    "power": (lambda m: m.power(POS, 1.5), np),
    "transpose": (lambda m: m.transpose(X, axes=(2, 0, 1)), np),
    "swapaxes": (lambda m: m.swapaxes(X, 0, 2), np),
    "expand_dims": (lambda m: m.expand_dims(X, axis=(0, 3)), np),
    "squeeze": (lambda m: m.squeeze(X[:, :1], axis=1), np),
    "reshape": (lambda m: m.reshape(X, (4, -1)), np),
    "broadcast_to": (lambda m: m.broadcast_to(X[0], (5, 3, 4)), np),
    "stack": (lambda m: m.stack([X, X], axis=-1), np),
    "split": (lambda m: m.split(X, 2, axis=2)[1], np),  # two halves: pieces of 2 (MindSpore) are two sections (numpy)
    "tile": (lambda m: m.tile(X, (2, 1, 1, 2)), np),
    "repeat": (lambda m: m.repeat(X, [2, 0, 1], axis=1), np),
    "flip": (lambda m: m.flip(X, axis=(0, 2)), np),
    "pad": (lambda m: m.pad(X, ((1, 0), (0, 2), (1, 1)), mode="constant", constant_values=3.0), np),
    "pad_symmetric": (lambda m: m.pad(X, 2, mode="symmetric"), np),
    "take_along_axis": (lambda m: m.take_along_axis(X, np.zeros((2, 3, 1), np.int64), axis=2), np),
    "tensordot": (lambda m: m.tensordot(X, X, axes=([0, 1], [0, 1])), np),
    "dot": (lambda m: m.dot(X, X[0].T), np),
    "outer": (lambda m: m.outer(X[0, 0], X[1, 1]), np),
    "einsum": (lambda m: m.einsum("abc,abd->cd", X, X), np),
    "round": (lambda m: m.round(X, 2), np),
}


@pytest.mark.parametrize("name", sorted(NUMPY_CALLS))
def test_numpy_style_calls_match_numpy(name):
    call, reference = NUMPY_CALLS[name]
    assert_close(call(ops), call(reference))


def test_concat_matches_numpy():
    assert_close(ops.concat([X, X], axis=1), np.concatenate([X, X], axis=1))
    assert_close(ops.concatenate([X, X], axis=-1), np.concatenate([X, X], axis=-1))


COMPARISONS = "equal not_equal less less_equal greater greater_equal".split()
LOGICAL = "logical_and logical_or logical_xor".split()


def test_comparisons_and_logical_ops_match_numpy_with_broadcasting():
    a, b = np.round(X * 2), np.round(X[0, :, :1] * 2)  # (2, 3, 4) against (3, 1), with ties
    for name in COMPARISONS + LOGICAL:
        got = getattr(ops, name)(a, b)
        assert got.dtype == np.bool_
        np.testing.assert_array_equal(np.asarray(got), getattr(np, name)(a, b), err_msg=name)
    np.testing.assert_array_equal(np.asarray(ops.logical_not(a)), np.logical_not(a))
    special = np.array([np.nan, np.inf, -np.inf, 1.0])
    for name in ("isnan", "isinf", "isfinite"):
        np.testing.assert_array_equal(np.asarray(getattr(ops, name)(special)), getattr(np, name)(special), err_msg=name)


def test_comparisons_and_rounding_carry_no_gradient():
    x = X[0]
    grad = funcad.grad(lambda x: ops.sum(ops.where(ops.greater(x, 0.0), x * x, ops.negative(x))))(x)
    assert_close(grad, np.where(x > 0, 2 * x, -1.0))  # the mask is a constant: only the chosen branch differentiates
    for step in (lambda x: ops.cast(ops.less(x, 0.0), x.dtype), ops.floor, ops.ceil, lambda x: ops.round(x, decimals=1)):
        assert_close(funcad.grad(lambda x, step=step: ops.sum(step(x) * 3.0))(x), np.zeros_like(x))


def test_round_and_take_along_axis_take_numpy_keywords():
    assert_close(ops.round(X, decimals=2), np.round(X, decimals=2))
    idx = np.argsort(X, axis=-1)
    assert_close(ops.take_along_axis(X, idx), np.take_along_axis(X, idx, axis=-1))  # numpy's default axis=-1
