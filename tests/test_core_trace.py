"""Trace state is per thread: two threads may differentiate, or compile and update Parameters, at the same time."""

from __future__ import annotations

import threading

import numpy as np

import funcad
from funcad import ops
from funcad.jit import jit
from funcad.testing import assert_close


def _run_threads(*bodies) -> None:
    """Run each body in its own thread and re-raise the first error any of them met."""
    errors = []

    def run(body):
        try:
            body()
        except BaseException as err:  # handed to the main thread
            errors.append(err)

    threads = [threading.Thread(target=run, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    if errors:
        raise errors[0]


def _wait(event: threading.Event) -> None:
    assert event.wait(20), "the other thread never got there"


def test_two_threads_take_second_derivatives_at_once():
    """A starts its outer grad, B starts its own, A finishes while B is inside: B's inner grad must still run at a
    level above its outer one (one level counter shared by the threads would put it below, and the inner function's
    product with the outer x would then be taken for the outer transform's alone)."""
    a_in, b_in, a_done = threading.Event(), threading.Event(), threading.Event()
    results = {}

    def thread_a():
        def outer(x):
            a_in.set()
            _wait(b_in)
            return ops.sum(funcad.grad(lambda y: ops.sum(y * y * x))(x))  # 2 x^2, whose derivative is 4 x

        results["a"] = funcad.grad(outer)(np.array([2.0]))
        a_done.set()

    def thread_b():
        _wait(a_in)

        def outer(x):
            b_in.set()
            _wait(a_done)
            return ops.sum(funcad.grad(lambda y: ops.sum(y * y * x))(x))

        results["b"] = funcad.grad(outer)(np.array([5.0]))

    _run_threads(thread_a, thread_b)
    assert_close(results["a"], np.array([8.0]))
    assert_close(results["b"], np.array([20.0]))


def test_eager_updates_in_one_thread_while_another_compiles():
    """A is tracing a jitted step (its Parameter hooks installed) while B sets a Parameter of its own eagerly: B's write
    happens at once, and A's compiled step still makes its own write."""
    mine, theirs = funcad.Parameter(np.zeros(2), name="mine"), funcad.Parameter(np.zeros(2), name="theirs")
    tracing, written = threading.Event(), threading.Event()
    seen = {}

    def thread_a():
        def update(x):
            tracing.set()
            _wait(written)
            mine.set_data(mine + x)
            return ops.sum(mine)

        jit(update)(np.ones(2))
        seen["mine"] = np.asarray(mine).copy()

    def thread_b():
        _wait(tracing)
        theirs.set_data(np.full(2, 7.0))
        seen["theirs"] = np.asarray(theirs).copy()
        written.set()

    _run_threads(thread_a, thread_b)
    assert_close(seen["theirs"], np.full(2, 7.0))
    assert_close(seen["mine"], np.ones(2))
