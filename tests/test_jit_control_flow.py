"""funcad.jit on Python control flow over traced values: each path is traced once, guarded, and equals eager."""

from __future__ import annotations

import numpy as np
import pytest
from tutorial_code import mixed_precision_train_step

import funcad
from funcad import Parameter, Tensor, nn, ops
from funcad.amp import DynamicLossScaler
from funcad.jit import jit


def _loss_scaling_step(seed: int):
    """MindSpore's mixed_precision tutorial step (``if is_finite:`` around the update) on a small network."""
    funcad.set_seed(seed)
    net = nn.SequentialCell(nn.Dense(4, 6), nn.ReLU(), nn.Dense(6, 3))
    optimizer = nn.Momentum(net.trainable_params(), 0.05, 0.9)
    scaler = DynamicLossScaler(scale_value=2.0**10, scale_factor=2, scale_window=3)
    return mixed_precision_train_step(net, nn.CrossEntropyLoss(), optimizer, scaler), net, optimizer, scaler


def _state(net, optimizer, scaler):
    return [p.asnumpy() for p in net.trainable_params()] + [p.asnumpy() for p in optimizer.moments] + [
        scaler.scale_value.asnumpy(), scaler.counter.asnumpy()]


def test_loss_scaling_step_takes_both_branches_in_alternation_as_eager_does():
    rng = np.random.default_rng(0)
    batches = []
    for i in range(8):
        x = rng.standard_normal((5, 4)).astype(np.float32)
        if i % 2:
            x[0, 1] = np.inf  # a non-finite loss: its gradients are not finite, the update is skipped
        batches.append((x, rng.integers(0, 3, 5).astype(np.int32)))
    eager_step, *eager = _loss_scaling_step(1)
    jit_step, *jitted = _loss_scaling_step(1)
    compiled = jit(jit_step)
    for x, y in batches:
        with np.errstate(invalid="ignore"):
            expected = eager_step(Tensor(x), Tensor(y))
            got = compiled(Tensor(x), Tensor(y))
        np.testing.assert_array_equal(got.asnumpy(), expected.asnumpy())
        for a, b in zip(_state(*jitted), _state(*eager)):
            np.testing.assert_array_equal(a, b)
    assert compiled.trace_count == 2
    assert eager[2].scale_value.item() != 2.0**10  # the scale did move: the skipped branch really ran


def _guarded_under_grad():
    p = Parameter(np.array([0.5, -1.0, 2.0], np.float32), name="p")

    def f(x):
        p.set_data(p * 0.5 + x)
        y = x * p
        if ops.sum(x * ops.abs(p)) > 0:  # a reverse-mode tracer, asked for its truth value inside jit
            return ops.sum(y ** 2)
        return ops.sum(ops.sin(y))

    return funcad.grad(f), p


def test_guard_on_a_value_under_grad_and_on_a_parameter_written_before_it():
    eager, p_eager = _guarded_under_grad()
    traced, p_jit = _guarded_under_grad()
    step = jit(traced)
    for sign in (1, -1, -1, 1, -1):
        x = Tensor(sign * np.array([1.0, 2.0, 0.5], np.float32))
        np.testing.assert_allclose(step(x).asnumpy(), eager(x).asnumpy(), rtol=1e-6)
        np.testing.assert_array_equal(p_jit.asnumpy(), p_eager.asnumpy())
    assert step.trace_count == 2


def test_while_loop_is_specialised_on_its_trip_count():
    def newton_sqrt(a):
        x = a
        while ops.abs(x * x - a) > 1e-6:
            x = 0.5 * (x + a / x)
        return x

    def trips(a):  # the same iteration in numpy, counted
        x, n = a, 0
        while abs(x * x - a) > 1e-6:
            x, n = 0.5 * (x + a / x), n + 1
        return n

    compiled = jit(newton_sqrt)
    values = (4.0, 100.0, 1.0, 4.0, 2.0, 100.0)
    for a in values:
        a = np.array(a, np.float64)
        np.testing.assert_array_equal(compiled(a).asnumpy(), newton_sqrt(Tensor(a)).asnumpy())
        assert abs(compiled(a).item() - np.sqrt(a)) < 1e-6
    assert compiled.trace_count == len({trips(a) for a in values}) == 3
    assert "guard bool(" in compiled.lower(np.array(9.0)).as_text()


def test_many_paths_for_one_signature_warn_once():
    def countdown(n):
        while n > 0:
            n = n - 1.0
        return n

    compiled = jit(countdown)
    with pytest.warns(RuntimeWarning, match="'countdown' has compiled 16 paths") as caught:
        for start in range(20):
            assert compiled(np.array(float(start))).item() == 0.0
    assert compiled.trace_count == 20 and len(caught) == 1


def test_a_failing_guard_writes_nothing():
    """A program stopped at a guard leaves every Parameter as it was, even one its update could write in place."""
    w = Parameter(np.zeros(4, np.float32), name="w")

    @jit
    def step(x):
        w.set_data(w + x)
        if ops.sum(x) > 0:
            return ops.sum(w)
        return ops.mean(w)

    ones = np.ones(4, np.float32)
    expected = np.zeros(4, np.float32)
    for x in (ones, ones, -ones, ones, -ones, -ones):
        expected = expected + x
        out = step(x)
        np.testing.assert_array_equal(w.asnumpy(), expected)
        assert out.item() == (expected.sum() if x.sum() > 0 else expected.mean())


def test_truth_value_of_a_many_element_traced_tensor_is_a_clear_error():
    def f(x):
        return x if x > 0 else -x

    with pytest.raises(ValueError, match=r"'f'.*bool\[3\].*only a one-element Tensor"):
        jit(f)(np.ones(3, np.float32))
    np.testing.assert_array_equal(jit(f)(np.array([-2.0], np.float32)).asnumpy(), [2.0])


def test_export_refuses_a_guarded_forward(tmp_path):
    class Branchy(nn.Cell):
        def construct(self, x):
            return x * 2 if ops.sum(x) > 0 else x

    with pytest.raises(ValueError, match="Branchy.*branches in Python"):
        funcad.export(Branchy(), Tensor(np.ones(3, np.float32)), file_name=str(tmp_path / "b"))
