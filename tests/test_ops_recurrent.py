"""ops.lstm_cell, the fused LSTM step: values and first derivatives against torch's autograd in float64, and
derivatives of every order in both modes against finite differences."""

import numpy as np
import pytest
import torch

import funcad
from funcad import ops
from funcad.testing import check_grads


def _inputs(seed=0, lead=(3,), hidden=2):
    rng = np.random.default_rng(seed)
    return rng.normal(size=lead + (4 * hidden,)) * 2, rng.normal(size=lead + (hidden,))


def test_lstm_cell_matches_torch_step_and_gradients():
    gates, c = _inputs(lead=(4, 3), hidden=5)
    tg, tc = torch.tensor(gates, requires_grad=True), torch.tensor(c, requires_grad=True)
    i, f, g, o = tg.chunk(4, dim=-1)
    c_new = torch.sigmoid(f) * tc + torch.sigmoid(i) * torch.tanh(g)
    expected = torch.stack([torch.sigmoid(o) * torch.tanh(c_new), c_new])
    cot = np.random.default_rng(1).normal(size=expected.shape)
    (expected * torch.from_numpy(cot)).sum().backward()
    out, pullback = funcad.vjp(ops.lstm_cell, gates, c)
    np.testing.assert_allclose(np.asarray(out), expected.detach().numpy(), rtol=1e-13, atol=1e-15)
    g_gates, g_c = pullback(cot)
    np.testing.assert_allclose(np.asarray(g_gates), tg.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.asarray(g_c), tc.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_lstm_cell_derivatives_of_every_order():
    gates, c = _inputs()

    def fn(gates, c):
        return ops.sum(ops.sin(ops.lstm_cell(gates, c)))

    check_grads(fn, (gates, c), order=2)
    check_grads(fn, (gates, c), order=3, modes=("rev",))


def test_lstm_cell_compiled_equals_eager():
    gates, c = _inputs(lead=(2, 3))
    step = funcad.value_and_grad(lambda g, c: ops.sum(ops.lstm_cell(g, c) ** 2), (0, 1))
    (eager, eager_grads), (compiled, compiled_grads) = step(gates, c), funcad.jit(step)(gates, c)
    np.testing.assert_allclose(np.asarray(compiled), np.asarray(eager), rtol=1e-13)
    for a, b in zip(compiled_grads, eager_grads):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-13)


def test_lstm_cell_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"funcad.ops.lstm_cell: gates of shape \(3, 6\) must be c's shape \(3, 2\) with 4 times its last axis"):
        ops.lstm_cell(np.zeros((3, 6)), np.zeros((3, 2)))
