"""custom_vjp, custom_jvp and Cell.bprop: the user's rule is the one used, at every derivative order, under vmap and
under jit; and a rule of the wrong arity or shapes is refused by name."""

from __future__ import annotations

import numpy as np
import pytest

import funcad
from funcad import nn, ops
from funcad.testing import assert_close, check_grads

X = np.array([0.3, -1.2, 2.0])


def _clipped_sin():
    """sin whose backward is cos scaled by 2 (deliberately not the true derivative, so the rule is visible)."""

    @funcad.custom_vjp
    def f(x):
        return ops.sin(x)

    f.defvjp(lambda x: (ops.sin(x), x), lambda x, g: (2.0 * g * ops.cos(x),))
    return f


def test_custom_vjp_rule_is_used_at_first_and_second_order():
    f = _clipped_sin()
    assert_close(f(X), np.sin(X))
    assert_close(funcad.grad(lambda x: ops.sum(f(x)))(X), 2.0 * np.cos(X))
    # the second derivative differentiates the rule: d/dx 2 cos(x) = -2 sin(x)
    assert_close(funcad.grad(lambda x: ops.sum(funcad.grad(lambda y: ops.sum(f(y)))(x)))(X), -2.0 * np.sin(X))


def test_custom_vjp_under_vmap_and_jit():
    f = _clipped_sin()
    batch = np.stack([X, X * 0.5])
    per_row = funcad.vmap(funcad.grad(lambda x: ops.sum(f(x))))(batch)
    assert_close(per_row, 2.0 * np.cos(batch))
    whole = funcad.grad(lambda b: ops.sum(funcad.vmap(f)(b)))(batch)
    assert_close(whole, 2.0 * np.cos(batch))
    shared = funcad.grad(lambda w: ops.sum(funcad.vmap(lambda r, v: f(r * v), in_axes=(0, None))(batch, w)))(X)
    assert_close(shared, (2.0 * np.cos(batch * X) * batch).sum(0))
    jitted = funcad.jit(funcad.grad(lambda x: ops.sum(f(x))))
    assert_close(jitted(X), 2.0 * np.cos(X))


def test_custom_vjp_for_a_numerically_stable_rule():
    @funcad.custom_vjp
    def log1pexp(x):
        return ops.log(1.0 + ops.exp(x))

    log1pexp.defvjp(lambda x: (log1pexp(x), x), lambda x, g: (g * ops.sigmoid(x),))
    big = np.array([800.0, 0.0, -5.0])
    with np.errstate(over="ignore"):  # the forward's exp(800) overflows; only the gradient is checked here
        g = funcad.grad(lambda x: ops.sum(log1pexp(x)))(big)
    assert_close(g, 1.0 / (1.0 + np.exp(-big)))  # the naive rule gives nan at 800


def test_custom_jvp_in_both_modes_and_orders():
    @funcad.custom_jvp
    def cube(x):
        return x * x * x

    @cube.defjvp
    def cube_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return cube(x), 3.0 * x * x * t

    _, tangent = funcad.jvp(cube, (X,), (np.ones(3),))
    assert_close(tangent, 3 * X ** 2)
    assert_close(funcad.grad(lambda x: ops.sum(cube(x)))(X), 3 * X ** 2)
    assert_close(funcad.hessian(lambda x: ops.sum(cube(x)))(X), np.diag(6 * X))
    assert_close(funcad.vmap(funcad.grad(lambda x: ops.sum(cube(x))))(np.stack([X, 2 * X])), 3 * np.stack([X, 2 * X]) ** 2)
    check_grads(lambda x: cube(x), (X,), order=2, modes=("rev", "fwd"))


class _ScaledGrad(nn.Cell):
    def construct(self, x, y):
        return x * y

    def bprop(self, x, y, out, dout):
        return 10.0 * dout * y, dout * x


def test_cell_bprop_replaces_the_backward():
    cell = _ScaledGrad()
    y = np.array([1.0, 2.0, 3.0])
    gx, gy = funcad.grad(lambda a, b: ops.sum(cell(a, b)), (0, 1))(X, y)
    assert_close(gx, 10.0 * y)
    assert_close(gy, X)
    assert_close(funcad.jit(funcad.grad(lambda a, b: ops.sum(cell(a, b))))(X, y), 10.0 * y)
    ys = np.stack([y, 2 * y])
    assert_close(funcad.vmap(funcad.grad(lambda a, b: ops.sum(cell(a, b))))(np.stack([X, X]), ys), 10.0 * ys)


def test_a_rule_with_the_wrong_arity_or_shape_is_refused_by_name():
    @funcad.custom_vjp
    def f(x, y):
        return x * y

    f.defvjp(lambda x, y: (x * y, (x, y)), lambda res, g: (g * res[1],))
    with pytest.raises(ValueError, match="f: the backward rule must return a tuple of 2 cotangents .* got 1 values"):
        funcad.grad(lambda x: ops.sum(f(x, X)))(X)

    @funcad.custom_vjp
    def h(x):
        return ops.sum(x)

    h.defvjp(lambda x: (ops.sum(x), x), lambda x, g: (g,))
    with pytest.raises(ValueError, match=r"h: the backward rule's cotangent 0 has shape \(\), but input 0 has shape \(3,\)"):
        funcad.grad(h)(X)
