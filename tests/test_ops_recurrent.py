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


def _sequence_inputs(steps=3, batch=2, hidden=2, seed=2):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(steps, batch, 4 * hidden)), rng.normal(size=(batch, hidden)), rng.normal(size=(batch, hidden)),
            rng.normal(size=(4 * hidden, hidden)) * 0.5)


def _unrolled(projected, h, c, w_hh, masks, reverse):
    """The recurrence written out step by step with lstm_cell: an independent reference."""
    steps = projected.shape[0]
    outputs = [None] * steps
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        pair = ops.lstm_cell(projected[t] + ops.matmul(h, ops.transpose(w_hh)), c)
        inside = np.ones((h.shape[0], 1), bool) if masks is None else masks[t]
        h, c, outputs[t] = ops.where(inside, pair[0], h), ops.where(inside, pair[1], c), ops.where(inside, pair[0], 0.0)
    return ops.stack(outputs), h, c


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_lstm_sequence_equals_its_unrolled_steps_with_every_gradient(reverse, masked):
    args = _sequence_inputs()
    masks = (np.arange(3)[:, None] < np.array([3, 1])[None, :])[..., None] if masked else None
    cots = [np.random.default_rng(k).normal(size=s) for k, s in enumerate([(3, 2, 2), (2, 2), (2, 2)])]

    def total(fn):
        return lambda *a: sum(ops.sum(o * k) for o, k in zip(fn(*a), cots))

    fused = total(lambda *a: ops.lstm_sequence(*a, masks=masks, reverse=reverse))
    reference = total(lambda *a: _unrolled(*a, masks, reverse))
    value, grads = funcad.value_and_grad(fused, (0, 1, 2, 3))(*args)
    expected_value, expected_grads = funcad.value_and_grad(reference, (0, 1, 2, 3))(*args)
    np.testing.assert_allclose(np.asarray(value), np.asarray(expected_value), rtol=1e-13)
    for g, e in zip(grads, expected_grads):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-12, atol=1e-14)
    check_grads(lambda *a: ops.sum(ops.sin(ops.lstm_sequence(*a, masks=masks, reverse=reverse)[0])), args, order=2)


def test_lstm_sequence_rejects_mismatched_shapes():
    projected, h, c, w_hh = _sequence_inputs()
    with pytest.raises(ValueError, match=r"lstm_sequence: projected of shape \(3, 2, 8\) needs c0 of shape \(2, 2\), got \(2, 3\)"):
        ops.lstm_sequence(projected, h, np.zeros((2, 3)), w_hh)
