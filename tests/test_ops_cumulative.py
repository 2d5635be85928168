"""Running reductions: logcumsumexp, cummax and cummin against torch in float64 (values, indices, first and second
derivatives), at magnitudes where exp overflows, with ties and NaN, and under vmap and jit."""

import numpy as np
import pytest
import torch

import funcad
from funcad import ops

RNG = np.random.default_rng(5)


@pytest.mark.parametrize("scale", [1.0, 800.0])  # 800: exp overflows float64, the running logaddexp does not
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_logcumsumexp_matches_torch_with_gradients_of_both_orders(scale, axis):
    x, g = RNG.normal(size=(4, 5)) * scale, RNG.normal(size=(4, 5))
    value = ops.logcumsumexp(funcad.Tensor(x), axis)
    tx = torch.tensor(x, requires_grad=True)
    expected = torch.logcumsumexp(tx, axis)
    np.testing.assert_allclose(value.asnumpy(), expected.detach().numpy(), rtol=1e-13)

    def weighted(v):
        return ops.sum(ops.logcumsumexp(v, axis) * funcad.Tensor(g))

    first = torch.autograd.grad((expected * torch.tensor(g)).sum(), tx, create_graph=True)[0]
    np.testing.assert_allclose(funcad.grad(weighted)(funcad.Tensor(x)).asnumpy(), first.detach().numpy(), rtol=1e-10, atol=1e-14)
    if scale == 1.0:  # second order: d/dx of (dx . v), against torch's double backward
        v = RNG.normal(size=(4, 5))
        second = torch.autograd.grad((first * torch.tensor(v)).sum(), tx)[0]
        mine = funcad.grad(lambda a: ops.sum(funcad.grad(weighted)(a) * funcad.Tensor(v)))(funcad.Tensor(x))
        np.testing.assert_allclose(mine.asnumpy(), second.numpy(), rtol=1e-9, atol=1e-12)


def test_logcumsumexp_forward_mode_matches_finite_differences():
    x, t = RNG.normal(size=(3, 6)), RNG.normal(size=(3, 6))
    _, tangent = funcad.jvp(lambda a: ops.logcumsumexp(a, 1), (funcad.Tensor(x),), (funcad.Tensor(t),))
    h = 1e-6
    numeric = (torch.logcumsumexp(torch.tensor(x + h * t), 1) - torch.logcumsumexp(torch.tensor(x - h * t), 1)).numpy() / (2 * h)
    np.testing.assert_allclose(tangent.asnumpy(), numeric, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_running_extremes_match_torch_with_ties_and_nan(name):
    x = np.array([[1.0, 3.0, 3.0, 2.0, 5.0, 5.0], [2.0, np.nan, 1.0, 4.0, 0.0, 0.0], [0.5, 0.5, 0.5, -1.0, -1.0, 7.0]])
    values, indices = getattr(ops, name)(funcad.Tensor(x), 1)
    expected = getattr(torch, name)(torch.tensor(x), 1)
    np.testing.assert_array_equal(values.asnumpy(), expected.values.numpy())
    np.testing.assert_array_equal(indices.asnumpy(), expected.indices.numpy())
    finite = np.nan_to_num(x, nan=0.25)
    tx = torch.tensor(finite, requires_grad=True)
    getattr(torch, name)(tx, 0).values.pow(2).sum().backward()
    grad = funcad.grad(lambda a: ops.sum(getattr(ops, name)(a, 0)[0] ** 2))(funcad.Tensor(finite))
    np.testing.assert_allclose(grad.asnumpy(), tx.grad.numpy(), rtol=1e-14)


def test_running_ops_under_vmap_and_jit_equal_the_loop():
    x = RNG.normal(size=(3, 4, 5)).astype(np.float32)

    def f(a):
        return ops.logcumsumexp(a, 1) + ops.cummax(a, 0)[0] - ops.cummin(a, 1)[0]

    looped = np.stack([f(funcad.Tensor(row)).asnumpy() for row in x])
    np.testing.assert_array_equal(funcad.vmap(f)(funcad.Tensor(x)).asnumpy(), looped)
    np.testing.assert_array_equal(funcad.jit(f)(funcad.Tensor(x[0])).asnumpy(), looped[0])


def test_running_extremes_name_a_scalar_input():
    with pytest.raises(ValueError, match="funcad.ops.cummax: needs an input of at least one dimension"):
        ops.cummax(funcad.Tensor(np.float32(1.0)), 0)
