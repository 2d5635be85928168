"""custom_vjp and custom_jvp with pytree arguments and outputs, several outputs and ``nondiff_argnums`` (JAX's
conventions): checked against closed forms and finite differences, under grad, jit and vmap; bad rules refused."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

import funcad
from funcad import nn, ops
from funcad.testing import assert_close, check_grads

R = np.array([1.5, 0.7, 2.0])
T = np.array([0.3, -1.2, 2.5])
A = np.array([0.5, -1.0, 2.0])
B = np.array([1.0, 3.0, -0.5])


def _polar():
    """{r, t} -> (x, y): a dict in, a tuple of two outputs out, with the true derivative as the rule."""

    @funcad.custom_vjp
    def polar(p):
        return p["r"] * ops.cos(p["t"]), p["r"] * ops.sin(p["t"])

    def fwd(p):
        return polar(p), (p["r"], ops.cos(p["t"]), ops.sin(p["t"]))

    def bwd(res, g):
        r, c, s = res
        gx, gy = g
        return ({"r": gx * c + gy * s, "t": r * (gy * c - gx * s)},)

    polar.defvjp(fwd, bwd)
    return polar


def _polar_grads(r, t, a, b):
    """d/d(r, t) of sum(a * x + b * y) with x = r cos t, y = r sin t (closed form)."""
    return a * np.cos(t) + b * np.sin(t), r * (b * np.cos(t) - a * np.sin(t))


def test_custom_vjp_takes_a_dict_and_returns_a_tuple():
    polar = _polar()
    x, y = polar({"r": R, "t": T})
    assert_close(x, R * np.cos(T))
    assert_close(y, R * np.sin(T))

    def loss(p):
        x, y = polar(p)
        return ops.sum(A * x + B * y)

    expected = _polar_grads(R, T, A, B)
    got = funcad.grad(loss)({"r": R, "t": T})
    assert_close(got["r"], expected[0])
    assert_close(got["t"], expected[1])
    jitted = funcad.jit(funcad.grad(loss))({"r": R, "t": T})
    assert_close(jitted["t"], expected[1])
    check_grads(lambda r, t: polar({"r": r, "t": t}), (R, T), order=2, modes=("rev", "fwd"))


def test_custom_vjp_with_several_outputs_under_vmap():
    polar = _polar()
    rs, ts = np.stack([R, 2 * R]), np.stack([T, -T])

    def loss(r, t):
        x, y = polar({"r": r, "t": t})
        return ops.sum(A * x + B * y)

    gr, gt = funcad.vmap(funcad.grad(loss, (0, 1)))(rs, ts)
    for b in range(2):
        er, et = _polar_grads(rs[b], ts[b], A, B)
        assert_close(gr[b], er)
        assert_close(gt[b], et)
    # grad of vmap, with the radius shared by every member
    shared = funcad.grad(lambda r: ops.sum(funcad.vmap(loss, in_axes=(None, 0))(r, ts)))(R)
    assert_close(shared, sum(_polar_grads(R, ts[b], A, B)[0] for b in range(2)))
    xs, ys = funcad.jit(funcad.vmap(lambda r, t: polar({"r": r, "t": t})))(rs, ts)
    assert_close(xs, rs * np.cos(ts))
    assert_close(ys, rs * np.sin(ts))


def test_outputs_of_several_dtypes_come_back_in_their_own():
    @funcad.custom_vjp
    def split(x):
        return {"half": ops.cast(x, funcad.float32) * 0.5, "sq": x * x}

    split.defvjp(lambda x: (split(x), x), lambda x, g: (ops.cast(g["half"], funcad.float64) * 0.5 + 2.0 * x * g["sq"],))
    out = split(T)
    assert out["half"].dtype == funcad.float32 and out["sq"].dtype == funcad.float64
    assert_close(out["half"], (T * 0.5).astype(np.float32))
    assert_close(funcad.grad(lambda x: ops.sum(split(x)["sq"]) + ops.sum(ops.cast(split(x)["half"], funcad.float64)))(T),
                 2.0 * T + 0.5)


def test_nondiff_argnums_fix_arguments_and_come_first_in_the_backward_rule():
    """JAX's clip_gradient example: lo and hi are not differentiated and are handed to bwd before the residuals."""

    @partial(funcad.custom_vjp, nondiff_argnums=(0, 1))
    def clip_gradient(lo, hi, x):
        return x

    clip_gradient.defvjp(lambda lo, hi, x: (x, None), lambda lo, hi, _, g: (ops.clip(g, lo, hi),))
    weights = np.array([-3.0, 0.2, 4.0])

    def loss(x):
        return ops.sum(clip_gradient(-0.5, 0.5, x) * weights)

    assert_close(funcad.grad(loss)(T), np.clip(weights, -0.5, 0.5))
    assert_close(funcad.jit(funcad.grad(loss))(T), np.clip(weights, -0.5, 0.5))
    batch = np.stack([T, 2 * T])
    assert_close(funcad.vmap(funcad.grad(loss))(batch), np.broadcast_to(np.clip(weights, -0.5, 0.5), batch.shape))


