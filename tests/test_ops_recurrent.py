"""ops.lstm_cell, the fused LSTM step: values and first derivatives against torch's autograd in float64, and
derivatives of every order in both modes against finite differences."""

import warnings

import numpy as np
import pytest
import torch

import funcad
from funcad import ops
from funcad.ops import batching
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


def test_the_sequence_primitive_tangent_has_its_output_shape_saved_rows_included():
    """The fused primitive returns its outputs, final states and the rows its backward reads; forward mode's tangent
    covers all of them (zeros for the saved rows), so a tangent and its primal always have one shape."""
    from funcad.ops.recurrent import _lstm_sequence

    projected, h0, c0, w_hh = _sequence_inputs()
    packed = np.concatenate([a.reshape(-1) for a in (projected, h0, c0, w_hh)])
    primal, tangent = funcad.jvp(lambda p: _lstm_sequence(p, w_hh, None, dims=(3, 2, 2), reverse=False), (packed,),
                                 (np.random.default_rng(5).normal(size=packed.shape),))
    assert tuple(tangent.shape) == tuple(primal.shape)
    assert not np.asarray(tangent)[3 + 2:].any()


def test_lstm_sequence_rejects_mismatched_shapes():
    projected, h, c, w_hh = _sequence_inputs()
    with pytest.raises(ValueError, match=r"lstm_sequence: projected of shape \(3, 2, 8\) needs c0 of shape \(2, 2\), got \(2, 3\)"):
        ops.lstm_sequence(projected, h, np.zeros((2, 3)), w_hh)


# -- vmap: members sharing w_hh fold into the LSTM's batch; a batched w_hh loops ---------------------------------------
MEMBERS = 3


def _stacked_inputs(seed=5):
    """MEMBERS different sets of (projected, h0, c0, w_hh) stacked along a new first axis."""
    sets = [_sequence_inputs(seed=seed + k) for k in range(MEMBERS)]
    return [np.stack(parts) for parts in zip(*sets)]


def _per_member(fn, stacked, axes):
    """fn run on each member alone (the reference): an argument with axis None is the same for every member."""
    members = [fn(*[s if a is None else np.take(s, b, axis=a) for s, a in zip(stacked, axes)]) for b in range(MEMBERS)]
    return [np.stack([np.asarray(m[k]) for m in members]) for k in range(len(members[0]))]


def _assert_batches_like_a_loop(fn, axes, stacked):
    got = funcad.vmap(fn, in_axes=axes)(*stacked)
    for k, (g, e) in enumerate(zip(got, _per_member(fn, stacked, axes))):
        np.testing.assert_allclose(np.asarray(g), e, rtol=1e-12, atol=1e-14, err_msg=f"result {k}, in_axes={axes}")


def _shared_weights_axes():
    """Each of projected, h0 and c0 batched alone (at its first and its last axis), then all three; w_hh shared."""
    for i in range(3):
        for axis in (0, -1):
            yield tuple(axis if j == i else None for j in range(3)) + (None,)
    yield (0, 0, 0, None)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_lstm_sequence_batches_like_a_loop_with_its_gradients(reverse, masked):
    masks = (np.arange(3)[:, None] < np.array([3, 1])[None, :])[..., None] if masked else None

    def run(*a):
        return ops.lstm_sequence(*a, masks=masks, reverse=reverse)

    def grads(*a):  # the backward pass batched too
        return funcad.grad(lambda *b: ops.sum(ops.sin(run(*b)[0])) + ops.sum(run(*b)[2] ** 2), (0, 1, 2, 3))(*a)

    stacked = _stacked_inputs()
    for axes in _shared_weights_axes():
        moved = [s[0] if a is None else np.moveaxis(s, 0, a) for s, a in zip(stacked, axes)]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # sharing w_hh, no member runs alone
            _assert_batches_like_a_loop(run, axes, moved)
            _assert_batches_like_a_loop(grads, axes, moved)


def test_lstm_sequence_pullback_batches_over_cotangents():
    """A Jacobian's rows: the forward ran once, unbatched; only the backward pass sees the batch."""
    projected, h, c, w_hh = _sequence_inputs()
    out, pullback = funcad.vjp(lambda p, h: ops.lstm_sequence(p, h, c, w_hh, reverse=True)[0], projected, h)
    cots = np.random.default_rng(7).normal(size=(MEMBERS,) + tuple(out.shape))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = funcad.vmap(pullback)(cots)
    for k, expected in enumerate(_per_member(pullback, [cots], (0,))):
        np.testing.assert_allclose(np.asarray(got[k]), expected, rtol=1e-12, atol=1e-14)


def test_lstm_sequence_with_batched_weights_loops_with_a_warning_naming_the_case(monkeypatch):
    monkeypatch.setattr(batching, "_warned", set())  # the warning comes once per primitive: whatever ran before
    stacked = _stacked_inputs()
    axes = (None, 0, None, 0)
    moved = [s[0] if a is None else s for s, a in zip(stacked, axes)]
    with pytest.warns(UserWarning, match="lstm_sequence has a batching rule only for members sharing w_hh"):
        _assert_batches_like_a_loop(lambda *a: ops.lstm_sequence(*a), axes, moved)
