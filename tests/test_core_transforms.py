"""grad / value_and_grad / vjp / jvp: MindSpore 2.x semantics, the seed's five calls, nesting, bad input.

References are independent: closed-form derivatives computed in numpy, torch.autograd, finite differences.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import funcad
from funcad import Parameter, Tensor, ops
from funcad.testing import assert_close, check_grads


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# -- the seed's example: z = x @ w + b, BCE-with-logits against y ---------------------------------------
@pytest.fixture
def seed_problem():
    rng = np.random.default_rng(0)
    x = np.ones(5, np.float32)
    y = np.zeros(3, np.float32)
    w = rng.standard_normal((5, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    z = x.astype(np.float64) @ w + b
    dz = (_sigmoid(z) - y) / 3.0  # d mean(BCE)/dz with weight = pos_weight = 1
    return x, y, w, b, z, dz


def _loss(x, y, w, b):
    z = ops.matmul(x, w) + b
    return ops.binary_cross_entropy_with_logits(z, y, ops.ones_like(z), ops.ones_like(z)), z


def test_seed_plain_grad(seed_problem):
    x, y, w, b, z, dz = seed_problem
    dw, db = funcad.grad(lambda *a: _loss(*a)[0], (2, 3))(x, y, w, b)
    assert dw.dtype == np.float32 and dw.shape == (5, 3)
    assert_close(dw, np.outer(x, dz).astype(np.float32))
    assert_close(db, dz.astype(np.float32))


def test_seed_tuple_output_sums_every_output(seed_problem):
    x, y, w, b, z, dz = seed_problem
    dw, db = funcad.grad(_loss, (2, 3))(x, y, w, b)  # d(loss + sum(z)): every z element adds 1
    assert_close(dw, np.outer(x, dz + 1.0).astype(np.float32))
    assert_close(db, (dz + 1.0).astype(np.float32))


def test_seed_stop_gradient_removes_the_extra_output(seed_problem):
    x, y, w, b, z, dz = seed_problem

    def fn(*a):
        loss, zz = _loss(*a)
        return loss, ops.stop_gradient(zz)

    dw, db = funcad.grad(fn, (2, 3))(x, y, w, b)
    assert_close(dw, np.outer(x, dz).astype(np.float32))
    assert_close(db, dz.astype(np.float32))


def test_seed_has_aux_returns_the_extra_output(seed_problem):
    x, y, w, b, z, dz = seed_problem
    (dw, db), aux = funcad.grad(_loss, (2, 3), has_aux=True)(x, y, w, b)
    assert isinstance(aux, tuple) and len(aux) == 1
    assert_close(aux[0], z.astype(np.float32))
    assert_close(dw, np.outer(x, dz).astype(np.float32))
    assert_close(db, dz.astype(np.float32))


def test_seed_weights_as_parameters(seed_problem):
    x, y, w, b, z, dz = seed_problem
    wp, bp = Parameter(w, name="w"), Parameter(b, name="b")

    def forward_fn(inputs, targets):
        return _loss(inputs, targets, wp, bp)[0]

    loss, (dw, db) = funcad.value_and_grad(forward_fn, None, [wp, bp])(x, y)
    expected = np.mean(np.logaddexp(0.0, z))  # y = 0: BCE = softplus(z)
    assert_close(loss, np.float32(expected))
    assert_close(dw, np.outer(x, dz).astype(np.float32))
    assert_close(db, dz.astype(np.float32))
    assert wp._bound is None and bp._bound is None  # unbound after the call


# -- MindSpore calling conventions ---------------------------------------------------------------------
def _two(x, y):
    return ops.sum(x * x * y)


def test_bare_versus_tuple():
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    g0 = funcad.grad(_two)(x, y)
    assert isinstance(g0, Tensor)
    assert_close(g0, 2 * x * y)
    assert isinstance(funcad.grad(_two, (1,))(x, y), Tensor)
    both = funcad.grad(_two, (0, 1))(x, y)
    assert isinstance(both, tuple) and len(both) == 2
    assert_close(both[1], x * x)
    assert_close(funcad.grad(_two, -1)(x, y), x * x)


def test_weights_and_positions_together():
    x = np.array([1.0, 2.0])
    w = Parameter(np.array([0.5, -1.0]), name="w")
    v = Parameter(np.array([2.0]), name="v")

    def fn(a):
        return ops.sum(a * w * v)

    ig, wg = funcad.grad(fn, 0, w)(x)
    assert_close(ig, np.asarray(w) * 2.0)
    assert_close(wg, x * 2.0)
    ig, wgs = funcad.grad(fn, 0, [w, v])(x)
    assert isinstance(wgs, tuple) and len(wgs) == 2
    assert_close(wgs[1], np.array([np.sum(x * np.asarray(w))]))
    assert isinstance(funcad.grad(fn, None, [w])(x), tuple)
    assert isinstance(funcad.grad(fn, None, w)(x), Tensor)


def test_keyword_arguments_reach_the_function_and_are_not_differentiated():
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    w = Parameter(np.array([0.5, -1.0]), name="w")

    def fn(a, b, scale=1.0, offset=None):
        return ops.sum(a * b * scale * w + (0.0 if offset is None else offset * a))

    offset = np.array([10.0, 20.0])
    assert_close(funcad.grad(fn)(x, y, scale=3.0), y * 3.0 * np.asarray(w))
    gx, gy = funcad.grad(fn, (0, 1))(x, y, scale=2.0, offset=offset)
    assert_close(gx, y * 2.0 * np.asarray(w) + offset)
    assert_close(gy, x * 2.0 * np.asarray(w))
    value, (gx, gw) = funcad.value_and_grad(fn, 0, w)(x, y, offset=offset)
    assert_close(value, np.sum(x * y * np.asarray(w) + offset * x))
    assert_close(gw, x * y)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(np.asarray(w), requires_grad=True)
    (xt * torch.tensor(y) * 2.0 * wt).sum().backward()
    jitted = funcad.jit(lambda a, b: funcad.grad(fn, 0, w)(a, b, scale=2.0))
    gx, gw = jitted(x, y)
    assert_close(gx, xt.grad.numpy())
    assert_close(gw, wt.grad.numpy())


def test_both_none_is_a_value_error():
    with pytest.raises(ValueError, match="grad_position and weights cannot both be None"):
        funcad.grad(_two, None, None)
    with pytest.raises(ValueError):
        funcad.value_and_grad(_two, None)


def test_return_ids():
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    w = Parameter(np.array([2.0, 2.0]), name="layer.weight")
    grads = funcad.grad(lambda a, b: ops.sum(a * b * w), (0, 1), return_ids=True)(x, y)
    assert [g[0] for g in grads] == [0, 1]
    assert_close(grads[1][1], x * 2.0)
    ig, wg = funcad.grad(lambda a, b: ops.sum(a * b * w), 1, w, return_ids=True)(x, y)
    assert ig[0] == 1 and wg[0] == "layer.weight"
    assert_close(wg[1], x * y)


def test_value_and_grad_with_aux():
    x = np.array([0.3, -0.7])
    (value, aux), g = funcad.value_and_grad(lambda a: (ops.sum(ops.sin(a)), a * 2.0), has_aux=True)(x)
    assert_close(value, np.sum(np.sin(x)))
    assert_close(aux, 2 * x)
    assert_close(g, np.cos(x))


def test_has_aux_output_is_gradient_stopped_for_outer_transforms():
    def inner(x):
        grads, aux = funcad.grad(lambda y: (ops.sum(y * y), y * x), has_aux=True)(x)
        return ops.sum(aux[0]) + ops.sum(grads)

    # aux is stopped: only sum(2x) contributes to the outer gradient.
    assert_close(funcad.grad(inner)(np.array([1.0, -2.0])), np.array([2.0, 2.0]))


def test_non_scalar_output_gets_ones():
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    assert_close(funcad.grad(lambda a: a * a)(x), 2 * x)
    assert_close(funcad.grad(lambda a: (a * a, ops.sin(a)))(x), 2 * x + np.cos(x))


def test_pytree_arguments_keep_their_structure():
    params = {"w": np.array([1.0, 2.0]), "pair": [np.array(3.0), (np.array([0.5]),)]}

    def fn(p, scale):
        return ops.sum(p["w"] * p["pair"][0]) * scale + ops.sum(p["pair"][1][0]) * scale

    g = funcad.grad(fn)(params, 2.0)
    assert set(g) == {"w", "pair"} and isinstance(g["pair"], list) and isinstance(g["pair"][1], tuple)
    assert_close(g["w"], np.array([6.0, 6.0]))
    assert_close(g["pair"][0], np.array(6.0))
    assert_close(g["pair"][1][0], np.array([2.0]))


def test_perturbation_confusion():
    assert float(funcad.grad(lambda x: funcad.grad(lambda y: x * y)(1.0))(2.0)) == 1.0
    # d/dx [x * d/dy (x + y)] = 1, not 2
    assert float(funcad.grad(lambda x: x * funcad.grad(lambda y: x + y)(1.0))(3.0)) == 1.0


def test_stop_gradient_blocks_every_level():
    f = funcad.grad(funcad.grad(lambda x: ops.stop_gradient(x * x) * x + x * x * x))
    assert_close(f(np.array(2.0)), np.array(12.0))  # d2/dx2 x^3 = 6x; the stopped x^2 * x contributes nothing


# -- higher order against closed forms ----------------------------------------------------------------
THIRD = {
    "sin": (ops.sin, lambda x: -np.cos(x)),
    "exp": (ops.exp, np.exp),
    "tanh": (ops.tanh, lambda x: (1 - np.tanh(x) ** 2) * (6 * np.tanh(x) ** 2 - 2)),
    "x**4": (lambda x: x**4, lambda x: 24 * x),
    "log": (ops.log, lambda x: 2 / x**3),
    "sigmoid": (ops.sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x)) * (1 - 6 * _sigmoid(x) + 6 * _sigmoid(x) ** 2)),
    "sqrt": (ops.sqrt, lambda x: 3 / 8 * x**-2.5),
}


@pytest.mark.parametrize("name", sorted(THIRD))
def test_third_derivative_closed_form(name):
    f, d3 = THIRD[name]
    x = np.array([0.3, 0.9, 1.7])
    assert_close(funcad.grad(funcad.grad(funcad.grad(f)))(x), d3(x), rtol=1e-12, atol=1e-12)


def test_third_order_through_a_composite_vs_torch():
    def f_np(x):
        return ops.sum(ops.log_softmax(ops.tanh(x) * x, axis=0) * ops.softplus(x))

    x = np.array([0.2, -0.5, 1.1])
    mixed = funcad.grad(lambda a: ops.sum(funcad.grad(lambda b: ops.sum(funcad.grad(f_np)(b) * b))(a) * a))(x)
    t = torch.tensor(x, requires_grad=True)
    g1 = torch.autograd.grad(torch.sum(torch.log_softmax(torch.tanh(t) * t, 0) * torch.nn.functional.softplus(t)), t, create_graph=True)[0]
    g2 = torch.autograd.grad(torch.sum(g1 * t), t, create_graph=True)[0]
    g3 = torch.autograd.grad(torch.sum(g2 * t), t)[0]
    assert_close(mixed, g3.numpy(), rtol=1e-10, atol=1e-12)
    check_grads(f_np, (x,), order=3, modes=("rev", "fwd"))


def test_forward_over_reverse_hessian_vector_product():
    x, v = np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.5, -0.25])

    def f(a):
        return ops.sum(ops.sin(a) * a[0])

    _, hv = funcad.jvp(funcad.grad(f), (x,), (v,))
    hess = np.diag(-np.sin(x) * x[0])
    hess[0] += np.cos(x)
    hess[:, 0] += np.cos(x)
    assert_close(hv, hess @ v, rtol=1e-12, atol=1e-12)


# -- vjp and jvp ----------------------------------------------------------------------------------------
def test_vjp_and_jvp_against_torch():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((2, 3)), rng.standard_normal(3)
    u, dx, dy = rng.standard_normal((2, 3)), rng.standard_normal((2, 3)), rng.standard_normal(3)

    def f(a, b):
        return ops.tanh(a * b) + ops.exp(b)

    def tf(a, b):
        return torch.tanh(a * b) + torch.exp(b)

    out, pullback = funcad.vjp(f, x, y)
    gx, gy = pullback(u)
    t_out, (tgx, tgy) = torch.autograd.functional.vjp(tf, (torch.tensor(x), torch.tensor(y)), torch.tensor(u))
    assert_close(out, t_out.numpy())
    assert_close(gx, tgx.numpy())
    assert_close(gy, tgy.numpy())
    out, tangent = funcad.jvp(f, (x, y), (dx, dy))
    _, t_tangent = torch.autograd.functional.jvp(tf, (torch.tensor(x), torch.tensor(y)), (torch.tensor(dx), torch.tensor(dy)))
    assert_close(tangent, t_tangent.numpy())


def test_vjp_has_aux_and_cotangent_shape_check():
    out, pullback, aux = funcad.vjp(lambda a: (a * 3.0, a + 1.0), np.array([1.0, 2.0]), has_aux=True)
    assert_close(aux, np.array([2.0, 3.0]))
    assert_close(pullback(np.array([1.0, -1.0])), np.array([3.0, -3.0]))
    with pytest.raises(ValueError, match="cotangent of shape"):
        pullback(np.ones(3))


# -- bad input --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.array([1, 2], np.int64), np.array([True, False]), 3])
def test_integer_or_bool_input_at_a_differentiated_position(bad):
    with pytest.raises(TypeError, match=r"position 1 has dtype (int64|bool)"):
        funcad.grad(_two, (0, 1))(np.array([1.0, 2.0]), bad)


def test_non_float_inputs_elsewhere_are_fine():
    assert_close(funcad.grad(lambda a, k: ops.sum(a * k))(np.array([1.0, 2.0]), np.array([3, 4])), np.array([3.0, 4.0]))


@pytest.mark.parametrize("op, a, b", [
    (ops.add, (2, 3), (4,)),
    (ops.multiply, (2, 3), (3, 2)),
    (ops.matmul, (2, 3), (2, 3)),
    (ops.maximum, (5,), (2,)),
    (lambda a, b: ops.concat([a, b], axis=0), (2, 3), (2, 4)),
    (ops.mse_loss, (2, 3), (4,)),
    (ops.l1_loss, (3,), (2,)),
    (ops.binary_cross_entropy_with_logits, (2, 3), (3,)),
    (lambda a, b: ops.einsum("ij,jk->ik", a, b), (2, 3), (4, 2)),
    (lambda a, b: ops.tensordot(a, b, 1), (2, 3), (2, 3)),
])
def test_incompatible_shapes_name_the_op_and_both_shapes(op, a, b):
    x, y = np.ones(a), np.ones(b)
    def fmt(shape):  # "[2, 3]" from primitives, "(2, 3)" from composite ops
        return r"(\[" + ", ".join(map(str, shape)) + r"\]|" + re.escape(str(tuple(shape))) + ")"

    for call in (lambda: op(x, y), lambda: funcad.grad(lambda p: ops.sum(op(p, y)))(x)):
        with pytest.raises(ValueError, match=r"funcad\.ops\.\w+: .*" + fmt(a) + ".*" + fmt(b)):
            call()


def test_grad_position_out_of_range():
    for position in (2, -3, (0, 5)):
        with pytest.raises(ValueError, match="out of range"):
            funcad.grad(_two, position)(np.ones(2), np.ones(2))


def test_output_independent_of_input_gives_zeros():
    x, y = np.ones((2, 3)), np.ones(4)
    g = funcad.grad(lambda a, b: ops.sum(b * 2.0), (0, 1))(x, y)
    assert_close(g[0], np.zeros((2, 3)))
    assert_close(g[1], np.full(4, 2.0))
    assert_close(funcad.grad(lambda a: funcad.Tensor(5.0))(x), np.zeros((2, 3)))  # a Python 5.0 is an error: see below
    assert_close(funcad.grad(lambda a: ops.stop_gradient(a) * 2.0)(x), np.zeros((2, 3)))
    w = Parameter(np.ones(3), name="unused")
    assert_close(funcad.grad(lambda a: ops.sum(a), None, w)(x), np.zeros(3))


def test_integer_weight_is_a_type_error():
    counter = Parameter(np.array([1, 2]), name="steps")
    with pytest.raises(TypeError, match="weight 'steps' has dtype Int64"):
        funcad.grad(lambda a: ops.sum(a * counter), None, counter)(np.ones(2))


def test_parameter_listed_twice_is_unbound_afterwards():
    w = Parameter(np.array([1.0, 2.0]), name="w")
    g1, g2 = funcad.grad(lambda a: ops.sum(a * w * w), None, [w, w])(np.ones(2))
    assert w._bound is None
    assert_close(g1, 2 * np.asarray(w))  # each entry gets the full gradient
    assert_close(g2, 2 * np.asarray(w))


def test_reverse_over_forward_and_forward_over_forward():
    x, v = np.array([0.3, 0.7]), np.array([1.0, 0.5])

    def f(a):
        return ops.sin(a) * a

    second = (-np.sin(x) * x + 2 * np.cos(x)) * v  # d/da_i of (J v)_i = (a_i cos a_i + sin a_i) v_i
    assert_close(funcad.grad(lambda a: ops.sum(funcad.jvp(f, (a,), (v,))[1]))(x), second, rtol=1e-12, atol=1e-12)
    assert_close(funcad.jvp(lambda a: funcad.jvp(f, (a,), (v,))[1], (x,), (v,))[1], second * v, rtol=1e-12, atol=1e-12)
