"""Dropout under funcad.jit draws a fresh mask per call, the same sequence eager execution draws."""

from __future__ import annotations

import numpy as np

import funcad
from funcad import nn, ops
from funcad.core.seed import random_key
from funcad.jit import jit

RNG = np.random.default_rng(17)


def _masks(fn, x, n):
    return [np.asarray(fn(x)) for _ in range(n)]


def test_jitted_dropout_draws_the_eager_sequence_of_masks():
    x = np.ones((5, 6), np.float32)
    drop = lambda x: ops.dropout(x, 0.4)  # noqa: E731
    funcad.set_seed(3)
    eager = _masks(drop, x, 4)
    funcad.set_seed(3)
    compiled = jit(drop)
    jitted = _masks(compiled, x, 4)
    assert compiled.trace_count == 1
    for e, j in zip(eager, jitted):
        np.testing.assert_array_equal(j, e)
        assert set(np.unique(e)) <= {0.0, np.float32(1 / 0.6)}
    assert all(not np.array_equal(eager[i], eager[i + 1]) for i in range(3))  # each call a fresh mask
    funcad.set_seed(3)  # set_seed resets the key a compiled program reads
    np.testing.assert_array_equal(np.asarray(compiled(x)), eager[0])
    np.testing.assert_array_equal(random_key.asnumpy(), [3, 1])


def _dropout_model():
    funcad.set_seed(21)
    net = nn.SequentialCell([nn.Dense(6, 16), nn.ReLU(), nn.Dropout(p=0.5), nn.Dense(16, 3)]).set_train()
    opt = nn.SGD(net.trainable_params(), 0.1)
    loss_fn = nn.CrossEntropyLoss()
    grad_fn = funcad.value_and_grad(lambda x, y: loss_fn(net(x), y), None, opt.parameters)

    def train_step(x, y):
        loss, grads = grad_fn(x, y)
        opt(grads)
        return loss

    return train_step, net


def test_jitted_training_steps_with_dropout_equal_eager_steps():
    batches = [(RNG.standard_normal((8, 6)).astype(np.float32), RNG.integers(0, 3, 8)) for _ in range(5)]
    eager_step, eager_net = _dropout_model()
    eager_losses = [float(eager_step(x, y)) for x, y in batches]
    eager_key = random_key.asnumpy()
    step, net = _dropout_model()
    compiled = jit(step)
    losses = [float(compiled(x, y)) for x, y in batches]
    assert compiled.trace_count == 1
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-6)
    np.testing.assert_array_equal(random_key.asnumpy(), eager_key)
    for (name, p), (_, q) in zip(net.parameters_and_names(), eager_net.parameters_and_names()):
        np.testing.assert_allclose(p.asnumpy(), q.asnumpy(), rtol=1e-6, atol=1e-7, err_msg=name)
    # The masks differ between calls: with the parameters fixed, the same batch gives two different outputs.
    forward = jit(net)
    x = batches[0][0]
    assert not np.array_equal(np.asarray(forward(x)), np.asarray(forward(x)))