def test_nondiff_argnums_may_hold_a_function():
    @partial(funcad.custom_vjp, nondiff_argnums=(0,))
    def apply(f, x, y):
        return f(x) * y

    def bwd(f, res, g):
        x, y = res
        return (g * y * 3.0, g * f(x))  # pretends f' = 3 for the check

    apply.defvjp(lambda f, x, y: (apply(f, x, y), (x, y)), bwd)
    gx, gy = funcad.grad(lambda x, y: ops.sum(apply(ops.tanh, x, y)), (0, 1))(T, A)
    assert_close(gx, 3.0 * A)
    assert_close(gy, np.tanh(T))


def _sincos():
    """k fixed, x -> (sin kx, cos kx) with its jvp rule."""

    @partial(funcad.custom_jvp, nondiff_argnums=(0,))
    def sincos(k, x):
        return ops.sin(k * x), ops.cos(k * x)

    @sincos.defjvp
    def sincos_jvp(k, primals, tangents):
        (x,), (t,) = primals, tangents
        s, c = sincos(k, x)
        return (s, c), (k * c * t, -k * s * t)

    return sincos


def test_custom_jvp_with_a_tuple_output_and_nondiff_argnums():
    sincos = _sincos()
    (s, c), (ts, tc) = funcad.jvp(lambda x: sincos(2.0, x), (T,), (np.ones(3),))
    assert_close(s, np.sin(2 * T))
    assert_close(ts, 2 * np.cos(2 * T))
    assert_close(tc, -2 * np.sin(2 * T))

    def loss(x):
        s, c = sincos(2.0, x)
        return ops.sum(A * s + B * c)

    expected = 2 * (A * np.cos(2 * T) - B * np.sin(2 * T))
    assert_close(funcad.grad(loss)(T), expected)
    assert_close(funcad.jit(funcad.grad(loss))(T), expected)
    assert_close(funcad.vmap(funcad.grad(loss))(np.stack([T, T])), np.stack([expected, expected]))
    assert_close(funcad.hessian(loss)(T), np.diag(-4 * (A * np.sin(2 * T) + B * np.cos(2 * T))))
    check_grads(lambda x: sincos(2.0, x), (T,), order=2, modes=("rev", "fwd"))


def test_custom_jvp_with_pytree_arguments():
    @funcad.custom_jvp
    def weighted(pair, scale):
        a, b = pair
        return a * b * scale

    @weighted.defjvp
    def weighted_jvp(primals, tangents):
        ((a, b), scale), ((ta, tb), ts) = primals, tangents
        return weighted((a, b), scale), ta * b * scale + a * tb * scale + a * b * ts

    ga, gb = funcad.grad(lambda p: ops.sum(weighted(p, 3.0)))((A, B))
    assert_close(ga, 3.0 * B)
    assert_close(gb, 3.0 * A)
    check_grads(lambda a, b: weighted((a, b), np.float64(0.5)), (A, B), order=2, modes=("rev", "fwd"))


class _Pair(nn.Cell):
    def construct(self, x):
        return x * 2.0, x * x

    def bprop(self, x, out, dout):
        return 10.0 * dout[0] + dout[1]  # not the true derivative, so the rule is visible


def test_cell_bprop_with_a_tuple_output_gets_a_tuple_dout():
    cell = _Pair()
    assert_close(funcad.grad(lambda x: ops.sum(cell(x)[0]) + ops.sum(cell(x)[1]))(T), np.full(3, 11.0))
    assert_close(funcad.vmap(funcad.grad(lambda x: ops.sum(cell(x)[1])))(np.stack([T, T])), np.ones((2, 3)))


def test_bad_rules_and_arguments_are_refused_by_name():
    @funcad.custom_vjp
    def f(p):
        return p["r"] * p["t"]

    f.defvjp(lambda p: (f(p), p), lambda p, g: ((g, g),))
    with pytest.raises(ValueError, match=r"f: the backward rule's cotangent 0 has the structure .* but input 0 has"):
        funcad.grad(lambda p: ops.sum(f(p)))({"r": R, "t": T})

    @partial(funcad.custom_vjp, nondiff_argnums=(2,))
    def g(x, y):
        return x * y

    g.defvjp(lambda x, y: (x * y, None), lambda res, ct: (ct, ct))
    with pytest.raises(ValueError, match="g: nondiff_argnums names argument 2, but the call has 2 arguments"):
        g(R, T)

    @partial(funcad.custom_vjp, nondiff_argnums=(0,))
    def h(k, x):
        return k * x

    h.defvjp(lambda k, x: (k * x, None), lambda k, res, ct: (ct * k,))
    with pytest.raises(TypeError, match="h: argument 0 is in nondiff_argnums but holds a traced Tensor"):
        funcad.grad(lambda k: ops.sum(h(k, T)))(R)

    empty = funcad.custom_vjp(lambda x: ())
    empty.defvjp(lambda x: ((), None), lambda res, g: (None,))
    with pytest.raises(TypeError, match=r"<lambda>: a custom-derivative function must return at least one Tensor, got \(\)"):
        empty(R)

    sincos_bad = funcad.custom_jvp(lambda x: (ops.sin(x), ops.cos(x)))
    sincos_bad.defjvp(lambda primals, tangents: ((ops.sin(primals[0]), ops.cos(primals[0])), ops.cos(primals[0])))
    with pytest.raises(ValueError, match=r"<lambda>: the jvp rule's tangent has the structure"):
        funcad.jvp(sincos_bad, (T,), (np.ones(3),))
