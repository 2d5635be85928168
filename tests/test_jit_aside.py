"""Convolution weight gradients run aside in a compiled train step: same values as on one thread, buffers they read are
left alone while they run, and every task is waited for however the call ends."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import funcad
from funcad import nn
from funcad.core.primitive import compiled_as_call, primitive
from funcad.ops import batch_threads
from funcad.ops import conv as conv_ops


@pytest.fixture(autouse=True)
def every_weight_gradient_goes_aside(monkeypatch):
    """The small convolutions here run aside as large ones do (by default those under PARALLEL_MIN_FLOPS stay)."""
    monkeypatch.setattr(batch_threads, "PARALLEL_MIN_FLOPS", 0)


def _train_step(seed: int = 0):
    """A train step of a small CNN (three convolutions, ReLU, a dense head, Momentum) and the network."""
    funcad.set_seed(seed)
    net = nn.SequentialCell(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(), nn.Conv2d(8, 4, 3, stride=2),
                            nn.Flatten(), nn.Dense(4 * 6 * 6, 5))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = nn.Momentum(net.trainable_params(), learning_rate=0.05, momentum=0.9)
    grad_fn = funcad.value_and_grad(lambda x, y: loss_fn(net(x), y), None, optimizer.parameters)

    def step(x, y):
        loss, grads = grad_fn(x, y)
        optimizer(grads)
        return loss

    return step, net


def _batches(n: int = 3):
    rng = np.random.default_rng(1)
    return [(funcad.Tensor(rng.standard_normal((6, 3, 12, 12)).astype(np.float32)), funcad.Tensor(rng.integers(0, 5, 6).astype(np.int32)))
            for _ in range(n)]


def _train(threads: int, monkeypatch=None) -> tuple[list, list]:
    """Losses and final parameters of three jitted steps at ``threads`` (reported as such to the kernels when
    ``monkeypatch`` is given, so the tasks go aside even on a machine with one core)."""
    step, net = _train_step()
    step = funcad.jit(step)
    measured = batch_threads.threads
    with threadpool_limits(threads):
        if monkeypatch is not None:
            monkeypatch.setattr(batch_threads, "threads", lambda: threads)
        losses = [float(step(x, y).asnumpy()) for x, y in _batches()]
        if monkeypatch is not None:
            monkeypatch.setattr(batch_threads, "threads", measured)
    return losses, [p.asnumpy().copy() for p in net.trainable_params()]


@pytest.fixture
def record_threads(monkeypatch):
    """The threads the weight-gradient kernel runs on, each call slowed so that anything overwriting its inputs meanwhile
    shows in its result."""
    seen = []
    kernel = conv_ops._conv_weight_grad.impl

    def slow(*args, **kwargs):
        seen.append(threading.get_ident())
        time.sleep(0.02)
        return kernel(*args, **kwargs)

    monkeypatch.setattr(conv_ops._conv_weight_grad, "impl", slow)
    return seen


def test_the_weight_gradients_go_aside_and_the_values_are_those_of_one_thread(record_threads, monkeypatch):
    one_losses, one_params = _train(1)
    assert set(record_threads) == {threading.get_ident()}
    record_threads.clear()
    two_losses, two_params = _train(2, monkeypatch)
    aside = [ident for ident in record_threads if ident != threading.get_ident()]
    assert len(aside) == 9  # 3 convolutions x 3 steps; the calls on this thread trace and tune the first
    assert one_losses == two_losses
    for a, b in zip(one_params, two_params):
        np.testing.assert_array_equal(a, b)
    assert batch_threads._inside == 0


def test_a_compiled_step_matches_the_eager_step(monkeypatch):
    step, net = _train_step()
    step = funcad.jit(step)
    eager_step, eager_net = _train_step()
    monkeypatch.setattr(batch_threads, "threads", lambda: 2)
    for x, y in _batches():
        np.testing.assert_allclose(step(x, y).asnumpy(), eager_step(x, y).asnumpy(), rtol=1e-5)
    for a, b in zip(net.trainable_params(), eager_net.trainable_params()):
        np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=1e-4, atol=1e-6)


def test_the_readers_of_an_aside_value_come_after_every_other_node():
    step, _ = _train_step()
    source = funcad.jit(step).lower(*_batches(1)[0]).source.splitlines()
    submits = [i for i, line in enumerate(source) if ".submit(" in line]
    waits = [i for i, line in enumerate(source) if line.rstrip().endswith(".result()")]
    assert len(submits) == len(waits) == 3
    assert max(submits) < min(waits)
    runner = source[1].split(" = ")[0].strip()  # the call's runner, made first and closed last
    assert source[2].strip() == "try:" and source[-1].strip() == f"{runner}.close()"


_fail = {"now": False}


@primitive(**compiled_as_call())
def _fails_when_told(x):
    """Raises while ``_fail['now']`` is set: a program failing after it handed a task aside."""
    if _fail["now"]:
        raise RuntimeError("told to fail")
    return x * 1


_fails_when_told.defvjp(lambda g, ans, x: _fails_when_told(g))


def test_a_failing_call_waits_for_its_aside_tasks_and_gives_the_blas_threads_back(record_threads, monkeypatch):
    w = funcad.Parameter(funcad.Tensor(np.ones((4, 3, 3, 3), np.float32)), name="w")
    grad_fn = funcad.grad(lambda x: (funcad.ops.conv2d(x, w) ** 2).sum(), None, [w])

    @funcad.jit
    def run(x):
        (gw,) = grad_fn(x)
        return _fails_when_told(x).sum() + gw.sum()

    x = funcad.Tensor(np.ones((2, 3, 8, 8), np.float32))
    with threadpool_limits(2):
        monkeypatch.setattr(batch_threads, "threads", lambda: 2)
        expected = run(x).asnumpy()
        # sum(x) + sum of d/dw sum(conv(x, w)^2): each of the 4 * 27 weights gets 2 * 27 (the output) * 1 (the input) at 2 * 6 * 6 outputs
        np.testing.assert_allclose(expected, 2 * 3 * 8 * 8 + 4 * 27 * (2 * 27 * 2 * 6 * 6), rtol=1e-6)
        blas = batch_threads._numpy_blas().get_num_threads()
        _fail["now"] = True
        try:
            with pytest.raises(RuntimeError, match="told to fail"):
                run(x)
        finally:
            _fail["now"] = False
        assert batch_threads._inside == 0 and batch_threads._numpy_blas().get_num_threads() == blas
    assert len([ident for ident in record_threads if ident != threading.get_ident()]) == 2  # one per call, the failing one's finished


def test_no_op_writes_over_the_arrays_an_aside_task_reads(record_threads, monkeypatch):
    """The cotangent handed to the weight gradient lives in one of the program's buffers; the op after it has the same
    shape and would be planned into that buffer if the buffer were free once the task is handed over."""
    w = funcad.Parameter(funcad.Tensor(np.ones((4, 3, 3, 3), np.float32)), name="w")
    grad_fn = funcad.grad(lambda x, a: (funcad.ops.conv2d(x, w) * a).sum(), None, [w])

    @funcad.jit
    def run(x, g0):
        (gw,) = grad_fn(x, g0 * 2.0)
        return gw, (g0 * 3.0 + 1.0).sum()

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    g0 = rng.standard_normal((2, 4, 6, 6)).astype(np.float32)
    expected = np.einsum("nohw,ncpqhw->ocpq", 2.0 * g0, np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(2, 3)).transpose(0, 1, 4, 5, 2, 3))
    with threadpool_limits(2):
        monkeypatch.setattr(batch_threads, "threads", lambda: 2)
        for _ in range(3):
            gw, total = run(funcad.Tensor(x), funcad.Tensor(g0))
            np.testing.assert_allclose(gw.asnumpy(), expected, rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(total.asnumpy(), (3.0 * g0 + 1.0).sum(), rtol=1e-5)
    assert ".submit(" in run.lower(funcad.Tensor(x), funcad.Tensor(g0)).source


def test_only_weight_gradients_of_at_least_parallel_min_flops_go_aside(monkeypatch):
    monkeypatch.setattr(batch_threads, "PARALLEL_MIN_FLOPS", 2 * 6 * 8 * 8 * 8 * 8 * 9)  # conv2's: (6, 8, 8, 8) outputs x 8 * 3 * 3
    step, _ = _train_step()
    source = funcad.jit(step).lower(*_batches(1)[0]).source
    assert source.count(".submit(") == 1 and "w_shape=(8, 8, 3, 3)" in next(line for line in source.splitlines() if ".submit(" in line)
