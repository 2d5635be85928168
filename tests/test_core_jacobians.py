"""jacrev, jacfwd, hessian, hvp, vjp and jvp against torch.func in float64 on a table of functions spanning the op
families, against finite differences, composed with vmap and under jit; and their errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import funcad
from funcad import ops
from funcad.testing import assert_close

RNG = np.random.default_rng(3)
LABELS = np.array([2, 0])
IDX = np.array([2, 0, 1])


def _r(*shape):
    return RNG.standard_normal(shape)


# name -> (funcad function, torch function, float64 arguments); each maps arrays to one array
TABLE = {
    "elementwise": (lambda x, y: ops.tanh(x) * ops.exp(y) + ops.sigmoid(x * y),
                    lambda x, y: torch.tanh(x) * torch.exp(y) + torch.sigmoid(x * y), (_r(2, 3), _r(2, 3))),
    "reductions": (lambda x: ops.logsumexp(x, axis=1) + ops.mean(x * x, axis=1), lambda x: torch.logsumexp(x, 1) + (x * x).mean(1), (_r(3, 4),)),
    "indexing": (lambda x: x[1:, IDX] * x[0, :3], lambda x: x[1:, IDX] * x[0, :3], (_r(3, 4),)),
    "matmul_einsum": (lambda x, w: ops.einsum("ij,jk->ik", x, w) @ w.T, lambda x, w: torch.einsum("ij,jk->ik", x, w) @ w.T, (_r(2, 3), _r(3, 3))),
    "conv": (lambda x, w: ops.conv2d(x, w, padding=1), lambda x, w: F.conv2d(x, w, padding=1), (_r(1, 2, 4, 4), _r(2, 2, 3, 3))),
    "pooling": (lambda x: ops.max_pool2d(x, 2) + ops.avg_pool2d(x, 2, 2), lambda x: F.max_pool2d(x, 2) + F.avg_pool2d(x, 2), (_r(1, 2, 4, 4),)),
    "normalisation": (lambda x: ops.layer_norm(x, 4), lambda x: F.layer_norm(x, (4,)), (_r(2, 4),)),
    "losses": (lambda x: ops.cross_entropy(x, LABELS) + ops.softmax(x, axis=1)[:, 0],
               lambda x: F.cross_entropy(x, torch.tensor(LABELS)) + torch.softmax(x, 1)[:, 0], (_r(2, 3),)),
}
SCALAR = {name: (lambda *a, f=f: ops.sum(f(*a) ** 2), lambda *a, t=t: (t(*a) ** 2).sum(), args) for name, (f, t, args) in TABLE.items()}


def _torch_args(args):
    return tuple(torch.tensor(a) for a in args)


def _positions(args):
    return tuple(range(len(args)))


@pytest.mark.parametrize("name", sorted(TABLE))
@pytest.mark.parametrize("mode", ["jacrev", "jacfwd"])
def test_jacobians_match_torch_func(name, mode):
    f, tf, args = TABLE[name]
    got = getattr(funcad, mode)(f, _positions(args))(*args)
    got = got if len(args) > 1 else (got,)  # one position comes back bare, as grad's gradient does
    want = getattr(torch.func, mode)(tf, _positions(args))(*_torch_args(args))
    for g, w in zip(got, want):
        assert_close(g, w.numpy(), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_hessians_match_torch_func(name):
    f, tf, args = SCALAR[name]
    got = funcad.hessian(f)(*args)
    want = torch.func.hessian(tf)(*_torch_args(args))
    assert_close(got, want.numpy(), rtol=1e-8, atol=1e-9)
    v = _r(*args[0].shape)
    assert_close(funcad.hvp(lambda x: f(x, *args[1:]), args[0], v),
                 (want.numpy().reshape(v.size, v.size) @ v.reshape(-1)).reshape(v.shape), rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_vjp_jvp_and_vmap_match_torch_func(name):
    f, tf, args = TABLE[name]
    out, pullback = funcad.vjp(f, *args)
    t_out, t_pullback = torch.func.vjp(tf, *_torch_args(args))
    u = _r(*out.shape)
    for g, w in zip(pullback(u), t_pullback(torch.tensor(u))):
        assert_close(g, w.numpy(), rtol=1e-9, atol=1e-10)
    tangents = tuple(_r(*a.shape) for a in args)
    _, jv = funcad.jvp(f, args, tangents)
    _, t_jv = torch.func.jvp(tf, _torch_args(args), _torch_args(tangents))
    assert_close(jv, t_jv.numpy(), rtol=1e-9, atol=1e-10)
    batch = np.stack([args[0], args[0] * 0.5, args[0] + 0.1])
    got = funcad.vmap(f, in_axes=(0,) + (None,) * (len(args) - 1))(batch, *args[1:])
    want = torch.func.vmap(tf, in_dims=(0,) + (None,) * (len(args) - 1))(torch.tensor(batch), *_torch_args(args[1:]))
    assert_close(got, want.numpy(), rtol=1e-9, atol=1e-10)


def _finite_difference_jacobian(f, x, eps=1e-6):
    base = np.asarray(f(x))
    jac = np.zeros(base.shape + x.shape)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        jac[(...,) + i] = (np.asarray(f(x + step)) - np.asarray(f(x - step))) / (2 * eps)
    return jac


@pytest.mark.parametrize("name", ["elementwise", "reductions", "normalisation", "losses"])
def test_jacobians_match_finite_differences(name):
    f, _, args = TABLE[name]
    first = lambda x: f(x, *args[1:])  # noqa: E731
    expected = _finite_difference_jacobian(first, args[0])
    assert_close(funcad.jacrev(first)(args[0]), expected, rtol=1e-6, atol=1e-7)
    assert_close(funcad.jacfwd(first)(args[0]), expected, rtol=1e-6, atol=1e-7)


def test_pytree_inputs_and_outputs_are_shaped_as_jax_does():
    def f(params, x):
        return {"y": params["w"] @ x, "s": ops.sum(params["b"] * x)}

    params = {"w": _r(2, 3), "b": _r(3)}
    x = _r(3)
    for mode in (funcad.jacrev, funcad.jacfwd):
        jac = mode(f)(params, x)
        assert set(jac) == {"y", "s"} and set(jac["y"]) == {"w", "b"}
        assert jac["y"]["w"].shape == (2, 2, 3) and jac["s"]["b"].shape == (3,)
        assert_close(jac["s"]["b"], x)
        assert_close(jac["y"]["b"], np.zeros((2, 3)))
        assert_close(jac["y"]["w"], np.einsum("ik,j->ikj", np.eye(2), x))


def test_has_aux_returns_the_aux_unchanged():
    for mode in (funcad.jacrev, funcad.jacfwd, funcad.hessian):
        jac, aux = mode(lambda x: (ops.sum(x ** 3), x * 2.0), has_aux=True)(np.array([1.0, 2.0]))
        assert_close(aux, np.array([2.0, 4.0]))
    assert_close(jac, np.diag([6.0, 12.0]))


def test_vjp_with_weights_gives_input_and_weight_cotangents():
    funcad.set_seed(0)
    net = funcad.nn.Dense(3, 2)
    x = _r(4, 3).astype(np.float32)
    out, pullback = funcad.vjp(net, x, weights=net.trainable_params())
    u = np.ones((4, 2), np.float32)
    (gx,), (gw, gb) = pullback(u)
    assert_close(gx, u @ net.weight.asnumpy())
    assert_close(gw, u.T @ x)
    assert_close(gb, u.sum(0))


def test_compositions_under_jit_equal_eager():
    f = lambda x: ops.sum(ops.tanh(x) ** 3)  # noqa: E731
    x = _r(4, 3)
    cases = {
        "vmap(jacrev)": funcad.vmap(funcad.jacrev(f)),
        "jacfwd(jacrev)": funcad.jacfwd(funcad.jacrev(f)),
        "grad(vmap)": funcad.grad(lambda x: ops.sum(funcad.vmap(f)(x))),
        "vmap(grad)": funcad.vmap(funcad.grad(f)),
    }
    for name, transformed in cases.items():
        assert_close(funcad.jit(transformed)(x), transformed(x), rtol=1e-12, atol=1e-12, msg=name)
    assert_close(cases["vmap(grad)"](x), 3 * np.tanh(x) ** 2 * (1 - np.tanh(x) ** 2))


def test_errors_name_the_transform_and_argument():
    with pytest.raises(TypeError, match="jacrev: argument at position 0 has dtype int64"):
        funcad.jacrev(lambda k: k * 2.0)(np.array([1, 2]))
    with pytest.raises(TypeError, match="jacfwd: argument at position 1 has dtype int64"):
        funcad.jacfwd(lambda x, k: x * k, (0, 1))(np.ones(2), np.array([1, 2]))
    with pytest.raises(ValueError, match="jacrev: grad_position 2 is out of range for a function called with 1 arguments"):
        funcad.jacrev(ops.exp, 2)(np.ones(2))
    _, pullback = funcad.vjp(ops.exp, np.ones(2))
    with pytest.raises(ValueError, match=r"vjp: cotangent of shape \(3,\) for an output of shape \(2,\)"):
        pullback(np.ones(3))
